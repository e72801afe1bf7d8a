#pragma once
// The Prometheus text exposition format (0.0.4), written straight into one
// string. prometheus-cpp's TextSerializer writes the same text through an
// ostream, a value and a label set at a time: 12 ms for 500 cgroups' fsync
// histograms (1.8 MB) where this takes a fraction, since a histogram's label
// set is written once and copied for each bucket.
#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace stallwatch::exporters {

std::string text_format(const std::vector<prometheus::MetricFamily>& families);

}  // namespace stallwatch::exporters
