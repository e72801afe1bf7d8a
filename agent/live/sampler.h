#pragma once
// One-second views of the kernel maps for `capture` and `top`: what each
// victim's fsync calls did in the last interval (count, p50, p99, wait by
// kind), and each cgroup's block I/O, as differences between two snapshots.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "identity/labels.h"
#include "reader/snapshot.h"

namespace stallwatch::live {

struct VictimSample {
  identity::Labels labels;
  std::uint64_t calls = 0;                   // fsync-family calls ended in the interval
  double p50_s = 0, p99_s = 0;               // from the histogram buckets (upper bounds)
  // Calls per bucket, only the buckets that have any: (upper bound in
  // seconds, count); the bound of the +Inf bucket is 0.
  std::vector<std::pair<double, std::uint64_t>> hist;
  double wall_s = 0;                         // blame windows' wall time
  std::map<std::string, double> kinds_s;     // blame kind -> seconds
  std::map<std::string, double> culprits_s;  // culprit cgroup -> seconds (I/O kinds)
  double journal_of_neighbours_s = 0;        // journal time writing another workload's data
  double cpu_of_neighbours_s = 0;            // waiting for a CPU another workload held
  std::vector<std::string> devices;          // disks it synced on
};

struct IoSample {
  identity::Labels labels;
  std::string device;
  std::uint64_t requests = 0, bytes = 0;
  double busy_s = 0;
};

struct ProbeSample {
  std::string ns, pod, type, result;
  std::uint64_t count = 0;
};

struct Sample {
  std::int64_t realtime_ns = 0;
  double interval_s = 0;
  std::vector<VictimSample> victims;
  std::vector<IoSample> io;  // cgroups with I/O in the interval
  std::vector<ProbeSample> probes;

  nlohmann::json to_json() const;
  static Sample from_json(const nlohmann::json& j);
};

// Upper bound of the bucket holding quantile q, seconds; 0 for no calls.
double quantile(const reader::Histogram& h, double q);

class Sampler {
 public:
  explicit Sampler(identity::Labeler labeler) : labeler_(std::move(labeler)) {}
  // The difference to the previous snapshot (the first call returns none).
  std::optional<Sample> next(const reader::Snapshot& snap, std::int64_t realtime_ns, double interval_s);

 private:
  identity::Labeler labeler_;
  std::optional<reader::Snapshot> prev_;
};

}  // namespace stallwatch::live
