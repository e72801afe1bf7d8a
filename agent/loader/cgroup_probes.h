#pragma once
// Owner of the cgroup mkdir/rmdir programs. Rungs: tp_btf, raw_tp. Without
// either, identity still walks cgroupfs on an unknown id, but a cgroup that
// lives for less than a scrape interval stays "unknown:<id>".
#include <memory>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "loader/ladder.h"
#include "loader/libbpf_owners.h"

struct cgroup_bpf;

namespace stallwatch::loader {

struct CgroupSkeletonDeleter {
  void operator()(cgroup_bpf* skel) const;
};

class CgroupProbes {
 public:
  static Result<CgroupProbes> load(std::vector<RungReport>& report);

  CgroupProbes(CgroupProbes&&) = default;
  CgroupProbes& operator=(CgroupProbes&&) = default;
  ~CgroupProbes() { destroy_links_concurrently(links_); }

  std::string_view mode() const { return mode_; }
  int events_fd() const;  // the ring buffer
  int drops_fd() const;

 private:
  CgroupProbes() = default;
  static Result<CgroupProbes> try_rung(bool btf);

  std::unique_ptr<cgroup_bpf, CgroupSkeletonDeleter> skel_;
  std::vector<Link> links_;
  std::string_view mode_;
};

}  // namespace stallwatch::loader
