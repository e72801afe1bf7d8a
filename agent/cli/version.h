#pragma once
#include "exporters/prometheus/render.h"

namespace stallwatch::cli {
exporters::BuildInfo build_info();
}
