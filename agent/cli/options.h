#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace stallwatch::cli {

struct Options {
  std::string log_level = "info";
  std::string log_format = "text";
  std::string listen_address = ":9688";
  std::string web_config_file;  // exporter-toolkit format: TLS and basic auth
  std::string fsync_hook = "auto";
  std::uint32_t fsync_map_entries = 4096;
  std::string block_hook = "auto";
  std::vector<std::string> devices;  // empty: every disk
  std::uint32_t block_map_entries = 4096;
  std::string cgroup_root;  // empty: the cgroup2 mount from mountinfo
  std::string pod_logs_dir = "/var/log/pods";
  std::vector<std::string> runtime_state_dirs = {"/run/containerd/io.containerd.runtime.v2.task",
                                                 "/run/containers/storage/overlay-containers"};
  std::uint32_t max_series = 2000;
  std::uint32_t stale_after_s = 60;
  // blame
  std::string blame_hook = "auto";
  std::vector<std::string> victims = {"comm=etcd"};
  std::string slow_threshold = "10ms";
  std::string events_file;  // empty: stdout on a terminal, else <state_dir>/events.jsonl
  std::string events_max_size = "64MiB";  // a file past it rotates
  unsigned events_keep = 4;               // rotated files kept
  double events_rate = 20;                // per victim, per second (0: no limit); bursts of 10 s worth
  std::string state_dir = "/var/lib/stallwatch";
  std::string recorder_max_size = "256MiB";  // the flight recorder under <state_dir>/recorder; 0: off
  std::string recorder_max_age = "24h";
  std::uint32_t blame_map_entries = 4096;
  std::uint32_t blame_top_culprits = 10;
  // probes
  std::string probe_hook = "auto";
  std::string prober_comm = "kubelet";
  std::string probe_slow_threshold = "500ms";
  std::string probe_max_duration = "120s";
  // capture
  std::string capture_duration;  // empty: until Ctrl-C (or --post after a trigger)
  std::string capture_trigger;   // empty: record from the start
  std::string capture_pre = "30s";
  std::string capture_post = "30s";
  std::string capture_out;  // empty: ./stallwatch-capture-<node>-<UTC time>
  std::string capture_max_size = "100MB";
  bool progress = true;  // capture: a progress line on a terminal
  // report
  std::string report_dir;        // a bundle; or, from the flight recorder:
  std::string report_state_dir;  // a state directory (or its recorder/)
  std::string report_since, report_until = "now";
  std::string report_out;  // empty: ./stallwatch-report-<node>-<since>
  bool report_list = false;
  // top
  bool top_once = false;
  std::string doctor_output = "text";  // or json
};

int run_agent(const Options& options);
int run_capture(const Options& options);
int run_report(const Options& options);
int run_top(const Options& options);
int run_doctor(const Options& options);
void print_version();

}  // namespace stallwatch::cli
