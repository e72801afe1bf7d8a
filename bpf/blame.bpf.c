// SPDX-License-Identifier: GPL-2.0
/*
 * The scheduler side of blame: a victim thread inside an fsync window is
 * running, runnable (waiting for a CPU: `cpu`, charged to the tasks that
 * ran on that CPU meanwhile; or `cpu_throttled`, held back by its own CPU
 * quota) or blocked (waiting on the device: its state decides the kind).
 * Every context switch pays one lookup of a small hash of open windows and
 * one of its CPU's run ring, which records the slice only while a victim
 * waits there; wakeups and migrations pay the hash lookup. The workers that
 * serve a victim's disk (a loop device's) are followed too: while one waits
 * for a CPU, the victims blocked on that disk wait for it (blame_helper);
 * context switches look them up only while there are some, and a wakeup
 * reads one per-CPU entry to find new ones.
 *
 * Rungs: tp_btf, else raw_tp (same handlers, arguments from the raw array).
 * This object also owns the maps blame.bpf.h declares; the fsync and block
 * objects reuse them.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "blame.bpf.h"
#include "core_fixes.bpf.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline long task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___pre5_14 *)t, state);
}

/* The CPU whose run queue holds t (task_cpu()). */
static __always_inline __u32 task_cpu_of(struct task_struct *t)
{
	if (bpf_core_field_exists(t->thread_info.cpu))
		return BPF_CORE_READ(t, thread_info.cpu);
	return BPF_CORE_READ((struct task_struct___pre5_16 *)t, cpu);
}

/* Whether t's CPU quota (its cgroup's or an ancestor's) holds it back.
 * Since 6.18 a throttled task runs on until it returns to user space
 * (task-based throttling, which brought task_struct.throttled), so a
 * thread inside a syscall is never held; before, a throttled hierarchy
 * holds every task queued in it. */
static __always_inline bool task_throttled(struct task_struct *t)
{
	struct cfs_rq *q;

	if (bpf_core_field_exists(t->throttled))
		return BPF_CORE_READ(t, throttled);
	if (!bpf_core_field_exists(t->se.cfs_rq))
		return false;
	q = BPF_CORE_READ(t, se.cfs_rq);
	return q && BPF_CORE_READ(q, throttle_count) > 0;
}

/* Periods in which t's CPU quotas (its group's and three ancestors') ran
 * out so far; 0 where a quota never holds a task inside a syscall (6.18+,
 * see task_throttled) or the kernel has no CFS bandwidth control. */
static __always_inline __u32 task_throttle_mark(struct task_struct *t)
{
	struct task_group *tg;
	struct cfs_rq *q;
	__u32 n = 0;

	if (bpf_core_field_exists(t->throttled) || !bpf_core_field_exists(t->se.cfs_rq) ||
	    !bpf_core_field_exists(struct task_group, cfs_bandwidth))
		return 0;
	q = BPF_CORE_READ(t, se.cfs_rq);
	tg = q ? BPF_CORE_READ(q, tg) : NULL;
	for (int i = 0; i < 4 && tg; i++) {
		n += BPF_CORE_READ(tg, cfs_bandwidth.nr_throttled);
		tg = BPF_CORE_READ(tg, parent);
	}
	return n;
}

static __always_inline void sched_of(struct task_struct *t, __u32 cpu, struct blame_sched *out)
{
	out->cpu = cpu;
	out->throttled = task_throttled(t);
	out->thr_mark = task_throttle_mark(t);
}

/* Records the slice of the task leaving this CPU, while a victim waits here. */
static __always_inline void record_slice(__u32 prev_tid, __u32 cpu, __u64 now)
{
	struct sw_run_ring *r = bpf_map_lookup_elem(&run_ring, &cpu);
	__u64 seq;

	if (!r || r->watchers <= 0)
		return;
	seq = r->seq;
	r->slice[seq & (SW_RUN_RING - 1)].end_ns = now;
	/* Current is still prev here; the idle task is nobody. */
	r->slice[seq & (SW_RUN_RING - 1)].cgroup = prev_tid ? bpf_get_current_cgroup_id() : 0;
	r->seq = seq + 1;
}

/* ---- the threads that serve a victim disk's requests ---- */

/* A request's issue and the wakeup of the worker that will serve it are
 * one call chain (loop_queue_rq queues the work, the pool wakes a worker). */
#define SW_ISSUE_WAKE_NS (50 * 1000ULL)
#define SW_PF_WQ_WORKER 0x00000020 /* PF_WQ_WORKER: not in BTF (a #define) */

