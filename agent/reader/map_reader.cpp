#include "reader/map_reader.h"

#include "common/clock.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>
#include <time.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <map>
#include <set>
#include <tuple>
#include <vector>

namespace stallwatch::reader {

namespace {

// Calls f(key, values) for every entry; values has one element per CPU for
// per-CPU maps (n_values = ncpus) and one otherwise. Only the drop counters
// are per CPU now; the series maps are shared (bpf/stallwatch.h).
// One syscall per batch of entries where the kernel offers it (5.6+ for
// hash maps): a scrape of 500 cgroups' series is otherwise 1000 syscalls.
// Returns 0 when done, -1 when the first batch is refused (nothing was
// passed to f: walk one at a time), else the errno of a batch that failed.
template <typename K, typename V, typename F>
int for_each_batch(int fd, std::size_t n_values, F& f) {
  std::uint32_t batch = 256;
  std::vector<K> keys(batch);
  std::vector<V> values(batch * n_values);
  // The resume token: a bucket index for hash maps, never larger than a key.
  alignas(8) K token_in{}, token_out{};
  void* in = nullptr;
  for (;;) {
    std::uint32_t count = batch;
    const int err = bpf_map_lookup_batch(fd, in, &token_out, keys.data(), values.data(), &count, nullptr);
    const int e = err ? errno : 0;
    if (err && e == ENOSPC && count == 0) {  // one hash bucket holds more than a batch
      batch *= 2;
      keys.resize(batch);
      values.resize(batch * n_values);
      continue;
    }
    if (err && e != ENOENT) return in == nullptr ? -1 : e;
    for (std::uint32_t i = 0; i < count; ++i) {
      f(keys[i], std::span<const V>(values.data() + i * n_values, n_values));
    }
    if (err) return 0;  // ENOENT: the last batch
    token_in = token_out;
    in = &token_in;
  }
}

template <typename K, typename V, typename F>
Result<void> for_each_entry(int fd, std::size_t n_values, const char* what, F&& f) {
  if (const int e = for_each_batch<K, V>(fd, n_values, f); e == 0) {
    return {};
  } else if (e > 0) {
    return fail(std::string("read ") + what + ": " + errno_text(e));
  }
  std::vector<V> values(n_values);
  K key{};
  K next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    // A key deleted between get_next_key and lookup is simply gone: skip it.
    if (bpf_map_lookup_elem(fd, &next, values.data()) == 0) {
      f(next, std::span<const V>(values));
    } else if (errno != ENOENT) {
      return fail(std::string("read ") + what + ": " + errno_text(errno));
    }
    key = next;
    prev = &key;
  }
  return {};
}

Result<void> add_drops(int fd, int ncpus, std::array<std::uint64_t, SW_DROP__COUNT>& drops) {
  std::vector<std::uint64_t> counts(static_cast<std::size_t>(ncpus));
  for (std::uint32_t i = 0; i < SW_DROP__COUNT; ++i) {
    if (bpf_map_lookup_elem(fd, &i, counts.data()) != 0) {
      return fail("read drops: " + errno_text(errno));
    }
    for (auto c : counts) drops[i] += c;
  }
  return {};
}

template <typename K>
std::uint64_t map_size(int fd) {
  std::uint64_t n = 0;
  K key{};
  K next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    ++n;
    key = next;
    prev = &key;
  }
  return n;
}

}  // namespace

MapReader::MapReader(MapFds fds)
    : fds_(fds),
      ncpus_(libbpf_num_possible_cpus()),
      rq_keys_(map_slot_keys(fds.blk_rq_key, "request")),
      bio_keys_(map_slot_keys(fds.blk_bio_key, "bio")) {}

MapReader::~MapReader() {
  unmap_slot_keys(rq_keys_);
  unmap_slot_keys(bio_keys_);
}

MapReader::SlotKeys MapReader::map_slot_keys(int fd, const char* what) {
  if (fd < 0) return {};
  bpf_map_info info{};
  std::uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return {};
  void* p =
      mmap(nullptr, static_cast<std::size_t>(info.max_entries) * sizeof(std::uint64_t), PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    spdlog::warn("map the {} slots: {}; those in them are not counted or swept", what, errno_text(errno));
    return {};
  }
  return {static_cast<const std::uint64_t*>(p), info.max_entries};
}

