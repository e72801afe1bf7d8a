#include "blame/io_limits.h"

#include <sys/sysmacros.h>

#include <algorithm>
#include <charconv>
#include <fmt/format.h>
#include <sstream>

#include "common/small_file.h"

namespace stallwatch::blame {

namespace {

constexpr std::size_t kMaxFile = 1 << 20;

std::optional<std::uint32_t> parse_dev(const std::string& word) {
  unsigned major = 0, minor = 0;
  const auto colon = word.find(':');
  if (colon == std::string::npos) return std::nullopt;
  const char* b = word.data();
  if (std::from_chars(b, b + colon, major).ec != std::errc{}) return std::nullopt;
  if (std::from_chars(b + colon + 1, b + word.size(), minor).ec != std::errc{}) return std::nullopt;
  return major << 20 | minor;
}

std::optional<std::uint64_t> parse_u64(std::string_view v) {
  std::uint64_t out = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), out);
  if (r.ec != std::errc{} || r.ptr != v.data() + v.size()) return std::nullopt;
  return out;
}

const char* kind_key(IoLimitKind k) {
  switch (k) {
    case IoLimitKind::kReadBps: return "rbps";
    case IoLimitKind::kWriteBps: return "wbps";
    case IoLimitKind::kReadIops: return "riops";
    case IoLimitKind::kWriteIops: return "wiops";
    case IoLimitKind::kIocost: return "iocost weight";
  }
  return "";
}

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

// io.max and io.stat share their shape: "MAJ:MIN key=value key=value ...".
// Calls f(dev, key, value) for each numeric pair ("max" is no number).
template <typename F>
void for_each_keyed_value(const std::string& text, F f) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string word;
    if (!(words >> word)) continue;
    const auto dev = parse_dev(word);
    if (!dev) continue;
    while (words >> word) {
      const auto eq = word.find('=');
      if (eq == std::string::npos) continue;
      const auto value = parse_u64(std::string_view(word).substr(eq + 1));
      if (value) f(*dev, std::string_view(word).substr(0, eq), *value);
    }
  }
}

// blkio.throttle's limits and io.weight share theirs: "KEY NUMBER" lines.
// Calls f(key, value) for each.
template <typename F>
void for_each_key_number(const std::string& text, F f) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string key, value_word;
    if (!(words >> key >> value_word)) continue;
    if (const auto value = parse_u64(value_word)) f(key, *value);
  }
}

}  // namespace

std::vector<IoLimitSetting> parse_io_max(const std::string& text) {
  std::vector<IoLimitSetting> out;
  for_each_keyed_value(text, [&](std::uint32_t dev, std::string_view key, std::uint64_t value) {
    for (auto k : {IoLimitKind::kReadBps, IoLimitKind::kWriteBps, IoLimitKind::kReadIops, IoLimitKind::kWriteIops}) {
      if (key == kind_key(k)) out.push_back({dev, k, value});
    }
  });
  return out;
}

std::map<std::uint32_t, IoCounters> parse_io_stat(const std::string& text) {
  std::map<std::uint32_t, IoCounters> out;
  for_each_keyed_value(text, [&](std::uint32_t dev, std::string_view key, std::uint64_t value) {
    IoCounters& c = out[dev];
    if (key == "rbytes") c.rbytes = value;
    if (key == "wbytes") c.wbytes = value;
    if (key == "rios") c.rios = value;
    if (key == "wios") c.wios = value;
    if (key == "cost.wait" || key == "cost.indelay") c.cost_wait_us = c.cost_wait_us.value_or(0) + value;
  });
  return out;
}

std::set<std::uint32_t> parse_iocost_enabled(const std::string& text) {
  std::set<std::uint32_t> out;
  for_each_keyed_value(text, [&](std::uint32_t dev, std::string_view key, std::uint64_t value) {
    if (key == "enable" && value == 1) out.insert(dev);
  });
  return out;
}

std::uint64_t parse_io_weight(const std::string& text, std::uint32_t disk) {
  std::uint64_t weight = 100;  // the kernel's default of defaults
  std::optional<std::uint64_t> own;
  for_each_key_number(text, [&](const std::string& key, std::uint64_t value) {
    if (key == "default") {
      weight = value;
    } else if (const auto dev = parse_dev(key); dev && *dev == disk) {
      own = value;
    }
  });
  return own.value_or(weight);
}

