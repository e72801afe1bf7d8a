#include "loader/cgroup_probes.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <string>

#include "cgroup.skel.h"

namespace stallwatch::loader {

int CgroupProbes::events_fd() const { return bpf_map__fd(programs_.skel().maps.cgroup_events); }
int CgroupProbes::drops_fd() const { return bpf_map__fd(programs_.skel().maps.drops); }

Result<CgroupProbes> CgroupProbes::try_rung(Rung rung) {
  auto programs = Programs<cgroup_bpf>::open({cgroup_bpf__open, cgroup_bpf__load, cgroup_bpf__destroy}, "cgroup");
  if (!programs) return std::unexpected(programs.error());
  CgroupProbes probes(std::move(*programs));
  autoload_rungs(probes.programs_.skel().obj, {rung});
  if (auto loaded = probes.programs_.load_and_attach(rung); !loaded) return std::unexpected(loaded.error());
  return probes;
}

Result<CgroupProbes> CgroupProbes::load(std::vector<RungReport>& report) {
  return climb<CgroupProbes>(
      "cgroup", {Rung::kTpBtf, Rung::kRawTp}, Rung::kAuto, [](Rung rung) { return try_rung(rung); },
      [](const CgroupProbes&) { return std::string("new cgroups named as they appear"); }, report);
}

std::vector<std::pair<std::string, int>> CgroupProbes::loaded_programs() const { return programs_.loaded(); }

}  // namespace stallwatch::loader