void MapReader::unmap_slot_keys(const SlotKeys& k) {
  if (k.keys) munmap(const_cast<std::uint64_t*>(k.keys), k.n * sizeof(std::uint64_t));
}

std::uint64_t MapReader::SlotKeys::taken() const {
  std::uint64_t n_taken = 0;
  for (std::size_t i = 0; i < n; ++i) n_taken += at(i) != 0;
  return n_taken;
}

std::vector<std::pair<std::uint64_t, sw_blk_rq>> MapReader::requests_in_slots() const {
  std::vector<std::pair<std::uint64_t, sw_blk_rq>> out;
  for (std::uint32_t i = 0; i < rq_keys_.n; ++i) {
    // The kernel takes and frees slots meanwhile: a load of its own each.
    const std::uint64_t rq = rq_keys_.at(i);
    sw_blk_rq r{};
    if (rq && bpf_map_lookup_elem(fds_.blk_rq_slot, &i, &r) == 0) out.emplace_back(rq, r);
  }
  return out;
}

Result<Snapshot> MapReader::snapshot() const {
  if (ncpus_ <= 0) return fail("count possible CPUs: " + errno_text(ncpus_));
  Snapshot snap;
  auto ok = for_each_entry<sw_fsync_key, sw_hist>(
      fds_.fsync_hist, 1, "fsync_hist", [&](const sw_fsync_key& k, std::span<const sw_hist> v) {
        snap.fsync.push_back({k.cgroup_id, k.dev, k.op, merge_percpu(v), k.file_class});
      });
  if (!ok) return std::unexpected(ok.error());
  if (auto d = add_drops(fds_.fsync_drops, ncpus_, snap.drops); !d) return std::unexpected(d.error());
  for (const auto& [name, fd] : fds_.programs) {
    // Kernels before 5.12 fill a shorter info: the field stays 0.
    bpf_prog_info info{};
    std::uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) snap.recursion_misses.emplace_back(name, info.recursion_misses);
  }

  if (fds_.cgroup_drops >= 0) {
    snap.cgroup_events = true;
    if (auto d = add_drops(fds_.cgroup_drops, ncpus_, snap.drops); !d) return std::unexpected(d.error());
  }
  if (fds_.blame >= 0) {
    snap.blame = true;
    ok = for_each_entry<sw_blame_key, sw_blame_val>(fds_.blame, 1, "blame",
                                                    [&](const sw_blame_key& k, std::span<const sw_blame_val> v) {
                                                      snap.blame_series.push_back({k, merge_percpu(v)});
                                                    });
    if (!ok) return std::unexpected(ok.error());
    if (auto d = add_drops(fds_.blame_drops, ncpus_, snap.drops); !d) return std::unexpected(d.error());
  }
  if (fds_.probe_hist >= 0) {
    snap.probes = true;
    ok = for_each_entry<sw_probe_key, sw_probe_hist>(fds_.probe_hist, 1, "probe_hist",
                                                     [&](const sw_probe_key& k, std::span<const sw_probe_hist> v) {
                                                       snap.probe_series.push_back({k, merge_percpu(v)});
                                                     });
    if (!ok) return std::unexpected(ok.error());
    if (auto d = add_drops(fds_.probe_drops, ncpus_, snap.drops); !d) return std::unexpected(d.error());
  }
  if (fds_.blk_hist < 0) return snap;
  snap.block = true;
  // The block maps keep a series in several shards (bpf/stallwatch.h): one
  // series each here.
  std::map<std::tuple<std::uint32_t, std::uint8_t, std::uint8_t>, Histogram> hists;
  ok = for_each_entry<sw_blk_hist_key, sw_hist>(fds_.blk_hist, 1, "blk_hist",
                                                [&](const sw_blk_hist_key& k, std::span<const sw_hist> v) {
                                                  hists[{k.dev, k.op, k.phase}] += merge_percpu(v);
                                                });
  if (!ok) return std::unexpected(ok.error());
  for (const auto& [k, h] : hists) snap.block_hist.push_back({std::get<0>(k), std::get<1>(k), std::get<2>(k), h});
  std::map<std::tuple<std::uint64_t, std::uint64_t, std::uint32_t, std::uint32_t, std::uint8_t, std::uint8_t>,
           BlockIoSeries>
      ios;
  ok = for_each_entry<sw_blk_io_key, sw_blk_io>(
      fds_.blk_io, 1, "blk_io", [&](const sw_blk_io_key& k, std::span<const sw_blk_io> v) {
        auto& s = ios[{k.submitter, k.owner, k.dev, k.part, k.op, k.kind}];
        s.key = k;
        s.key.shard = 0;
        const sw_blk_io both[] = {s.io, merge_percpu(v)};
        s.io = merge_percpu(both);
      });
  if (!ok) return std::unexpected(ok.error());
  for (auto& [k, s] : ios) snap.block_io.push_back(s);
  if (auto d = add_drops(fds_.blk_drops, ncpus_, snap.drops); !d) return std::unexpected(d.error());
  snap.block_inflight_requests = map_size<sw_blk_sector_key>(fds_.blk_rq) + rq_keys_.taken();
  snap.block_pending_bios = map_size<sw_blk_sector_key>(fds_.blk_bio) + bio_keys_.taken();
  snap.block_stale_requests = stale_requests_.load();
  return snap;
}

