#include "events/start_event.h"

#include "common/clock.h"
#include "events/event_line.h"

namespace stallwatch::events {

nlohmann::json start_event(const StartFacts& f) {
  nlohmann::json hooks = nlohmann::json::object();
  for (const auto& [subsystem, rung] : f.hooks) hooks[subsystem] = rung;
  return {
      {"event", "start"},
      {"schema_version", kEventSchemaVersion},
      {"time", rfc3339(f.realtime_ns)},
      {"node", f.node},
      {"version", f.version},
      {"revision", f.revision},
      {"libbpf_version", f.libbpf_version},
      {"kernel", f.kernel},
      {"cgroup_layout", f.cgroup_layout},
      {"pid", f.pid},
      {"hooks", std::move(hooks)},
      {"victims", f.victims},
      {"slow_threshold_ms", f.slow_threshold_ms},
      {"probe_slow_threshold_ms", f.probe_slow_threshold_ms},
  };
}

}  // namespace stallwatch::events
