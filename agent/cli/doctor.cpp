// `stallwatch doctor`: what this host supports, which rung each subsystem
// would use and why the others were refused, whether the directories names
// come from are there and the listen address is free. Loads and attaches
// for real, so "ok" here means `run` works. Text for people, --output=json
// for scripts; both from the same answers.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>

#include <cctype>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/options.h"
#include "cli/preflight.h"
#include "cli/selftest.h"
#include "cli/startup.h"
#include "exporters/prometheus/listener.h"
#include "identity/node_name.h"
#include "identity/pod_names.h"
#include "loader/host_facts.h"
#include "loader/libbpf_owners.h"
#include "loader/tracefs.h"
#include "loader/vmlinux_btf.h"
#include "reader/map_reader.h"

namespace stallwatch::cli {

namespace {

// What doctor found, in the order it is printed.
class Findings {
 public:
  explicit Findings(bool json) : json_(json) {}
  // One "key  text" line; in JSON the value (the text when none is given)
  // under the key in snake case ("block I/O" -> block_io).
  void line(const std::string& key, const std::string& text, nlohmann::ordered_json value = nullptr) {
    if (!json_) std::printf("%-14s %s\n", key.c_str(), text.c_str());
    std::string k;
    for (char c : key) {
      if (c == ' ') k += '_';
      if (std::isalnum(static_cast<unsigned char>(c))) k += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    doc_[k] = value.is_null() ? nlohmann::ordered_json(text) : std::move(value);
  }
  void raw(const std::string& text) {
    if (!json_) std::fputs(text.c_str(), stdout);
  }
  nlohmann::ordered_json& doc() { return doc_; }
  int verdict(bool ok, const std::string& text, int code) {
    line("verdict", text, {{"ok", ok}, {"text", text}});
    if (json_) std::printf("%s\n", doc_.dump(2).c_str());
    return code;
  }

 private:
  bool json_;
  nlohmann::ordered_json doc_ = nlohmann::ordered_json::object();
};

bool has(std::uint64_t caps, int cap) { return caps >> cap & 1; }

// The four capabilities the least-privilege DaemonSet grants, present or
// not, with what each missing one costs; not all forty.
void capabilities(Findings& out, std::uint64_t caps) {
  struct Need {
    const char* name;
    int cap;
    const char* without;
  };
  static constexpr Need kNeeds[] = {
      {"BPF", loader::kCapBpf, "no programs load (unless SYS_ADMIN)"},
      {"PERFMON", loader::kCapPerfmon, "no tracepoints attach (unless SYS_ADMIN)"},
      {"DAC_OVERRIDE", 1, "cgroups, pod logs and runtime state readable by mode only; no self-test cgroup"},
      {"NET_ADMIN", 12, "probe answers (HTTP status, gRPC health) not read"},
  };
  std::vector<std::string> present, missing;
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& n : kNeeds) {
    const bool ok = has(caps, n.cap);
    j[n.name] = ok;
    if (ok) {
      present.push_back(n.name);
    } else {
      missing.push_back(std::string(n.name) + ": " + n.without);
    }
  }
  const bool admin = has(caps, loader::kCapSysAdmin);
  j["SYS_ADMIN"] = admin;
  std::string text = present.empty() ? "none of BPF PERFMON DAC_OVERRIDE NET_ADMIN"
                                     : fmt::format("{} present", fmt::join(present, " "));
  if (!missing.empty()) text += fmt::format("; missing {}", fmt::join(missing, "; "));
  if (admin) text += " (SYS_ADMIN too)";
  out.line("capabilities", text, j);
}

// The directories workload names come from: there, readable, and what they hold.
void identity_dirs(Findings& out, const Options& options, const loader::HostFacts& facts) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  const std::string cgroup_root = options.cgroup_root.empty() ? facts.cgroups.cgroup2_mount : options.cgroup_root;
  struct stat st {};
  const bool cg = !cgroup_root.empty() && stat((cgroup_root + "/cgroup.procs").c_str(), &st) == 0;
  j["cgroup_root"] = {{"path", cgroup_root}, {"ok", cg}};
  out.line("cgroup root", cg ? cgroup_root : "no cgroup2 hierarchy at '" + cgroup_root + "': cgroups unnamed",
           j["cgroup_root"]);
  const bool logs = stat(options.pod_logs_dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  const auto pods = logs ? identity::scan_pod_logs(options.pod_logs_dir).size() : 0;
  j["pod_logs_dir"] = {{"path", options.pod_logs_dir}, {"ok", logs}, {"pods", pods}};
  out.line("pod logs", logs ? fmt::format("{}: {} pods", options.pod_logs_dir, pods)
                            : options.pod_logs_dir + " missing: no pod names (not a Kubernetes node?)",
           j["pod_logs_dir"]);
  std::string text;
  nlohmann::ordered_json dirs = nlohmann::ordered_json::array();
  for (const auto& dir : options.runtime_state_dirs) {
    const bool there = stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    const auto bundles = there ? identity::scan_runtime_state({dir}).size() : 0;
    dirs.push_back({{"path", dir}, {"ok", there}, {"containers", bundles}});
    text += (text.empty() ? "" : ", ") + (there ? fmt::format("{}: {} containers", dir, bundles) : dir + " missing");
  }
  out.line("runtime state", text, dirs);
}

// Whether `run` could listen where it is told to: bound and let go at once.
void listen_address(Findings& out, const std::string& text) {
  auto address = exporters::parse_listen_address(text);
  if (!address) {
    out.line("listen", "--web.listen-address: " + address.error().message,
             {{"address", text}, {"ok", false}, {"error", address.error().message}});
    return;
  }
  auto listener = exporters::open_listener(*address, 1);
  out.line("listen", listener ? text + " free" : text + " not usable: " + listener.error().message,
           {{"address", text}, {"ok", listener.has_value()}, {"error", listener ? "" : listener.error().message}});
}

}  // namespace

int run_doctor(const Options& given) {
  Options options = given;
  options.cgroup_root = resolve_cgroup_root(given.cgroup_root);
  if (options.doctor_output != "text" && options.doctor_output != "json") {
    std::fprintf(stderr, "stallwatch: error: --output: '%s' is neither text nor json\n",
                 options.doctor_output.c_str());
    return 2;
  }
  Findings out(options.doctor_output == "json");
  const auto facts = loader::read_host_facts();
  const auto node = identity::node_name();
  out.line("node", node ? *node : "unknown: " + node.error().message);
  out.line("kernel", facts.kernel_release);
  out.line("btf", facts.btf ? "/sys/kernel/btf/vmlinux present" : "missing (/sys/kernel/btf/vmlinux)", facts.btf);
  std::string cgroup(loader::to_string(facts.cgroups.layout));
  if (!facts.cgroups.cgroup2_mount.empty()) cgroup += ", cgroup2 at " + facts.cgroups.cgroup2_mount;
  if (!facts.cgroups.v1_mounts.empty()) {
    cgroup += ", " + std::to_string(facts.cgroups.v1_mounts.size()) + " v1 hierarchies";
  }
  out.line("cgroup", cgroup,
           {{"layout", std::string(loader::to_string(facts.cgroups.layout))},
            {"cgroup2_mount", facts.cgroups.cgroup2_mount},
            {"v1_hierarchies", facts.cgroups.v1_mounts.size()},
            {"io_controller_on_cgroup2", facts.cgroups.io_on_v2}});
  capabilities(out, facts.cap_effective);
  const bool can_load = can_load_bpf(facts.cap_effective);
  out.line("bpf loading", can_load ? "allowed" : "not allowed (needs CAP_BPF+CAP_PERFMON or CAP_SYS_ADMIN)", can_load);
  identity_dirs(out, options, facts);
  listen_address(out, options.listen_address);

  auto ready = check_host(facts);
  if (!ready) return out.verdict(false, "cannot run: " + ready.error().message, 1);
  auto configs = parse_configs(options);
  if (!configs) return out.verdict(false, "cannot run: " + configs.error().message, 2);
  configs->probe.cgroup2_root = options.cgroup_root.empty() ? facts.cgroups.cgroup2_mount : options.cgroup_root;
  loader::route_libbpf_output();
  const auto tracefs = loader::ensure_tracefs(true);
  out.line("tracefs",
           tracefs ? tracefs->path + (tracefs->mounted_by_us ? " (mounted now)" : "")
                   : "unavailable: " + tracefs.error().message);

  std::vector<loader::RungReport> report;
  auto loaded = [&] {
    const loader::SharedVmlinuxBtf one_parse;
    return load_all(*configs, tracefs, report);
  }();
  std::string subsystem;
  nlohmann::ordered_json ladders = nlohmann::ordered_json::array();
  for (const auto& r : report) {
    if (r.subsystem != subsystem) {
      subsystem = r.subsystem;
      out.raw(subsystem + " hook ladder:\n");
    }
    const std::string rung(loader::to_string(r.rung));
    out.raw(fmt::format("  {:<12} {}: {}\n", rung, r.chosen ? "chosen" : "refused", r.detail));
    ladders.push_back({{"subsystem", r.subsystem}, {"rung", rung}, {"chosen", r.chosen}, {"detail", r.detail}});
  }
  out.doc()["ladders"] = ladders;
  if (!loaded) return out.verdict(false, "cannot run: " + loaded.error().message, 1);
  if (loaded->block) {
    out.line("block I/O", loaded->block->sees_owner() && facts.cgroups.io_on_v2
                              ? "charged to the owning cgroup (io controller on cgroup2)"
                              : std::string("charged to the submitting task's cgroup (") +
                                    (loaded->block->sees_owner() ? "no io controller on cgroup2"
                                                                 : "classic tracepoints carry no owner") +
                                    "); kernel threads are labelled by kind");
  }
  out.line("blame", loaded->blame ? "windows on victims' fsync calls (scheduler hooks: " +
                                        std::string(loader::to_string(loaded->blame->rung())) +
                                        "); I/O blamed on the " +
                                        (facts.cgroups.io_on_v2 ? "owning cgroup" : "submitting task's cgroup")
                                  : std::string("off"));
  out.line("probes",
           loaded->probe
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
    out.raw(fmt::format("fsync self-test (one call each, file in {}):\n", test->dir));
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (const auto& r : test->rows) {
      // No call made: the rung has no hook for it (vfs_fsync outside fentry).
      const char* verdict = r.expected == 0           ? "not checked on this rung"
                            : r.seen == r.expected    ? "ok"
                            : r.seen > r.expected     ? "COUNTED TWICE"
                                                      : "not seen";
      out.raw(r.expected == 0 ? fmt::format("  {:<18} {:<36} {}\n", r.op, r.call, verdict)
                              : fmt::format("  {:<18} {:<36} seen {} of {}  {}\n", r.op, r.call, r.seen, r.expected,
                                            verdict));
      rows.push_back({{"op", r.op}, {"call", r.call}, {"expected", r.expected}, {"seen", r.seen}, {"verdict", verdict}});
    }
    out.doc()["selftest"] = rows;
  } else {
    out.line("self-test", "could not run: " + test.error().message);
  }
  return out.verdict(true,
                     fmt::format("ok: stallwatch can run here (fsync: {}, block: {}, blame: {}, probe: {})",
                                 loader::to_string(loaded->fsync.rung()), loader::to_string(rung_of(loaded->block)),
                                 loader::to_string(rung_of(loaded->blame)), loader::to_string(rung_of(loaded->probe))),
                     0);
}

}  // namespace stallwatch::cli
