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

void print_version() {
  const auto b = build_info();
  std::printf("stallwatch %s (revision %s, libbpf %s)\n", b.version.c_str(), b.revision.c_str(),
              b.libbpf_version.c_str());
}

}  // namespace stallwatch::cli
