#pragma once
// Turns a snapshot into Prometheus metric families. Pure: no BPF, no I/O.
#include <prometheus/metric_family.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "identity/labels.h"
#include "reader/snapshot.h"

namespace stallwatch::exporters {

struct HookInfo {
  std::string subsystem;
  std::string mode;
};

// A filesystem on a storage stack and one disk under it: joins the fsync
// series (device="dm-0") to the block and blame series (device="sda").
struct StackInfo {
  std::string device;  // the filesystem's, as fsync series name it
  std::string fstype;
  std::string disk;    // a whole disk under it
  std::string blame_device;  // the disk the blame series of windows on it name (a group's key)
};

// A victim's disk as DeviceHealth judges it.
struct DiskConditionInfo {
  std::string device;
  bool throttled = false;
  double service_seconds = 0;   // mean per request, last busy seconds
  double baseline_seconds = 0;  // the disk's own
};

// One row of the start-up self-test: calls made and calls the hooks saw.
struct SelfTestInfo {
  std::string op;
  std::uint64_t expected = 0;
  std::uint64_t seen = 0;
};

struct BuildInfo {
  std::string version;
  std::string revision;
  std::string libbpf_version;
  // Named `nodename` as node_exporter's node_uname_info has it: a scrape
  // config's own `node` target label would clash.
  std::string node;
};

using identity::Labeler;

// Series whose labels coincide (two dev_t naming one disk) are summed, so
// the output never holds duplicate series.
std::vector<prometheus::MetricFamily> render_fsync(const reader::Snapshot& snap, const Labeler& labeler);
std::vector<prometheus::MetricFamily> render_block(const reader::Snapshot& snap, const Labeler& labeler);
std::vector<prometheus::MetricFamily> render_lost(const reader::Snapshot& snap);

std::vector<prometheus::MetricFamily> render_stacks(const std::vector<StackInfo>& stacks);
std::vector<prometheus::MetricFamily> render_disk_conditions(const std::vector<DiskConditionInfo>& disks);
std::vector<prometheus::MetricFamily> render_agent_info(const std::vector<HookInfo>& hooks, const BuildInfo& build,
                                                        const std::vector<SelfTestInfo>& selftest = {});

struct IdentityStats {
  std::size_t tracked = 0;    // cgroups with labels of their own
  std::uint64_t dropped = 0;  // cgroups folded into cgroup="other"
};
std::vector<prometheus::MetricFamily> render_identity(const IdentityStats& stats);

// The event log's lines by fate, and its rotations.
struct EventLogInfo {
  std::uint64_t written = 0, failed = 0, dropped = 0, suppressed = 0, rotations = 0;
};
std::vector<prometheus::MetricFamily> render_event_log(const EventLogInfo& info);

// The flight recorder's records by fate, its size, and segments it removed.
struct RecorderInfo {
  std::uint64_t written = 0, dropped = 0, bytes = 0, removed = 0;
};
std::vector<prometheus::MetricFamily> render_recorder(const RecorderInfo& info);

}  // namespace stallwatch::exporters