std::vector<IoLimitSetting> parse_v1_limit(const std::string& text, IoLimitKind kind) {
  std::vector<IoLimitSetting> out;
  for_each_key_number(text, [&](const std::string& key, std::uint64_t value) {
    if (const auto dev = parse_dev(key)) out.push_back({*dev, kind, value});
  });
  return out;
}

void parse_v1_counters(const std::string& text, bool bytes, std::map<std::uint32_t, IoCounters>& out) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string dev_word, op, value_word;
    if (!(words >> dev_word >> op >> value_word)) continue;
    const auto dev = parse_dev(dev_word);
    const auto value = parse_u64(value_word);
    if (!dev || !value || (op != "Read" && op != "Write")) continue;
    IoCounters& c = out[*dev];
    (op == "Read" ? (bytes ? c.rbytes : c.rios) : (bytes ? c.wbytes : c.wios)) = *value;
  }
}

IoLimits::IoLimits(std::string cgroup2_root, std::string blkio_root, std::string proc_root)
    : cgroup2_root_(std::move(cgroup2_root)), blkio_root_(std::move(blkio_root)), proc_root_(std::move(proc_root)) {}

std::vector<std::string> IoLimits::level_keys(const std::string& victim_path) const {
  std::vector<std::string> keys;
  for (std::string p = victim_path.empty() ? "/" : victim_path;; p = parent_of(p)) {
    keys.push_back(p);
    if (p == "/") break;
  }
  if (blkio_root_.empty()) return keys;
  // The blkio path of a process in the cgroup (hybrid hosts need not mirror the trees).
  std::string blkio;
  if (const auto procs = read_small_file(cgroup2_root_ + victim_path + "/cgroup.procs", kMaxFile)) {
    std::istringstream pids(*procs);
    std::string pid;
    if (pids >> pid) {
      if (const auto cg = read_small_file(proc_root_ + "/" + pid + "/cgroup", kMaxFile)) {
        std::istringstream lines(*cg);
        for (std::string line; std::getline(lines, line);) {
          // "4:blkio:/a/b"; the controller list may name several.
          const auto a = line.find(':'), b = line.find(':', a + 1);
          if (a == std::string::npos || b == std::string::npos) continue;
          const std::string controllers = "," + line.substr(a + 1, b - a - 1) + ",";
          if (controllers.find(",blkio,") != std::string::npos) blkio = line.substr(b + 1);
        }
      }
    }
  }
  if (blkio.empty()) return keys;
  for (std::string p = blkio;; p = parent_of(p)) {
    keys.push_back("blkio:" + p);
    if (p == "/") break;
  }
  return keys;
}

IoLimits::Level IoLimits::read_level(const std::string& key, const std::set<std::uint32_t>& iocost) const {
  Level l;
  l.key = key;
  if (key.rfind("blkio:", 0) == 0) {
    const std::string dir = blkio_root_ + (key.size() > 7 ? key.substr(6) : "");
    const std::pair<const char*, IoLimitKind> files[] = {{"read_bps_device", IoLimitKind::kReadBps},
                                                         {"write_bps_device", IoLimitKind::kWriteBps},
                                                         {"read_iops_device", IoLimitKind::kReadIops},
                                                         {"write_iops_device", IoLimitKind::kWriteIops}};
    for (const auto& [file, kind] : files) {
      if (const auto text = read_small_file(dir + "/blkio.throttle." + file, kMaxFile)) {
        for (const auto& s : parse_v1_limit(*text, kind)) l.limits.push_back(s);
      }
    }
    if (l.limits.empty()) return l;
    if (const auto t = read_small_file(dir + "/blkio.throttle.io_serviced_recursive", kMaxFile)) {
      parse_v1_counters(*t, false, l.counters);
    }
    if (const auto t = read_small_file(dir + "/blkio.throttle.io_service_bytes_recursive", kMaxFile)) {
      parse_v1_counters(*t, true, l.counters);
    }
    return l;
  }
  // The root cgroup has no io.max.
  if (key == "/") return l;
  const std::string dir = cgroup2_root_ + key;
  if (const auto text = read_small_file(dir + "/io.max", kMaxFile)) l.limits = parse_io_max(*text);
  if (l.limits.empty() && iocost.empty()) return l;
  if (const auto text = read_small_file(dir + "/io.stat", kMaxFile)) l.counters = parse_io_stat(*text);
  if (iocost.empty()) return l;
  const auto weights = read_small_file(dir + "/io.weight", kMaxFile);
  for (auto dev : iocost) {
    const auto c = l.counters.find(dev);
    if (c == l.counters.end() || !c->second.cost_wait_us) continue;
    l.limits.push_back({dev, IoLimitKind::kIocost, weights ? parse_io_weight(*weights, dev) : 100});
  }
  return l;
}

