#include "exporters/prometheus/text_format.h"

#include <fmt/format.h>

#include <cmath>
#include <iterator>

namespace stallwatch::exporters {

namespace {

using Out = std::back_insert_iterator<std::string>;

void value(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v < 0 ? "-Inf" : "+Inf";
  } else {
    fmt::format_to(Out(out), "{}", v);  // shortest text that reads back as v
  }
}

// Label values escape backslash, double quote and newline; HELP text
// backslash and newline.
void escaped(std::string& out, const std::string& s, bool quote) {
  for (const char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// `{a="x",b="y"` without the closing brace, so a bucket's `le` can follow.
std::string open_labels(const prometheus::ClientMetric& m) {
  std::string s = "{";
  for (const auto& l : m.label) {
    if (s.size() > 1) s += ',';
    s += l.name;
    s += "=\"";
    escaped(s, l.value, true);
    s += '"';
  }
  return s;
}

void sample(std::string& out, const std::string& name, const char* suffix, const std::string& labels, double v,
            const prometheus::ClientMetric& m) {
  out += name;
  out += suffix;
  if (labels.size() > 1) {
    out += labels;
    out += '}';
  }
  out += ' ';
  value(out, v);
  if (m.timestamp_ms != 0) fmt::format_to(Out(out), " {}", m.timestamp_ms);
  out += '\n';
}

const char* type_name(prometheus::MetricType t) {
  switch (t) {
    case prometheus::MetricType::Counter:
      return "counter";
    case prometheus::MetricType::Gauge:
      return "gauge";
    case prometheus::MetricType::Summary:
      return "summary";
    case prometheus::MetricType::Histogram:
      return "histogram";
    case prometheus::MetricType::Untyped:
      break;
  }
  return "untyped";
}

}  // namespace

std::string text_format(const std::vector<prometheus::MetricFamily>& families) {
  std::string out;
  out.reserve(1 << 16);
  for (const auto& f : families) {
    if (f.metric.empty()) continue;
    if (!f.help.empty()) {
      fmt::format_to(Out(out), "# HELP {} ", f.name);
      escaped(out, f.help, false);
      out += '\n';
    }
    fmt::format_to(Out(out), "# TYPE {} {}\n", f.name, type_name(f.type));
    for (const auto& m : f.metric) {
      const std::string labels = open_labels(m);
      switch (f.type) {
        case prometheus::MetricType::Counter:
          sample(out, f.name, "", labels, m.counter.value, m);
          break;
        case prometheus::MetricType::Gauge:
          sample(out, f.name, "", labels, m.gauge.value, m);
          break;
        case prometheus::MetricType::Untyped:
          sample(out, f.name, "", labels, m.untyped.value, m);
          break;
        case prometheus::MetricType::Summary:
          sample(out, f.name, "_count", labels, static_cast<double>(m.summary.sample_count), m);
          sample(out, f.name, "_sum", labels, m.summary.sample_sum, m);
          for (const auto& q : m.summary.quantile) {
            std::string with = labels.size() > 1 ? labels + ",quantile=\"" : "{quantile=\"";
            value(with, q.quantile);
            with += '"';
            sample(out, f.name, "", with, q.value, m);
          }
          break;
        case prometheus::MetricType::Histogram: {
          sample(out, f.name, "_count", labels, static_cast<double>(m.histogram.sample_count), m);
          sample(out, f.name, "_sum", labels, m.histogram.sample_sum, m);
          std::string with = labels.size() > 1 ? labels + ",le=\"" : "{le=\"";
          const std::size_t keep = with.size();
          bool inf = false;
          for (const auto& b : m.histogram.bucket) {
            with.resize(keep);
            value(with, b.upper_bound);
            with += '"';
            inf |= std::isinf(b.upper_bound);
            sample(out, f.name, "_bucket", with, static_cast<double>(b.cumulative_count), m);
          }
          if (!inf) {  // the format requires the +Inf bucket, which is the count
            with.resize(keep);
            with += "+Inf\"";
            sample(out, f.name, "_bucket", with, static_cast<double>(m.histogram.sample_count), m);
          }
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace stallwatch::exporters
