/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The blame engine's arithmetic: plain structs in, plain structs out, no
 * maps and no helpers, so that the same code compiles into the BPF objects
 * (through blame.bpf.h) and into the host's unit tests
 * (tests/unit/blame_math_test.cpp), where its edge cases are checked
 * without a kernel. Atomic adds are the compilers' __sync builtins, which
 * both targets have.
 */
#ifndef STALLWATCH_BLAME_MATH_H
#define STALLWATCH_BLAME_MATH_H

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#ifndef __noinline
#define __noinline __attribute__((noinline))
#endif

/* The blame engine's larger functions are global in BPF: the verifier
 * checks a global function once per program, with unknown arguments,
 * where it walks a static one again for every state a caller reaches it
 * in. The request programs walked blame_end's slots that way for 0.3 to
 * 0.9 s each (2.6 s of the agent's start-up); as global functions the
 * whole object takes 40 ms. A pointer argument may be NULL to the
 * verifier, so each checks its own. Kernels before 5.12 take only scalars
 * as a global function's arguments: user space marks these static in the
 * object's BTF before load there (agent/loader/insn_compat.h). */
#ifdef __bpf__
#define SW_VERIFIED_ONCE __noinline
#else
#define SW_VERIFIED_ONCE static __noinline
#endif

#include "stallwatch.h"

/* Slot indices are masked with SW_BLAME_SLOTS - 1 for old verifiers. */
#ifdef __cplusplus
static_assert((SW_BLAME_SLOTS & (SW_BLAME_SLOTS - 1)) == 0, "SW_BLAME_SLOTS is a power of two");
static_assert((SW_BLAME_TOP & (SW_BLAME_TOP - 1)) == 0, "SW_BLAME_TOP is a power of two");
#else
_Static_assert((SW_BLAME_SLOTS & (SW_BLAME_SLOTS - 1)) == 0, "SW_BLAME_SLOTS is a power of two");
_Static_assert((SW_BLAME_TOP & (SW_BLAME_TOP - 1)) == 0, "SW_BLAME_TOP is a power of two");
#endif

static __always_inline __s64 nonneg(__s64 v)
{
	return v < 0 ? 0 : v;
}

static __always_inline bool blame_any_blocked(const struct sw_blame_dev *d)
{
	for (int k = 0; k < SW_BLAME_SLOTS; k++) {
		if (d->slot[k].blocked > 0)
			return true;
	}
	return false;
}

/* ns the cost model expects w weight units of service to take. */
static __always_inline __s64 blame_expected_ns(__s64 w)
{
	/* Unsigned and a shift: BPF has no signed division before ISA v4. */
	return w > 0 ? (__s64)(((__u64)w * 1000) >> 4 /* log2 SW_COST_UNITS_PER_US */) : 0;
}

/* What is in service on a device over an interval, by class (weights),
 * and when the interval ends. */
struct blame_load {
	__s64 user, journal, wb, kthread, n;
	__s64 stalled; /* service threads waiting for a CPU */
	__u64 end;
};