/* A driver that completes requests from a worker (loop) raises the block
 * softirq in task context, which wakes the CPU's ksoftirqd: the request's
 * end, and the victim's wakeup, wait until that thread gets the CPU. */
static __always_inline bool is_softirq_thread(struct task_struct *p)
{
	static const char name[] = "ksoftirqd/";
	char comm[sizeof(name) - 1];

	if (BPF_CORE_READ_INTO(&comm, p, comm))
		return false;
	for (int i = 0; i < (int)sizeof(comm); i++) {
		if (comm[i] != name[i])
			return false;
	}
	return true;
}

/* Workers serving a victim disk, from the wakeup its issuer gave them to
 * the end of the work item: each wait for a CPU in between stalls the disk. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct sw_blame_helper);
} blame_helper SEC(".maps");

/* Entries of blame_helper: context switches, migrations and work items'
 * ends read it only while there are some. */
__s64 helpers;

/* Helper h begins to wait for CPU cpu at now. */
static __always_inline void helper_wait(struct sw_blame_helper *h, __u32 cpu, __u64 now)
{
	struct sw_blame_dev *d = blame_dev_of(h->disk);

	if (h->waiting || !d)
		return;
	blame_advance(d, now);
	for (int k = 0; k < SW_BLAME_SLOTS; k++)
		h->credit[k] = d->slot[k].clock[SW_CLK_STALL_CREDIT];
	h->since_ns = now;
	h->waiting = 1;
	blame_wait_watch(&h->wait, run_ring_of(cpu), cpu, now);
	/* A count left by a wait whose end was missed lapses. */
	if (now - d->stall_ns >= SW_STALL_MAX_NS)
		d->stalled = 0;
	d->stall_ns = now;
	__sync_fetch_and_add(&d->stalled, 1);
}

/* Slot s's victims' blocked time while helper h waited (its share, when
 * several waited at once) goes to whoever ran on h's CPU meanwhile, in
 * proportion; what nobody named ran (the idle task, overwritten slices) is
 * unnamed `cpu`. */
SW_VERIFIED_ONCE int helper_charge(const struct sw_blame_helper *h, struct sw_blame_slot *s, __u32 k, __u64 waited)
{
	__u64 held, rest;

	if (!h || !s || !s->victim || !waited)
		return 0;
	held = s->clock[SW_CLK_STALL_CREDIT] - h->credit[k & (SW_BLAME_SLOTS - 1)];
	if ((__s64)held <= 0)
		return 0;
	rest = held;
	for (int i = 0; i < SW_CPU_TOP; i++) {
		__u64 cg = h->wait.by[i].cgroup, ns = h->wait.by[i].ns, part;

		if (!cg || !ns)
			continue;
		/* Both below 2^32 ns (4 s) in practice: the product fits. */
		part = ns >= waited ? held : held * ns / waited;
		if (part > rest)
			part = rest;
		rest -= part;
		blame_add(s->victim, cg, h->disk, SW_BLAME_CPU, part, 0);
		if (s->open > 0)
			blame_epoch_add(s, cg, SW_BLAME_CPU, part, 0, 0);
	}
	blame_add(s->victim, 0, h->disk, SW_BLAME_CPU, rest, 0);
	return 0;
}

/* Helper h runs at now: its wait ends, and is charged. */
static __always_inline void helper_run(struct sw_blame_helper *h, __u64 now)
{
	struct sw_blame_dev *d;

	if (!h->waiting)
		return;
	h->waiting = 0;
	blame_wait_unwatch(&h->wait, run_ring_of(h->wait.cpu), true, now);
	d = blame_dev_of(h->disk);
	if (d) {
		blame_advance(d, now);
		if (d->stalled > 0)
			__sync_fetch_and_add(&d->stalled, -1);
		for (int k = 0; k < SW_BLAME_SLOTS; k++)
			helper_charge(h, &d->slot[k], k, now - h->since_ns);
	}
	__builtin_memset(h->wait.by, 0, sizeof(h->wait.by));
}

/* p (tid) serves disk from now on, and waits for its CPU first. */
static __always_inline void helper_begin(struct task_struct *p, __u32 tid, __u32 disk, __u64 now)
{
	static const struct sw_blame_helper fresh;
	struct sw_blame_helper *h;

	if (bpf_map_update_elem(&blame_helper, &tid, &fresh, BPF_NOEXIST))
		return;
	h = bpf_map_lookup_elem(&blame_helper, &tid);
	if (!h)
		return;
	h->disk = disk;
	__sync_fetch_and_add(&helpers, 1);
	helper_wait(h, task_cpu_of(p), now);
}

