/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The blame engine's kernel half, shared by three objects: fsync.bpf.c opens
 * and closes windows, blkio.bpf.c counts requests in service and credits
 * their fair share, blame.bpf.c follows victim threads through the
 * scheduler. Each object declares these maps; user space creates them once
 * (in blame.bpf.c's object) and hands the same fds to the other two.
 *
 * Lock-free by design: tracepoint programs may not take bpf_spin_lock.
 * Counters are atomic adds; the device clock's last_ns moves by
 * compare-and-swap (blame_claim), which the loader turns into a plain store
 * for kernels before 5.12: there two CPUs advancing the same device within
 * nanoseconds can count a sliver twice. Windows clamp their kinds to their
 * wall time, so no event ever sums past its window.
 */
#ifndef STALLWATCH_BLAME_BPF_H
#define STALLWATCH_BLAME_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "blame_math.h"
#include "core.bpf.h"
#include "maps.bpf.h"
#include "stallwatch.h"

/* Victims, filled by user space from the --victim selectors: processes by
 * tgid (comm selectors) and cgroups by id (cgroup and pod selectors). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} victim_tasks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u8);
} victim_cgroups SEC(".maps");

/* cgroup the io controller charges -> the victim it stands for (user space,
 * io_charge.h): a victim without the io controller is charged to an
 * ancestor, and the flusher's writes of its pages name that ancestor as
 * owner. Filled only where the victim's branch is all that runs there. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u64);
} blame_owner_alias SEC(".maps");

/* comm= selectors without glob characters, by name: a process that execs,
 * syncs and exits between two of user space's scans is still a victim.
 * Keyed by the thread group leader's comm, as /proc/PID/comm names it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SW_VICTIM_COMMS_MAX);
	__type(key, struct sw_comm);
	__type(value, __u8);
} victim_comms SEC(".maps");

/* Bumped by user space after each change to the three victim maps: a
 * verdict remembered under an older generation is asked again. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} victim_gen SEC(".maps");

/* Whole-disk dev_t -> blame state. An entry exists only for devices a
 * victim has synced on; block events of other devices miss this lookup
 * and do nothing more. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct sw_blame_dev);
} blame_dev SEC(".maps");

/* Superblock dev_t -> the physical disk a window on it watches, for
 * filesystems on a stack (device mapper, md, overlayfs, btrfs), whose own
 * device never carries a request. Set by user space from sysfs; absent:
 * the filesystem's own disk. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} blame_disk_of SEC(".maps");

/* Whole disk -> its group's key, for the members of a stack over several
 * disks (a stripe, RAID, an LV spanning physical volumes, a multi-device
 * btrfs): their requests share one blame state, so a window on the stack
 * sees every request of every member; absent: the disk is its own. Set by
 * user space; the key is one member's dev_t. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} blame_group_of SEC(".maps");

/* dm-crypt devices in a group (dev_t -> 1): their workers hold bios,
 * encrypting, before the disks below see them, so their bios count as in
 * service from queue to completion. Set by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u8);
} blame_bio_dev SEC(".maps");

static __always_inline __u32 *blame_group_lookup(__u32 disk)
{
	return bpf_map_lookup_elem(&blame_group_of, &disk);
}

/* The blame state key a window on filesystem sdev (whose own disk is disk) watches. */
static __always_inline __u32 blame_disk(__u32 sdev, __u32 disk)
{
	__u32 *under = bpf_map_lookup_elem(&blame_disk_of, &sdev), *group;

	if (under)
		disk = *under;
	group = blame_group_lookup(disk);
	return group ? *group : disk;
}

/* tid -> open window. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct sw_blame_win);
} blame_win SEC(".maps");

/* Entries in blame_win: while there are none, the scheduler's programs have
 * no victim thread to follow and return at once (a context switch took 200
 * ns of BPF time here without, 0.95 a request under a block load). Counted
 * up before a window is made, down after it is gone; a window left open by
 * a thread that died inside its call keeps them looking, no worse than
 * before. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __s64);
} blame_windows SEC(".maps");

static __always_inline void blame_windows_add(__s64 n)
{
	__u32 zero = 0;
	__s64 *v = bpf_map_lookup_elem(&blame_windows, &zero);

	if (v)
		__sync_fetch_and_add(v, n);
}

static __always_inline bool blame_any_window(void)
{
	__u32 zero = 0;
	__s64 *v = bpf_map_lookup_elem(&blame_windows, &zero);

	return !v || *v > 0;
}

/* (victim, culprit, device, kind) -> blamed time. Sized by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct sw_blame_key);
	__type(value, struct sw_blame_val);
} blame SEC(".maps");

/* Per possible CPU (sized by user space): who ran there while a victim
 * thread waited in its queue. An array, not a per-CPU map: a woken thread's
 * waker and a migrated thread's new CPU read and count watchers on another
 * CPU's entry. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_run_ring);
} run_ring SEC(".maps");

/* Per CPU: the last request issued there on a victim disk. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_blame_issuer);
} blame_issuer SEC(".maps");

/* Slow windows only. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} blame_events SEC(".maps");

static __always_inline void blame_add(__u64 victim, __u64 culprit, __u32 dev, __u8 kind, __u64 ns, __u64 count)
{
	static const struct sw_blame_val zero;
	struct sw_blame_key key = { .victim = victim, .culprit = culprit, .dev = dev, .kind = kind };
	struct sw_blame_val *v;

	if (!ns && !count)
		return;
	v = sw_lookup_or_init(&blame, &key, &zero, SW_DROP_BLAME_SERIES_FULL);
	if (!v)
		return;
	/* Guarded: clang turns an atomic add of a constant 0 into an atomic
	 * OR, which 5.10's verifier refuses ("BPF_STX uses reserved fields"). */
	if (ns)
		__sync_fetch_and_add(&v->ns, ns);
	if (count)
		__sync_fetch_and_add(&v->count, count);
}

