// The kernel half's shared state, driven directly: the block programs
// loaded as the agent loads them, a real device under load, and the reader's
// sweep running against it.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <set>
#include <thread>

#include "common/clock.h"
#include "loader/blame_probes.h"
#include "loader/blkio_probes.h"
#include "loader/insn_compat.h"
#include "loader/tracefs.h"
#include "reader/map_reader.h"
#include "stallwatch.h"
#include "support/processes.h"
#include "support/scratch.h"

namespace stallwatch::test {
namespace {

using namespace std::chrono_literals;

std::uint32_t disk_of(const std::string& device) {
  struct stat st {};
  if (::stat(device.c_str(), &st) != 0) return 0;
  return (major(st.st_rdev) << 20) | minor(st.st_rdev);  // the kernel's dev_t (MINORBITS 20)
}

// The blame and block programs loaded as the agent loads them, and a
// victim's entry for disk: a victim's first sync on a disk makes it, and
// from then on every request issued there is weighed in its blame state.
struct Loaded {
  std::vector<loader::RungReport> report;
  Result<loader::BlameProbes> blame = fail("not loaded");
  Result<loader::BlockProbes> block = fail("not loaded");
};

void load_for(Loaded& l, std::uint32_t disk) {
  l.blame = loader::BlameProbes::load({}, l.report);
  ASSERT_TRUE(l.blame) << l.blame.error().message;
  loader::BlockConfig config;
  config.blame_maps = l.blame->maps();
  l.block = loader::BlockProbes::load(config, loader::ensure_tracefs(true), l.report);
  ASSERT_TRUE(l.block) << l.block.error().message;
  ASSERT_NE(disk, 0u);
  const sw_blame_dev zero{};
  ASSERT_EQ(bpf_map_update_elem(l.blame->maps().blame_dev, &disk, &zero, BPF_NOEXIST), 0);
}

// Puts r where the block programs keep a request in flight: a free slot of
// its struct request (record first, then the slot's key, as rq_make takes
// one), else blk_rq. Only where no request races for the slot: an idle disk.
void plant_request(const loader::BlockProbes& block, sw_blk_rq r) {
  for (std::uint32_t p = 0; p < SW_SLOT_PROBES; ++p) {
    std::uint32_t i = sw_slot_at(r.rq, p);
    std::uint64_t taken = 0;
    if (bpf_map_lookup_elem(block.rq_key_fd(), &i, &taken) != 0 || taken != 0) continue;
    r.slot = i + 1;
    ASSERT_EQ(bpf_map_update_elem(block.rq_slot_fd(), &i, &r, BPF_ANY), 0);
    ASSERT_EQ(bpf_map_update_elem(block.rq_key_fd(), &i, &r.rq, BPF_ANY), 0);
    return;
  }
  r.slot = 0;
  sw_blk_sector_key key{};
  key.sector = r.rq;
  ASSERT_EQ(bpf_map_update_elem(block.rq_fd(), &key, &r, BPF_NOEXIST), 0);
}

// The record of struct request rq, in its slot or in blk_rq; none: nullopt.
std::optional<sw_blk_rq> find_request(const loader::BlockProbes& block, std::uint64_t rq) {
  sw_blk_rq r{};
  for (std::uint32_t p = 0; p < SW_SLOT_PROBES; ++p) {
    std::uint32_t i = sw_slot_at(rq, p);
    std::uint64_t taken = 0;
    if (bpf_map_lookup_elem(block.rq_key_fd(), &i, &taken) == 0 && taken == rq &&
        bpf_map_lookup_elem(block.rq_slot_fd(), &i, &r) == 0) {
      return r;
    }
  }
  sw_blk_sector_key key{};
  key.sector = rq;
  if (bpf_map_lookup_elem(block.rq_fd(), &key, &r) == 0) return r;
  return std::nullopt;
}

reader::MapFds block_fds(const Loaded& l) {
  reader::MapFds fds;
  fds.blk_rq = l.block->rq_fd();
  fds.blk_rq_key = l.block->rq_key_fd();
  fds.blk_rq_slot = l.block->rq_slot_fd();
  fds.blk_bio = l.block->bio_fd();
  fds.blk_bio_key = l.block->bio_key_fd();
  fds.blk_bio_slot = l.block->bio_slot_fd();
  fds.blame_dev = l.blame->maps().blame_dev;
  fds.blk_forget_request = l.block->forget_request_fd();
  fds.blame_cost_stats = l.block->cost_stats_fd();
  return fds;
}

// A request the device never completes is forgotten by the sweep. Whatever
// the kernel changed in the device's blame state meanwhile must survive:
// once the load is over, nothing is in service, so every in-service weight
// is back to zero. Rewriting the state from a copy (as the sweep once did)
// loses the concurrent issue and completion updates, and the weights drift.
TEST(StaleRequests, ForgettingOneNeverUndoesLiveBlameState) {
  LoopFs fs("/dev/shm", 256);
  const std::uint32_t disk = disk_of(fs.device());
  Loaded l;
  ASSERT_NO_FATAL_FAILURE(load_for(l, disk));
  auto& blame = l.blame;
  auto& block = l.block;

  reader::MapReader reader(block_fds(l));

  const std::vector<std::string> fio_args = {"/usr/bin/fio", "--name=load", "--directory=" + fs.path(), "--rw=randwrite",
                                             "--bs=4k", "--size=64m", "--direct=1", "--ioengine=libaio",
                                             "--iodepth=16", "--numjobs=2", "--group_reporting"};
  auto layout = fio_args;
  layout.push_back("--create_only=1");
  ASSERT_EQ(run_command(layout).exit.code, 0) << "fio could not lay out its files";
  auto timed = fio_args;
  timed.insert(timed.end(), {"--time_based", "--runtime=5"});
  TestCgroup load_cg("stallwatch-stale-load");  // stop() kills fio's job processes too
  Background fio(timed, load_cg.dir());
  const auto until = std::chrono::steady_clock::now() + 4s;
  std::uint64_t planted = 0, forgotten = 0;
  while (std::chrono::steady_clock::now() < until) {
    // A disk that went away with its queue full: 64 requests queued at
    // boot, counted, never completed.
    for (int i = 0; i < 64; ++i, ++planted) {
      sw_blk_sector_key key{};
      key.sector = 0x5700000000000000ull + planted;
      sw_blk_rq lost{};
      lost.queue_ns = 1;
      lost.dev = disk;
      lost.blame_counted = 1;
      ASSERT_EQ(bpf_map_update_elem(block->rq_fd(), &key, &lost, BPF_NOEXIST), 0);
    }
    forgotten += reader.sweep(2s, 3600s);
  }
  fio.stop();
  std::this_thread::sleep_for(500ms);  // in-flight requests complete
  forgotten += reader.sweep(2s, 3600s);

  sw_blame_dev d{};
  ASSERT_EQ(bpf_map_lookup_elem(blame->maps().blame_dev, &disk, &d), 0);
  EXPECT_GT(planted, 64u * 1000) << "too few sweeps to meet the load";
  // Every planted one, and any real request whose completion the programs
  // never saw (the sweep's purpose; a few per run on a loop device).
  EXPECT_GE(forgotten, planted);
  // The load reached the state: requests completed on the disk meanwhile.
  const std::uint64_t completed = d.issued;
  EXPECT_GT(completed, 10000u) << "the load never reached " << fs.device();
  for (int c = 0; c < SW_IO__CLASSES; ++c) EXPECT_EQ(d.by_class[c], 0) << "in-service weight of class " << c;
  for (int k = 0; k < SW_BLAME_SLOTS; ++k) {
    EXPECT_EQ(d.slot[k].own, 0) << "slot " << k;
    EXPECT_EQ(d.slot[k].open, 0) << "slot " << k;
    EXPECT_EQ(d.slot[k].blocked, 0) << "slot " << k;
  }
  std::printf("%llu lost requests forgotten while %llu completed\n", static_cast<unsigned long long>(forgotten),
              static_cast<unsigned long long>(completed));
}

// A bio that never joins a request (its device failed it, say) is
// forgotten by the sweep after bio_age, its slot given back; a young one
// stays.
TEST(StaleBios, TheirSlotsAreFreedByTheSweep) {
  Loaded l;
  LoopDevice dev("/dev/shm", 64);
  ASSERT_NO_FATAL_FAILURE(load_for(l, disk_of(dev.path())));
  if (!loader::kernel_has_cmpxchg()) GTEST_SKIP() << "no BPF_CMPXCHG: bios live in blk_bio";
  reader::MapReader reader(block_fds(l));
  const std::uint64_t old_bio = 0xffff888100000000ull, young_bio = old_bio + 0x1000;
  std::uint32_t slots[2];
  for (int n = 0; n < 2; ++n) {
    const std::uint64_t bio = n ? young_bio : old_bio;
    sw_blk_bio b{};
    b.queue_ns = n ? monotonic_ns() : 1;
    slots[n] = sw_slot_at(bio, 0);
    b.slot = slots[n] + 1;
    std::uint64_t taken = 1;
    ASSERT_EQ(bpf_map_lookup_elem(l.block->bio_key_fd(), &slots[n], &taken), 0);
    ASSERT_EQ(taken, 0u) << "slot " << slots[n] << " in use";
    ASSERT_EQ(bpf_map_update_elem(l.block->bio_slot_fd(), &slots[n], &b, BPF_ANY), 0);
    ASSERT_EQ(bpf_map_update_elem(l.block->bio_key_fd(), &slots[n], &bio, BPF_ANY), 0);
  }
  reader.sweep(3600s, 2s);
  std::uint64_t key = 1;
  ASSERT_EQ(bpf_map_lookup_elem(l.block->bio_key_fd(), &slots[0], &key), 0);
  EXPECT_EQ(key, 0u) << "the old bio's slot was not freed";
  ASSERT_EQ(bpf_map_lookup_elem(l.block->bio_key_fd(), &slots[1], &key), 0);
  EXPECT_EQ(key, young_bio) << "the young bio's slot was freed";
  const std::uint64_t free_key = 0;
  ASSERT_EQ(bpf_map_update_elem(l.block->bio_key_fd(), &slots[1], &free_key, BPF_ANY), 0);
}

// Requests live in slots where the kernel allows (bpf/slots.bpf.h): one
// that never completes is found there by the sweep, leaves service, and
// gives its slot back. Planted on an idle disk (a live request could race
// for the slot).
TEST(StaleRequests, ThoseInSlotsAreSweptToo) {
  LoopDevice dev("/dev/shm", 64);
  const std::uint32_t disk = disk_of(dev.path());
  Loaded l;
  ASSERT_NO_FATAL_FAILURE(load_for(l, disk));
  if (!loader::kernel_has_cmpxchg()) GTEST_SKIP() << "no BPF_CMPXCHG: requests live in blk_rq";
  reader::MapReader reader(block_fds(l));
  const std::uint32_t weight = 5000;
  sw_blame_dev d{};
  for (std::uint64_t n = 0; n < 8; ++n) {
    sw_blk_rq r{};
    r.rq = 0xffff888000000000ull + n * 448;  // struct requests' stride in a tag set
    r.queue_ns = r.issue_ns = 1;
    r.dev = r.blame_dev = disk;
    r.blame_class = SW_IO_USER;
    r.blame_weight = r.blame_class_w[SW_IO_USER] = weight;
    r.blame_counted = 1;
    ASSERT_NO_FATAL_FAILURE(plant_request(*l.block, r));
    d.by_class[SW_IO_USER] += weight;
  }
  ASSERT_EQ(bpf_map_update_elem(l.blame->maps().blame_dev, &disk, &d, BPF_EXIST), 0);
  std::size_t in_slots = 0;
  for (const auto& [rq, r] : reader.requests_in_slots()) in_slots += r.dev == disk;
  EXPECT_EQ(in_slots, 8u);

  EXPECT_EQ(reader.sweep(2s, 3600s), 8u);
  for (std::uint64_t n = 0; n < 8; ++n) {
    EXPECT_FALSE(find_request(*l.block, 0xffff888000000000ull + n * 448)) << "request " << n << " still there";
  }
  ASSERT_EQ(bpf_map_lookup_elem(l.blame->maps().blame_dev, &disk, &d), 0);
  for (int c = 0; c < SW_IO__CLASSES; ++c) EXPECT_EQ(d.by_class[c], 0) << "in-service weight of class " << c;
  EXPECT_EQ(reader.sweep(2s, 3600s), 0u);
}

// The cost model's samples are requests that had the disk to themselves:
// one that shared it took part of the others' time as well, and a model
// fitted on those expects a victim's 4 KiB write to take what waiting
// behind a neighbour's 1 MiB one takes. One writer at depth 1 gives almost
// only lone requests; two at depth 32 few (95 of 6,000 here; at depth 16,
// 30 to 572, the more the busier the host).
TEST(CostSamples, OnlyRequestsAloneOnTheDiskTeachTheModel) {
  LoopFs fs("/var/tmp", 256);
  fs.set_nomerges(2);
  const std::uint32_t disk = disk_of(fs.device());
  Loaded l;
  ASSERT_NO_FATAL_FAILURE(load_for(l, disk));
  auto& blame = l.blame;
  auto& block = l.block;
  reader::MapFds fds;
  fds.blame_cost_stats = block->cost_stats_fd();
  reader::MapReader reader(fds);

  // (issued, sampled as writes) on the disk so far.
  auto counts = [&] {
    sw_blame_dev d{};
    EXPECT_EQ(bpf_map_lookup_elem(blame->maps().blame_dev, &disk, &d), 0);
    std::uint64_t sampled = 0;
    for (const auto& [key, sums] : reader.cost_stats()) {
      if (key.dev == disk && key.op == SW_COST_WRITE) sampled += sums.n;
    }
    return std::make_pair(d.issued, sampled);
  };
  auto fio = [&](const std::string& depth, const std::string& jobs) {
    const Completed c = run_command({"/usr/bin/fio", "--name=load", "--directory=" + fs.path(), "--rw=randwrite",
                                     "--bs=4k", "--size=16m", "--direct=1", "--ioengine=libaio",
                                     "--iodepth=" + depth, "--numjobs=" + jobs, "--number_ios=3000",
                                     "--group_reporting"});
    ASSERT_EQ(c.exit.code, 0) << c.err;
  };
  fio("1", "1");  // lays out the files, and is the first sample
  const auto before = counts();
  fio("1", "1");
  const auto lone = counts();
  fio("32", "2");
  const auto shared = counts();
  const double lone_issued = static_cast<double>(lone.first - before.first);
  const double lone_sampled = static_cast<double>(lone.second - before.second);
  const double shared_issued = static_cast<double>(shared.first - lone.first);
  const double shared_sampled = static_cast<double>(shared.second - lone.second);
  std::printf("depth 1: %.0f of %.0f requests sampled; depth 32 x 2: %.0f of %.0f\n", lone_sampled, lone_issued,
              shared_sampled, shared_issued);
  EXPECT_GE(lone_issued, 3000);
  EXPECT_GE(shared_issued, 6000);
  EXPECT_GT(lone_sampled, 0.8 * lone_issued);
  EXPECT_LT(shared_sampled, 0.25 * shared_issued);
}

std::uint64_t drops(int fd, std::uint32_t reason) {
  std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(libbpf_num_possible_cpus()));
  if (bpf_map_lookup_elem(fd, &reason, per_cpu.data()) != 0) return 0;
  std::uint64_t sum = 0;
  for (auto n : per_cpu) sum += n;
  return sum;
}

// A bio that finds the bio map full is counted, not silently unattributed.
// Start-up is the verifier's walk of each program. The blame engine's
// functions are global where the kernel allows (5.12+), so each program
// walks them once: the request programs walked 92,000 to 263,000
// instructions each while the functions were static (2.6 s of start-up),
// 6,000 to 11,500 since. Counted by the kernel (verified_insns, 5.16+), not
// timed; a function made static again, or a loop that multiplies the walk,
// fails here.
TEST(Verifier, EachProgramWalksTheBlameEngineOnce) {
  ASSERT_TRUE(loader::kernel_has_global_pointer_args()) << "this kernel (5.12+) should take them";
  LoopFs fs("/dev/shm", 64);
  Loaded l;
  ASSERT_NO_FATAL_FAILURE(load_for(l, disk_of(fs.device())));
  std::uint64_t total = 0;
  auto programs = l.block->loaded_programs();
  for (const auto& p : l.blame->loaded_programs()) programs.push_back(p);
  for (const auto& [name, fd] : programs) {
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    ASSERT_EQ(bpf_obj_get_info_by_fd(fd, &info, &len), 0) << name;
    EXPECT_LT(info.verified_insns, 100000u) << name;
    total += info.verified_insns;
  }
  EXPECT_LT(total, 250000u) << "block and blame programs together";
  std::printf("verified instructions: %llu in %zu programs\n", static_cast<unsigned long long>(total), programs.size());
}

// Requests counted in service on disk (their struct request pointers).
std::vector<std::uint64_t> counted_requests(const Loaded& l, const reader::MapReader& reader, std::uint32_t disk) {
  std::vector<std::uint64_t> out;
  for (const auto& [rq, r] : reader.requests_in_slots()) {
    if (r.dev == disk && r.blame_counted && r.rq == rq) out.push_back(rq);
  }
  const int rq_fd = l.block->rq_fd();
  sw_blk_sector_key key{}, next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(rq_fd, prev, &next) == 0) {
    sw_blk_rq r{};
    if (bpf_map_lookup_elem(rq_fd, &next, &r) == 0 && r.dev == disk && r.blame_counted && r.rq) out.push_back(r.rq);
    key = next;
    prev = &key;
  }
  return out;
}

