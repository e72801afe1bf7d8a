#pragma once
// A bundle directory, as `capture` writes it and `report` renders it:
// events.jsonl, timeseries.jsonl, host.json, metrics-start.prom,
// metrics-end.prom, summary.json and report.html.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "common/result.h"
#include "live/sampler.h"

namespace stallwatch::capture {

bool write_file(const std::filesystem::path& p, const std::string& text);

// A new or empty directory, created and checked writable: a second bundle
// written into the same one would mix two.
Result<void> prepare_bundle_dir(const std::filesystem::path& dir, const std::string& flag);

// summary.json and report.html.
bool write_report(const std::filesystem::path& dir, const nlohmann::json& summary, const nlohmann::json& host,
                  const std::vector<nlohmann::json>& events, const std::vector<live::Sample>& samples);

}  // namespace stallwatch::capture
