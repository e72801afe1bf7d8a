#pragma once
// summary.json of a capture bundle: per victim, its calls and latency, its
// wait by kind, its culprits ranked, its slow events' verdicts; and one
// sentence that says who did it.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "live/sampler.h"

namespace stallwatch::report {

// "namespace/pod" from a series' or event's labels, else its cgroup.
std::string who(const nlohmann::json& labels);

nlohmann::json summarize(const std::vector<nlohmann::json>& events, const std::vector<live::Sample>& samples);

}  // namespace stallwatch::report