/* p is woken: a helper's wakeup begins a wait; so does that of a workqueue
 * worker woken by the thread that just issued a request on a victim disk
 * with a window open (blame_note_issue), which becomes its helper, and that
 * of the softirq thread a helper woke, which finishes its requests. */
static __always_inline void helper_woken(struct task_struct *p)
{
	__u32 zero = 0, tid, waker, disk;
	struct sw_blame_issuer *is;
	struct sw_blame_helper *h;
	struct sw_blame_dev *d;
	bool open = false;
	__u64 now;

	/* Every wakeup on the node comes here: the cheap tests go first, and
	 * the task is read only for one that may be a helper. A task woken
	 * before it switched out (on its way to sleep) never left its CPU
	 * and waits for none. */
	if (helpers > 0) {
		tid = BPF_CORE_READ(p, pid);
		h = bpf_map_lookup_elem(&blame_helper, &tid);
		if (h) {
			if (!BPF_CORE_READ(p, on_cpu))
				helper_wait(h, task_cpu_of(p), bpf_ktime_get_ns());
			return;
		}
		waker = (__u32)bpf_get_current_pid_tgid();
		h = bpf_map_lookup_elem(&blame_helper, &waker);
		if (h) {
			if (!BPF_CORE_READ(p, on_cpu) && is_softirq_thread(p))
				helper_begin(p, tid, h->disk, bpf_ktime_get_ns());
			return;
		}
	}
	is = bpf_map_lookup_elem(&blame_issuer, &zero);
	if (!is || !is->ns || is->tid != (__u32)bpf_get_current_pid_tgid())
		return;
	now = bpf_ktime_get_ns();
	if (now - is->ns > SW_ISSUE_WAKE_NS || !(BPF_CORE_READ(p, flags) & SW_PF_WQ_WORKER) ||
	    BPF_CORE_READ(p, on_cpu))
		return;
	is->ns = 0;
	disk = is->disk;
	d = blame_dev_of(disk);
	if (!d)
		return;
	for (int k = 0; k < SW_BLAME_SLOTS; k++)
		open = open || d->slot[k].open > 0;
	if (open)
		helper_begin(p, BPF_CORE_READ(p, pid), disk, now);
}

/* No longer a helper: its wait, if any, has ended. */
static __always_inline void helper_forget(__u32 tid)
{
	if (!bpf_map_delete_elem(&blame_helper, &tid))
		__sync_fetch_and_add(&helpers, -1);
}

/* The current thread's work item begins (start) or ends: a helper's ends
 * its service. */
static __always_inline void helper_work(bool start)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sw_blame_helper *h;

	if (helpers <= 0)
		return;
	h = bpf_map_lookup_elem(&blame_helper, &tid);
	if (!h)
		return;
	if (start) {
		h->working = 1;
		return;
	}
	helper_run(h, bpf_ktime_get_ns());
	helper_forget(tid);
}

static __always_inline int on_switch(bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u32 prev_tid, next_tid, cpu;
	struct sw_blame_win *w;
	__u64 now;

	/* No window: no victim waits anywhere, and no run ring records. */
	if (!blame_any_window())
		return 0;
	now = bpf_ktime_get_ns();
	prev_tid = BPF_CORE_READ(prev, pid);
	next_tid = BPF_CORE_READ(next, pid);
	cpu = bpf_get_smp_processor_id();
	record_slice(prev_tid, cpu, now);
	w = bpf_map_lookup_elem(&blame_win, &prev_tid);
	if (w) {
		/* TASK_RUNNING (0) or preempted: still wants the CPU. */
		if (preempt || task_state(prev) == 0) {
			struct blame_sched t;

			sched_of(prev, cpu, &t);
			blame_on_preempt(w, &t, now);
		} else {
			blame_on_block(w, now);
		}
	}
	w = bpf_map_lookup_elem(&blame_win, &next_tid);
	if (w)
		blame_on_run(w, task_throttle_mark(next), now);
	return 0;
}

/* The helpers' side of a context switch: a program of its own, so that the
 * verifier walks it apart from the windows' (on 5.10, where the functions
 * are checked at every call site, the two together passed its limit). */
