// SPDX-License-Identifier: GPL-2.0
/*
 * The scheduler side of blame: a victim thread inside an fsync window is
 * running, runnable (waiting for a CPU: `cpu`, charged to the tasks that
 * ran on that CPU meanwhile; or `cpu_throttled`, held back by its own CPU
 * quota) or blocked (waiting on the device: its state decides the kind).
 * Every context switch pays one lookup of a small hash of open windows and
 * one of its CPU's run ring, which records the slice only while a victim
 * waits there; wakeups and migrations pay the hash lookup.
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

static __always_inline int on_switch(bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 prev_tid = BPF_CORE_READ(prev, pid), next_tid = BPF_CORE_READ(next, pid);
	__u32 cpu = bpf_get_smp_processor_id();
	struct sw_blame_win *w;

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

static __always_inline int on_wakeup(struct task_struct *p)
{
	__u32 tid = BPF_CORE_READ(p, pid);
	struct sw_blame_win *w = bpf_map_lookup_elem(&blame_win, &tid);

	if (w) {
		struct blame_sched t;

		sched_of(p, task_cpu_of(p), &t);
		blame_on_wake(w, &t, bpf_ktime_get_ns());
	}
	return 0;
}

static __always_inline int on_migrate(struct task_struct *p, int dest_cpu)
{
	__u32 tid = BPF_CORE_READ(p, pid);
	struct sw_blame_win *w = bpf_map_lookup_elem(&blame_win, &tid);

	if (w)
		blame_on_migrate(w, dest_cpu, bpf_ktime_get_ns());
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(preempt, prev, next);
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(sched_wakeup_btf, struct task_struct *p)
{
	return on_wakeup(p);
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

SEC("raw_tp/sched_wakeup")
int sched_wakeup_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return on_wakeup((struct task_struct *)ctx->args[0]);
}

SEC("raw_tp/sched_migrate_task")
int sched_migrate_task_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return on_migrate((struct task_struct *)ctx->args[0], (int)ctx->args[1]);
}
