#pragma once
// One event as the event log and the capture bundle hold it: a JSON object
// on one line whose keys come in the documented order (docs/events.md):
// what and when first (event, schema_version, time, node, verdict), then
// who, then the details. Keys the order does not know follow,
// alphabetically. Objects inside (victim, culprits, kinds_ms) the same way.
#include <nlohmann/json.hpp>

#include <string>

namespace stallwatch::events {

// Bumped when a field changes meaning or goes; new fields do not bump it.
inline constexpr int kEventSchemaVersion = 1;

std::string event_line(const nlohmann::json& event);

}  // namespace stallwatch::events