static __always_inline int on_switch_helpers(bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct sw_blame_helper *h;
	__u32 prev_tid, next_tid;
	__u64 now;

	if (helpers <= 0)
		return 0;
	now = bpf_ktime_get_ns();
	prev_tid = BPF_CORE_READ(prev, pid);
	next_tid = BPF_CORE_READ(next, pid);
	h = bpf_map_lookup_elem(&blame_helper, &prev_tid);
	/* A wait whose end was missed (woken as it went to sleep, before
	 * sched_waking could see it on the CPU): it ran until now. */
	if (h && h->waiting)
		helper_run(h, now);
	/* Preempted while serving: it waits for this CPU again. A worker that
	 * sleeps before any work item ran was not the one that took the
	 * disk's. */
	if (h && (preempt || task_state(prev) == 0))
		helper_wait(h, bpf_get_smp_processor_id(), now);
	else if (h && !h->working)
		helper_forget(prev_tid);
	h = bpf_map_lookup_elem(&blame_helper, &next_tid);
	if (h)
		helper_run(h, now);
	return 0;
}

static __always_inline int on_wakeup(struct task_struct *p)
{
	struct sw_blame_win *w;
	__u32 tid;

	if (!blame_any_window())
		return 0;
	tid = BPF_CORE_READ(p, pid);
	w = bpf_map_lookup_elem(&blame_win, &tid);
	if (w) {
		struct blame_sched t;

		sched_of(p, task_cpu_of(p), &t);
		blame_on_wake(w, &t, bpf_ktime_get_ns());
	}
	return 0;
}

static __always_inline int on_migrate(struct task_struct *p, int dest_cpu)
{
	struct sw_blame_win *w;
	__u32 tid;

	if (!blame_any_window())
		return 0;
	tid = BPF_CORE_READ(p, pid);
	w = bpf_map_lookup_elem(&blame_win, &tid);
	if (w)
		blame_on_migrate(w, dest_cpu, bpf_ktime_get_ns());
	return 0;
}

static __always_inline int on_migrate_helpers(struct task_struct *p, int dest_cpu)
{
	struct sw_blame_helper *h;
	__u32 tid;

	if (helpers <= 0)
		return 0;
	tid = BPF_CORE_READ(p, pid);
	h = bpf_map_lookup_elem(&blame_helper, &tid);
	if (h && h->waiting)
		blame_wait_migrate(&h->wait, run_ring_of(h->wait.cpu), run_ring_of(dest_cpu), dest_cpu,
				   bpf_ktime_get_ns());
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(preempt, prev, next);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch_helpers_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch_helpers(preempt, prev, next);
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(sched_wakeup_btf, struct task_struct *p)
{
	return on_wakeup(p);
}

SEC("tp_btf/sched_waking")
int BPF_PROG(sched_waking_btf, struct task_struct *p)
{
	helper_woken(p);
	return 0;
}

SEC("tp_btf/sched_migrate_task")
int BPF_PROG(sched_migrate_helpers_btf, struct task_struct *p, int dest_cpu)
{
	return on_migrate_helpers(p, dest_cpu);
}

SEC("tp_btf/workqueue_execute_start")
int BPF_PROG(workqueue_execute_start_btf)
{
	helper_work(true);
	return 0;
}

SEC("tp_btf/workqueue_execute_end")
int BPF_PROG(workqueue_execute_end_btf)
{
	helper_work(false);
	return 0;
}

SEC("tp_btf/sched_migrate_task")
int BPF_PROG(sched_migrate_task_btf, struct task_struct *p, int dest_cpu)
{
	return on_migrate(p, dest_cpu);
}

SEC("raw_tp/sched_switch")
int sched_switch_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return on_switch((bool)ctx->args[0], (struct task_struct *)ctx->args[1], (struct task_struct *)ctx->args[2]);
}

SEC("raw_tp/sched_switch")
int sched_switch_helpers_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return on_switch_helpers((bool)ctx->args[0], (struct task_struct *)ctx->args[1],
				 (struct task_struct *)ctx->args[2]);
}

SEC("raw_tp/sched_wakeup")
int sched_wakeup_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return on_wakeup((struct task_struct *)ctx->args[0]);
}

SEC("raw_tp/sched_waking")
int sched_waking_raw(struct bpf_raw_tracepoint_args *ctx)
{
	helper_woken((struct task_struct *)ctx->args[0]);
	return 0;
}

SEC("raw_tp/sched_migrate_task")
int sched_migrate_helpers_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return on_migrate_helpers((struct task_struct *)ctx->args[0], (int)ctx->args[1]);
}

SEC("raw_tp/workqueue_execute_start")
int workqueue_execute_start_raw(struct bpf_raw_tracepoint_args *ctx)
{
	helper_work(true);
	return 0;
}

SEC("raw_tp/workqueue_execute_end")
int workqueue_execute_end_raw(struct bpf_raw_tracepoint_args *ctx)
{
	helper_work(false);
	return 0;
}

SEC("raw_tp/sched_migrate_task")
int sched_migrate_task_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return on_migrate((struct task_struct *)ctx->args[0], (int)ctx->args[1]);
}