/* One slot's share of an interval dt with load l in service. */
SW_VERIFIED_ONCE int blame_advance_slot(struct sw_blame_slot *s, __u64 dt, const struct blame_load *l)
{
	__s64 blocked, own, left, u, j, w, t, take, others;
	__u64 own_dt = 0, st = 0, rest_dt;

	if (!s || !l)
		return 0;
	blocked = s->blocked;
	if (blocked <= 0)
		return 0;
	/* A CPU that claimed its interval before the victim blocked may read
	 * blocked after: the interval, or the part of it before the block, is
	 * not the victim's wait (a vCPU stalled between claim and read gave a
	 * victim milliseconds it never waited, 4% past its windows with 4
	 * vCPUs on 2 cores). blocked_ns is stored before blocked is raised,
	 * and read after it here (the barrier keeps the compiler to that
	 * order). An interval that began before the block is dropped whole,
	 * not cut: only this race makes one, and a dt cut to a bound of map
	 * data cost the verifier 1.3 s more at start-up. */
	asm volatile("" ::: "memory");
	if ((__s64)(l->end - s->blocked_ns) < (__s64)dt)
		return 0;
	if (l->n <= 0) {
		__sync_fetch_and_add(&s->clock[SW_CLK_IDLE], dt);
		return 0;
	}
	/* Own requests of every class are counted in own and in their
	 * class: take them out of the user class first, then the rest. */
	own = nonneg(s->own);
	if (own > l->n)
		own = l->n;
	left = own;
	u = l->user;
	j = l->journal;
	w = l->wb;
	t = l->kthread;
	take = left < u ? left : u;
	u -= take;
	left -= take;
	take = left < w ? left : w;
	w -= take;
	left -= take;
	take = left < t ? left : t;
	t -= take;
	left -= take;
	take = left < j ? left : j;
	j -= take;
	others = l->n - own;
	/* The thread serving the disk waits for a CPU: the victim's own
	 * requests wait for that CPU, for their share of the weight in
	 * service; others' requests ahead of them still hold them up for the
	 * rest (under stress-ng, a 1 MiB write's worker waiting behind the
	 * hogs is the writer's doing as much as theirs), and with none of its
	 * own in service the victim waits on the others'. */
	if (l->stalled > 0) {
		st = others > 0 ? dt * (__u64)own / (__u64)l->n : dt;
		__sync_fetch_and_add(&s->clock[SW_CLK_STALL], st);
		__sync_fetch_and_add(&s->clock[SW_CLK_STALL_CREDIT], st * (__u64)blocked / (__u64)l->stalled);
	} else if (own > 0) {
		__s64 budget = nonneg(s->own_budget);

		/* Alone on the device, a slow own request is still its own. */
		own_dt = others <= 0 || (__s64)dt < budget ? dt : (__u64)budget;
		if (budget > 0)
			__sync_fetch_and_add(&s->own_budget, -(__s64)(own_dt < (__u64)budget ? own_dt : (__u64)budget));
	}
	rest_dt = dt - own_dt - st;
	if (own_dt) {
		__sync_fetch_and_add(&s->held_own_ns, own_dt * blocked);
		__sync_fetch_and_add(&s->clock[SW_CLK_OWN], own_dt);
		__sync_fetch_and_add(&s->clock[SW_CLK_CREDIT_OWN], (own_dt << SW_CREDIT_SHIFT) * blocked / own);
	}
	if (rest_dt && others > 0) {
		__sync_fetch_and_add(&s->held_ns, rest_dt * blocked);
		__sync_fetch_and_add(&s->clock[SW_CLK_NEIGHBOR], rest_dt * u / others);
		__sync_fetch_and_add(&s->clock[SW_CLK_JOURNAL], rest_dt * j / others);
		__sync_fetch_and_add(&s->clock[SW_CLK_WRITEBACK], rest_dt * w / others);
		__sync_fetch_and_add(&s->clock[SW_CLK_KTHREAD], rest_dt * t / others);
		__sync_fetch_and_add(&s->clock[SW_CLK_CREDIT], (rest_dt << SW_CREDIT_SHIFT) * blocked / others);
	}
	return 0;
}

/* Blamed ns of w weight units between a credit clock's value at issue
 * (from) and now, at most the blocked time held over that service. The
 * credit clock's rate is computed from the weight in service that one CPU
 * read; a request whose weight another CPU added between that read and the
 * clock's advance is credited at a rate meant for a smaller total: a 1 MiB
 * write issued beside the victim's 4 KiB one would take the interval
 * hundreds of times over (seen in the 4-vCPU kernel VM: a victim's kinds
 * 6% past its windows). Its credit cannot exceed the time the victim was
 * blocked meanwhile, whoever else was in service. */
static __always_inline __u64 blame_credit_capped(__u64 now_credit, __u64 from, __u64 w, __u64 held_now,
						 __u64 held_from)
{
	__u64 ns = (__s64)(now_credit - from) > 0 ? (now_credit - from) * w >> SW_CREDIT_SHIFT : 0;
	__u64 held = (__s64)(held_now - held_from) > 0 ? held_now - held_from : 0;

	return ns < held ? ns : held;
}

/* Claims the interval from last_ns to now for the caller alone; returns
 * its length, 0 when another CPU has advanced past now: each nanosecond is
 * claimed once. Kernels before 5.12 refuse BPF_CMPXCHG anywhere in a
 * program, so the loader rewrites it there into a plain store of now
 * (loader/insn_compat.h): the compare then always succeeds, and two CPUs
 * reading the same last_ns both count the interval since, an error bounded
 * by the time between their reads per collision. */
