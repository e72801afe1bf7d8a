#pragma once
// The node the agent runs on, as Kubernetes names it. Every event, capture
// bundle, report, `top` and stallwatch_build_info carry it: a page at 3 a.m.
// names a node, not a pod IP.
#include <string>
#include <string_view>

#include "common/result.h"

namespace stallwatch::identity {

// NODE_NAME when set (the DaemonSet fills it from spec.nodeName: inside a
// pod the host name is the pod's), else the host name. A NODE_NAME that is
// no DNS name (spaces, quotes, control characters, over 253 characters) is
// refused rather than written into every event; the host name is taken as
// the kernel has it.
Result<std::string> node_name(const char* node_name_env, std::string_view host_name);

// From the environment and uname(2).
Result<std::string> node_name();

}  // namespace stallwatch::identity
