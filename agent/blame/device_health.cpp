#include "blame/device_health.h"

#include <algorithm>
#include <cmath>

namespace stallwatch::blame {

void DeviceHealth::observe(std::uint32_t dev, std::chrono::nanoseconds t, std::uint64_t requests, std::uint64_t pages,
                           std::uint64_t service_us, const Changed& changed) {
  std::lock_guard lock(mu_);
  Disk& d = disks_[dev];
  // Held under the lock: a slow event that reads the new judgement waits
  // for the line that announces it.
  const auto report = [&] {
    if (!d.judged || d.judged->throttled == d.reported) return;
    d.reported = d.judged->throttled;
    if (changed) changed(dev, *d.judged);
  };
  // The first sums, or sums that went back (the programs were reloaded): a new start.
  if (!d.primed || requests < d.requests || pages < d.pages || service_us < d.service_us || t <= d.t) {
    d.primed = true;
    d.t = t;
    d.requests = requests;
    d.pages = pages;
    d.service_us = service_us;
    return;
  }
  const double secs = std::chrono::duration<double>(t - d.t).count();
  const std::uint64_t n = requests - d.requests;
  const Second s{static_cast<double>(n) / secs, static_cast<double>(pages - d.pages) * 4096 / secs,
                 n ? static_cast<double>(service_us - d.service_us) / 1000 / static_cast<double>(n) : 0};
  d.t = t;
  d.requests = requests;
  d.pages = pages;
  d.service_us = service_us;
  // An idle second says nothing of the disk; a busy one joins the history.
  if (n < kMinRequests) {
    // A disk nobody uses is not shown throttled from what it did long ago.
    if (++d.idle >= kStaleSeconds && d.judged) d.judged->throttled = false;
    report();
    return;
  }
  d.idle = 0;
  d.busy.push_back(s);
  if (d.busy.size() > kHistory) d.busy.pop_front();
  d.judged = judge(d.busy, d.judged && d.judged->throttled);
  report();
}

std::optional<DeviceCondition> DeviceHealth::judge(const std::deque<Second>& busy, bool was_throttled) {
  if (busy.size() < kMinHistory) return std::nullopt;
  std::vector<double> service, per_page;
  service.reserve(busy.size());
  per_page.reserve(busy.size());
  DeviceCondition c;
  for (const auto& s : busy) {
    service.push_back(s.service_ms);
    per_page.push_back(s.service_ms / s.pages_per_request());
    c.peak_iops = std::max(c.peak_iops, s.iops);
    c.peak_bytes_per_s = std::max(c.peak_bytes_per_s, s.bytes_per_s);
  }
  const auto p10 = [](std::vector<double>& v) {
    const auto it = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 10);
    std::nth_element(v.begin(), it, v.end());
    return *it;
  };
  const std::size_t n = std::min(kPlateauSeconds, busy.size());
  const auto last = busy.end() - static_cast<std::ptrdiff_t>(n);
  double pages_per_request = 0;
  for (auto it = last; it != busy.end(); ++it) {
    c.iops += it->iops / static_cast<double>(n);
    c.bytes_per_s += it->bytes_per_s / static_cast<double>(n);
    c.service_ms += it->service_ms / static_cast<double>(n);
    pages_per_request += it->pages_per_request() / static_cast<double>(n);
  }
  c.baseline_ms = std::max(p10(service), p10(per_page) * pages_per_request);
  const auto flat = [&](double Second::*field, double mean) {
    return mean > 0 &&
           std::all_of(last, busy.end(), [&](const Second& s) { return std::abs(s.*field - mean) <= kFlat * mean; });
  };
  c.throttled = n == kPlateauSeconds && c.service_ms >= kMinServiceMs && c.service_ms >= kSlowdown * c.baseline_ms &&
                c.iops <= kBelowPeak * c.peak_iops && c.bytes_per_s <= kBelowPeak * c.peak_bytes_per_s &&
                (was_throttled || flat(&Second::iops, c.iops) || flat(&Second::bytes_per_s, c.bytes_per_s));
  return c;
}

std::optional<DeviceCondition> DeviceHealth::condition(std::uint32_t dev) const {
  std::lock_guard lock(mu_);
  const auto it = disks_.find(dev);
  return it == disks_.end() ? std::nullopt : it->second.judged;
}

std::map<std::uint32_t, DeviceCondition> DeviceHealth::conditions() const {
  std::lock_guard lock(mu_);
  std::map<std::uint32_t, DeviceCondition> out;
  for (const auto& [dev, d] : disks_) {
    if (d.judged) out.emplace(dev, *d.judged);
  }
  return out;
}

}  // namespace stallwatch::blame
