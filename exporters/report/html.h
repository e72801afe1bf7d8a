#pragma once
// report.html of a capture bundle: one self-contained file (charts drawn
// by the inlined Chart.js, CSS inline, a Content-Security-Policy that lets
// the browser fetch nothing).
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "live/sampler.h"

namespace stallwatch::report {

std::string render_html(const nlohmann::json& summary, const nlohmann::json& host,
                        const std::vector<nlohmann::json>& events, const std::vector<live::Sample>& samples);

}  // namespace stallwatch::report