static __always_inline __u64 blame_claim(struct sw_blame_dev *d, __u64 now)
{
	__u64 last = d->last_ns;

	/* A CPU that keeps losing gives up: the winners counted up to a time
	 * at most as old as the one it lost to. */
	for (int i = 0; i < 4; i++) {
		__u64 seen;

		if (now <= last)
			return 0;
		seen = __sync_val_compare_and_swap(&d->last_ns, last, now);
		if (seen == last)
			return now - last;
		last = seen;
	}
	return 0;
}

/* Integrates the device's state since last_ns into the clocks of every slot
 * whose victim is blocked. The state (requests in service per class) held
 * still over that interval: every change calls this first.
 *
 * The counterfactual: had nobody else been on the device, the victim's own
 * requests would have taken what the cost model expects of them. Blocked
 * time with own requests in service is the victim's own up to that
 * (own_budget); the rest, and all blocked time without own requests, is
 * shared by the other requests in service by weight. */
SW_VERIFIED_ONCE int blame_advance(struct sw_blame_dev *d, __u64 now)
{
	struct blame_load l;
	__u64 dt;

	if (!d)
		return 0;
	dt = blame_claim(d, now);
	if (!dt)
		return 0;
	l.user = nonneg(d->by_class[SW_IO_USER]);
	l.journal = nonneg(d->by_class[SW_IO_JOURNAL]);
	l.wb = nonneg(d->by_class[SW_IO_WRITEBACK]);
	l.kthread = nonneg(d->by_class[SW_IO_KTHREAD]);
	l.n = l.user + l.journal + l.wb + l.kthread;
	/* A count left by a wait whose end was missed lapses. */
	l.stalled = now - d->stall_ns < SW_STALL_MAX_NS ? d->stalled : 0;
	l.end = now;
	for (int k = 0; k < SW_BLAME_SLOTS; k++)
		blame_advance_slot(&d->slot[k], dt, &l);
	return 0;
}

/* ---- scheduler side: a window's thread changes state; d is the window's
 * device, NULL when the file has none; wr the run ring of the CPU whose
 * queue holds the waiting thread (w->wait_cpu), NULL when none ---- */

#define SW_NO_CPU 0xffffffffu

/* Adds ns of the window's CPU wait to culprit cg: its entry, a free one,
 * or, when the table is full, the smallest entry's place if cg's part is
 * larger (the smallest then goes unnamed: the rest is the kind's total less
 * the named parts). */
static __always_inline void blame_cpu_add(struct sw_cpu_wait *cw, __u64 cg, __u64 ns)
{
	__u32 smallest = 0;
	__u64 least = ~0ULL;

	for (int i = 0; i < SW_CPU_TOP; i++) {
		struct sw_cpu_culprit *c = &cw->by[i];

		if (c->cgroup == cg || !c->ns) {
			c->cgroup = cg;
			c->ns += ns;
			return;
		}
		if (c->ns < least) {
			least = c->ns;
			smallest = i;
		}
	}
	if (ns > least) {
		cw->by[smallest & (SW_CPU_TOP - 1)].cgroup = cg;
		cw->by[smallest & (SW_CPU_TOP - 1)].ns = ns;
	}
}

/* One slice of blame_cpu_charge's walk: charges the part of sl after from
 * (up to now) and returns where the next one starts. Global, so that the
 * verifier walks it once and not at each of the walk's 64 steps: a program
 * that only charges a CPU wait (sched_migrate_task) went from 26.7k to 1.8k
 * walked instructions. */
SW_VERIFIED_ONCE __u64 blame_cpu_slice(struct sw_cpu_wait *cw, const struct sw_run_slice *sl, __u64 from, __u64 now)
{
	__u64 end;

	if (!cw || !sl)
		return from;
	end = sl->end_ns < now ? sl->end_ns : now;
	if (end <= from)
		return from;
	if (sl->cgroup)
		blame_cpu_add(cw, sl->cgroup, end - from);
	return end;
}

/* Charges the slices the CPU of wr ran since cw->from_ns, up to now, to
 * the tasks' cgroups: each slice from the later of the wait's start and the
 * previous slice's end. Slices the ring has overwritten, the idle task's,
 * and the stretch still running at now on another CPU (after a migration
 * the victim read) stay unnamed. */