std::vector<std::string> direct_writes(const std::string& device, int count) {
  return {"/bin/dd",      "if=/dev/zero", "of=" + device, "bs=4k", "count=" + std::to_string(count),
          "oflag=direct", "status=none"};
}

// A completion the block programs never saw (on this machine the kernel
// now and then runs block_rq_complete without running them) left its
// request counted in service until its struct request was issued again,
// taking a share of every victim's blocked time meanwhile. While a victim
// waits on the disk, the programs look at the requests issued last and take
// out of service those the kernel has freed.
//
// Lost requests are made from real ones: struct requests of another disk,
// idle once its load is over (this disk's own I/O never issues them again,
// which would end them by the older path), planted as a neighbour's 1 MiB
// writes in service on this disk, with a victim waiting there.
TEST(LostCompletions, RequestsTheKernelFreedLeaveServiceWhileAVictimWaits) {
  LoopDevice other("/dev/shm", 64);
  LoopDevice victim_disk("/dev/shm", 64);
  const std::uint32_t other_disk = disk_of(other.path()), disk = disk_of(victim_disk.path());
  Loaded l;
  ASSERT_NO_FATAL_FAILURE(load_for(l, disk));
  const sw_blame_dev zero{};  // the other disk's requests are counted in service too
  ASSERT_EQ(bpf_map_update_elem(l.blame->maps().blame_dev, &other_disk, &zero, BPF_NOEXIST), 0);
  const reader::MapReader reader(block_fds(l));

  // Eight struct requests of the other disk, caught in service.
  std::set<std::uint64_t> seen;
  {
    Background load({"/bin/sh", "-c", "while :; do dd if=/dev/zero of=" + other.path() +
                                          " bs=64k count=1024 oflag=direct status=none; done"});
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (seen.size() < 8 && std::chrono::steady_clock::now() < until) {
      for (auto rq : counted_requests(l, reader, other_disk)) seen.insert(rq);
    }
  }
  ASSERT_GE(seen.size(), 8u) << "too few requests of " << other.path() << " seen in service";
  for (int i = 0; i < 200 && !counted_requests(l, reader, other_disk).empty(); ++i) {
    std::this_thread::sleep_for(10ms);
  }

  const std::uint64_t now = monotonic_ns(), neighbour = 4242, victim = 777;
  const std::uint32_t weight = 16000;
  sw_blame_dev d{};
  ASSERT_EQ(bpf_map_lookup_elem(l.blame->maps().blame_dev, &disk, &d), 0);
  int planted = 0;
  for (auto rq : seen) {
    if (planted == 8) break;
    const std::uint32_t slot = static_cast<std::uint32_t>(d.check_seq + planted) & (SW_RECENT_RQ - 1);
    sw_blk_rq r{};
    r.queue_ns = r.issue_ns = now - 10'000'000;
    r.dev = r.blame_dev = disk;
    r.op = SW_BLK_WRITE;
    r.kind = SW_KIND_USER;
    r.bytes = 1 << 20;
    r.submitter = neighbour;
    r.blame_class = SW_IO_USER;
    r.blame_weight = r.blame_class_w[SW_IO_USER] = weight;
    r.blame_counted = 1;
    r.rq = rq;
    r.blame_recent = slot + 1;
    ASSERT_NO_FATAL_FAILURE(plant_request(*l.block, r));
    d.recent_rq[slot] = rq;
    d.by_class[SW_IO_USER] += weight;
    ++planted;
  }
  // This disk's requests take the ring's places after them (and, cleared
  // at their completion, free them again).
  d.recent_seq = d.check_seq + planted;
  d.slot[0].victim = victim;
  d.slot[0].blocked = 1;
  d.slot[0].blocked_ns = now - 20'000'000;
  d.last_ns = now;
  ASSERT_EQ(bpf_map_update_elem(l.blame->maps().blame_dev, &disk, &d, BPF_EXIST), 0);

  const auto lost_before = drops(l.block->drops_fd(), SW_DROP_BLOCK_COMPLETION_LOST);
  const auto missed_before = drops(l.block->drops_fd(), SW_DROP_BLOCK_COMPLETION_MISSED);
  // Each completion ends one found; sixteen writes look at every place four times.
  const Completed dd = run_command(direct_writes(victim_disk.path(), 16));
  ASSERT_EQ(dd.exit.code, 0) << dd.err;

  EXPECT_EQ(drops(l.block->drops_fd(), SW_DROP_BLOCK_COMPLETION_LOST) - lost_before, 8u);
  EXPECT_EQ(drops(l.block->drops_fd(), SW_DROP_BLOCK_COMPLETION_MISSED) - missed_before, 0u);
  ASSERT_EQ(bpf_map_lookup_elem(l.blame->maps().blame_dev, &disk, &d), 0);
  for (int c = 0; c < SW_IO__CLASSES; ++c) EXPECT_EQ(d.by_class[c], 0) << "in-service weight of class " << c;
  for (auto rq : seen) {
    const auto r = find_request(*l.block, rq);
    if (!r) continue;
    EXPECT_EQ(r->blame_counted, 0u) << std::hex << rq;
    EXPECT_EQ(r->blame_lost, 1) << std::hex << rq;
  }
  // What they held of the victim's wait until found reached the counters,
  // under their culprit, as their completion would have put it.
  sw_blame_key key{};
  key.victim = victim;
  key.culprit = neighbour;
  key.dev = disk;
  key.kind = SW_BLAME_NEIGHBOR_IO;
  sw_blame_val v{};
  ASSERT_EQ(bpf_map_lookup_elem(l.blame->maps().blame, &key, &v), 0) << "no time credited to the lost requests";
  EXPECT_GT(v.ns, 0u);
}