static __always_inline struct sw_blame_dev *blame_dev_of(__u32 disk)
{
	if (!disk)
		return NULL;
	return bpf_map_lookup_elem(&blame_dev, &disk);
}

/* A request was just issued on victim disk disk by the current thread: a
 * worker it wakes next serves it (blame.bpf.c, helper_begin). */
static __always_inline void blame_note_issue(__u32 disk, __u64 now)
{
	__u32 zero = 0;
	struct sw_blame_issuer *is = bpf_map_lookup_elem(&blame_issuer, &zero);

	if (!is)
		return;
	is->ns = now;
	is->tid = (__u32)bpf_get_current_pid_tgid();
	is->disk = disk;
}

/* ---- scheduler side: a window's thread changes state (blame_math.h) ---- */

static __always_inline struct sw_run_ring *run_ring_of(__u32 cpu)
{
	if (cpu == SW_NO_CPU)
		return NULL;
	return bpf_map_lookup_elem(&run_ring, &cpu);
}

/* The ring of the CPU whose queue holds the window's waiting thread. */
static __always_inline struct sw_run_ring *blame_wait_ring(const struct sw_blame_win *w)
{
	return run_ring_of(w->wait.cpu);
}

static __always_inline void blame_on_block(struct sw_blame_win *w, __u64 now)
{
	blame_win_block(w, blame_dev_of(w->disk), blame_wait_ring(w), now);
}

static __always_inline void blame_on_wake(struct sw_blame_win *w, const struct blame_sched *t, __u64 now)
{
	blame_win_wake(w, blame_dev_of(w->disk), run_ring_of(t->cpu), t, now);
}

static __always_inline void blame_on_run(struct sw_blame_win *w, __u32 thr_mark, __u64 now)
{
	blame_win_run(w, blame_dev_of(w->disk), blame_wait_ring(w), thr_mark, true, now);
}

static __always_inline void blame_on_preempt(struct sw_blame_win *w, const struct blame_sched *t, __u64 now)
{
	blame_win_preempt(w, run_ring_of(t->cpu), t, now);
}

static __always_inline void blame_on_migrate(struct sw_blame_win *w, __u32 cpu, __u64 now)
{
	blame_win_migrate(w, blame_wait_ring(w), run_ring_of(cpu), cpu, now);
}

/* ---- fsync side: windows open and close ---- */

/* Slow-event threshold, set by user space (--slow-threshold). */
const volatile __u64 cfg_blame_slow_ns = 10 * SW_NSEC_PER_MSEC;

static __always_inline bool blame_is_victim(__u64 cgroup_id)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct task_struct *task;
	struct sw_comm comm = {};

	if (bpf_map_lookup_elem(&victim_tasks, &tgid) || bpf_map_lookup_elem(&victim_cgroups, &cgroup_id))
		return true;
	/* Read as a string into zeros: before 5.19 a shorter name left the
	 * tail of the previous one in place. */
	if (sw_have_task_btf()) {
		const char *name = bpf_get_current_task_btf()->group_leader->comm;
		bool end = false;

#pragma unroll
		for (int i = 0; i < (int)sizeof(comm.name); i++) {
			end = end || !name[i];
			comm.name[i] = end ? 0 : name[i];
		}
	} else {
		task = (struct task_struct *)bpf_get_current_task();
		BPF_CORE_READ_STR_INTO(&comm.name, task, group_leader, comm);
	}
	return bpf_map_lookup_elem(&victim_comms, &comm);
}

