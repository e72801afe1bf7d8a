#pragma once
// Owner of the blame engine's scheduler programs and of the maps the fsync
// and block objects share with it (bpf/blame.bpf.h): it loads first, and
// the other two reuse its map fds before they load.
//
// Rungs, best first: tp_btf, raw_tp (sched_switch, sched_wakeup,
// sched_waking, sched_migrate_task, workqueue_execute_start/end); off
// with --blame-hook=off, when no window ever opens.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "loader/ladder.h"
#include "loader/libbpf_owners.h"

struct blame_bpf;
struct bpf_object;

namespace stallwatch::loader {

inline Result<Rung> parse_blame_hook(std::string_view text) {
  return parse_rung("blame", text, {Rung::kAuto, Rung::kTpBtf, Rung::kRawTp, Rung::kOff});
}

struct BlameConfig {
  Rung hook = Rung::kAuto;
  std::uint32_t entries = 4096;  // bound on (victim, culprit, device, kind) series
};

// fds of the maps blame.bpf.h declares; -1: not shared (blame off).
struct SharedBlameMaps {
  int victim_tasks = -1;
  int victim_cgroups = -1;
  int victim_comms = -1;
  int victim_gen = -1;
  int blame_dev = -1;
  int blame_win = -1;
  int blame = -1;
  int blame_events = -1;
  int run_ring = -1;
  int blame_disk_of = -1;
  int blame_group_of = -1;
  int blame_bio_dev = -1;
  int blame_owner_alias = -1;
  int blame_issuer = -1;
  int blame_windows = -1;
};

// Points obj's copies of the shared maps at maps' fds; call between open and load.
Result<void> reuse_blame_maps(bpf_object* obj, const SharedBlameMaps& maps);

class BlameProbes {
 public:
  static Result<BlameProbes> load(const BlameConfig& config, std::vector<RungReport>& report);

  Rung rung() const { return programs_.rung(); }
  std::vector<std::pair<std::string, int>> loaded_programs() const;
  SharedBlameMaps maps() const;
  int drops_fd() const;
  // Makes the kernel's victim maps hold exactly these, by difference.
  Result<void> set_victims(const std::set<std::uint32_t>& tasks, const std::set<std::uint64_t>& cgroups);
  // comm= selectors without glob characters, matched in the kernel at each
  // call (a process may exec, sync and exit between two scans); set once.
  Result<void> set_victim_comms(const std::vector<std::string>& names);
  // io-charged ancestor cgroup id -> the victim it stands for (owner mode).
  Result<void> set_owner_aliases(const std::map<std::uint64_t, std::uint64_t>& aliases);
  // Superblock dev_t -> the disk windows on it watch (filesystems on
  // stacks), the disks whose requests share one blame state (groups), and
  // the dm-crypt devices whose bios count as in service.
  Result<void> set_stacked_disks(const std::map<std::uint32_t, std::uint32_t>& disk_of,
                                 const std::map<std::uint32_t, std::uint32_t>& group_of,
                                 const std::set<std::uint32_t>& bio_devs);

 private:
  explicit BlameProbes(Programs<blame_bpf> programs) : programs_(std::move(programs)) {}
  static Result<BlameProbes> try_rung(Rung rung, const BlameConfig& config);

  // Tells the kernel's remembered victim verdicts (blame_memo) to ask again.
  Result<void> bump_victim_gen();

  Programs<blame_bpf> programs_;
  std::set<std::uint32_t> tasks_;
  std::set<std::uint64_t> cgroups_;
  std::map<std::uint32_t, std::uint32_t> disk_of_, group_of_;
  std::map<std::uint64_t, std::uint64_t> aliases_;
  std::set<std::uint32_t> bio_devs_;
};

}  // namespace stallwatch::loader
