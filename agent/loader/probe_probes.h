#pragma once
// Owner of the probe programs: the prober's TCP connections
// (inet_sock_set_state) and exec probes (sched_process_exec/exit).
//
// Rungs, best first: tp_btf, raw_tp; off with --probe-hook=off.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "loader/ladder.h"
#include "loader/libbpf_owners.h"

struct probe_bpf;

namespace stallwatch::loader {

using ProbeHook = BtfRung;
inline Result<ProbeHook> parse_probe_hook(std::string_view text) { return parse_btf_rung("probe", text); }

struct ProbeConfig {
  ProbeHook hook = ProbeHook::kAuto;
  std::string prober_comm = "kubelet";  // at most 15 characters
  std::uint64_t slow_ns = 500'000'000;  // probes at least this long become events
};

struct ProbeSkeletonDeleter {
  void operator()(probe_bpf* skel) const;
};

class ProbeProbes {
 public:
  static Result<ProbeProbes> load(const ProbeConfig& config, std::vector<RungReport>& report);

  ProbeProbes(ProbeProbes&&) = default;
  ProbeProbes& operator=(ProbeProbes&&) = default;
  ~ProbeProbes() { destroy_links_concurrently(links_); }

  std::string_view mode() const { return mode_; }
  int hist_fd() const;
  int events_fd() const;
  int drops_fd() const;

 private:
  ProbeProbes() = default;
  static Result<ProbeProbes> try_rung(ProbeHook rung, const ProbeConfig& config);

  std::unique_ptr<probe_bpf, ProbeSkeletonDeleter> skel_;
  std::vector<Link> links_;
  std::string_view mode_;
};

}  // namespace stallwatch::loader
