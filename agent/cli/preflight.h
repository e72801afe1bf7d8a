#pragma once
// Checks shared by `run` and `doctor`: what must hold before any BPF loads.
#include <string>

#include "common/result.h"
#include "loader/host_facts.h"

namespace stallwatch::cli {

// Empty when the host can run the agent, else the first reason it cannot,
// naming what is missing and how to get it.
Result<void> check_host(const loader::HostFacts& facts);

// --cgroup-root as given, or the cgroup2 hierarchy under it when it names a
// hybrid host's /sys/fs/cgroup (v1 hierarchies beside unified/): cgroups
// are named from the cgroup2 root, whether seen at start or made later.
std::string resolve_cgroup_root(const std::string& given);

// Whether the capabilities allow loading BPF tracing programs.
bool can_load_bpf(std::uint64_t caps);

}  // namespace stallwatch::cli