void IoLimits::refresh(const std::vector<std::string>& victim_paths, std::chrono::nanoseconds now) {
  std::set<std::string> paths(victim_paths.begin(), victim_paths.end());
  {
    std::lock_guard lock(mu_);
    now_ = now;
    for (auto it = asked_.begin(); it != asked_.end();) {
      if (now - it->second > kForget) {
        it = asked_.erase(it);
      } else {
        paths.insert(it->first);
        ++it;
      }
    }
  }
  // Files are read without the lock: slow events ask meanwhile.
  std::set<std::uint32_t> iocost;
  if (const auto qos = read_small_file(cgroup2_root_ + "/io.cost.qos", kMaxFile)) iocost = parse_iocost_enabled(*qos);
  std::map<std::string, std::vector<std::string>> levels_of;
  std::map<std::string, Level> levels;
  for (const auto& p : paths) {
    auto keys = level_keys(p);
    for (const auto& k : keys) {
      if (!levels.count(k)) levels.emplace(k, read_level(k, iocost));
    }
    levels_of.emplace(p, std::move(keys));
  }
  std::lock_guard lock(mu_);
  for (auto& [key, l] : levels) {
    l.at = now;
    const auto old = levels_.find(key);
    if (old == levels_.end() || old->second.at >= now) continue;
    const double secs = std::chrono::duration<double>(now - old->second.at).count();
    for (const auto& [dev, c] : l.counters) {
      const auto before = old->second.counters.find(dev);
      if (before == old->second.counters.end()) continue;
      const IoCounters& b = before->second;
      const auto per_s = [secs](std::uint64_t x, std::uint64_t y) {
        return x >= y ? static_cast<double>(x - y) / secs : 0.0;
      };
      l.rate[dev] = {per_s(c.rbytes, b.rbytes), per_s(c.wbytes, b.wbytes), per_s(c.rios, b.rios),
                     per_s(c.wios, b.wios),
                     c.cost_wait_us && b.cost_wait_us ? per_s(*c.cost_wait_us, *b.cost_wait_us) / 1e6 : 0.0};
    }
  }
  levels_ = std::move(levels);
  levels_of_ = std::move(levels_of);
}

std::optional<IoLimit> IoLimits::limit(const std::string& victim_path, std::uint32_t disk) {
  std::lock_guard lock(mu_);
  asked_[victim_path] = now_;
  const auto keys = levels_of_.find(victim_path);
  if (keys == levels_of_.end()) return std::nullopt;
  std::optional<IoLimit> best;
  double best_ratio = -1;
  for (const auto& key : keys->second) {
    const Level& l = levels_.at(key);
    for (const auto& s : l.limits) {
      if (s.dev != disk || s.value == 0) continue;
      const auto r = l.rate.find(disk);
      const double rate = r == l.rate.end() ? 0 : r->second[static_cast<std::size_t>(s.kind)];
      // iocost's weight is no rate: the time held is its measure, scaled so
      // that kIocostWaitBinding of the second binds as kBinding of a limit does.
      const double ratio = s.kind == IoLimitKind::kIocost ? rate / kIocostWaitBinding * kBinding
                                                          : rate / static_cast<double>(s.value);
      if (ratio <= best_ratio) continue;
      best_ratio = ratio;
      best = IoLimit{l.key, fmt::format("{}={}", kind_key(s.kind), s.value), rate, ratio >= kBinding};
    }
  }
  return best;
}

}  // namespace stallwatch::blame
