// What the agent costs a process that syncs: a tight 4 KiB write + fsync loop
// on tmpfs (/dev/shm, so the call itself is nearly free and the tracing cost
// shows), without `stallwatch run`, with it (its flight recorder on, the
// default) and with it and the recorder off, in one run, as ratios.
//
//   sudo build/tests/bench/stallwatch_bench_fsync [--benchmark_repetitions=N]
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/processes.h"

namespace {

void BM_WriteFsync(benchmark::State& state) {
  std::unique_ptr<stallwatch::test::Agent> agent;
  if (state.range(0)) {
    std::vector<std::string> args;
    if (state.range(0) == 2) args.push_back("--recorder-max-size=0");
    agent = std::make_unique<stallwatch::test::Agent>(args);
    if (!agent->wait_ready()) {
      state.SkipWithError(("agent did not start: " + agent->log()).c_str());
      return;
    }
  }
  const std::string path = "/dev/shm/stallwatch-bench." + std::to_string(getpid());
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  char buf[4096] = {1};
  for (auto _ : state) {
    if (pwrite(fd, buf, sizeof(buf), 0) != static_cast<ssize_t>(sizeof(buf)) || fsync(fd) != 0) {
      state.SkipWithError("write/fsync failed");
      break;
    }
  }
  close(fd);
  unlink(path.c_str());
  state.SetItemsProcessed(state.iterations());
  static const char* kLabels[] = {"without agent", "with agent", "with agent, recorder off"};
  state.SetLabel(kLabels[state.range(0)]);
}
BENCHMARK(BM_WriteFsync)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kNanosecond)->MinTime(2.0);

// Prints the comparison after the usual table.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      const auto& name = r.benchmark_name();
      ns_[name.find("/2") != std::string::npos ? 2 : name.find("/1") != std::string::npos ? 1 : 0] =
          r.GetAdjustedRealTime();
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    if (ns_.size() != 3) return;
    std::printf("\nwrite+fsync on tmpfs: %.0f ns without agent, %.0f ns with agent, %.0f ns with agent and no "
                "recorder\n",
                ns_[0], ns_[1], ns_[2]);
    std::printf("added per call: %.0f ns; throughput with/without: %.3f; recorder on/off: %.3f\n", ns_[1] - ns_[0],
                ns_[0] / ns_[1], ns_[2] / ns_[1]);
  }

 private:
  std::map<int, double> ns_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
