// The exposition writer against prometheus-cpp's TextSerializer: the same
// lines in the same order, the same label sets, values that read back alike.
#include "exporters/prometheus/text_format.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <cmath>
#include <limits>
#include <sstream>

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

ClientMetric with_labels(std::vector<ClientMetric::Label> labels) {
  ClientMetric m;
  m.label = std::move(labels);
  return m;
}

// help: prometheus-cpp 1.0.1 writes HELP text unescaped, so a newline there
// breaks its output; the comparison leaves it out.
std::vector<MetricFamily> families(const std::string& help = "Calls") {
  std::vector<MetricFamily> out;
  MetricFamily c{"sw_calls_total", help, MetricType::Counter, {}};
  auto m = with_labels({{"cgroup", R"(/odd "quoted" \ path)"}, {"op", "fsync"}});
  m.counter.value = 12345678901.0;
  c.metric.push_back(m);
  auto bare = with_labels({});
  bare.counter.value = 0;
  c.metric.push_back(bare);
  out.push_back(c);

  MetricFamily g{"sw_ratio", "A gauge", MetricType::Gauge, {}};
  for (const double v : {0.1, 1e-9, 3.746e-06, -2.5, std::numeric_limits<double>::infinity(),
                         -std::numeric_limits<double>::infinity(), 1.0 / 3}) {
    auto x = with_labels({{"v", std::to_string(v)}});
    x.gauge.value = v;
    g.metric.push_back(x);
  }
  out.push_back(g);

  MetricFamily h{"sw_seconds", "A histogram", MetricType::Histogram, {}};
  auto hm = with_labels({{"device", "loop0"}});
  hm.histogram.sample_count = 6;
  hm.histogram.sample_sum = 9.5;
  std::uint64_t cum = 0;
  for (const double b : {5e-05, 0.0001, 0.00025, 0.001, 8.192, std::numeric_limits<double>::infinity()}) {
    cum += 1;
    hm.histogram.bucket.push_back({cum, b});
  }
  h.metric.push_back(hm);
  out.push_back(h);

  MetricFamily s{"sw_summary", "A summary", MetricType::Summary, {}};
  auto sm = with_labels({{"q", "x"}});
  sm.summary.sample_count = 3;
  sm.summary.sample_sum = 1.5;
  sm.summary.quantile = {{0.5, 0.25}, {0.99, 1.25}};
  s.metric.push_back(sm);
  out.push_back(s);

  MetricFamily u{"sw_untyped", "", MetricType::Untyped, {}};
  auto um = with_labels({{"a", "b"}});
  um.untyped.value = 7;
  um.timestamp_ms = 1700000000000;
  u.metric.push_back(um);
  out.push_back(u);
  return out;
}

struct Line {
  std::string key;  // a comment line whole, or a sample's name and labels
  double value = 0;
  bool comment = false;
};

std::vector<Line> lines(const std::string& text) {
  std::vector<Line> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) {
    if (l.empty()) continue;
    if (l[0] == '#') {
      out.push_back({l, 0, true});
      continue;
    }
    // name{labels} value [timestamp]
    const auto brace = l.rfind('}');
    const auto space = l.find(' ', brace == std::string::npos ? 0 : brace);
    std::string rest = l.substr(space + 1);
    const auto ts = rest.find(' ');
    const std::string key = l.substr(0, space) + (ts == std::string::npos ? "" : " @" + rest.substr(ts + 1));
    const std::string v = rest.substr(0, ts);
    out.push_back({key, v == "Nan" || v == "NaN" ? std::nan("") : std::stod(v), false});
  }
  return out;
}

TEST(TextFormat, SameLinesAndValuesAsPrometheusCpp) {
  const auto f = families();
  const auto ours = lines(stallwatch::exporters::text_format(f));
  const auto theirs = lines(prometheus::TextSerializer().Serialize(f));
  ASSERT_EQ(ours.size(), theirs.size()) << stallwatch::exporters::text_format(f);
  for (std::size_t i = 0; i < ours.size(); ++i) {
    EXPECT_EQ(ours[i].key, theirs[i].key) << "line " << i;
    if (!ours[i].comment) {
      EXPECT_DOUBLE_EQ(ours[i].value, theirs[i].value) << ours[i].key;
    }
  }
}

TEST(TextFormat, EscapesLabelValuesAndHelpText) {
  const std::string text =
      stallwatch::exporters::text_format(families("Calls, with a \\ backslash and a\nnewline in the help"));
  EXPECT_NE(text.find(R"(# HELP sw_calls_total Calls, with a \\ backslash and a\nnewline in the help)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(sw_calls_total{cgroup="/odd \"quoted\" \\ path",op="fsync"} 12345678901)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("sw_calls_total 0\n"), std::string::npos) << "a sample without labels has no braces";
  EXPECT_NE(text.find(R"(sw_seconds_bucket{device="loop0",le="+Inf"} 6)"), std::string::npos);
  EXPECT_NE(text.find("sw_untyped{a=\"b\"} 7 1700000000000\n"), std::string::npos);
}

}  // namespace
