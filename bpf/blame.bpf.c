// SPDX-License-Identifier: GPL-2.0
/*
 * The scheduler side of blame: a victim thread inside an fsync window is
 * running, runnable (waiting for a CPU: `cpu`) or blocked (waiting on the
 * device: its state decides the kind). Every context switch and wakeup pays
 * one lookup of a small hash of open windows; only victim threads in a
 * window go further.
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

static __always_inline int on_switch(bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 prev_tid = BPF_CORE_READ(prev, pid), next_tid = BPF_CORE_READ(next, pid);
	struct sw_blame_win *w;

	w = bpf_map_lookup_elem(&blame_win, &prev_tid);
	if (w) {
		/* TASK_RUNNING (0) or preempted: still wants the CPU. */
		if (preempt || task_state(prev) == 0)
			blame_on_preempt(w, now);
		else
			blame_on_block(w, now);
	}
	w = bpf_map_lookup_elem(&blame_win, &next_tid);
	if (w)
		blame_on_run(w, now);
	return 0;
}

static __always_inline int on_wakeup(struct task_struct *p)
{
	__u32 tid = BPF_CORE_READ(p, pid);
	struct sw_blame_win *w = bpf_map_lookup_elem(&blame_win, &tid);

	if (w)
		blame_on_wake(w, bpf_ktime_get_ns());
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