SW_VERIFIED_ONCE int blame_cpu_charge(struct sw_cpu_wait *cw, const struct sw_run_ring *wr, __u64 now)
{
	__u64 from, seq, s;

	if (!cw)
		return 0;
	from = cw->from_ns;
	if (!wr) {
		cw->from_ns = now;
		return 0;
	}
	seq = wr->seq;
	s = cw->seq;
	if (seq - s > SW_RUN_RING) {
		/* The slices up to seq - SW_RUN_RING are gone; the oldest kept
		 * one's start is unknown, so it is unnamed too. */
		__u64 end = wr->slice[(seq - SW_RUN_RING) & (SW_RUN_RING - 1)].end_ns;

		if (end > from)
			from = end;
		s = seq - SW_RUN_RING + 1;
	}
	for (int i = 0; i < SW_RUN_RING; i++, s++) {
		if (s >= seq || from >= now)
			break;
		from = blame_cpu_slice(cw, &wr->slice[s & (SW_RUN_RING - 1)], from, now);
	}
	cw->from_ns = now;
	cw->seq = seq;
	return 0;
}

/* A wait begins at now in the queue of cpu (ring wr, NULL: not watched). */
static __always_inline void blame_wait_watch(struct sw_cpu_wait *cw, struct sw_run_ring *wr, __u32 cpu, __u64 now)
{
	cw->from_ns = now;
	cw->cpu = SW_NO_CPU;
	if (!wr)
		return;
	__sync_fetch_and_add(&wr->watchers, 1);
	cw->cpu = cpu;
	cw->seq = wr->seq;
}

/* The wait ends at now: who ran is charged (unless !charge) and the ring
 * of its CPU (wr) watched no more. */
static __always_inline void blame_wait_unwatch(struct sw_cpu_wait *cw, struct sw_run_ring *wr, bool charge, __u64 now)
{
	if (cw->cpu != SW_NO_CPU && wr) {
		if (charge)
			blame_cpu_charge(cw, wr, now);
		__sync_fetch_and_add(&wr->watchers, -1);
	}
	cw->cpu = SW_NO_CPU;
}

/* A waiting thread moves to another CPU's queue: what the old CPU ran is
 * charged up to now, and the new one's slices from now on. */
static __always_inline void blame_wait_migrate(struct sw_cpu_wait *cw, struct sw_run_ring *from, struct sw_run_ring *to,
					       __u32 cpu, __u64 now)
{
	if (cw->cpu == SW_NO_CPU || cw->cpu == cpu)
		return;
	blame_wait_unwatch(cw, from, true, now);
	blame_wait_watch(cw, to, cpu, now);
}

/* What the scheduler says of a thread at a state change: the CPU whose
 * queue holds it, whether its CPU quota holds it back now, and how many
 * periods its quotas have been throttled in so far (a change over a wait
 * means the quota ran out while it waited). */
struct blame_sched {
	__u32 cpu;
	bool throttled;
	__u32 thr_mark;
};

/* The thread becomes runnable at now in the queue of cpu (ring wr). A
 * thread held back by its own CPU quota waits on nobody's CPU time. */
static __always_inline void blame_wait_begin(struct sw_blame_win *w, struct sw_run_ring *wr,
					     const struct blame_sched *t, __u64 now)
{
	__u32 cpu = t->cpu;
	bool throttled = t->throttled;

	w->since_ns = now;
	w->wait.from_ns = now;
	w->wait.cpu = SW_NO_CPU;
	w->thr_mark = t->thr_mark;
	if (throttled) {
		w->state = SW_WIN_THROTTLED;
		return;
	}
	w->state = SW_WIN_RUNNABLE;
	blame_wait_watch(&w->wait, wr, cpu, now);
}

/* The wait ends at now (the thread runs, or a missed event ends it);
 * thr_mark as blame_sched's. charge: name who ran from the ring (false
 * where a missed event ends the wait: the syscall side never walks the
 * ring, which keeps its programs small for the verifier). */
