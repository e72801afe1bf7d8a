#include "loader/probe_probes.h"

#include "loader/host_facts.h"

#include <bpf/libbpf.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "probe.skel.h"

namespace stallwatch::loader {

int ProbeProbes::hist_fd() const { return bpf_map__fd(programs_.skel().maps.probe_hist); }
int ProbeProbes::events_fd() const { return bpf_map__fd(programs_.skel().maps.probe_events); }
int ProbeProbes::drops_fd() const { return bpf_map__fd(programs_.skel().maps.drops); }

void ProbeProbes::attach_answer_reader(const std::string& root) {
  const std::string cgroup2_root = root.empty() ? "" : cgroup2_at(root);
  if (cgroup2_root.empty()) {
    answers_unread_ = "no cgroup2 hierarchy" + (root.empty() ? std::string() : " at " + root) +
                      " to attach the answer reader (cgroup_skb) to";
    return;
  }
  const int fd = ::open(cgroup2_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    answers_unread_ = "open " + cgroup2_root + ": " + std::strerror(errno);
    return;
  }
  // Multi-attach: another tool's programs on the root stay and run too.
  answers_.reset(bpf_program__attach_cgroup(programs_.skel().progs.probe_answer, fd));
  const int err = errno;
  ::close(fd);
  if (!answers_) {
    answers_unread_ = "attach cgroup_skb/ingress to " + cgroup2_root + ": " + std::strerror(err) +
                      (err == EPERM ? " (it needs CAP_NET_ADMIN)" : "");
  }
}

Result<ProbeProbes> ProbeProbes::try_rung(Rung rung, const ProbeConfig& config) {
  auto with_reader = try_load(rung, config, true);
  if (with_reader) {
    with_reader->attach_answer_reader(config.cgroup2_root);
    return with_reader;
  }
  // A cgroup_skb program also needs CAP_NET_ADMIN: time the probes without it.
  auto without = try_load(rung, config, false);
  if (!without) return without;
  without->answers_unread_ = "load cgroup_skb/ingress: " + with_reader.error().message +
                             (with_reader.error().code == EPERM ? " (it needs CAP_NET_ADMIN)" : "");
  return without;
}

Result<ProbeProbes> ProbeProbes::try_load(Rung rung, const ProbeConfig& config, bool answer_reader) {
  auto programs = Programs<probe_bpf>::open({probe_bpf__open, probe_bpf__load, probe_bpf__destroy}, "probe");
  if (!programs) return std::unexpected(programs.error());
  ProbeProbes probes(std::move(*programs));
  auto& skel = probes.programs_.skel();
  autoload_rungs(skel.obj, {rung});
  bpf_program__set_autoload(skel.progs.probe_answer, answer_reader);
  auto& comms = const_cast<char(&)[4][16]>(skel.rodata->cfg_prober_comm);
  std::memset(comms, 0, sizeof(comms));
  for (std::size_t i = 0; i < config.prober_comms.size() && i < 4; ++i) {
    const std::string& c = config.prober_comms[i];
    std::memcpy(comms[i], c.data(), std::min<std::size_t>(15, c.size()));
  }
  skel.rodata->cfg_probe_slow_ns = config.slow_ns;
  skel.rodata->cfg_probe_max_ns = config.max_ns;
  if (auto loaded = probes.programs_.load_and_attach(rung); !loaded) return std::unexpected(loaded.error());
  return probes;
}

Result<ProbeProbes> ProbeProbes::load(const ProbeConfig& config, std::vector<RungReport>& report) {
  std::string names;
  for (const auto& c : config.prober_comms) names += (names.empty() ? "'" : ", '") + c + "'";
  return climb<ProbeProbes>(
      "probe", {Rung::kTpBtf, Rung::kRawTp}, config.hook, [&config](Rung rung) { return try_rung(rung, config); },
      [names](const ProbeProbes& p) {
        return "connections of " + names + " and exec probes timed; " +
               (p.answers_unread().empty() ? "answers read (HTTP status, gRPC health, TLS)"
                                           : "answers not read (" + p.answers_unread() + "): results from TCP alone");
      },
      report);
}

std::vector<std::pair<std::string, int>> ProbeProbes::loaded_programs() const { return programs_.loaded(); }

}  // namespace stallwatch::loader
