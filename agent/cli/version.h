#pragma once
#include <string>

#include "exporters/prometheus/render.h"

namespace stallwatch::cli {
exporters::BuildInfo build_info(const std::string& node = "");
// "stallwatch 0.1.0 (revision abc, libbpf v1.1)", for --version and `version`.
std::string version_line();
}