static __always_inline void blame_wait_end(struct sw_blame_win *w, struct sw_run_ring *wr, __u32 thr_mark, bool charge,
					   __u64 now)
{
	/* The quota ran out during the wait: until the next period nobody's
	 * CPU time mattered. The ring is left unread. */
	if (w->state == SW_WIN_RUNNABLE && thr_mark != w->thr_mark) {
		blame_wait_unwatch(&w->wait, wr, false, now);
		w->state = SW_WIN_THROTTLED;
	}
	if (w->state == SW_WIN_THROTTLED) {
		w->kinds[SW_BLAME_CPU_THROTTLED] += now - w->since_ns;
	} else if (w->state == SW_WIN_RUNNABLE) {
		w->kinds[SW_BLAME_CPU] += now - w->since_ns;
		blame_wait_unwatch(&w->wait, wr, charge, now);
	} else {
		return;
	}
	w->wait.cpu = SW_NO_CPU;
	w->state = SW_WIN_RUNNING;
	w->since_ns = now;
}

/* A runnable thread moves to another CPU's queue. */
static __always_inline void blame_win_migrate(struct sw_blame_win *w, struct sw_run_ring *from, struct sw_run_ring *to,
					      __u32 cpu, __u64 now)
{
	if (w->state == SW_WIN_RUNNABLE)
		blame_wait_migrate(&w->wait, from, to, cpu, now);
}

/* The thread blocks: from now on the device's state is what it waits on. */
static __always_inline void blame_win_block(struct sw_blame_win *w, struct sw_blame_dev *d, struct sw_run_ring *wr,
					    __u64 now)
{
	__u32 k = w->slot;

	/* Blocking straight from a wait means its switch-in was missed. */
	blame_wait_end(w, wr, w->thr_mark, true, now);
	if (w->state != SW_WIN_RUNNING)
		return;
	w->kinds[SW_BLAME_OTHER] += now - w->since_ns;
	w->state = SW_WIN_BLOCKED;
	w->since_ns = now;
	if (!d || k >= SW_BLAME_SLOTS)
		return;
	blame_advance(d, now);
	/* k < SW_BLAME_SLOTS was checked above, but 5.10 and 6.1 verifiers lose
	 * that bound once the compiler spills k: mask it where it indexes. */
	k &= SW_BLAME_SLOTS - 1;
	for (int c = 0; c < SW_CLK__COUNT; c++)
		w->snap[c] = d->slot[k].clock[c];
	d->slot[k].blocked_ns = now;
	__sync_fetch_and_add(&d->slot[k].blocked, 1);
}

static __always_inline __u64 clock_delta(const struct sw_blame_slot *s, const struct sw_blame_win *w, int c)
{
	__s64 d = s->clock[c] - w->snap[c];

	return d > 0 ? d : 0;
}

/* The thread is woken into the queue of cpu (ring r; or found running
 * without a wakeup seen: r NULL): the device clocks' advance while it was
 * blocked is its share of each kind. */
static __always_inline void blame_win_wake(struct sw_blame_win *w, struct sw_blame_dev *d, struct sw_run_ring *r,
					   const struct blame_sched *t, __u64 now)
{
	__u32 k = w->slot;
	__u64 since = w->since_ns;
	struct sw_blame_slot *s;

	if (w->state != SW_WIN_BLOCKED)
		return;
	blame_wait_begin(w, r, t, now);
	if (!d || k >= SW_BLAME_SLOTS) {
		/* No block device under the file: nothing to wait on we can see. */
		w->kinds[SW_BLAME_OTHER] += now - since;
		return;
	}
	blame_advance(d, now);
	s = &d->slot[k & (SW_BLAME_SLOTS - 1)]; /* bound for old verifiers, as above */
	__sync_fetch_and_add(&s->blocked, -1);
	w->kinds[SW_BLAME_OWN_IO] += clock_delta(s, w, SW_CLK_OWN);
	w->kinds[SW_BLAME_NEIGHBOR_IO] += clock_delta(s, w, SW_CLK_NEIGHBOR);
	w->kinds[SW_BLAME_JOURNAL] += clock_delta(s, w, SW_CLK_JOURNAL);
	w->kinds[SW_BLAME_WRITEBACK] += clock_delta(s, w, SW_CLK_WRITEBACK);
	w->kinds[SW_WIN_KTHREAD_IO] += clock_delta(s, w, SW_CLK_KTHREAD);
	w->kinds[SW_BLAME_DEVICE] += clock_delta(s, w, SW_CLK_IDLE);
	w->kinds[SW_WIN_HELPER_CPU] += clock_delta(s, w, SW_CLK_STALL);
}

