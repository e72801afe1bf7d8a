#include "cli/version.h"

#include <bpf/libbpf.h>

#include <cstdio>

#include "cli/options.h"

#ifndef STALLWATCH_VERSION
#error "STALLWATCH_VERSION must be defined by the build"
#endif

namespace stallwatch::cli {

exporters::BuildInfo build_info(const std::string& node) {
  return {STALLWATCH_VERSION, STALLWATCH_REVISION, libbpf_version_string(), node};
}

std::string version_line() {
  const auto b = build_info();
  return "stallwatch " + b.version + " (revision " + b.revision + ", libbpf " + b.libbpf_version + ")";
}

void print_version() { std::printf("%s\n", version_line().c_str()); }

}  // namespace stallwatch::cli
