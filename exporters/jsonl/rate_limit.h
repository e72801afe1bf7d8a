#pragma once
// Per-victim bound on event lines: a token bucket per key, `rate` events a
// second on average and `burst` at once. What it holds back is counted per
// key and handed to that key's next event, so a reader sees how many it
// missed where they were missed. Safe to call from several threads.
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace stallwatch::exporters {

class RateLimit {
 public:
  // rate 0: every event passes.
  RateLimit(double rate, double burst, std::size_t max_keys = 4096);

  struct Admit {
    bool pass = true;
    std::uint64_t suppressed_before = 0;  // key's events held back since its last one passed
  };
  Admit admit(const std::string& key, double now_s);
  std::uint64_t suppressed_total() const;

 private:
  struct Bucket {
    double tokens = 0;
    double at_s = 0;
    std::uint64_t suppressed = 0;
  };
  void forget_idle(double now_s);

  double rate_, burst_;
  std::size_t max_keys_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::uint64_t total_ = 0;
};

}  // namespace stallwatch::exporters
