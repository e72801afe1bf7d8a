#pragma once
// Owner of the cgroup mkdir/rmdir programs. Rungs: tp_btf, raw_tp. Without
// either, identity still walks cgroupfs on an unknown id, but a cgroup that
// lives for less than a scrape interval stays "unknown:<id>".
#include <vector>

#include "common/result.h"
#include "loader/ladder.h"
#include "loader/libbpf_owners.h"

struct cgroup_bpf;

namespace stallwatch::loader {

class CgroupProbes {
 public:
  static Result<CgroupProbes> load(std::vector<RungReport>& report);

  Rung rung() const { return programs_.rung(); }
  std::vector<std::pair<std::string, int>> loaded_programs() const;
  int events_fd() const;  // the ring buffer
  int drops_fd() const;

 private:
  explicit CgroupProbes(Programs<cgroup_bpf> programs) : programs_(std::move(programs)) {}
  static Result<CgroupProbes> try_rung(Rung rung);

  Programs<cgroup_bpf> programs_;
};

}  // namespace stallwatch::loader