/* blame_is_victim's verdict for one thread, kept with everything it
 * depends on: asking costs three hash lookups, and a thread that syncs asks
 * on every call. */
struct blame_memo {
	__u64 comm[2]; /* the process's name as the kernel holds it, tail included */
	__u64 cgroup_id;
	__u32 gen; /* victim_gen when asked */
	__u32 tgid;
	__u8 victim;
	__u8 known;
	__u8 pad[6];
};

static __always_inline bool blame_is_victim_memo(struct blame_memo *m, __u32 tgid, __u64 cgroup_id)
{
	__u32 zero = 0, *gen = bpf_map_lookup_elem(&victim_gen, &zero);
	__u32 g = gen ? *gen : 0;
	__u64 comm[2];

	if (sw_have_task_btf()) {
		const __u64 *c = (const __u64 *)bpf_get_current_task_btf()->group_leader->comm;

		comm[0] = c[0];
		comm[1] = c[1];
	} else {
		BPF_CORE_READ_INTO(&comm, (struct task_struct *)bpf_get_current_task(), group_leader, comm);
	}
	if (m->known && m->gen == g && m->tgid == tgid && m->cgroup_id == cgroup_id && m->comm[0] == comm[0] &&
	    m->comm[1] == comm[1])
		return m->victim;
	m->victim = blame_is_victim(cgroup_id);
	m->known = 1;
	m->gen = g;
	m->tgid = tgid;
	m->cgroup_id = cgroup_id;
	m->comm[0] = comm[0];
	m->comm[1] = comm[1];
	return m->victim;
}

/* Opens a window for the current thread's call on file (superblock device
 * sdev), which the caller has found to be a victim's; false if there is no
 * room for it. */
static __always_inline bool blame_open(struct file *file, __u32 sdev, __u16 op, __u16 file_class, __u64 cgroup_id,
				       __u64 start_ns)
{
	static const struct sw_blame_win zero_win;
	static const struct sw_blame_dev zero_dev;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sw_blame_dev *d = NULL;
	struct sw_blame_win *w;
	__u32 disk;
	__u32 slot = SW_BLAME_SLOTS;
	long err;

	disk = blame_disk(sdev, sw_file_disk(file));
	if (disk) {
		/* No room for the disk means no window on it. */
		d = sw_lookup_or_init(&blame_dev, &disk, &zero_dev, SW_DROP_BLAME_WINDOWS_FULL);
		if (d) {
			slot = blame_slot_for(d, cgroup_id, start_ns);
			if (slot >= SW_BLAME_SLOTS)
				count_drop(SW_DROP_BLAME_SLOTS_FULL);
		}
	}
	blame_windows_add(1);
	err = bpf_map_update_elem(&blame_win, &tid, &zero_win, BPF_NOEXIST);
	if (err == -SW_EEXIST) {
		/* The thread's last window was never closed (it died in its
		 * call, its exit unseen): this one takes its place. */
		blame_windows_add(-1);
		err = bpf_map_update_elem(&blame_win, &tid, &zero_win, BPF_ANY);
	}
	if (err) {
		blame_windows_add(-1);
		count_drop(SW_DROP_BLAME_WINDOWS_FULL);
		return false;
	}
	w = bpf_map_lookup_elem(&blame_win, &tid);
	if (!w)
		return false;
	w->start_ns = start_ns;
	w->since_ns = start_ns;
	w->victim = cgroup_id;
	w->disk = disk;
	w->sdev = sdev;
	w->op = op;
	w->file_class = file_class;
	w->state = SW_WIN_RUNNING;
	w->slot = slot;
	w->wait.cpu = SW_NO_CPU;
	if (file) {
		w->ino = BPF_CORE_READ(file, f_inode, i_ino);
		bpf_probe_read_kernel_str(w->file, sizeof(w->file), BPF_CORE_READ(file, f_path.dentry, d_name.name));
	}
	if (d && slot < SW_BLAME_SLOTS) {
		struct sw_blame_slot *s = &d->slot[slot];

		if (s->open <= 0)
			blame_epoch_reset(s);
		__sync_fetch_and_add(&s->open, 1);
	}
	return true;
}

