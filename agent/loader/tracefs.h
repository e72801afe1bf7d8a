#pragma once
// Classic tracepoints attach through tracefs; a fresh host may not have it
// mounted. libbpf looks at /sys/kernel/debug/tracing first, then
// /sys/kernel/tracing, so that is where we look and where we mount.
#include <string>

#include "common/result.h"

namespace stallwatch::loader {

struct Tracefs {
  std::string path;  // directory holding events/
  bool mounted_by_us = false;
};

// Finds tracefs, mounting it at /sys/kernel/tracing when it is missing and
// may_mount is set. The error names what is missing and what would fix it.
Result<Tracefs> ensure_tracefs(bool may_mount);

// Whether tracefs lists the event, e.g. ("syscalls", "sys_enter_fsync").
bool tracepoint_exists(const Tracefs& tracefs, const std::string& category, const std::string& event);

}  // namespace stallwatch::loader