std::uint64_t MapReader::sweep(std::chrono::nanoseconds request_age, std::chrono::nanoseconds bio_age) {
  if (fds_.blk_rq < 0) return 0;
  const std::uint64_t now = monotonic_ns();
  const auto older_than = [now](std::uint64_t t, std::chrono::nanoseconds age) {
    return t < now && now - t > static_cast<std::uint64_t>(age.count());
  };
  std::vector<sw_blk_sector_key> stale_rq, stale_bio;
  (void)for_each_entry<sw_blk_sector_key, sw_blk_rq>(fds_.blk_rq, 1, "blk_rq",
                                                     [&](const sw_blk_sector_key& k, std::span<const sw_blk_rq> v) {
                                                       if (older_than(v[0].queue_ns, request_age))
                                                         stale_rq.push_back(k);
                                                     });
  for (const auto& [rq, r] : requests_in_slots()) {
    // Its record may be a newer request's by now: forget_request asks again.
    if (older_than(r.queue_ns, request_age)) stale_rq.push_back({.sector = rq, .dev = 0, .pad = 0});
  }
  (void)for_each_entry<sw_blk_sector_key, sw_blk_bio>(fds_.blk_bio, 1, "blk_bio",
                                                      [&](const sw_blk_sector_key& k, std::span<const sw_blk_bio> v) {
                                                        if (older_than(v[0].queue_ns, bio_age)) stale_bio.push_back(k);
                                                      });
  std::uint64_t deleted = 0;
  for (const auto& k : stale_rq) deleted += forget_request(k);
  for (const auto& k : stale_bio) bpf_map_delete_elem(fds_.blk_bio, &k);
  // A bio holds no blame state: its slot is freed here. Should it be freed
  // and taken by another bio in between, that bio's request is timed from
  // its insert, as one whose bio found no room.
  for (std::uint32_t i = 0; i < bio_keys_.n; ++i) {
    const std::uint64_t bio = bio_keys_.at(i);
    sw_blk_bio b{};
    if (!bio || bpf_map_lookup_elem(fds_.blk_bio_slot, &i, &b) != 0 || !older_than(b.queue_ns, bio_age)) continue;
    const std::uint64_t free_key = 0;
    if (bio_keys_.at(i) == bio) bpf_map_update_elem(fds_.blk_bio_key, &i, &free_key, BPF_ANY);
  }
  stale_requests_ += deleted;
  return deleted;
}

Result<int> MapReader::run_forget_request(const sw_blk_sector_key& key) const {
  std::uint64_t args[2] = {key.sector, key.dev};
  LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = args, .ctx_size_in = sizeof(args));
  if (bpf_prog_test_run_opts(fds_.blk_forget_request, &run) != 0) {
    return fail("stale block requests cannot leave service in the kernel (BPF_PROG_TEST_RUN on a raw_tp program: " +
                errno_text(errno) + "): they are deleted, and blame on their disks may count them as in service");
  }
  return static_cast<int>(run.retval);
}

Result<void> MapReader::check_forget_request() const {
  if (fds_.blk_forget_request < 0) return {};
  if (auto ran = run_forget_request({}); !ran) return std::unexpected(ran.error());  // no request has key 0
  return {};
}

