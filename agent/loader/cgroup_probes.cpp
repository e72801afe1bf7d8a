#include "loader/cgroup_probes.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <string>

#include "cgroup.skel.h"

namespace stallwatch::loader {

void CgroupSkeletonDeleter::operator()(cgroup_bpf* skel) const { cgroup_bpf__destroy(skel); }

int CgroupProbes::events_fd() const { return bpf_map__fd(skel_->maps.cgroup_events); }
int CgroupProbes::drops_fd() const { return bpf_map__fd(skel_->maps.drops); }

Result<CgroupProbes> CgroupProbes::try_rung(bool btf) {
  CgroupProbes probes;
  probes.skel_.reset(cgroup_bpf__open());
  if (!probes.skel_) return fail("open cgroup BPF object: " + errno_text(errno));
  auto& skel = *probes.skel_;
  bpf_program__set_autoload(skel.progs.cgroup_mkdir_btf, btf);
  bpf_program__set_autoload(skel.progs.cgroup_rmdir_btf, btf);
  bpf_program__set_autoload(skel.progs.cgroup_mkdir_raw, !btf);
  bpf_program__set_autoload(skel.progs.cgroup_rmdir_raw, !btf);
  if (int err = cgroup_bpf__load(&skel); err) {
    return fail(std::string("load ") + (btf ? "tp_btf" : "raw_tp") + " programs: " + errno_text(err));
  }
  auto links = attach_all(skel.obj);
  if (!links) return fail(links.error().message);
  probes.links_ = std::move(*links);
  probes.mode_ = btf ? "tp_btf" : "raw_tp";
  return probes;
}

Result<CgroupProbes> CgroupProbes::load(std::vector<RungReport>& report) {
  return climb<CgroupProbes>(
      "cgroup", {{"tp_btf", [] { return try_rung(true); }}, {"raw_tp", [] { return try_rung(false); }}},
      false, [](const CgroupProbes&) { return std::string("new cgroups named as they appear"); },
      report);
}

}  // namespace stallwatch::loader