/* The thread is switched in at now; wr is the ring of its wait, thr_mark
 * and charge as blame_wait_end's. */
static __always_inline void blame_win_run(struct sw_blame_win *w, struct sw_blame_dev *d, struct sw_run_ring *wr,
					  __u32 thr_mark, bool charge, __u64 now)
{
	if (w->state == SW_WIN_BLOCKED) {
		struct blame_sched none = { .cpu = SW_NO_CPU, .throttled = false, .thr_mark = thr_mark };

		blame_win_wake(w, d, 0, &none, now);
	}
	blame_wait_end(w, wr, thr_mark, charge, now);
}

/* The running thread is switched out still wanting the CPU of ring r. */
static __always_inline void blame_win_preempt(struct sw_blame_win *w, struct sw_run_ring *r,
					      const struct blame_sched *t, __u64 now)
{
	if (w->state != SW_WIN_RUNNING)
		return;
	w->kinds[SW_BLAME_OTHER] += now - w->since_ns;
	blame_wait_begin(w, r, t, now);
}

/* Closes the window's time accounting at now and returns its wall time:
 * the time since the last state change is `other`, and the kinds are
 * clamped so that they never add up to more than the wall time (a missed
 * sched event, or two CPUs advancing one device clock at once). */
static __always_inline __u64 blame_win_finish(struct sw_blame_win *w, struct sw_blame_dev *d, struct sw_run_ring *wr,
					       __u64 now)
{
	__u64 wall, sum = 0, cpu;

	/* A missed sched event leaves the thread blocked or runnable. */
	blame_win_run(w, d, wr, w->thr_mark, false, now);
	w->kinds[SW_BLAME_OTHER] += now - w->since_ns;
	w->since_ns = now;
	wall = now - w->start_ns;
	for (int i = 0; i <= SW_WIN_HELPER_CPU; i++)
		sum += w->kinds[i];
	cpu = w->kinds[SW_BLAME_CPU];
	if (sum > wall) {
		for (int i = 0; i <= SW_WIN_HELPER_CPU; i++)
			w->kinds[i] = w->kinds[i] * wall / sum;
	} else {
		w->kinds[SW_BLAME_OTHER] += wall - sum;
	}
	/* The named CPU culprits follow their kind, and never exceed it. */
	sum = 0;
	for (int i = 0; i < SW_CPU_TOP; i++) {
		if (cpu > w->kinds[SW_BLAME_CPU])
			w->wait.by[i].ns = w->wait.by[i].ns * w->kinds[SW_BLAME_CPU] / cpu;
		sum += w->wait.by[i].ns;
	}
	if (sum > w->kinds[SW_BLAME_CPU]) {
		for (int i = 0; i < SW_CPU_TOP; i++)
			w->wait.by[i].ns = w->wait.by[i].ns * w->kinds[SW_BLAME_CPU] / sum;
	}
	return wall;
}

/* ---- epochs: the culprit detail of a slot's overlapping windows ---- */

/* A culprit's part of the open epoch of slot s: a small table, claimed
 * without a lock (two CPUs claiming one free entry at the same instant
 * merge two culprits in one event's detail; the blame map is unaffected).
 * When the table is full, a culprit whose part is larger than the smallest
 * named one's so far takes that entry, and the smallest is folded into the
 * rest: the event names the largest culprits, not the first to come. The
 * rest mixes kinds (SW_BLAME_KIND_MIXED).
 *
 * blame_epoch_claim finds the entry (SW_BLAME_TOP: the rest), as a global
 * function: inline, the verifier walked its loop again at every call site
 * and state (half of the blame object's 55k-instruction walks). A global
 * function takes at most five arguments and returns a scalar, hence an
 * index, and the adds in blame_epoch_add. */
