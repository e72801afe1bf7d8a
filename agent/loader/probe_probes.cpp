#include "loader/probe_probes.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "probe.skel.h"

namespace stallwatch::loader {

void ProbeSkeletonDeleter::operator()(probe_bpf* skel) const { probe_bpf__destroy(skel); }

int ProbeProbes::hist_fd() const { return bpf_map__fd(skel_->maps.probe_hist); }
int ProbeProbes::events_fd() const { return bpf_map__fd(skel_->maps.probe_events); }
int ProbeProbes::drops_fd() const { return bpf_map__fd(skel_->maps.drops); }

Result<ProbeProbes> ProbeProbes::try_rung(ProbeHook rung, const ProbeConfig& config) {
  ProbeProbes probes;
  probes.skel_.reset(probe_bpf__open());
  if (!probes.skel_) return fail("open probe BPF object: " + errno_text(errno));
  auto& skel = *probes.skel_;
  const bool btf = rung == ProbeHook::kTpBtf;
  bpf_program__set_autoload(skel.progs.inet_sock_set_state_btf, btf);
  bpf_program__set_autoload(skel.progs.sched_process_exec_btf, btf);
  bpf_program__set_autoload(skel.progs.sched_process_exit_btf, btf);
  bpf_program__set_autoload(skel.progs.inet_sock_set_state_raw, !btf);
  bpf_program__set_autoload(skel.progs.sched_process_exec_raw, !btf);
  bpf_program__set_autoload(skel.progs.sched_process_exit_raw, !btf);
  char comm[16] = {};
  std::memcpy(comm, config.prober_comm.data(), std::min<std::size_t>(15, config.prober_comm.size()));
  std::memcpy(const_cast<char*>(skel.rodata->cfg_prober_comm), comm, sizeof(comm));
  skel.rodata->cfg_probe_slow_ns = config.slow_ns;
  if (int err = probe_bpf__load(&skel); err) {
    return fail("load " + std::string(to_string(rung)) + " programs: " + errno_text(err));
  }
  auto links = attach_all(skel.obj);
  if (!links) return fail(links.error().message);
  probes.links_ = std::move(*links);
  probes.mode_ = to_string(rung);
  return probes;
}

Result<ProbeProbes> ProbeProbes::load(const ProbeConfig& config, std::vector<RungReport>& report) {
  return climb_btf<ProbeProbes>(
      "probe", config.hook, [&config](BtfRung rung) { return try_rung(rung, config); },
      [&config](const ProbeProbes&) {
        return "connections of '" + config.prober_comm + "' and exec probes timed";
      }, report);
}

}  // namespace stallwatch::loader
