// `stallwatch doctor`: what this host supports, which rung each subsystem
// would use and why the others were refused. Loads and attaches for real,
// so "ok" here means `run` works.
#include <fmt/format.h>

#include <cstdio>
#include <string>

#include "cli/options.h"
#include "cli/preflight.h"
#include "cli/selftest.h"
#include "cli/startup.h"
#include "loader/host_facts.h"
#include "loader/libbpf_owners.h"
#include "loader/tracefs.h"
#include "reader/map_reader.h"

namespace stallwatch::cli {

namespace {
void line(const char* key, const std::string& value) { std::printf("%-14s %s\n", key, value.c_str()); }
}  // namespace

int run_doctor(const Options& options) {
  const auto facts = loader::read_host_facts();
  line("kernel", facts.kernel_release);
  line("btf", facts.btf ? "/sys/kernel/btf/vmlinux present" : "missing (/sys/kernel/btf/vmlinux)");
  std::string cgroup(loader::to_string(facts.cgroups.layout));
  if (!facts.cgroups.cgroup2_mount.empty()) cgroup += ", cgroup2 at " + facts.cgroups.cgroup2_mount;
  if (!facts.cgroups.v1_mounts.empty()) {
    cgroup += ", " + std::to_string(facts.cgroups.v1_mounts.size()) + " v1 hierarchies";
  }
  line("cgroup", cgroup);
  line("capabilities", loader::cap_list(facts.cap_effective));
  line("bpf loading",
       can_load_bpf(facts.cap_effective) ? "allowed" : "not allowed (needs CAP_BPF+CAP_PERFMON or CAP_SYS_ADMIN)");

  auto ready = check_host(facts);
  if (!ready) {
    line("verdict", "cannot run: " + ready.error().message);
    return 1;
  }
  auto configs = parse_configs(options);
  if (!configs) {
    line("verdict", "cannot run: " + configs.error().message);
    return 2;
  }
  configs->probe.cgroup2_root = options.cgroup_root.empty() ? facts.cgroups.cgroup2_mount : options.cgroup_root;
  loader::route_libbpf_output();
  const auto tracefs = loader::ensure_tracefs(true);
  line("tracefs", tracefs ? tracefs->path + (tracefs->mounted_by_us ? " (mounted now)" : "")
                          : "unavailable: " + tracefs.error().message);

  std::vector<loader::RungReport> report;
  auto loaded = load_all(*configs, tracefs, report);
  std::string subsystem;
  for (const auto& r : report) {
    if (r.subsystem != subsystem) {
      subsystem = r.subsystem;
      std::printf("%s hook ladder:\n", subsystem.c_str());
    }
    std::printf("  %-12s %s: %s\n", std::string(loader::to_string(r.rung)).c_str(), r.chosen ? "chosen" : "refused",
                r.detail.c_str());
  }
  if (!loaded) {
    line("verdict", "cannot run: " + loaded.error().message);
    return 1;
  }
  if (loaded->block) {
    line("block I/O", loaded->block->sees_owner() && facts.cgroups.io_on_v2
                          ? "charged to the owning cgroup (io controller on cgroup2)"
                          : std::string("charged to the submitting task's cgroup (") +
                                (loaded->block->sees_owner() ? "no io controller on cgroup2"
                                                             : "classic tracepoints carry no owner") +
                                "); kernel threads are labelled by kind");
  }
  line("blame", loaded->blame ? "windows on victims' fsync calls (scheduler hooks: " +
                                    std::string(loader::to_string(loaded->blame->rung())) + "); I/O blamed on the " +
                                    (facts.cgroups.io_on_v2 ? "owning cgroup" : "submitting task's cgroup")
                              : std::string("off"));
  line("probes", loaded->probe
                     ? "TCP connections of " + options.prober_comm + " (HTTP, HTTPS, gRPC, TCP probes) and exec probes (" +
                           std::string(loader::to_string(loaded->probe->rung())) +
                           "); an exec probe is a process started in a pod's cgroup by a parent outside it "
                           "(the runtime's exec), timed exec to exit; kubectl exec counts too, and a container's "
                           "own init (PID 1 of its namespace) does not; " +
                           (loaded->probe->answers_unread().empty()
                                ? std::string("answers read: HTTP status, gRPC health, TLS")
                                : "answers not read (" + loaded->probe->answers_unread() + "): results from TCP alone")
                     : std::string("off"));
  reader::MapFds fds{loaded->fsync.hist_fd(), loaded->fsync.drops_fd()};
  reader::MapReader maps(fds);
  auto test = run_fsync_selftest(maps, facts.cgroups.cgroup2_mount, loaded->fsync.io_uring(),
                                 loaded->fsync.rung() == loader::Rung::kFentry);
  if (test) {
    std::printf("fsync self-test (one call each, file in %s):\n", test->dir.c_str());
    for (const auto& r : test->rows) {
      const char* verdict = r.seen == r.expected ? "ok" : r.seen > r.expected ? "COUNTED TWICE" : "not seen";
      std::printf("  %-18s %-36s seen %llu of %llu  %s\n", r.op.c_str(), r.call.c_str(),
                  static_cast<unsigned long long>(r.seen), static_cast<unsigned long long>(r.expected), verdict);
    }
  } else {
    line("self-test", "could not run: " + test.error().message);
  }
  line("verdict", fmt::format("ok: stallwatch can run here (fsync: {}, block: {}, blame: {}, probe: {})",
                              loader::to_string(loaded->fsync.rung()), loader::to_string(rung_of(loaded->block)),
                              loader::to_string(rung_of(loaded->blame)), loader::to_string(rung_of(loaded->probe))));
  return 0;
}

}  // namespace stallwatch::cli
