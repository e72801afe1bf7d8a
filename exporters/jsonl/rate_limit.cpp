#include "exporters/jsonl/rate_limit.h"

#include <algorithm>
#include <utility>

namespace stallwatch::exporters {

RateLimit::RateLimit(double rate, double burst, std::size_t max_keys)
    : rate_(rate), burst_(std::max(burst, 1.0)), max_keys_(max_keys) {}

RateLimit::Admit RateLimit::admit(const std::string& key, double now_s) {
  if (rate_ <= 0) return {};
  std::lock_guard lock(mu_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) forget_idle(now_s);
    it = buckets_.emplace(key, Bucket{burst_, now_s, 0}).first;
  }
  Bucket& b = it->second;
  b.tokens = std::min(burst_, b.tokens + std::max(0.0, now_s - b.at_s) * rate_);
  b.at_s = now_s;
  if (b.tokens < 1) {
    ++b.suppressed;
    ++total_;
    return {false, 0};
  }
  b.tokens -= 1;
  return {true, std::exchange(b.suppressed, 0)};
}

std::uint64_t RateLimit::suppressed_total() const {
  std::lock_guard lock(mu_);
  return total_;
}

// Keys whose bucket has refilled owe nothing: they start afresh if they
// come back. Only a flood of distinct keys, all holding events back, keeps
// the table full; then the oldest are forgotten with their counts, which
// stay in the total.
void RateLimit::forget_idle(double now_s) {
  std::erase_if(buckets_, [&](const auto& kv) {
    const Bucket& b = kv.second;
    return b.suppressed == 0 && b.tokens + (now_s - b.at_s) * rate_ >= burst_;
  });
  while (buckets_.size() >= max_keys_) {
    auto oldest = std::min_element(buckets_.begin(), buckets_.end(),
                                   [](const auto& a, const auto& b) { return a.second.at_s < b.second.at_s; });
    buckets_.erase(oldest);
  }
}

}  // namespace stallwatch::exporters
