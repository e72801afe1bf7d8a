// The blame engine's kernel-side arithmetic (bpf/blame_math.h), compiled
// for the host: device clocks, window states, clamping and epochs.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "blame_math.h"

namespace {

constexpr __u64 kMsec = 1'000'000;

struct Device {
  sw_blame_dev d{};
  Device() { std::memset(&d, 0, sizeof(d)); }
};

sw_blame_win window(__u64 start, __u8 slot) {
  sw_blame_win w{};
  std::memset(&w, 0, sizeof(w));
  w.start_ns = start;
  w.since_ns = start;
  w.state = SW_WIN_RUNNING;
  w.slot = slot;
  return w;
}

// What the scheduler side reports of a thread: its CPU, throttled or not,
// and its quotas' throttled periods so far.
blame_sched on(__u32 cpu, bool throttled = false, __u32 thr_mark = 0) { return {cpu, throttled, thr_mark}; }
const blame_sched kNoCpu = on(SW_NO_CPU);

__u64 sum_kinds(const sw_blame_win& w) {
  __u64 sum = 0;
  for (int i = 0; i <= SW_WIN_HELPER_CPU; i++) sum += w.kinds[i];
  return sum;
}

TEST(BlameMath, NoRequestInServiceIsDeviceTime) {
  Device dev;
  dev.d.slot[0].victim = 7;
  auto w = window(0, 0);
  blame_win_block(&w, &dev.d, nullptr, 1 * kMsec);  // ran 1 ms first
  blame_win_wake(&w, &dev.d, nullptr, &kNoCpu, 6 * kMsec);
  blame_win_run(&w, &dev.d, nullptr, 0, true, 6 * kMsec);
  EXPECT_EQ(w.kinds[SW_BLAME_OTHER], 1 * kMsec);
  EXPECT_EQ(w.kinds[SW_BLAME_DEVICE], 5 * kMsec);
  EXPECT_EQ(w.kinds[SW_BLAME_NEIGHBOR_IO], 0u);
  EXPECT_EQ(dev.d.slot[0].blocked, 0);
  EXPECT_EQ(dev.d.slot[0].clock[SW_CLK_CREDIT], 0u) << "no request: nothing to credit";
}

TEST(BlameMath, OwnTimeIsWhatTheCostModelExpectsTheRestIsTheOthers) {
  Device dev;
  dev.d.slot[0].victim = 7;
  dev.d.by_class[SW_IO_USER] = 2;  // the victim's own request and a neighbour's, equal weights
  dev.d.slot[0].own = 1;
  dev.d.slot[0].own_budget = 4 * kMsec;  // alone, its request would have taken 4 ms
  auto w = window(0, 0);
  blame_win_block(&w, &dev.d, nullptr, 0);
  blame_win_wake(&w, &dev.d, nullptr, &kNoCpu, 10 * kMsec);
  EXPECT_EQ(w.kinds[SW_BLAME_OWN_IO], 4 * kMsec);
  EXPECT_EQ(w.kinds[SW_BLAME_NEIGHBOR_IO], 6 * kMsec) << "the wait past its own cost is the neighbour's";
  EXPECT_EQ(dev.d.slot[0].own_budget, 0);
  // Credit per unit weight, own and others' apart.
  EXPECT_EQ(dev.d.slot[0].clock[SW_CLK_CREDIT_OWN], 4 * kMsec << SW_CREDIT_SHIFT);
  EXPECT_EQ(dev.d.slot[0].clock[SW_CLK_CREDIT], 6 * kMsec << SW_CREDIT_SHIFT);
}

// Another CPU read the weight in service (one 4 KiB request, weight 20)
// before a 1 MiB write (weight 1000) was counted, and advanced the clock
// after that write read its start: at the rate meant for weight 20, the
// write's credit would be 50 times the 2 ms the victim waited meanwhile.
TEST(BlameMath, ACreditNeverPassesTheBlockedTimeOverItsService) {
  Device dev;
  sw_blame_slot& s = dev.d.slot[0];
  s.victim = 7;
  s.blocked = 1;
  const __u64 from = s.clock[SW_CLK_CREDIT], held_from = s.held_ns;  // the 1 MiB write's view at issue
  const blame_load stale = {.user = 20, .journal = 0, .wb = 0, .kthread = 0, .n = 20, .stalled = 0, .end = 2 * kMsec};
  blame_advance_slot(&s, 2 * kMsec, &stale);
  EXPECT_EQ(s.held_ns, 2 * kMsec);
  EXPECT_EQ(blame_credit_capped(s.clock[SW_CLK_CREDIT], from, 1000, s.held_ns, held_from), 2 * kMsec)
      << "uncapped: " << ((s.clock[SW_CLK_CREDIT] - from) * 1000 >> SW_CREDIT_SHIFT);
  // Without a race the rate is right and the cap does not bind: the 4 KiB
  // request's share of the same 2 ms.
  EXPECT_EQ(blame_credit_capped(s.clock[SW_CLK_CREDIT], from, 20, s.held_ns, held_from), 2 * kMsec);
  EXPECT_EQ(blame_credit_capped(s.clock[SW_CLK_CREDIT], from, 10, s.held_ns, held_from), 1 * kMsec);
  // Two blocked threads: twice the time to share.
  s.blocked = 2;
  const __u64 from2 = s.clock[SW_CLK_CREDIT], held2 = s.held_ns;
  const blame_load two = {.user = 20, .journal = 0, .wb = 0, .kthread = 0, .n = 20, .stalled = 0, .end = 3 * kMsec};
  blame_advance_slot(&s, 1 * kMsec, &two);
  EXPECT_EQ(blame_credit_capped(s.clock[SW_CLK_CREDIT], from2, 20, s.held_ns, held2), 2 * kMsec);
  EXPECT_EQ(blame_credit_capped(s.clock[SW_CLK_CREDIT], from2, 1000, s.held_ns, held2), 2 * kMsec);
}

TEST(BlameMath, AloneOnTheDeviceASlowOwnRequestIsOwn) {
  Device dev;
  dev.d.slot[0].victim = 7;
  dev.d.by_class[SW_IO_USER] = 5;
  dev.d.slot[0].own = 5;
  dev.d.slot[0].own_budget = 1 * kMsec;  // the device is slower than its model: nobody else to blame
  auto w = window(0, 0);
  blame_win_block(&w, &dev.d, nullptr, 0);
  blame_win_wake(&w, &dev.d, nullptr, &kNoCpu, 3 * kMsec);
  EXPECT_EQ(w.kinds[SW_BLAME_OWN_IO], 3 * kMsec);
  EXPECT_EQ(w.kinds[SW_BLAME_NEIGHBOR_IO], 0u);
  EXPECT_EQ(dev.d.slot[0].own_budget, 0);
}

TEST(BlameMath, ExpectedTimeIsTheWeightInSixteenthsOfAMicrosecond) {
  EXPECT_EQ(blame_expected_ns(16), 1000);
  EXPECT_EQ(blame_expected_ns(SW_COST_DEFAULT_BASE), 100'000);
  EXPECT_EQ(blame_expected_ns(-5), 0);
}

TEST(BlameMath, OnlySlotsWithABlockedVictimAdvance) {
  Device dev;
  dev.d.slot[0].victim = 7;
  dev.d.slot[1].victim = 8;
  dev.d.by_class[SW_IO_USER] = 1;
  dev.d.slot[0].blocked = 1;
  blame_advance(&dev.d, 4 * kMsec);
  EXPECT_EQ(dev.d.slot[0].clock[SW_CLK_NEIGHBOR], 4 * kMsec);
  EXPECT_EQ(dev.d.slot[1].clock[SW_CLK_NEIGHBOR], 0u);
  EXPECT_EQ(dev.d.last_ns, 4 * kMsec);
}

// A loop device's worker woken for the victim's request waits for a CPU:
// the request is issued, but nobody serves it, so the wait is not the
// victim's own I/O.
TEST(BlameMath, WhileTheDisksWorkerWaitsForACpuTheWaitIsCpu) {
  Device dev;
  dev.d.slot[0].victim = 7;
  dev.d.by_class[SW_IO_USER] = 1;
  dev.d.slot[0].own = 1;
  dev.d.slot[0].own_budget = 4 * kMsec;
  auto w = window(0, 0);
  blame_win_block(&w, &dev.d, nullptr, 0);
  blame_advance(&dev.d, 2 * kMsec);  // served: 2 ms of its own
  dev.d.stalled = 1;                 // the worker is woken, and waits
  dev.d.stall_ns = 2 * kMsec;
  blame_advance(&dev.d, 5 * kMsec);
  dev.d.stalled = 0;  // and runs
  blame_win_wake(&w, &dev.d, nullptr, &kNoCpu, 6 * kMsec);
  EXPECT_EQ(w.kinds[SW_WIN_HELPER_CPU], 3 * kMsec);
  EXPECT_EQ(w.kinds[SW_BLAME_OWN_IO], 3 * kMsec) << "the budget was not spent while nobody served it";
  EXPECT_EQ(w.kinds[SW_BLAME_NEIGHBOR_IO], 0u);
  EXPECT_EQ(dev.d.slot[0].clock[SW_CLK_STALL_CREDIT], 3 * kMsec);
  blame_win_run(&w, &dev.d, nullptr, 0, true, 6 * kMsec);
  EXPECT_EQ(blame_win_finish(&w, &dev.d, nullptr, 6 * kMsec), 6 * kMsec);
  EXPECT_EQ(sum_kinds(w), 6 * kMsec);
}

// Others' requests in service ahead of the victim's still hold it up while
// the worker waits: only the victim's share of the weight is cpu.
TEST(BlameMath, WhileTheWorkerWaitsRequestsAheadKeepTheirShare) {
  Device dev;
  sw_blame_slot& s = dev.d.slot[0];
  s.victim = 7;
  s.blocked = 1;
  s.own = 1;
  s.own_budget = 10 * kMsec;
  dev.d.by_class[SW_IO_USER] = 4;  // its 1, and a neighbour's 3
  dev.d.stalled = 1;
  blame_advance(&dev.d, 4 * kMsec);
  EXPECT_EQ(s.clock[SW_CLK_STALL], 1 * kMsec);
  EXPECT_EQ(s.clock[SW_CLK_NEIGHBOR], 3 * kMsec);
  EXPECT_EQ(s.clock[SW_CLK_OWN], 0u);
  EXPECT_EQ(s.own_budget, 10 * kMsec) << "not served: its budget is not spent";
  s.own = 0;  // none of its own in service: it waits on the others'
  blame_advance(&dev.d, 6 * kMsec);
  EXPECT_EQ(s.clock[SW_CLK_STALL], 1 * kMsec);
  EXPECT_EQ(s.clock[SW_CLK_NEIGHBOR], 5 * kMsec);
}

// Two windows blocked while two workers wait: each worker's credit is half
// the blocked time, and together they hold all of it, once.
TEST(BlameMath, WorkersWaitingAtOnceShareTheBlockedTime) {
  Device dev;
  sw_blame_slot& s = dev.d.slot[0];
  s.victim = 7;
  s.blocked = 2;
  s.own = 1;
  dev.d.by_class[SW_IO_USER] = 1;
  dev.d.stalled = 2;
  dev.d.stall_ns = 0;
  blame_advance(&dev.d, 4 * kMsec);
  EXPECT_EQ(s.clock[SW_CLK_STALL], 4 * kMsec);
  EXPECT_EQ(s.clock[SW_CLK_STALL_CREDIT], 4 * kMsec) << "per worker: 4 ms x 2 windows / 2 workers";
  EXPECT_EQ(s.clock[SW_CLK_NEIGHBOR], 0u);
}

// A wait whose end was missed must not make the disk look stalled forever.
TEST(BlameMath, AStallCountLapses) {
  Device dev;
  sw_blame_slot& s = dev.d.slot[0];
  s.victim = 7;
  s.blocked = 1;
  dev.d.by_class[SW_IO_USER] = 1;
  dev.d.stalled = 1;
  dev.d.stall_ns = 0;
  dev.d.last_ns = SW_STALL_MAX_NS;
  blame_advance(&dev.d, SW_STALL_MAX_NS + 2 * kMsec);
  EXPECT_EQ(s.clock[SW_CLK_STALL], 0u);
  EXPECT_EQ(s.clock[SW_CLK_NEIGHBOR], 2 * kMsec);
}

// A CPU that claimed an interval, then stalled (a vCPU descheduled) while
// the victim blocked, reads blocked = 1: an interval that began before the
// block is not the victim's wait.
TEST(BlameMath, AnIntervalClaimedBeforeTheBlockIsNotTheVictimsWait) {
  Device dev;
  dev.d.slot[0].victim = 7;
  dev.d.by_class[SW_IO_USER] = 1;
  auto w = window(0, 0);
  blame_win_block(&w, &dev.d, nullptr, 5 * kMsec);
  ASSERT_EQ(dev.d.slot[0].blocked, 1);
  const blame_load before{1, 0, 0, 0, 1, 0, 4 * kMsec};  // claimed [0, 4 ms], applied late
  blame_advance_slot(&dev.d.slot[0], 4 * kMsec, &before);
  const blame_load across{1, 0, 0, 0, 1, 0, 7 * kMsec};  // [3 ms, 7 ms]: dropped whole
  blame_advance_slot(&dev.d.slot[0], 4 * kMsec, &across);
  EXPECT_EQ(dev.d.slot[0].clock[SW_CLK_NEIGHBOR], 0u);
  EXPECT_EQ(dev.d.slot[0].clock[SW_CLK_CREDIT], 0u);
  blame_advance(&dev.d, 9 * kMsec);  // claimed after the block: all of it
  EXPECT_EQ(dev.d.slot[0].clock[SW_CLK_NEIGHBOR], 4 * kMsec);
}

// CPUs advancing one device at once each claim their own part of the
// interval: together exactly the time that passed, never a part twice.
TEST(BlameMath, ConcurrentAdvancesClaimEachNanosecondOnce) {
  Device dev;
  std::atomic<__u64> clock{0};
  std::vector<__u64> claimed(4, 0);
  std::vector<std::jthread> cpus;
  for (std::size_t c = 0; c < claimed.size(); ++c) {
    cpus.emplace_back([&, c] {
      for (int i = 0; i < 200000; ++i) claimed[c] += blame_claim(&dev.d, clock.fetch_add(1) + 1);
    });
  }
  cpus.clear();
  __u64 total = 0;
  for (__u64 n : claimed) total += n;
  EXPECT_EQ(total, dev.d.last_ns);
  EXPECT_LE(dev.d.last_ns, clock.load());
}

TEST(BlameMath, ABackwardsClockAddsNothing) {
  Device dev;
  dev.d.slot[0].victim = 7;
  dev.d.slot[0].blocked = 1;
  dev.d.by_class[SW_IO_USER] = 1;
  blame_advance(&dev.d, 10 * kMsec);
  const auto before = dev.d.slot[0];
  blame_advance(&dev.d, 9 * kMsec);  // another CPU's older timestamp
  EXPECT_EQ(dev.d.last_ns, 10 * kMsec);
  EXPECT_EQ(std::memcmp(&before, &dev.d.slot[0], sizeof(before)), 0);
  // A window whose snapshot is ahead of the clock (clock reset under it) gets 0, not 2^64 - x.
  auto w = window(0, 0);
  w.state = SW_WIN_BLOCKED;
  w.snap[SW_CLK_NEIGHBOR] = dev.d.slot[0].clock[SW_CLK_NEIGHBOR] + kMsec;
  dev.d.slot[0].blocked = 1;
  blame_win_wake(&w, &dev.d, nullptr, &kNoCpu, 10 * kMsec);
  EXPECT_EQ(w.kinds[SW_BLAME_NEIGHBOR_IO], 0u);
}

TEST(BlameMath, NegativeClassCountsAreNoRequests) {
  Device dev;
  dev.d.slot[0].victim = 7;
  dev.d.slot[0].blocked = 1;
  dev.d.by_class[SW_IO_USER] = -1;  // a completion seen without its issue
  blame_advance(&dev.d, 2 * kMsec);
  EXPECT_EQ(dev.d.slot[0].clock[SW_CLK_IDLE], 2 * kMsec);
  EXPECT_EQ(dev.d.slot[0].clock[SW_CLK_NEIGHBOR], 0u);
}

TEST(BlameMath, AWindowWithoutADeviceIsOther) {
  auto w = window(0, SW_BLAME_SLOTS);
  blame_win_block(&w, nullptr, nullptr, 1 * kMsec);
  blame_win_wake(&w, nullptr, nullptr, &kNoCpu, 3 * kMsec);
  blame_win_run(&w, nullptr, nullptr, 0, true, 4 * kMsec);
  EXPECT_EQ(w.kinds[SW_BLAME_OTHER], 3 * kMsec);
  EXPECT_EQ(w.kinds[SW_BLAME_CPU], 1 * kMsec);
}

// A CPU's run ring as its sched_switch fills it: slices ending at the given times.
struct Ring {
  sw_run_ring r{};
  Ring() { std::memset(&r, 0, sizeof(r)); }
  void ran(__u64 cgroup, __u64 until) {
    r.slice[r.seq % SW_RUN_RING] = {until, cgroup};
    r.seq++;
  }
};

__u64 cpu_of(const sw_blame_win& w, __u64 cgroup) {
  for (const auto& c : w.wait.by) {
    if (c.cgroup == cgroup) return c.ns;
  }
  return 0;
}

TEST(BlameMath, RunnableTimeIsChargedToWhoRanOnThatCpu) {
  Ring cpu1;
  auto w = window(0, SW_BLAME_SLOTS);
  w.state = SW_WIN_BLOCKED;
  const blame_sched cpu1_target = on(1);
  blame_win_wake(&w, nullptr, &cpu1.r, &cpu1_target, 10 * kMsec);  // woken into CPU 1's queue
  EXPECT_EQ(cpu1.r.watchers, 1);
  cpu1.ran(50, 13 * kMsec);  // the task running at the wakeup: charged from the wakeup on
  cpu1.ran(0, 14 * kMsec);   // the idle task: nobody
  cpu1.ran(60, 16 * kMsec);
  blame_win_run(&w, nullptr, &cpu1.r, 0, true, 16 * kMsec);
  EXPECT_EQ(w.kinds[SW_BLAME_CPU], 6 * kMsec);
  EXPECT_EQ(cpu_of(w, 50), 3 * kMsec);
  EXPECT_EQ(cpu_of(w, 60), 2 * kMsec);
  EXPECT_EQ(cpu_of(w, 0), 0u);
  EXPECT_EQ(cpu1.r.watchers, 0) << "the wait no longer holds the ring";
}

TEST(BlameMath, APreemptedThreadChargesOnlyWhatRanAfterIt) {
  Ring cpu0;
  cpu0.ran(7, 5 * kMsec);  // before the window's wait: not its business
  auto w = window(0, SW_BLAME_SLOTS);
  cpu0.ran(7, 8 * kMsec);  // the victim's own slice, recorded as it is switched out
  const blame_sched here = on(0);
  blame_win_preempt(&w, &cpu0.r, &here, 8 * kMsec);
  cpu0.ran(50, 9 * kMsec);
  blame_win_run(&w, nullptr, &cpu0.r, 0, true, 9 * kMsec);
  EXPECT_EQ(w.kinds[SW_BLAME_OTHER], 8 * kMsec);
  EXPECT_EQ(w.kinds[SW_BLAME_CPU], 1 * kMsec);
  EXPECT_EQ(cpu_of(w, 50), 1 * kMsec);
  EXPECT_EQ(cpu_of(w, 7), 0u);
}

TEST(BlameMath, AMigratedThreadChargesEachCpuForItsPart) {
  Ring cpu0, cpu1;
  auto w = window(0, SW_BLAME_SLOTS);
  const blame_sched here = on(0);
  blame_win_preempt(&w, &cpu0.r, &here, 1 * kMsec);
  cpu0.ran(50, 3 * kMsec);
  blame_win_migrate(&w, &cpu0.r, &cpu1.r, 1, 4 * kMsec);  // 50 still running on CPU 0 until 4 ms: unnamed
  EXPECT_EQ(cpu0.r.watchers, 0);
  EXPECT_EQ(cpu1.r.watchers, 1);
  cpu1.ran(60, 7 * kMsec);
  blame_win_run(&w, nullptr, &cpu1.r, 0, true, 7 * kMsec);
  EXPECT_EQ(w.kinds[SW_BLAME_CPU], 6 * kMsec);
  EXPECT_EQ(cpu_of(w, 50), 2 * kMsec);
  EXPECT_EQ(cpu_of(w, 60), 3 * kMsec);
}

TEST(BlameMath, SlicesTheRingOverwroteStayUnnamed) {
  Ring cpu0;
  auto w = window(0, SW_BLAME_SLOTS);
  const blame_sched here = on(0);
  blame_win_preempt(&w, &cpu0.r, &here, 0);
  for (__u64 i = 1; i <= SW_RUN_RING + 4; i++) cpu0.ran(100 + i, i * kMsec);
  blame_win_run(&w, nullptr, &cpu0.r, 0, true, (SW_RUN_RING + 4) * kMsec);
  __u64 named = 0;
  for (const auto& c : w.wait.by) named += c.ns;
  EXPECT_EQ(w.kinds[SW_BLAME_CPU], (SW_RUN_RING + 4) * kMsec);
  // Of the ring's slices the oldest's start is unknown, and of the rest the
  // table names the largest four.
  EXPECT_EQ(named, SW_CPU_TOP * kMsec);
  EXPECT_EQ(cpu_of(w, 100 + 5), 0u) << "the oldest slice still kept has no known start";
}

TEST(BlameMath, TheLargestCpuCulpritsAreNamed) {
  Ring cpu0;
  auto w = window(0, SW_BLAME_SLOTS);
  const blame_sched here = on(0);
  blame_win_preempt(&w, &cpu0.r, &here, 0);
  __u64 t = 0;
  for (__u64 cg = 1; cg <= SW_CPU_TOP; cg++) cpu0.ran(cg, t += kMsec);  // four small ones first
  cpu0.ran(99, t += 10 * kMsec);
  blame_win_run(&w, nullptr, &cpu0.r, 0, true, t);
  EXPECT_EQ(cpu_of(w, 99), 10 * kMsec);
}

TEST(BlameMath, AThrottledWaitIsItsOwnQuotasAndChargesNobody) {
  Ring cpu0;
  auto w = window(0, SW_BLAME_SLOTS);
  const blame_sched throttled = on(0, true);
  blame_win_preempt(&w, &cpu0.r, &throttled, 1 * kMsec);
  EXPECT_EQ(cpu0.r.watchers, 0) << "a throttled wait needs no slices";
  cpu0.ran(50, 30 * kMsec);
  blame_win_run(&w, nullptr, nullptr, 0, true, 91 * kMsec);
  EXPECT_EQ(w.kinds[SW_BLAME_CPU_THROTTLED], 90 * kMsec);
  EXPECT_EQ(w.kinds[SW_BLAME_CPU], 0u);
  EXPECT_EQ(cpu_of(w, 50), 0u);
}

TEST(BlameMath, AQuotaRunningOutDuringTheWaitMakesItThrottled) {
  Ring cpu0;
  auto w = window(0, SW_BLAME_SLOTS);
  const blame_sched unthrottled = on(0, false, 7);
  blame_win_preempt(&w, &cpu0.r, &unthrottled, 1 * kMsec);
  cpu0.ran(0, 60 * kMsec);  // the CPU idles: the group is throttled
  blame_win_run(&w, nullptr, &cpu0.r, 8, true, 61 * kMsec);  // one more throttled period since
  EXPECT_EQ(w.kinds[SW_BLAME_CPU_THROTTLED], 60 * kMsec);
  EXPECT_EQ(w.kinds[SW_BLAME_CPU], 0u);
  EXPECT_EQ(cpu0.r.watchers, 0);
}

TEST(BlameMath, FinishScalesCpuCulpritsWithTheirKind) {
  Ring cpu0;
  auto w = window(0, SW_BLAME_SLOTS);
  const blame_sched here = on(0);
  blame_win_preempt(&w, &cpu0.r, &here, 0);
  cpu0.ran(50, 10 * kMsec);
  blame_win_run(&w, nullptr, &cpu0.r, 0, true, 10 * kMsec);
  w.kinds[SW_BLAME_NEIGHBOR_IO] = 10 * kMsec;  // over-counted: the clamp halves every kind
  const __u64 wall = blame_win_finish(&w, nullptr, nullptr, 10 * kMsec);
  EXPECT_EQ(wall, 10 * kMsec);
  EXPECT_EQ(w.kinds[SW_BLAME_CPU], 5 * kMsec);
  EXPECT_EQ(cpu_of(w, 50), 5 * kMsec);
  EXPECT_EQ(cpu0.r.watchers, 0);
}

TEST(BlameMath, FinishClampsKindsToTheWallTime) {
  Device dev;
  auto w = window(0, 0);
  w.kinds[SW_BLAME_NEIGHBOR_IO] = 8 * kMsec;  // over-counted: two CPUs advanced at once
  w.kinds[SW_BLAME_DEVICE] = 4 * kMsec;
  w.since_ns = 10 * kMsec;
  const __u64 wall = blame_win_finish(&w, &dev.d, nullptr, 10 * kMsec);
  EXPECT_EQ(wall, 10 * kMsec);
  EXPECT_LE(sum_kinds(w), wall);
  EXPECT_NEAR(static_cast<double>(w.kinds[SW_BLAME_NEIGHBOR_IO]) / w.kinds[SW_BLAME_DEVICE], 2.0, 1e-6);
}

TEST(BlameMath, FinishGivesUnaccountedTimeToOther) {
  Device dev;
  auto w = window(0, 0);
  w.kinds[SW_BLAME_NEIGHBOR_IO] = 3 * kMsec;
  w.since_ns = 5 * kMsec;
  const __u64 wall = blame_win_finish(&w, &dev.d, nullptr, 10 * kMsec);
  EXPECT_EQ(sum_kinds(w), wall);
  EXPECT_EQ(w.kinds[SW_BLAME_OTHER], 7 * kMsec);
}

TEST(BlameMath, FinishEndsAWindowLeftBlocked) {
  Device dev;
  dev.d.slot[0].victim = 7;
  auto w = window(0, 0);
  blame_win_block(&w, &dev.d, nullptr, 0);
  const __u64 wall = blame_win_finish(&w, &dev.d, nullptr, 6 * kMsec);  // no wakeup seen
  EXPECT_EQ(wall, 6 * kMsec);
  EXPECT_EQ(w.kinds[SW_BLAME_DEVICE], 6 * kMsec);
  EXPECT_EQ(dev.d.slot[0].blocked, 0) << "the slot is no longer counted as blocked";
}

TEST(BlameMath, EpochNamesTheLargestCulpritsAndFoldsTheRest) {
  sw_blame_slot s{};
  std::memset(&s, 0, sizeof(s));
  // Four small culprits come first; the neighbour, much larger, fifth.
  for (__u64 cg = 1; cg <= SW_BLAME_TOP; cg++) blame_epoch_add(&s, cg, SW_BLAME_JOURNAL, cg * kMsec, 0, 1);
  blame_epoch_add(&s, 99, SW_BLAME_NEIGHBOR_IO, 40 * kMsec, 1 << 20, 1);
  blame_epoch_add(&s, 99, SW_BLAME_NEIGHBOR_IO, 40 * kMsec, 1 << 20, 1);  // again: same entry
  blame_epoch_add(&s, 7, SW_BLAME_WRITEBACK, kMsec / 2, 4096, 1);         // smaller than all: the rest
  __u64 named_ns = 0;
  bool neighbour = false;
  for (int i = 0; i < SW_BLAME_TOP; i++) {
    named_ns += s.top[i].ns;
    if (s.top[i].cgroup == 99) {
      neighbour = true;
      EXPECT_EQ(s.top[i].ns, 80 * kMsec);
      EXPECT_EQ(s.top[i].requests, 2u);
      EXPECT_EQ(s.top[i].kind, SW_BLAME_NEIGHBOR_IO);
    }
    EXPECT_NE(s.top[i].cgroup, 1u) << "the smallest was not the one folded";
  }
  EXPECT_TRUE(neighbour) << "the largest culprit is not named";
  EXPECT_EQ(s.rest.ns, kMsec + kMsec / 2);  // culprit 1, evicted, and culprit 7
  EXPECT_EQ(s.rest.requests, 2u);
  EXPECT_EQ(s.rest.kind, SW_BLAME_KIND_MIXED);
  EXPECT_EQ(named_ns + s.rest.ns, (1 + 2 + 3 + 4) * kMsec + 80 * kMsec + kMsec / 2) << "time lost or counted twice";
}

TEST(BlameMath, EpochResetStartsAtTheCreditClock) {
  sw_blame_slot s{};
  std::memset(&s, 0, sizeof(s));
  blame_epoch_add(&s, 3, SW_BLAME_NEIGHBOR_IO, kMsec, 4096, 1);
  s.clock[SW_CLK_CREDIT] = 12345;
  blame_epoch_reset(&s);
  EXPECT_EQ(s.top[0].ns, 0u);
  EXPECT_EQ(s.top[0].cgroup, 0u);
  EXPECT_EQ(s.epoch_credit, 12345u);
  // A request issued before the epoch counts from the epoch; one issued after, from its issue.
  EXPECT_EQ(blame_epoch_from(s.epoch_credit, 100), 12345u);
  EXPECT_EQ(blame_epoch_from(s.epoch_credit, 20000), 20000u);
}

TEST(BlameMath, SlotsAreTheVictimsOwnOrAFreeOne) {
  Device dev;
  const __u64 t = 10 * SW_SLOT_IDLE_NS;  // any time well past the start
  EXPECT_EQ(blame_slot_for(&dev.d, 7, t), 0u);
  dev.d.slot[0].open = 1;  // victim 7 has a window open
  EXPECT_EQ(blame_slot_for(&dev.d, 8, t), 1u);
  dev.d.slot[1].own = 1;  // victim 8 has a request in service
  EXPECT_EQ(blame_slot_for(&dev.d, 7, t), 0u);
  EXPECT_EQ(blame_slot_for(&dev.d, 9, t), 2u);
  EXPECT_EQ(dev.d.slot[2].closed_ns, t) << "claimed now: not free before its first window";
  EXPECT_EQ(blame_slot_for(&dev.d, 10, t), 3u) << "9's slot, claimed this instant, is not taken";
  dev.d.slot[3].open = 1;
  EXPECT_EQ(blame_slot_for(&dev.d, 11, t + SW_SLOT_IDLE_NS / 2), static_cast<__u32>(SW_BLAME_SLOTS))
      << "9's slot is idle for half a second only: it keeps it";
  EXPECT_EQ(blame_slot_for(&dev.d, 11, t + 2 * SW_SLOT_IDLE_NS), 2u) << "9 stopped syncing: its slot is reused";
  EXPECT_EQ(dev.d.slot[2].victim, 11u);
  dev.d.slot[2].open = 1;
  EXPECT_EQ(blame_slot_for(&dev.d, 99, t), static_cast<__u32>(SW_BLAME_SLOTS)) << "every slot busy";
  dev.d.slot[0].open = 0;  // victim 7's window closed long ago
  dev.d.slot[0].closed_ns = t - 2 * SW_SLOT_IDLE_NS;
  EXPECT_EQ(blame_slot_for(&dev.d, 99, t), 0u);
  EXPECT_EQ(dev.d.slot[0].victim, 99u);
}

}  // namespace
