#pragma once
// Reads the kernel maps on demand (at scrape time); no copy is kept. Also
// the one place that deletes map entries the kernel side cannot: requests
// that never complete and bios that never become requests.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "common/result.h"
#include "reader/snapshot.h"

namespace stallwatch::reader {

// Map fds, owned by the loader, which outlives the reader. -1: not loaded.
struct MapFds {
  int fsync_hist = -1;
  int fsync_drops = -1;
  int blk_hist = -1;
  int blk_io = -1;
  int blk_rq = -1;
  int blk_rq_key = -1;   // request slots (bpf/slots.bpf.h): struct request per slot, 0 when free
  int blk_rq_slot = -1;  // and their records
  int blk_bio = -1;
  int blk_bio_key = -1;  // bio slots, the same way
  int blk_bio_slot = -1;
  int blk_drops = -1;
  int cgroup_drops = -1;
  int blame = -1;
  int blame_dev = -1;
  int blame_drops = -1;
  int probe_hist = -1;
  int probe_drops = -1;
  int blame_cost_stats = -1;
  int blk_forget_request = -1;                             // program, not map: blkio.bpf.c's forget_request
  std::vector<std::pair<std::string, int>> programs = {};  // every loaded program, by name
};

class MapReader {
 public:
  explicit MapReader(MapFds fds);
  ~MapReader();
  MapReader(const MapReader&) = delete;
  MapReader& operator=(const MapReader&) = delete;

  Result<Snapshot> snapshot() const;

  // Deletes in-flight requests queued longer than request_age ago (counted
  // as lost: they will never complete) and pending bios older than bio_age.
  // Returns the number of requests deleted.
  std::uint64_t sweep(std::chrono::nanoseconds request_age, std::chrono::nanoseconds bio_age);

  // Whether sweep() can make a request leave service in the kernel (run
  // once at start: the error says what is lost without it).
  Result<void> check_forget_request() const;

  // Deletes every series of these cgroups (removed ones, past their grace).
  // Returns the number of map entries freed.
  std::uint64_t forget(const std::vector<std::uint64_t>& cgroup_ids);
  // The cost model's sums per (disk, op), as the kernel has them now.
  std::vector<std::pair<sw_cost_key, sw_cost_stats>> cost_stats() const;
  // Requests in the kernel's request slots (bpf/slots.bpf.h): (struct
  // request, record) of each; the rest are in blk_rq.
  std::vector<std::pair<std::uint64_t, sw_blk_rq>> requests_in_slots() const;
  // Entries in the per-cgroup maps now (fsync_hist + blk_io).
  std::uint64_t series_entries() const;

 private:
  // Runs forget_request in the kernel for key: its return value (1: the request was there).
  Result<int> run_forget_request(const sw_blk_sector_key& key) const;
  bool forget_request(const sw_blk_sector_key& key);

  MapFds fds_;
  int ncpus_;
  // A slot table's keys (BPF_F_MMAPABLE), mapped: read in place at each scrape.
  struct SlotKeys {
    const std::uint64_t* keys = nullptr;
    std::size_t n = 0;
    std::uint64_t at(std::size_t i) const { return __atomic_load_n(&keys[i], __ATOMIC_RELAXED); }
    std::uint64_t taken() const;
  };
  static SlotKeys map_slot_keys(int fd, const char* what);
  static void unmap_slot_keys(const SlotKeys& k);

  SlotKeys rq_keys_, bio_keys_;
  std::atomic<std::uint64_t> stale_requests_{0};
  std::atomic<bool> forget_failed_{false};
};

}  // namespace stallwatch::reader