// A request that never completes would hold its device's in-service
// weights up for good, and every later window would blame it. It leaves
// service in the kernel (forget_request), with atomic updates: a copy
// edited here and written back would undo whatever the kernel changed
// meanwhile.
bool MapReader::forget_request(const sw_blk_sector_key& key) {
  if (fds_.blk_forget_request < 0) return bpf_map_delete_elem(fds_.blk_rq, &key) == 0;
  const auto ran = run_forget_request(key);
  if (ran) return *ran == 1;
  // The entry goes anyway: a full map would blind the block programs.
  if (!forget_failed_.exchange(true)) spdlog::warn("{}", ran.error().message);
  return bpf_map_delete_elem(fds_.blk_rq, &key) == 0;
}

std::uint64_t MapReader::forget(const std::vector<std::uint64_t>& cgroup_ids) {
  if (cgroup_ids.empty()) return 0;
  const std::set<std::uint64_t> gone(cgroup_ids.begin(), cgroup_ids.end());
  std::vector<sw_fsync_key> fsync_keys;
  (void)for_each_entry<sw_fsync_key, sw_hist>(fds_.fsync_hist, 1, "fsync_hist",
                                              [&](const sw_fsync_key& k, std::span<const sw_hist>) {
                                                if (gone.count(k.cgroup_id)) fsync_keys.push_back(k);
                                              });
  std::uint64_t freed = 0;
  for (const auto& k : fsync_keys) freed += bpf_map_delete_elem(fds_.fsync_hist, &k) == 0;
  std::vector<sw_blk_io_key> io_keys;
  if (fds_.blk_io >= 0) {
    (void)for_each_entry<sw_blk_io_key, sw_blk_io>(fds_.blk_io, 1, "blk_io",
                                                   [&](const sw_blk_io_key& k, std::span<const sw_blk_io>) {
                                                     // Owned by a live cgroup but submitted by a gone one, or the
                                                     // reverse: either way the series names a cgroup that no longer
                                                     // exists.
                                                     if (gone.count(k.submitter) || gone.count(k.owner))
                                                       io_keys.push_back(k);
                                                   });
  }
  for (const auto& k : io_keys) freed += bpf_map_delete_elem(fds_.blk_io, &k) == 0;
  std::vector<sw_blame_key> blame_keys;
  if (fds_.blame >= 0) {
    (void)for_each_entry<sw_blame_key, sw_blame_val>(fds_.blame, 1, "blame",
                                                     [&](const sw_blame_key& k, std::span<const sw_blame_val>) {
                                                       if (gone.count(k.victim) || gone.count(k.culprit))
                                                         blame_keys.push_back(k);
                                                     });
  }
  for (const auto& k : blame_keys) freed += bpf_map_delete_elem(fds_.blame, &k) == 0;
  if (fds_.probe_hist < 0) return freed;
  std::vector<sw_probe_key> probe_keys;
  (void)for_each_entry<sw_probe_key, sw_probe_hist>(fds_.probe_hist, 1, "probe_hist",
                                                    [&](const sw_probe_key& k, std::span<const sw_probe_hist>) {
                                                      if (k.cgroup && gone.count(k.cgroup)) probe_keys.push_back(k);
                                                    });
  for (const auto& k : probe_keys) freed += bpf_map_delete_elem(fds_.probe_hist, &k) == 0;
  return freed;
}

std::vector<std::pair<sw_cost_key, sw_cost_stats>> MapReader::cost_stats() const {
  std::vector<std::pair<sw_cost_key, sw_cost_stats>> out;
  if (fds_.blame_cost_stats < 0) return out;
  (void)for_each_entry<sw_cost_key, sw_cost_stats>(
      fds_.blame_cost_stats, 1, "blame_cost_stats",
      [&](const sw_cost_key& k, std::span<const sw_cost_stats> v) { out.emplace_back(k, v[0]); });
  return out;
}

std::uint64_t MapReader::series_entries() const {
  std::uint64_t n = map_size<sw_fsync_key>(fds_.fsync_hist);
  if (fds_.blk_io >= 0) n += map_size<sw_blk_io_key>(fds_.blk_io);
  if (fds_.blame >= 0) n += map_size<sw_blame_key>(fds_.blame);
  return n;
}

}  // namespace stallwatch::reader
