#include "loader/probe_probes.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "probe.skel.h"

namespace stallwatch::loader {

int ProbeProbes::hist_fd() const { return bpf_map__fd(programs_.skel().maps.probe_hist); }
int ProbeProbes::events_fd() const { return bpf_map__fd(programs_.skel().maps.probe_events); }
int ProbeProbes::drops_fd() const { return bpf_map__fd(programs_.skel().maps.drops); }

Result<ProbeProbes> ProbeProbes::try_rung(Rung rung, const ProbeConfig& config) {
  auto programs = Programs<probe_bpf>::open({probe_bpf__open, probe_bpf__load, probe_bpf__destroy}, "probe");
  if (!programs) return std::unexpected(programs.error());
  ProbeProbes probes(std::move(*programs));
  auto& skel = probes.programs_.skel();
  autoload_rungs(skel.obj, {rung});
  char comm[16] = {};
  std::memcpy(comm, config.prober_comm.data(), std::min<std::size_t>(15, config.prober_comm.size()));
  std::memcpy(const_cast<char*>(skel.rodata->cfg_prober_comm), comm, sizeof(comm));
  skel.rodata->cfg_probe_slow_ns = config.slow_ns;
  if (auto loaded = probes.programs_.load_and_attach(rung); !loaded) return std::unexpected(loaded.error());
  return probes;
}

Result<ProbeProbes> ProbeProbes::load(const ProbeConfig& config, std::vector<RungReport>& report) {
  return climb<ProbeProbes>(
      "probe", {Rung::kTpBtf, Rung::kRawTp}, config.hook, [&config](Rung rung) { return try_rung(rung, config); },
      [&config](const ProbeProbes&) { return "connections of '" + config.prober_comm + "' and exec probes timed"; },
      report);
}

}  // namespace stallwatch::loader