SW_VERIFIED_ONCE int blame_epoch_claim(struct sw_blame_slot *s, __u64 culprit, __u8 kind, __u64 ns)
{
	__u64 least = ~0ULL;
	__u32 smallest = 0;
	struct sw_blame_culprit *t;

	if (!s)
		return SW_BLAME_TOP;
	for (int i = 0; i < SW_BLAME_TOP; i++) {
		t = &s->top[i];
		if (t->cgroup == culprit && t->kind == kind && (t->ns || t->requests))
			return i;
		if (!t->ns && !t->requests) {
			t->cgroup = culprit;
			t->kind = kind;
			return i;
		}
		if (t->ns < least) {
			least = t->ns;
			smallest = i;
		}
	}
	s->rest.kind = SW_BLAME_KIND_MIXED;
	if (ns <= least)
		return SW_BLAME_TOP;
	t = &s->top[smallest & (SW_BLAME_TOP - 1)];
	__sync_fetch_and_add(&s->rest.ns, t->ns);
	__sync_fetch_and_add(&s->rest.bytes, t->bytes);
	__sync_fetch_and_add(&s->rest.requests, t->requests);
	t->cgroup = culprit;
	t->kind = kind;
	t->ns = 0;
	t->bytes = 0;
	t->requests = 0;
	return smallest & (SW_BLAME_TOP - 1);
}

static __always_inline void blame_epoch_add(struct sw_blame_slot *s, __u64 culprit, __u8 kind, __u64 ns, __u64 bytes,
					    __u64 requests)
{
	int i = blame_epoch_claim(s, culprit, kind, ns);
	struct sw_blame_culprit *c = i < SW_BLAME_TOP ? &s->top[i & (SW_BLAME_TOP - 1)] : &s->rest;

	/* Guarded like blame_add's: no atomic add of a constant 0. */
	if (ns)
		__sync_fetch_and_add(&c->ns, ns);
	if (bytes)
		__sync_fetch_and_add(&c->bytes, bytes);
	if (requests)
		__sync_fetch_and_add(&c->requests, requests);
}

/* Where a request's credit inside a slot's open epoch starts: at its issue,
 * or at the epoch's start (epoch_credit, of the same clock) if it was
 * issued before. Signed differences, so a clock that wrapped compares the
 * right way. */
static __always_inline __u64 blame_epoch_from(__u64 epoch_credit, __u64 issued_credit)
{
	return (__s64)(epoch_credit - issued_credit) > 0 ? epoch_credit : issued_credit;
}

/* The victim's slot on d at now: its own, else a free one (never held, or
 * idle for SW_SLOT_IDLE_NS) claimed by compare-and-swap. Two victims must
 * not share one slot: its credits go to its victim, so one would be
 * charged with the other's waiting (4 victims on 4 CPUs did that, kinds up
 * to 7% past their windows, while idle meant only "no window open now").
 * A claim lost to another victim scans again once. Before 5.12 the loader
 * makes the swap a plain store (see blame_claim): there two first claims
 * at once can still collide. */
static __always_inline __u32 blame_slot_for(struct sw_blame_dev *d, __u64 victim, __u64 now)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		__u32 free = SW_BLAME_SLOTS;
		__u64 was = 0;

		for (int k = 0; k < SW_BLAME_SLOTS; k++) {
			struct sw_blame_slot *s = &d->slot[k];
			__u64 holder = s->victim;

			if (holder == victim)
				return k;
			if (free == SW_BLAME_SLOTS &&
			    (!holder || (s->open <= 0 && s->own <= 0 && now - s->closed_ns > SW_SLOT_IDLE_NS))) {
				free = k;
				was = holder;
			}
		}
		if (free >= SW_BLAME_SLOTS)
			return SW_BLAME_SLOTS;
		if (__sync_val_compare_and_swap(&d->slot[free].victim, was, victim) == was) {
			/* Its own from now: not free again before its first window. */
			d->slot[free].closed_ns = now;
			return free;
		}
	}
	return SW_BLAME_SLOTS;
}

static __always_inline void blame_epoch_reset(struct sw_blame_slot *s)
{
	for (int i = 0; i < SW_BLAME_TOP; i++) {
		s->top[i].ns = 0;
		s->top[i].bytes = 0;
		s->top[i].requests = 0;
		s->top[i].cgroup = 0;
	}
	s->rest.ns = 0;
	s->rest.bytes = 0;
	s->rest.requests = 0;
	s->epoch_credit = s->clock[SW_CLK_CREDIT];
	s->epoch_credit_own = s->clock[SW_CLK_CREDIT_OWN];
}

#endif
