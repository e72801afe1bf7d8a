#include "blame/cost_model.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

namespace stallwatch::blame {

namespace {

constexpr double kSmoothing = 0.3;

std::uint32_t to_units(double us) {
  const double u = std::round(us * SW_COST_UNITS_PER_US);
  return static_cast<std::uint32_t>(std::clamp(u, 0.0, static_cast<double>(1U << 24)));
}

}  // namespace

void CostModel::observe(std::uint32_t dev, std::uint32_t op, const sw_cost_stats& now) {
  const auto key = std::make_pair(dev, op);
  sw_cost_stats& before = last_[key];
  // Unsigned differences: the kernel's sums only grow (and wrap).
  const double n = static_cast<double>(now.n - before.n);
  if (now.n - before.n < kMinSamples) return;
  const double sx = static_cast<double>(now.sx - before.sx), sy = static_cast<double>(now.sy - before.sy);
  const double sxx = static_cast<double>(now.sxx - before.sxx), sxy = static_cast<double>(now.sxy - before.sxy);
  before = now;

  auto it = fits_.find(key);
  const double prior_slope =
      it != fits_.end() ? it->second.per_page_us : static_cast<double>(SW_COST_DEFAULT_PAGE) / SW_COST_UNITS_PER_US;
  const double var = n * sxx - sx * sx;
  double slope = prior_slope;
  // Sizes that vary enough to tell the per-page cost from the base one.
  if (var > 1e-9 * n * n * std::max(1.0, sxx / n)) slope = (n * sxy - sx * sy) / var;
  slope = std::max(0.0, slope);
  double base = (sy - slope * sx) / n;
  if (base < 1.0) {  // a negative intercept: the line is all slope; keep a floor of 1 us
    base = 1.0;
    slope = sx > 0 ? std::max(0.0, (sy - n) / sx) : slope;
  }
  const std::uint64_t samples = static_cast<std::uint64_t>(n);
  if (it == fits_.end()) {
    fits_[key] = {base, slope, samples};
    return;
  }
  CostFit& f = it->second;
  f.base_us += kSmoothing * (base - f.base_us);
  f.per_page_us += kSmoothing * (slope - f.per_page_us);
  f.samples += samples;
}

sw_cost CostModel::weights(std::uint32_t dev) const {
  sw_cost c{};
  for (std::uint32_t op = 0; op < SW_COST__OPS; ++op) {
    c.base[op] = SW_COST_DEFAULT_BASE;
    c.per_page[op] = SW_COST_DEFAULT_PAGE;
    if (auto it = fits_.find({dev, op}); it != fits_.end()) {
      c.base[op] = std::max<std::uint32_t>(1, to_units(it->second.base_us));
      c.per_page[op] = to_units(it->second.per_page_us);
    }
  }
  return c;
}

std::vector<std::uint32_t> CostModel::devices() const {
  std::set<std::uint32_t> out;
  for (const auto& [key, fit] : fits_) out.insert(key.first);
  return {out.begin(), out.end()};
}

}  // namespace stallwatch::blame
