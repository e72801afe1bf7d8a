#include "capture/segments.h"

#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <fstream>

namespace stallwatch::capture {

namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kHourNs = 3600LL * 1'000'000'000;

// Calls f(t, kind, value) for each whole record of a segment; counts the rest.
template <typename F>
void each_record(const Segment& seg, std::uint64_t& torn, F&& f) {
  std::ifstream in(seg.base.string() + ".jsonl");
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("t") || !j["t"].is_number_integer() || !j.contains("k") ||
        !j["k"].is_string() || !j.contains("v")) {
      ++torn;
      continue;
    }
    f(j["t"].get<std::int64_t>(), j["k"].get_ref<const std::string&>(), j["v"]);
  }
}

// Calls f(t, text) for each whole snapshot of a segment.
template <typename F>
void each_snapshot(const Segment& seg, std::uint64_t& torn, F&& f) {
  const std::string path = seg.base.string() + ".prom.gz";
  if (!fs::exists(path)) return;
  gzFile gz = gzopen(path.c_str(), "rb");
  if (!gz) return;
  std::string all;
  char buf[65536];
  for (int n; (n = gzread(gz, buf, sizeof(buf))) > 0;) all.append(buf, static_cast<std::size_t>(n));
  gzclose(gz);  // a torn last member ends the read early: what came before is whole
  static const std::string kHead = "# stallwatch snapshot ";
  std::size_t at = 0;
  while ((at = all.find(kHead, at)) != std::string::npos) {
    const std::size_t eol = all.find('\n', at);
    if (eol == std::string::npos) break;
    std::int64_t t = 0;
    std::from_chars(all.data() + at + kHead.size(), all.data() + eol, t);
    const std::string tail = "# end " + std::to_string(t) + "\n";
    const std::size_t end = all.find(tail, eol + 1);
    const std::size_t next = all.find(kHead, eol + 1);
    if (end == std::string::npos || (next != std::string::npos && next < end)) {
      ++torn;
      at = eol + 1;
      continue;
    }
    f(t, all.substr(eol + 1, end - eol - 1));
    at = end + tail.size();
  }
}

}  // namespace

std::string segment_name(std::int64_t start_ns) {
  std::string digits = std::to_string(std::max<std::int64_t>(0, start_ns));
  return std::string(19 - std::min<std::size_t>(19, digits.size()), '0') + digits;
}

std::uint64_t file_size_or_zero(const fs::path& p) {
  std::error_code ec;
  const auto n = fs::file_size(p, ec);
  return ec ? 0 : static_cast<std::uint64_t>(n);
}

std::vector<Segment> list_segments(const fs::path& dir) {
  std::vector<Segment> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() != 19 + 6 || !name.ends_with(".jsonl")) continue;
    std::int64_t start = 0;
    const auto [p, err] = std::from_chars(name.data(), name.data() + 19, start);
    if (err != std::errc() || p != name.data() + 19) continue;
    Segment s;
    s.base = dir / name.substr(0, 19);
    s.start_ns = start;
    s.bytes = file_size_or_zero(e.path()) + file_size_or_zero(s.base.string() + ".prom.gz");
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const Segment& a, const Segment& b) { return a.start_ns < b.start_ns; });
  return out;
}

Window read_window(const fs::path& dir, std::int64_t since, std::int64_t until) {
  Window w;
  const auto segs = list_segments(dir);
  for (std::size_t i = 0; i < segs.size(); ++i) {
    if (segs[i].start_ns > until) break;
    // A segment ends where the next begins; the host record of the last
    // one before the window still describes it.
    const bool before = i + 1 < segs.size() && segs[i + 1].start_ns < since;
    each_record(segs[i], w.torn, [&](std::int64_t t, const std::string& k, const nlohmann::json& v) {
      if (k == "host" && t <= until) w.host = v;
      if (before || t < since || t > until) return;
      if (k == "event") {
        w.events.push_back(v);
      } else if (k == "sample") {
        w.samples.push_back(live::Sample::from_json(v));
      }
    });
    if (before) continue;
    each_snapshot(segs[i], w.torn, [&](std::int64_t t, std::string text) {
      if (t < since || t > until) return;
      if (w.metrics_first.empty()) {
        w.metrics_first = text;
        w.metrics_first_ns = t;
      }
      w.metrics_last = std::move(text);
      w.metrics_last_ns = t;
    });
  }
  return w;
}

Holdings survey(const fs::path& dir) {
  Holdings h;
  const auto segs = list_segments(dir);
  h.segments = segs.size();
  for (const auto& s : segs) {
    h.bytes += s.bytes;
    each_record(s, h.torn, [&](std::int64_t t, const std::string& k, const nlohmann::json& v) {
      if (h.first_ns == 0 || t < h.first_ns) h.first_ns = t;
      h.last_ns = std::max(h.last_ns, t);
      auto& hour = h.per_hour[t - t % kHourNs];
      if (k == "sample") {
        ++h.samples;
      } else if (k == "event" && v.value("event", "") == "slow_fsync") {
        ++hour.first;
      } else if (k == "event" && v.value("event", "") == "probe") {
        ++hour.second;
      }
    });
  }
  return h;
}

}  // namespace stallwatch::capture
