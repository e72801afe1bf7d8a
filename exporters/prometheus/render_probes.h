#pragma once
// stallwatch_probe_* families: every probe the node's prober made, timed.
#include <prometheus/metric_family.h>

#include <functional>
#include <optional>

#include "exporters/prometheus/render.h"
#include "identity/pod_addresses.h"

namespace stallwatch::exporters {

// Pod of a probe's destination; nullopt when no pod has the address.
using AddressNamer = std::function<std::optional<identity::Labels>(const identity::Address&, int family)>;

// Destinations no pod holds keep their address as the pod label; past
// max_unmapped of them, the rest fold into pod="other".
std::vector<prometheus::MetricFamily> render_probes(const reader::Snapshot& snap, const Labeler& labeler,
                                                    const AddressNamer& addresses, std::size_t max_unmapped = 100);

// Bucket upper bounds in seconds, +Inf excluded.
std::vector<double> probe_bounds_seconds();

}  // namespace stallwatch::exporters
