#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/logging.h"
#include "cli/options.h"
#include "cli/version.h"
#include "common/duration.h"

using stallwatch::cli::Options;

namespace {

// CLI::Range lets NaN through (every comparison with it is false).
const CLI::Validator kFinite(
    [](std::string& text) -> std::string {
      char* end = nullptr;
      const double v = std::strtod(text.c_str(), &end);
      return end != text.c_str() && *end == '\0' && std::isfinite(v) ? "" : "must be a finite number, not " + text;
    },
    "");

// Duration flags are checked where CLI11 checks the others, so that their
// errors read alike; max_ns bounds each.
CLI::Validator duration(std::uint64_t max_ns) {
  return CLI::Validator(
      [max_ns](std::string& text) -> std::string {
        auto d = stallwatch::parse_duration_ns(text, max_ns);
        return d ? "" : d.error().message;
      },
      "");
}

// The same for an integer option holding seconds: the value is rewritten.
CLI::Validator duration_as_seconds(std::uint64_t max_ns) {
  return CLI::Validator(
      [max_ns](std::string& text) -> std::string {
        auto d = stallwatch::parse_duration_ns(text, max_ns);
        if (!d) return d.error().message;
        text = std::to_string(*d / 1'000'000'000ULL);
        return "";
      },
      "");
}

// "1..1048576" in the help rather than CLI11's "UINT:UINT in [1 - 1048576]".
template <typename T>
CLI::Option* bounded(CLI::Option* option, T lo, T hi) {
  return option->check(CLI::Range(lo, hi).description(""))->type_name(std::to_string(lo) + ".." + std::to_string(hi));
}

CLI::Option* directory(CLI::Option* option) {
  return option->check(CLI::Validator(CLI::ExistingDirectory).description(""))->type_name("DIR");
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// "; did you mean --slow-threshold?" for the first argument that is no flag
// of the command line, when one flag is close to it; "" otherwise.
std::string suggestion(const CLI::App& app, int argc, char** argv) {
  std::vector<std::string> names;
  const auto collect = [&names](const CLI::App* a) {
    for (const auto* o : a->get_options()) {
      for (const auto& n : o->get_lnames()) names.push_back("--" + n);
    }
  };
  collect(&app);
  for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) collect(sub);
  for (int i = 1; i < argc; ++i) {
    const std::string arg(argv[i]);
    if (arg.rfind("--", 0) != 0) continue;
    const std::string flag = arg.substr(0, arg.find('='));
    if (std::find(names.begin(), names.end(), flag) != names.end()) continue;
    std::string best;
    std::size_t best_d = std::max<std::size_t>(2, flag.size() / 4) + 1;
    for (const auto& n : names) {
      const std::size_t d = edit_distance(flag, n);
      if (d < best_d) best = n, best_d = d;
    }
    return best.empty() ? "" : "; did you mean " + best + "?";
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  // Block the stop signals before any thread exists so every thread inherits
  // the mask and `run` alone receives them, via sigwaitinfo.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  // glibc gives each thread that allocates an arena of its own, up to 8 per
  // core, and keeps what each arena freed: with 256 HTTP workers, every
  // worker that ever served a scrape would keep a scrape's working set.
  // Two arenas keep the resident size that of a scrape or two.
  mallopt(M_ARENA_MAX, 2);

  Options opt;
  CLI::App app{"stallwatch: which co-located workload made etcd's (or any victim's) fsyncs slow, traced with eBPF"};
  app.fallthrough();  // global flags are accepted after the subcommand too
  app.require_subcommand(1);
  app.get_formatter()->column_width(34);
  app.set_version_flag("--version", [] { return stallwatch::cli::version_line(); });
  app.footer(
      "Examples:\n"
      "  stallwatch run                                  serve :9688/metrics, slow etcd fsyncs to the event log\n"
      "  stallwatch run --victim=pod=default/postgres-0  explain another workload's waits\n"
      "  stallwatch capture --duration=2m                an incident bundle with report.html, here and now\n"
      "  stallwatch capture --trigger='fsync>100ms'      wait for the next slow call, keep 30s either side\n"
      "  stallwatch top                                  live view: victims, I/O per cgroup, blame\n"
      "  stallwatch doctor                               what this host supports and which hooks load\n"
      "Durations as Prometheus writes them: 10ms, 1.5s, 2m, 1h30m.");
  app.add_option("--log-level", opt.log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str()
      ->group("Logging");
  app.add_option("--log-format", opt.log_format, "text or json (one object per line)")
      ->capture_default_str()
      ->group("Logging");

  const std::uint64_t hour = stallwatch::kHourNs, day = 24 * stallwatch::kHourNs;
  static const char* kHooks = "Hooks and kernel maps";
  const auto add_hook_options = [&opt](CLI::App* sub) {
    sub->add_option("--fsync-hook", opt.fsync_hook, "auto, tracepoint or fentry (tracepoints plus vfs_fsync_range)")
        ->capture_default_str()
        ->group(kHooks);
    bounded(sub->add_option("--fsync-map-entries", opt.fsync_map_entries,
                            "bound on (cgroup, device, op) fsync series kept in the kernel; "
                            "past it events are counted in stallwatch_events_lost_total"),
            1U, 1U << 20)
        ->capture_default_str()
        ->group(kHooks);
    sub->add_option("--block-hook", opt.block_hook,
                    "auto, tp_btf, raw_tp, tracepoint, or off to leave the block layer alone")
        ->capture_default_str()
        ->group(kHooks);
    sub->add_option("--devices", opt.devices,
                    "disks to trace in the block layer, comma-separated (default: every disk)")
        ->delimiter(',')
        ->type_name("DISK,...")
        ->group(kHooks);
    bounded(sub->add_option("--block-map-entries", opt.block_map_entries,
                            "bound on (cgroup, device, op) block I/O series kept in the kernel"),
            1U, 1U << 20)
        ->capture_default_str()
        ->group(kHooks);
    sub->add_option("--blame-hook", opt.blame_hook,
                    "auto, tp_btf, raw_tp (scheduler hooks for victim threads), or off: no blame")
        ->capture_default_str()
        ->group(kHooks);
    sub->add_option("--probe-hook", opt.probe_hook, "auto, tp_btf, raw_tp (prober sockets and exec probes), or off")
        ->capture_default_str()
        ->group(kHooks);
    bounded(sub->add_option("--blame-map-entries", opt.blame_map_entries,
                            "bound on (victim, culprit, device, kind) blame series kept in the kernel"),
            1U, 1U << 20)
        ->capture_default_str()
        ->group(kHooks);
  };
  // What run, capture and top share: where names come from, victims, probes.
  const auto add_session_options = [&opt, &add_hook_options, hour, day](CLI::App* sub) {
    add_hook_options(sub);
    static const char* kNames = "Naming workloads";
    static const char* kBlame = "Victims and blame";
    static const char* kProbes = "Probes";
    directory(sub->add_option("--cgroup-root", opt.cgroup_root,
                              "cgroup2 mount to name cgroups from (default: found in mountinfo)"))
        ->group(kNames);
    directory(sub->add_option("--pod-logs-dir", opt.pod_logs_dir,
                              "kubelet pod log directory: pod namespace and name per UID"))
        ->capture_default_str()
        ->group(kNames);
    directory(sub->add_option("--runtime-state-dir", opt.runtime_state_dirs,
                              "containerd/CRI-O state directory holding OCI bundles (repeatable)"))
        ->capture_default_str()
        ->group(kNames);
    bounded(sub->add_option("--max-series", opt.max_series,
                            "cgroups that get labels of their own; the rest fold into cgroup=\"other\""),
            1U, 1U << 20)
        ->capture_default_str()
        ->group(kNames);
    sub->add_option("--stale-after", opt.stale_after_s, "how long a removed cgroup's series stay before they are dropped")
        ->transform(duration_as_seconds(day))
        ->type_name("DURATION")
        ->default_str("60s")
        ->group(kNames);
    sub->add_option("--victim", opt.victims,
                    "whose fsync waits to explain (repeatable): comm=NAME, cgroup=PATH or "
                    "pod=NAMESPACE/NAME, each a glob")
        ->capture_default_str()
        ->type_name("SELECTOR")
        ->group(kBlame);
    sub->add_option("--slow-threshold", opt.slow_threshold, "a victim's fsync at least this long becomes an event")
        ->check(duration(hour))
        ->type_name("DURATION")
        ->capture_default_str()
        ->group(kBlame);
    bounded(sub->add_option("--blame-top-culprits", opt.blame_top_culprits,
                            "culprits per victim with series of their own; the rest fold into culprit_cgroup=\"other\""),
            1U, 1000U)
        ->capture_default_str()
        ->group(kBlame);
    sub->add_option("--prober-comm", opt.prober_comm,
                    "process names of the probers, comma-separated, at most 4 (k3s: k3s-server,k3s-agent; "
                    "MicroK8s: kubelite; k0s: kubelet)")
        ->capture_default_str()
        ->type_name("NAME,...")
        ->group(kProbes);
    sub->add_option("--probe-max-duration", opt.probe_max_duration,
                    "a prober's connection open longer is no probe (API watches, port-forwards, streams)")
        ->check(duration(hour))
        ->type_name("DURATION")
        ->capture_default_str()
        ->group(kProbes);
    sub->add_option("--probe-slow-threshold", opt.probe_slow_threshold,
                    "a probe at least this long becomes an event, as does every failing one")
        ->check(duration(hour))
        ->type_name("DURATION")
        ->capture_default_str()
        ->group(kProbes);
  };
  auto* run = app.add_subcommand("run", "Trace, serve Prometheus metrics and write the event log until stopped");
  static const char* kServe = "Serving /metrics";
  static const char* kLog = "Event log";
  run->add_option("--web.listen-address", opt.listen_address,
                  "[host]:port for /metrics and /healthz; ':port' is every IPv4 and IPv6 address")
      ->capture_default_str()
      ->type_name("ADDRESS")
      ->group(kServe);
  run->add_option("--web.config.file", opt.web_config_file,
                  "TLS and basic-auth settings in the Prometheus exporter-toolkit format (docs/metrics.md: TLS and basic auth)")
      ->type_name("FILE")
      ->group(kServe);
  add_session_options(run);
  run->add_option("--events-file", opt.events_file,
                  "event log, one JSON object per line; '-' is stdout (default: stdout on a "
                  "terminal, else <state-dir>/events.jsonl)")
      ->type_name("FILE")
      ->group(kLog);
  run->add_option("--events-max-size", opt.events_max_size,
                  "an events file past this size is rotated to FILE.1, FILE.1 to FILE.2, ...")
      ->capture_default_str()
      ->type_name("SIZE")
      ->group(kLog);
  bounded(run->add_option("--events-keep", opt.events_keep, "rotated events files kept"), 1U, 100U)
      ->capture_default_str()
      ->group(kLog);
  run->add_option("--events-rate", opt.events_rate,
                  "events per second per victim (bursts of 10 s worth); the next event says how many were "
                  "held back; 0: no limit")
      ->check(kFinite)
      ->check(CLI::Range(0.0, 1e6).description(""))
      ->type_name("0..1000000")
      ->capture_default_str()
      ->group(kLog);
  run->add_option("--state-dir", opt.state_dir, "where the agent keeps files")
      ->capture_default_str()
      ->type_name("DIR")
      ->group(kLog);
  static const char* kRecorderRun = "Flight recorder";
  run->add_option("--recorder-max-size", opt.recorder_max_size,
                  "the flight recorder (<state-dir>/recorder: samples, events, metrics every 10 s) keeps at most "
                  "this much; oldest first; 0 turns it off")
      ->capture_default_str()
      ->type_name("SIZE")
      ->group(kRecorderRun);
  run->add_option("--recorder-max-age", opt.recorder_max_age, "and nothing older than this")
      ->check(duration(366 * day))
      ->capture_default_str()
      ->type_name("DURATION")
      ->group(kRecorderRun);
  auto* capture = app.add_subcommand(
      "capture", "Record a bounded incident bundle (events, samples, metrics, report.html), by hand or on a trigger");
  add_session_options(capture);
  static const char* kBundle = "Bundle";
  capture->add_option("--duration", opt.capture_duration, "how long to record; default until Ctrl-C, or --post after a trigger")
      ->check(duration(day))
      ->type_name("DURATION")
      ->group(kBundle);
  capture->add_option("--trigger", opt.capture_trigger,
                      "wait for fsync>DURATION, probe=RESULT or verdict=VERDICT before recording --post")
      ->type_name("CONDITION")
      ->group(kBundle);
  capture->add_option("--pre", opt.capture_pre, "with --trigger: what to keep from before it")
      ->check(duration(hour))
      ->type_name("DURATION")
      ->capture_default_str()
      ->group(kBundle);
  capture->add_option("--post", opt.capture_post, "with --trigger: how long to record after it")
      ->check(duration(hour))
      ->type_name("DURATION")
      ->capture_default_str()
      ->group(kBundle);
  capture->add_option("--out", opt.capture_out, "bundle directory (default ./stallwatch-capture-<node>-<UTC time>)")
      ->type_name("DIR")
      ->group(kBundle);
  capture->add_option("--max-size", opt.capture_max_size, "bound on the bundle's size (e.g. 100MB, 1GiB)")
      ->capture_default_str()
      ->type_name("SIZE")
      ->group(kBundle);
  capture->add_flag("!--no-progress", opt.progress, "no progress line on a terminal")->group(kBundle);
  auto* report_cmd = app.add_subcommand(
      "report", "Render a capture bundle's report.html again, or a bundle for a past window from the flight recorder");
  report_cmd->add_option("dir", opt.report_dir, "a capture bundle's directory")->check(CLI::ExistingDirectory);
  static const char* kRecorder = "From the flight recorder";
  report_cmd->add_option("--state-dir", opt.report_state_dir, "the agent's --state-dir (or a copy of it)")
      ->type_name("DIR")
      ->group(kRecorder);
  report_cmd->add_option("--since", opt.report_since, "the window's start: RFC 3339 (2026-12-04T03:12:00Z) or -2h")
      ->type_name("TIME")
      ->group(kRecorder);
  report_cmd->add_option("--until", opt.report_until, "the window's end")
      ->capture_default_str()
      ->type_name("TIME")
      ->group(kRecorder);
  report_cmd->add_option("--out", opt.report_out, "bundle directory (default ./stallwatch-report-<node>-<since>)")
      ->type_name("DIR")
      ->group(kRecorder);
  report_cmd->add_flag("--list", opt.report_list, "what the recorder holds: time range, size, slow events per hour")
      ->group(kRecorder);
  auto* top = app.add_subcommand("top", "Live terminal view: victims, per-cgroup I/O and blame, probe failures");
  add_session_options(top);
  top->add_flag("--once", opt.top_once, "print one frame (after a second of sampling) and exit");
  auto* doctor = app.add_subcommand(
      "doctor", "Say what this host supports, which hooks load, and whether run's directories and port are usable");
  add_session_options(doctor);
  doctor->add_option("--web.listen-address", opt.listen_address, "the address run would listen on")
      ->capture_default_str()
      ->type_name("ADDRESS")
      ->group(kServe);
  doctor->add_option("--output", opt.doctor_output, "text, or json for scripts")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}))
      ->type_name("FORMAT");
  auto* version = app.add_subcommand("version", "Print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "stallwatch: error: %s%s (see --help)\n", e.what(), suggestion(app, argc, argv).c_str());
    return 2;
  }

  if (*version) {
    stallwatch::cli::print_version();
    return 0;
  }
  if (auto ok = stallwatch::cli::setup_logging(opt.log_level, opt.log_format); !ok) {
    std::fprintf(stderr, "stallwatch: error: %s\n", ok.error().message.c_str());
    return 2;
  }
  if (*doctor) return stallwatch::cli::run_doctor(opt);
  if (*capture) return stallwatch::cli::run_capture(opt);
  if (*report_cmd) return stallwatch::cli::run_report(opt);
  if (*top) return stallwatch::cli::run_top(opt);
  return stallwatch::cli::run_agent(opt);
}
