#pragma once
// The kernel stamps events with CLOCK_MONOTONIC; people read wall-clock time.
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <cstdint>
#include <ctime>
#include <string>

namespace stallwatch {

// CLOCK_MONOTONIC now, ns: the kernel's bpf_ktime_get_ns().
inline std::uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

// CLOCK_REALTIME now, ns since the epoch.
inline std::int64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

// CLOCK_REALTIME - CLOCK_MONOTONIC now, ns: added to a kernel timestamp it
// gives wall-clock time.
inline std::int64_t realtime_offset_ns() {
  timespec mono{}, real{};
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_REALTIME, &real);
  return (real.tv_sec - mono.tv_sec) * 1'000'000'000LL + (real.tv_nsec - mono.tv_nsec);
}

// "2026-12-02T13:12:03.123456Z" for ns since the epoch.
inline std::string rfc3339(std::int64_t realtime_ns) {
  const std::time_t secs = realtime_ns / 1'000'000'000;
  const auto micros = (realtime_ns % 1'000'000'000) / 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:06d}Z", tm, micros);
}

}  // namespace stallwatch