static __always_inline void blame_copy_culprit(struct sw_blame_culprit *dst, const struct sw_blame_culprit *src)
{
	dst->cgroup = src->cgroup;
	dst->ns = src->ns;
	dst->bytes = src->bytes;
	dst->requests = src->requests;
	dst->kind = src->kind;
}

/* Closes the current thread's window at now: kinds clamped to the wall
 * time, the victim-only kinds added to the blame map, and a slow window
 * sent to user space. */
static __always_inline void blame_close(__u64 now)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sw_blame_win *w = bpf_map_lookup_elem(&blame_win, &tid);
	struct sw_blame_dev *d;
	struct sw_blame_slot *s = NULL;
	struct sw_blame_event *e;
	__u64 wall, cpu_unnamed;
	__u32 k;

	if (!w)
		return;
	wall = blame_win_finish(w, blame_dev_of(w->disk), blame_wait_ring(w), now);
	/* I/O kinds reach the blame map per request, with their culprit. */
	blame_add(w->victim, 0, w->disk, SW_BLAME_DEVICE, w->kinds[SW_BLAME_DEVICE], 0);
	cpu_unnamed = w->kinds[SW_BLAME_CPU];
	for (int i = 0; i < SW_CPU_TOP; i++) {
		__u64 ns = w->wait.by[i].ns;

		if (ns > cpu_unnamed)
			ns = cpu_unnamed;
		cpu_unnamed -= ns;
		blame_add(w->victim, w->wait.by[i].cgroup, w->disk, SW_BLAME_CPU, ns, 0);
	}
	blame_add(w->victim, 0, w->disk, SW_BLAME_CPU, cpu_unnamed, 0);
	blame_add(w->victim, w->victim, w->disk, SW_BLAME_CPU_THROTTLED, w->kinds[SW_BLAME_CPU_THROTTLED], 0);
	blame_add(w->victim, 0, w->disk, SW_BLAME_OTHER, w->kinds[SW_BLAME_OTHER], 0);
	blame_add(w->victim, 0, w->disk, SW_BLAME_WINDOW, wall, 1);

	d = blame_dev_of(w->disk);
	k = w->slot;
	if (d && k < SW_BLAME_SLOTS) {
		s = &d->slot[k];
		s->closed_ns = now;
		__sync_fetch_and_add(&s->open, -1);
	}
	if (wall >= cfg_blame_slow_ns) {
		e = bpf_ringbuf_reserve(&blame_events, sizeof(*e), 0);
		if (!e) {
			count_drop(SW_DROP_BLAME_RINGBUF_FULL);
		} else {
			__u64 id = bpf_get_current_pid_tgid();

			e->start_ns = w->start_ns;
			e->wall_ns = wall;
			e->victim = w->victim;
			e->ino = w->ino;
			e->tgid = id >> 32;
			e->tid = (__u32)id;
			e->disk = w->disk;
			e->sdev = w->sdev;
			e->op = w->op;
			e->file_class = w->file_class;
			e->overlapping = s && s->open > 0 ? s->open : 0;
			for (int i = 0; i < SW_BLAME__KINDS; i++)
				e->kinds[i] = w->kinds[i];
			e->kinds[SW_BLAME_OTHER] += w->kinds[SW_WIN_KTHREAD_IO];
			e->kinds[SW_BLAME_CPU] += w->kinds[SW_WIN_HELPER_CPU];
			for (int i = 0; i < SW_BLAME_TOP; i++) {
				if (s)
					blame_copy_culprit(&e->top[i], &s->top[i]);
				else
					__builtin_memset(&e->top[i], 0, sizeof(e->top[i]));
			}
			if (s)
				blame_copy_culprit(&e->rest, &s->rest);
			else
				__builtin_memset(&e->rest, 0, sizeof(e->rest));
			for (int i = 0; i < SW_CPU_TOP; i++) {
				e->cpu_by[i].cgroup = w->wait.by[i].cgroup;
				e->cpu_by[i].ns = w->wait.by[i].ns;
			}
			bpf_get_current_comm(e->comm, sizeof(e->comm));
			__builtin_memcpy(e->file, w->file, sizeof(e->file));
			bpf_ringbuf_submit(e, 0);
		}
	}
	if (!bpf_map_delete_elem(&blame_win, &tid))
		blame_windows_add(-1);
}

#endif
