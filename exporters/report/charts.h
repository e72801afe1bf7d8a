#pragma once
// The data behind report.html's charts, and the scripts that draw them:
// Chart.js (Debian's libjs-chart.js) and charts.js, both inlined, so the
// page still fetches nothing. C++ decides what is shown; the script only
// draws it.
#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <vector>

#include "live/sampler.h"

namespace stallwatch::report {

// The colour of a blame kind, the same in every chart and bar.
const char* kind_color(const std::string& kind);

// ISO time of an event, as seconds since the epoch; 0 when unparsable.
double seconds_of(const std::string& iso);

// One victim's four charts: latency heat map with p50/p99, slow calls by
// verdict with probe failures, throughput on its disks by workload, and
// its wait by kind, second by second.
nlohmann::json victim_charts(const std::vector<nlohmann::json>& events, const std::vector<live::Sample>& samples,
                             const std::string& cgroup, const std::set<std::string>& devices);

// <script> elements: the data (JSON, with '<' escaped so that no name can
// end the element), Chart.js, and charts.js.
std::string chart_scripts(const nlohmann::json& data);

// The scripts' bytes in every report, whatever its data: part of what a
// capture's --max-size must leave room for.
std::size_t chart_scripts_size();

}  // namespace stallwatch::report
