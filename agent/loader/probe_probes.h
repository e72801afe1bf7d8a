#pragma once
// Owner of the probe programs: the prober's TCP connections
// (inet_sock_set_state) and exec probes (sched_process_exec/exit).
//
// Rungs, best first: tp_btf, raw_tp; off with --probe-hook=off.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "loader/ladder.h"
#include "loader/libbpf_owners.h"

struct probe_bpf;

namespace stallwatch::loader {

inline Result<Rung> parse_probe_hook(std::string_view text) {
  return parse_rung("probe", text, {Rung::kAuto, Rung::kTpBtf, Rung::kRawTp, Rung::kOff});
}

struct ProbeConfig {
  Rung hook = Rung::kAuto;
  std::vector<std::string> prober_comms = {"kubelet"};  // at most 4, each at most 15 characters
  std::uint64_t slow_ns = 500'000'000;                  // probes at least this long become events
  std::uint64_t max_ns = 120'000'000'000;               // longer connections are not probes
  std::string cgroup2_root;  // where the answer reader attaches (or its unified/); empty: nowhere
};

class ProbeProbes {
 public:
  static Result<ProbeProbes> load(const ProbeConfig& config, std::vector<RungReport>& report);

  Rung rung() const { return programs_.rung(); }
  std::vector<std::pair<std::string, int>> loaded_programs() const;
  int hist_fd() const;
  int events_fd() const;
  int drops_fd() const;
  // Why answers are not read (HTTP status, gRPC health, TLS), or empty.
  const std::string& answers_unread() const { return answers_unread_; }

 private:
  explicit ProbeProbes(Programs<probe_bpf> programs) : programs_(std::move(programs)) {}
  static Result<ProbeProbes> try_rung(Rung rung, const ProbeConfig& config);
  static Result<ProbeProbes> try_load(Rung rung, const ProbeConfig& config, bool answer_reader);

  void attach_answer_reader(const std::string& cgroup2_root);
  Programs<probe_bpf> programs_;
  Link answers_;
  std::string answers_unread_;
};

}  // namespace stallwatch::loader
