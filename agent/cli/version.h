#pragma once
#include <string>

#include "exporters/prometheus/render.h"

namespace stallwatch::cli {
exporters::BuildInfo build_info(const std::string& node = "");
}