// The look at recent requests never takes a live one out of service: under
// load, with a victim waiting throughout, only the rare completions the
// programs missed are found (about one a second here). The load keeps
// requests in service for milliseconds (a loop device over the disk, 64 KiB
// writes 32 deep), old enough to be judged.
TEST(LostCompletions, RequestsInServiceAreLeftAlone) {
  LoopDevice dev("/var/tmp", 256);
  const std::uint32_t disk = disk_of(dev.path());
  Loaded l;
  ASSERT_NO_FATAL_FAILURE(load_for(l, disk));
  sw_blame_dev d{};
  d.slot[0].victim = 777;
  d.slot[0].blocked = 1;
  d.slot[0].blocked_ns = monotonic_ns();
  ASSERT_EQ(bpf_map_update_elem(l.blame->maps().blame_dev, &disk, &d, BPF_EXIST), 0);
  const auto before = drops(l.block->drops_fd(), SW_DROP_BLOCK_COMPLETION_LOST);
  const Completed c = run_command({"/usr/bin/fio", "--name=load", "--filename=" + dev.path(), "--rw=randwrite",
                                   "--bs=64k", "--direct=1", "--ioengine=libaio", "--iodepth=32", "--numjobs=2",
                                   "--time_based", "--runtime=3", "--group_reporting"});
  ASSERT_EQ(c.exit.code, 0) << c.err;
  std::this_thread::sleep_for(200ms);
  ASSERT_EQ(bpf_map_lookup_elem(l.blame->maps().blame_dev, &disk, &d), 0);
  const auto lost = drops(l.block->drops_fd(), SW_DROP_BLOCK_COMPLETION_LOST) - before;
  EXPECT_GT(d.issued, 1000u) << "the load never reached " << dev.path();
  EXPECT_LE(lost, 20u) << lost << " of " << d.issued << " requests taken out of service as lost";
  for (int c2 = 0; c2 < SW_IO__CLASSES; ++c2) EXPECT_EQ(d.by_class[c2], 0) << "in-service weight of class " << c2;
  std::printf("%llu of %llu requests found lost\n", static_cast<unsigned long long>(lost),
              static_cast<unsigned long long>(d.issued));
}

TEST(FullMaps, ABioWithNoRoomIsCountedLost) {
  std::vector<loader::RungReport> report;
  auto block = loader::BlockProbes::load({}, loader::ensure_tracefs(true), report);
  ASSERT_TRUE(block) << block.error().message;
  LoopFs fs("/dev/shm", 64);
  // Fill the slots and the hash as bios that never became requests would.
  for (std::uint32_t i = 0; i < SW_SLOTS; ++i) {
    const std::uint64_t taken = 0x5900000000000000ull + i;
    if (bpf_map_update_elem(block->bio_key_fd(), &i, &taken, BPF_EXIST) != 0) break;  // 1 without slots
  }
  sw_blk_bio pending{};
  pending.queue_ns = 1;
  std::uint32_t filled = 0;
  for (sw_blk_sector_key key{0x5800000000000000ull, 0, 0};
       bpf_map_update_elem(block->bio_fd(), &key, &pending, BPF_NOEXIST) == 0; ++key.sector) {
    ++filled;
  }
  ASSERT_EQ(errno, E2BIG) << "filled " << filled;
  const auto before = drops(block->drops_fd(), SW_DROP_BLOCK_BIO_FULL);
  const auto dd = run_command({"/bin/dd", "if=/dev/zero", "of=" + fs.path() + "/f", "bs=4k", "count=100",
                               "oflag=direct", "status=none"});
  ASSERT_EQ(dd.exit.code, 0) << dd.err;
  EXPECT_GE(drops(block->drops_fd(), SW_DROP_BLOCK_BIO_FULL) - before, 100u) << "of 100 direct writes' bios";
}

}  // namespace
}  // namespace stallwatch::test
