/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The only header shared between the BPF programs and user space: plain
 * fixed-width structs, enums and constants. No kernel types, no pointers;
 * padding is explicit and every size is asserted at the end of this file.
 */
#ifndef STALLWATCH_H
#define STALLWATCH_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* fsync-family operations, the `op` label. Order is ABI between kernel and
 * user space; append only. */
enum sw_fsync_op {
	SW_OP_FSYNC = 0,
	SW_OP_FDATASYNC = 1,
	SW_OP_SYNC_FILE_RANGE = 2,
	SW_OP_MSYNC = 3, /* only MS_SYNC: MS_ASYNC does not wait */
	SW_OP_SYNCFS = 4,
	SW_OP_URING_FSYNC = 5,
	SW_OP_URING_SYNC_FILE_RANGE = 6,
	/* fentry rung only: vfs_fsync_range calls no syscall above showed
	 * (O_SYNC/O_DSYNC writes, nfsd commits, ...). */
	SW_OP_VFS_FSYNC = 7,
	SW_OP__COUNT = 8,
};

/* Where an event was lost, the `source`/`reason` labels of
 * stallwatch_events_lost_total, or (the two block-layer anomalies, which
 * lose nothing of ours) of stallwatch_block_anomalies_total. Index into the
 * per-CPU `drops` array. */
enum sw_drop {
	SW_DROP_FSYNC_INFLIGHT_FULL = 0, /* fsync_start / uring_start full, or no task storage entry */
	SW_DROP_FSYNC_HIST_FULL = 1,	 /* fsync_hist full: new key refused */
	SW_DROP_BLOCK_INFLIGHT_FULL = 2, /* blk_rq full: request not timed */
	SW_DROP_BLOCK_SERIES_FULL = 3,	 /* blk_io or blk_hist full: new key refused */
	/* A request was issued again without a requeue: its previous
	 * incarnation's completion never reached us. */
	SW_DROP_BLOCK_COMPLETION_MISSED = 4,
	SW_DROP_BLOCK_UNMATCHED_COMPLETION = 5, /* completion of a request never seen issued */
	SW_DROP_CGROUP_RINGBUF_FULL = 6,	/* cgroup mkdir/rmdir event not delivered */
	SW_DROP_BLAME_RINGBUF_FULL = 7,		/* slow-fsync event not delivered */
	SW_DROP_BLAME_SLOTS_FULL = 8,		/* more victims on one device than slots: no window */
	SW_DROP_BLAME_WINDOWS_FULL = 9,		/* blame_win full: no window */
	SW_DROP_BLAME_SERIES_FULL = 10,		/* blame map full: blamed time not counted */
	SW_DROP_PROBE_INFLIGHT_FULL = 11,	/* probe_socks / exec_start full: probe not timed */
	SW_DROP_PROBE_SERIES_FULL = 12,		/* probe_hist full: probe not counted */
	SW_DROP_PROBE_RINGBUF_FULL = 13,	/* probe event not delivered */
	SW_DROP_BLOCK_BIO_FULL = 14,		/* blk_bio full: request timed from insert, by its issuer */
	SW_DROP_BLOCK_FLUSH_BY_FULL = 15,	/* blk_flush_by full: a flush's asker unknown */
	SW_DROP_PROBE_FLOW_FULL = 16,		/* probe_flows full: accepting pod unknown */
	/* A request in service on a victim's disk that the kernel had already
	 * freed, its completion unseen: taken out of service when found. */
	SW_DROP_BLOCK_COMPLETION_LOST = 17,
	SW_DROP__COUNT = 18,
};

/*
 * Histogram buckets, upper bounds inclusive (Prometheus `le`):
 * 50, 100, 250, 500 us, then 1 ms * 2^n for n = 0..13 (etcd's own
 * ExponentialBuckets(0.001, 2, 14)), then +Inf. Index SW_HIST_BUCKETS - 1
 * is +Inf.
 */
#define SW_HIST_SUBMS_BUCKETS 4
#define SW_HIST_EXP_BUCKETS 14
#define SW_HIST_BUCKETS (SW_HIST_SUBMS_BUCKETS + SW_HIST_EXP_BUCKETS + 1)
#define SW_NSEC_PER_MSEC 1000000ULL

static inline __u32 sw_bucket_index(__u64 ns)
{
	if (ns <= 50000ULL)
		return 0;
	if (ns <= 100000ULL)
		return 1;
	if (ns <= 250000ULL)
		return 2;
	if (ns <= 500000ULL)
		return 3;
	for (__u32 n = 0; n < SW_HIST_EXP_BUCKETS; n++) {
		if (ns <= (SW_NSEC_PER_MSEC << n))
			return SW_HIST_SUBMS_BUCKETS + n;
	}
	return SW_HIST_BUCKETS - 1;
}

/* What the synced file is, the `file_class` label: etcd's own layout,
 * <data-dir>/member/wal/<seq>-<index>.wal and <data-dir>/member/snap/db. */
enum sw_file_class {
	SW_FILE_OTHER = 0,
	SW_FILE_WAL = 1,
	SW_FILE_DB = 2,
};

/* Key of fsync_hist: one histogram per (cgroup, device, op, file class). */
struct sw_fsync_key {
	__u64 cgroup_id;  /* cgroup v2 id (inode of the cgroup2 directory) */
	__u32 dev;	  /* kernel dev_t of the file's superblock: major << 20 | minor; 0 = unknown */
	__u16 op;	  /* enum sw_fsync_op */
	__u16 file_class; /* enum sw_file_class */
};

/* Value of fsync_hist. Counts are per bucket, not cumulative. */
struct sw_hist {
	__u64 buckets[SW_HIST_BUCKETS];
	__u64 sum_ns; /* exact sum of durations, ns */
};

/* In-flight call, value of fsync_start (by tid) and uring_start (by request). */
struct sw_fsync_start {
	__u64 start_ns;	  /* bpf_ktime_get_ns(), CLOCK_MONOTONIC */
	__u64 cgroup_id;  /* caller's cgroup v2 id at entry */
	__u32 dev;	  /* as in sw_fsync_key */
	__u16 op;	  /* enum sw_fsync_op */
	__u16 file_class; /* enum sw_file_class */
	__u32 window;	  /* 1: a victim's blame window is open for this call */
	__u32 pad;
};

/* In-flight vfs_fsync_range, value of vfs_start (by tid). The file tells
 * the outer call from a nested one (overlayfs syncs the upper file). */
struct sw_vfs_start {
	struct sw_fsync_start call;
	__u64 file; /* struct file * of the outermost call, compared only */
};

/* Key of uring_start: the request pointer where the tracepoints carry it
 * (newer kernels), else the ring and the user_data (5.10 has none). */
struct sw_uring_key {
	__u64 ring;
	__u64 req;
};

/* Block request operation, the `op` label. */
enum sw_blk_op {
	SW_BLK_READ = 0,
	SW_BLK_WRITE = 1,
	SW_BLK_FLUSH = 2,
	SW_BLK_DISCARD = 3, /* discard, secure erase, write zeroes */
	SW_BLK_OTHER = 4,
	SW_BLK_OP__COUNT = 5,
};

/* Phase of a request, the `phase` label. */
enum sw_blk_phase {
	SW_PHASE_QUEUE = 0,   /* bio queued (or request inserted) -> issued to the driver */
	SW_PHASE_SERVICE = 1, /* issued -> completed */
};

/* Who submitted a request: a user task, or which kind of kernel thread. */
enum sw_submitter_kind {
	SW_KIND_USER = 0,
	SW_KIND_JOURNAL = 1,   /* jbd2 */
	SW_KIND_WRITEBACK = 2, /* kworker running a flush-<dev> work item */
	SW_KIND_KWORKER = 3,   /* other kworkers: loop workers, dio completion, ... */
	SW_KIND_KTHREAD = 4,   /* other kernel threads */
	SW_KIND__COUNT = 5,
};

/* Key of blk_hist: one histogram per (device, op, phase). */
struct sw_blk_hist_key {
	__u32 dev;  /* disk dev_t, kernel encoding (major << 20 | minor) */
	__u8 op;    /* enum sw_blk_op */
	__u8 phase; /* enum sw_blk_phase */
	__u8 shard; /* CPU % SW_BLK_SHARDS: user space sums the shards */
	__u8 pad;
};

/*
 * The block maps are written at every completion, from every CPU. One
 * shared entry per series would bounce its cache line between them all;
 * one copy per CPU (a per-CPU map) costs memory per possible CPU (2.4 MiB
 * each on this agent's maps: 450 MiB on a 192-CPU node). A series keeps
 * SW_BLK_SHARDS entries instead, chosen by CPU: memory that does not grow
 * with the node, and CPUs that share a line only with every eighth other.
 */
#define SW_BLK_SHARDS 8

/* Key of blk_io: counters per (submitter, owner, device, op, kind). */
struct sw_blk_io_key {
	__u64 submitter; /* cgroup v2 id of the task that queued the bio */
	__u64 owner;	 /* cgroup id of the blkcg charged (bi_blkg); 0 = none */
	__u32 dev;	 /* disk dev_t */
	__u32 part;	 /* partition dev_t where the bio named one, else 0 */
	__u8 op;	 /* enum sw_blk_op */
	__u8 kind;	 /* enum sw_submitter_kind */
	__u8 shard;	 /* CPU % SW_BLK_SHARDS: user space sums the shards */
	__u8 pad[5];
};

/* Value of blk_io, one per shard. */
struct sw_blk_io {
	__u64 requests; /* completed requests */
	__u64 bytes;	/* bytes completed */
	__u64 busy_ns;	/* sum of service times (issue -> complete), ns */
	__u64 preflush; /* requests carrying REQ_PREFLUSH */
	__u64 fua;	/* requests carrying REQ_FUA */
};

/* A request in flight, value of blk_rq (by request, or by dev+sector on
 * the classic-tracepoint rung). */
/* Sizes the blame engine's per-request state needs (see below). */
#define SW_IO__CLASSES_ 4
#define SW_BLAME_SLOTS_ 4

/* Slot tables (bpf/slots.bpf.h): state per request in arrays of SW_SLOTS,
 * an address owning one of SW_SLOT_PROBES slots from its hash. Struct
 * requests sit in arrays of one tag set: the low bits are alignment, and a
 * multiplicative hash spreads the rest. */
#define SW_SLOT_BITS 14
#define SW_SLOTS (1U << SW_SLOT_BITS)
#define SW_SLOT_PROBES 4

static inline __u32 sw_slot_at(__u64 id, __u32 probe)
{
	return ((__u32)(((id >> 4) * 0x9E3779B97F4A7C15ULL) >> (64 - SW_SLOT_BITS)) + probe) & (SW_SLOTS - 1);
}

struct sw_blk_rq {
	__u64 queue_ns; /* bio queued or request inserted, CLOCK_MONOTONIC ns */
	__u64 issue_ns; /* issued to the driver; 0 = not yet */
	__u64 submitter;
	__u64 owner;
	__u32 dev;
	__u32 part;
	__u32 bytes;	  /* bytes of the request at issue */
	__u32 done_bytes; /* bytes completed so far (partial completions) */
	__u8 op;
	__u8 kind;
	__u8 preflush;
	__u8 fua;
	/* Taken out of service by end_lost (bpf/blkio.bpf.c): the kernel had
	 * freed it, its completion unseen. */
	__u8 blame_lost;
	__u8 blame_class;   /* enum sw_blame_io_class of its submitter */
	__u8 blame_class2;  /* a flush: dirtier2's class */
	__u8 blame_alone;   /* nothing else was in service on its device at issue */
	__u8 blame_grouped; /* its disk shares blame state with others (blame_group_of) */
	__u8 blame_bio;	    /* a bio on a dm-crypt device (blame_bio_dev), not a request */
	/* A write: its disk's flush count (mod 65535, plus 1) when it was
	 * counted in blame_ahead; 0: not counted. */
	__u16 blame_ahead_gen;
	__u32 blame_weight;		      /* cost weight in service (sum of blame_class_w) */
	__u32 blame_class_w[SW_IO__CLASSES_]; /* weight counted per I/O class */
	__u32 blame_own_w[SW_BLAME_SLOTS_];   /* weight counted as victim slot k's own */
	__u32 blame_held_pages;		      /* a flush: 4 KiB pages its device's cache held at issue */
	/* A journal write of a transaction: dirtier's share of it in 1/65536
	 * (dirtier2 has the rest); 0: not split. */
	__u32 tx_share;
	__u32 blame_issue_seq; /* its device's issue count after its own (low bits) */
	__u32 blame_dev;       /* the blame state it is counted in: dev, or its group's key */
	/* Its place in its device's recent_rq ring, plus 1 (0: none). */
	__u32 blame_recent;
	/* Its slot in blk_rq_slot, plus 1 (bpf/slots.bpf.h); 0: in blk_rq. */
	__u32 slot;
	/* 1: counted in its device's blame state (sw_blame_dev). A word of its
	 * own, taken back by compare-and-swap (64-bit: clang 14's BPF target
	 * has no 32-bit atomics at its default CPU), so that of two paths
	 * ending it at once (its completion, the check for lost ones) one does. */
	__u64 blame_counted;
	/* Its struct request: the key on the request-pointer rungs; 0 on the
	 * classic one and for bios. */
	__u64 rq;
	/* Whose data it writes: for a kernel thread writing pages, the cgroup
	 * that dirtied them; for the journal's own blocks, the transaction's
	 * largest contributor; for a flush, the largest writer to the cache.
	 * 0: unknown. */
	__u64 dirtier;
	/* A flush: the second largest writer, the culprit of the others' part
	 * for a victim that is itself the largest. A journal write: the
	 * transaction's other contributors. */
	__u64 dirtier2;
	__u64 blame_credit[SW_BLAME_SLOTS_];	 /* each slot's SW_CLK_CREDIT at issue */
	__u64 blame_credit_own[SW_BLAME_SLOTS_]; /* each slot's SW_CLK_CREDIT_OWN at issue */
	__u64 blame_held[SW_BLAME_SLOTS_];	 /* each slot's held_ns at issue */
	__u64 blame_held_own[SW_BLAME_SLOTS_];	 /* each slot's held_own_ns at issue */
};

/* A bio queued but not yet in a request, value of blk_bio and blk_bio_slot. */
struct sw_blk_bio {
	__u64 queue_ns;
	__u64 submitter;
	__u64 tx; /* the journal transaction a jbd2 thread commits: fs dev_t << 32 | tid; 0: none */
	__u8 kind;
	__u8 pad[3];
	__u32 slot; /* its slot in blk_bio_slot, plus 1 (bpf/slots.bpf.h); 0: in blk_bio */
};

/* A journal (jbd2) transaction on a victim's filesystem: whose handles
 * dirtied its blocks. The journal's own writes of it (descriptor, metadata
 * and commit blocks) are charged to these in proportion. */
#define SW_TX_TOP 4
struct sw_tx_key {
	__u32 fs_dev; /* the filesystem's dev_t, as jbd2's tracepoints give it */
	__u32 tid;
};

struct sw_tx_part {
	__u64 cgroup;
	__u64 blocks; /* dirtied by its handles */
};

struct sw_tx {
	struct sw_tx_part c[SW_TX_TOP]; /* the largest contributors; smaller ones left out */
};

/* Key of blk_rq on the classic-tracepoint rung, which has no pointers. */
struct sw_blk_sector_key {
	__u64 sector;
	__u32 dev;
	__u32 pad;
};

/* cgroup created or removed, through the `cgroup_events` ring buffer. */
enum sw_cgroup_event_type {
	SW_CGROUP_MKDIR = 0,
	SW_CGROUP_RMDIR = 1,
};

#define SW_CGROUP_PATH_MAX 512

struct sw_cgroup_event {
	__u64 id;		       /* cgroup id (kernfs node id = inode on cgroup2) */
	__u32 hierarchy_id;	       /* 0 is the cgroup2 hierarchy */
	__u32 type;		       /* enum sw_cgroup_event_type */
	char path[SW_CGROUP_PATH_MAX]; /* relative to the hierarchy root, NUL-terminated */
};

/*
 * Blame. A victim's fsync-family call on a block device opens a window; the
 * window's wall time is split into kinds (enum sw_blame_kind) that sum to it.
 * While the victim's thread is blocked, the device's state decides the kind:
 * requests in service split the time fairly (each gets dt / in-flight), and
 * an idle device is `device`. Runnable is `cpu`, charged to whoever ran on
 * the CPU whose run queue held the thread (sw_run_ring), or
 * `cpu_throttled` while the victim's own CPU quota held it back; running is
 * `other`.
 */
enum sw_blame_kind {
	SW_BLAME_OWN_IO = 0,
	SW_BLAME_NEIGHBOR_IO = 1,
	SW_BLAME_JOURNAL = 2,
	SW_BLAME_WRITEBACK = 3,
	SW_BLAME_DEVICE = 4,
	SW_BLAME_CPU = 5,
	SW_BLAME_OTHER = 6,
	SW_BLAME_CPU_THROTTLED = 7,
	SW_BLAME__KINDS = 8,
	/* Not a kind: the blame map's record of the windows themselves. */
	SW_BLAME_WINDOW = 8,
};
/* Window-only parts of kinds (sw_blame_win.kinds past SW_BLAME__KINDS). */
#define SW_WIN_KTHREAD_IO SW_BLAME__KINDS	/* shown as `other` */
#define SW_WIN_HELPER_CPU (SW_BLAME__KINDS + 1) /* shown as `cpu` */

/* Class of a request in service, relative to no victim; own-ness is per
 * victim slot (sw_blk_rq.blame_own_w). */
enum sw_blame_io_class {
	SW_IO_USER = 0,	     /* a user task: neighbour (or own) */
	SW_IO_JOURNAL = 1,   /* jbd2, XFS log and AIL workers */
	SW_IO_WRITEBACK = 2, /* flusher kworkers (flush-<bdi>) */
	SW_IO_KTHREAD = 3,   /* other kernel threads and kworkers: blamed as `other` */
	SW_IO__CLASSES = 4,
};

/* Device clocks, advanced only while a slot's victim is blocked; a window
 * adds the deltas over its blocked intervals. CREDIT counts fair-share time
 * scaled by SW_CREDIT_SHIFT and multiplied by blocked windows: a request's
 * blamed time is the credit clock's advance between its issue and its end. */
enum sw_blame_clock {
	SW_CLK_OWN = 0,
	SW_CLK_NEIGHBOR = 1,
	SW_CLK_JOURNAL = 2,
	SW_CLK_WRITEBACK = 3,
	SW_CLK_KTHREAD = 4,
	SW_CLK_IDLE = 5,
	SW_CLK_CREDIT = 6,     /* per unit weight of requests not the slot's own */
	SW_CLK_CREDIT_OWN = 7, /* per unit weight of the slot's own requests */
	/* While a thread serving the device's requests (a loop device's
	 * worker) waits for a CPU: the time, and the time multiplied by
	 * blocked windows and divided among the threads waiting. */
	SW_CLK_STALL = 8,
	SW_CLK_STALL_CREDIT = 9,
	SW_CLK__COUNT = 10,
};
#define SW_CREDIT_SHIFT 16

#define SW_BLAME_SLOTS 4 /* victims per device at once */
#define SW_VICTIM_COMMS_MAX 64 /* comm= selectors matched by name in the kernel */
struct sw_comm {
	char name[16]; /* NUL-padded */
};
#define SW_BLAME_TOP 4	 /* culprits named in one slow event */
#define SW_BLAME_KIND_MIXED 0xff /* kind of the rest of an event's culprits: several */

/* A culprit's part of the current window epoch of a victim slot. */
struct sw_blame_culprit {
	__u64 cgroup; /* culprit's cgroup id (owner where trusted, else submitter) */
	__u64 ns;     /* blamed time: fair share of service while the victim was blocked */
	__u64 bytes;  /* bytes of its requests that completed in the epoch */
	__u64 requests;
	__u8 kind; /* enum sw_blame_kind */
	__u8 pad[7];
};

struct sw_blame_slot {
	__u64 victim;  /* victim cgroup id; 0: free */
	__s64 open;    /* windows open */
	__s64 blocked; /* of those, windows whose thread is blocked now */
	__s64 own;     /* weight of the victim's own requests in service */
	/* ns of service the cost model expects the own requests in service to
	 * take: blocked time up to it is the victim's own, past it the
	 * requests of others in service made it wait. */
	__s64 own_budget;
	__u64 clock[SW_CLK__COUNT];
	/* Blocked time (x threads blocked) while others' requests were in
	 * service, and while own ones were: no request's credit can exceed
	 * their advance over its service (blame_credit_capped). */
	__u64 held_ns;
	__u64 held_own_ns;
	/* The last own request that added expected time: a copy of it issued
	 * to another member of a group just after adds none (blame_issue_slot). */
	__u64 par_ns;
	__u32 par_dev;
	__u32 par_bytes;
	__u64 epoch_credit;	/* SW_CLK_CREDIT when open went 0 -> 1 */
	__u64 epoch_credit_own; /* SW_CLK_CREDIT_OWN then */
	__u64 closed_ns;	/* its victim's last window closed (CLOCK_MONOTONIC) */
	__u64 blocked_ns;	/* a window's thread last blocked (CLOCK_MONOTONIC) */
	struct sw_blame_culprit top[SW_BLAME_TOP];
	struct sw_blame_culprit rest;
};

/* A slot whose victim has had no window open for this long may go to
 * another victim. Not sooner: a victim that syncs every few ms is between
 * calls most of the time, and a slot taken from it then is one it is about
 * to open a window on again; the two would share one slot's credits. */
#define SW_SLOT_IDLE_NS (1000ULL * SW_NSEC_PER_MSEC)

/* A disk's stalled count (sw_blame_dev.stalled) holds this long after the
 * last wait began: longer means a wait's end was missed. */
#define SW_STALL_MAX_NS (1000ULL * SW_NSEC_PER_MSEC)

/* What a device's volatile cache took since its last flush was issued:
 * bytes of completed writes by culprit. A flush's cost is writing that
 * out, so its service time is split by these bytes (blame_flush). The same
 * table counts the writes in service (sw_blame_ahead). */
#define SW_CACHE_TOP 6
struct sw_blame_cache_entry {
	__u64 cgroup; /* culprit: submitter, owner or the pages' dirtier */
	__u64 bytes;
	__u8 io_class; /* enum sw_blame_io_class */
	__u8 pad[7];
};

struct sw_blame_cache {
	__u64 bytes; /* every completed write */
	__u64 by_class[SW_IO__CLASSES];
	struct sw_blame_cache_entry top[SW_CACHE_TOP];
	__u64 rest_bytes; /* culprits past the table */
};

/* Writes in service on a disk, not yet completed, by culprit: a flush
 * issued now is served after them (a loop device's worker takes requests
 * in order; a disk's cache takes them before the flush runs), so it writes
 * them out too. Counted at issue, taken back at completion unless a flush
 * took them meanwhile. */
struct sw_blame_ahead {
	struct sw_blame_cache writes;
	__u64 flushes; /* flushes issued on the disk */
};

/* The cost model (blk-iocost's linear one): a request costs
 * base + per_page x its size in 4 KiB pages, read, write and flush apart (a
 * flush's size is what the cache held). Units: 1/16 us. Learnt per device by
 * user space from sw_cost_stats and written to blame_cost. */
enum sw_cost_op {
	SW_COST_READ = 0,
	SW_COST_WRITE = 1,
	SW_COST_FLUSH = 2,
	SW_COST__OPS = 3,
};
#define SW_COST_UNITS_PER_US 16	  /* blame_expected_ns divides by shifting: keep it 16 */
#define SW_COST_DEFAULT_BASE 1600 /* 100 us */
#define SW_COST_DEFAULT_PAGE 80	  /* 5 us per 4 KiB */

struct sw_cost {
	__u32 base[SW_COST__OPS];
	__u32 per_page[SW_COST__OPS];
};

struct sw_cost_key {
	__u32 dev;
	__u32 op; /* enum sw_cost_op */
};

/* Sums for a least-squares fit of service time on size, per (dev, op):
 * x = pages, y = service time in us. Monotonic; user space fits deltas. */
struct sw_cost_stats {
	__u64 n;
	__u64 sx, sy, sxx, sxy;
};

/* Value of blame_dev: one block device's state. */
/* Requests the check for lost completions looks at, per device: the last
 * ones issued (a power of two). */
#define SW_RECENT_RQ 16

struct sw_blame_dev {
	__u64 last_ns;	/* clocks advanced up to here */
	__u64 issued; /* requests issued: one alone at issue and still alone at completion saw none after it */
	__s64 by_class[SW_IO__CLASSES];
	__s64 stalled;	 /* its service threads waiting for a CPU (sw_blame_helper) */
	__u64 stall_ns;	 /* the last one began to wait */
	struct sw_blame_slot slot[SW_BLAME_SLOTS];
	/* The struct requests of the last SW_RECENT_RQ requests issued here
	 * (0: ended), and how far the check has gone round them
	 * (blame_find_lost, bpf/blkio.bpf.c). */
	__u64 recent_rq[SW_RECENT_RQ];
	__u64 recent_seq;
	__u64 check_seq;
};

/* A disk in a group (blame_group_of): its own requests in service and
 * issued, to tell a request alone on its disk for the cost model, which the
 * group's shared state cannot. */
struct sw_disk_busy {
	__s64 in_service;
	__u64 issued;
};

enum sw_blame_state {
	SW_WIN_RUNNING = 0,
	SW_WIN_RUNNABLE = 1,
	SW_WIN_BLOCKED = 2,
	SW_WIN_THROTTLED = 3, /* runnable, held back by its own CPU quota */
};

/* Who ran on one CPU, slice by slice, recorded at each context switch
 * while a victim thread waits in that CPU's run queue (watchers > 0): a
 * waiting victim charges the slices that ended after it became runnable.
 * One per possible CPU; written only by its own CPU's sched_switch. */
#define SW_RUN_RING 64
struct sw_run_slice {
	__u64 end_ns;
	__u64 cgroup; /* the task switched out; 0 = the idle task */
};

struct sw_run_ring {
	__u64 seq; /* slices recorded so far; the next goes to seq % SW_RUN_RING */
	__s64 watchers;
	struct sw_run_slice slice[SW_RUN_RING];
};

/* A window's CPU culprits: the largest named, the rest left unnamed. */
#define SW_CPU_TOP 4
struct sw_cpu_culprit {
	__u64 cgroup;
	__u64 ns;
};

/* A thread's wait in a CPU's run queue, and who ran there meanwhile. */
struct sw_cpu_wait {
	__u32 cpu;     /* whose run queue holds it; SW_NO_CPU: none watched */
	__u32 pad;
	__u64 seq;     /* that CPU's sw_run_ring.seq when charged up to from_ns */
	__u64 from_ns; /* culprits charged up to here */
	struct sw_cpu_culprit by[SW_CPU_TOP];
};

/* A workqueue worker serving a victim disk's requests (a loop device's
 * worker, woken by the request's issue), until its work item ends: while
 * it waits for a CPU the disk serves nobody, and the victims blocked on it
 * wait for that CPU (SW_CLK_STALL). Value of blame_helper, by thread id. */
struct sw_blame_helper {
	__u64 since_ns; /* waiting: since when */
	__u32 disk;	/* blame_dev key */
	__u16 waiting;
	__u16 working; /* its work item began */
	__u64 credit[SW_BLAME_SLOTS]; /* each slot's SW_CLK_STALL_CREDIT when the wait began */
	struct sw_cpu_wait wait;
};

/* The last request issued on a victim disk from this CPU, by which thread:
 * a workqueue worker that thread wakes right after serves the request. */
struct sw_blame_issuer {
	__u64 ns;
	__u32 tid;
	__u32 disk;
};

/* Value of blame_win: one open window, by thread id. */
struct sw_blame_win {
	__u64 start_ns;
	__u64 since_ns; /* last state change */
	__u64 victim;	/* cgroup id */
	__u64 ino;
	__u32 disk; /* whole-disk dev_t of the file's block device; 0 = none */
	__u32 sdev; /* superblock dev_t */
	__u16 op;
	__u16 file_class;
	__u8 slot;  /* index into sw_blame_dev.slot; SW_BLAME_SLOTS = no device */
	__u8 state; /* enum sw_blame_state */
	__u8 pad[2];
	__u32 thr_mark;	 /* runnable: its CPU quotas' throttled periods when the wait began */
	__u32 pad2;
	struct sw_cpu_wait wait; /* runnable; by: of kinds[SW_BLAME_CPU] */
	__u64 snap[SW_CLK__COUNT]; /* device clocks when the thread blocked */
	/* Per kind; two more, kept apart because the blame map gets them from
	 * elsewhere: kernel threads' I/O (per request, shown as `other`), and
	 * the disk's service threads' CPU wait (per helper, shown as `cpu`). */
	__u64 kinds[SW_BLAME__KINDS + 2];
	char file[64]; /* basename (etcd WAL names are 37 characters) */
};

/* Key of the blame map: blamed time per (victim, culprit, device, kind). */
struct sw_blame_key {
	__u64 victim;  /* cgroup id */
	__u64 culprit; /* cgroup id; 0 for device, cpu, other and windows */
	__u32 dev;     /* whole-disk dev_t; 0 = no block device */
	__u8 kind;     /* enum sw_blame_kind, or SW_BLAME_WINDOW */
	__u8 pad[3];
};

/* Value of the blame map, per CPU. */
struct sw_blame_val {
	__u64 ns;
	__u64 count; /* requests credited; windows for SW_BLAME_WINDOW */
};

/* A window at least cfg_slow_ns long, through the blame_events ring buffer. */
struct sw_blame_event {
	__u64 start_ns; /* CLOCK_MONOTONIC */
	__u64 wall_ns;
	__u64 victim;
	__u64 ino;
	__u32 tgid;
	__u32 tid;
	__u32 disk;
	__u32 sdev;
	__u16 op;
	__u16 file_class;
	__u32 overlapping; /* other windows of this victim open on the device at close */
	__u64 kinds[SW_BLAME__KINDS];
	struct sw_blame_culprit top[SW_BLAME_TOP];
	struct sw_blame_culprit rest;
	struct sw_cpu_culprit cpu_by[SW_CPU_TOP]; /* of kinds[SW_BLAME_CPU]; the rest unnamed */
	char comm[16];
	char file[64];
};

/*
 * Probes. The kubelet opens a fresh TCP connection per HTTP, TCP or gRPC
 * probe; exec probes are processes the runtime starts inside a container.
 */
enum sw_probe_type {
	SW_PROBE_TCP = 0,   /* connected, sent nothing */
	SW_PROBE_HTTP = 1,  /* sent a request; plain HTTP/1, or an answer not read */
	SW_PROBE_EXEC = 2,
	SW_PROBE_GRPC = 3,  /* the answer was HTTP/2 (gRPC health) */
	SW_PROBE_HTTPS = 4, /* the answer was TLS */
	SW_PROBE__TYPES = 5,
};

enum sw_probe_result {
	SW_PROBE_SUCCESS = 0,
	SW_PROBE_REFUSED = 1, /* RST to the SYN */
	SW_PROBE_RESET = 2,   /* reset, or closed by the peer without an answer */
	SW_PROBE_TIMEOUT = 3, /* the prober gave up first (exec: killed by a signal) */
	SW_PROBE_FAILURE = 4, /* an answer the kubelet fails: HTTP status outside
			       * 200-399, gRPC not SERVING; exec: non-zero exit */
	SW_PROBE__RESULTS = 5,
};

/* What the first bytes of the peer's answer were. */
enum sw_probe_app {
	SW_APP_NONE = 0, /* nothing read (no answer, or the reader is not attached) */
	SW_APP_HTTP1 = 1,
	SW_APP_H2 = 2,
	SW_APP_TLS = 3,
	SW_APP_OTHER = 4,
};

/* gRPC health status in sw_probe_key.code: the proto's value plus one, so
 * that 0 still means "not read". */
#define SW_GRPC_CODE(status) ((status) + 1)
#define SW_GRPC_SERVING SW_GRPC_CODE(1)

/* Probe buckets, finer near the kubelet's 1 s default timeout; upper bounds
 * in ms, inclusive, then +Inf. */
#define SW_PROBE_BUCKETS 17

static inline __u64 sw_probe_bound_ms(__u32 i)
{
	switch (i) {
	case 0:
		return 1;
	case 1:
		return 5;
	case 2:
		return 10;
	case 3:
		return 25;
	case 4:
		return 50;
	case 5:
		return 100;
	case 6:
		return 250;
	case 7:
		return 500;
	case 8:
		return 750;
	case 9:
		return 900;
	case 10:
		return 1000;
	case 11:
		return 1100;
	case 12:
		return 1500;
	case 13:
		return 2000;
	case 14:
		return 5000;
	default:
		return 10000;
	}
}

static inline __u32 sw_probe_bucket_index(__u64 ns)
{
	for (__u32 i = 0; i < SW_PROBE_BUCKETS - 1; i++) {
		if (ns <= sw_probe_bound_ms(i) * SW_NSEC_PER_MSEC)
			return i;
	}
	return SW_PROBE_BUCKETS - 1;
}

/* Key of probe_hist. Network probes: destination address and port, and the
 * cgroup of the socket that accepted the connection when it is on this node
 * (0 if not seen); exec probes: the container's cgroup, no address. */
struct sw_probe_key {
	__u8 addr[16]; /* IPv4 in the first 4 bytes (family 2), or IPv6 (family 10) */
	__u64 cgroup;
	__u16 port;  /* host order */
	__u8 family; /* AF_INET, AF_INET6; 0 for exec */
	__u8 type;   /* enum sw_probe_type */
	__u8 result; /* enum sw_probe_result */
	__u8 pad;
	__u16 code; /* HTTP status, SW_GRPC_CODE(status); 0: none read */
};

struct sw_probe_hist {
	__u64 buckets[SW_PROBE_BUCKETS];
	__u64 sum_ns;
};

/* A prober's connection in flight, value of probe_socks (by struct sock *). */
struct sw_probe_sock {
	__u64 start_ns;	     /* SYN_SENT */
	__u64 connect_ns;    /* SYN_SENT -> ESTABLISHED; 0: never connected */
	__u64 server_cgroup; /* cgroup of the accepting socket; 0: not on this node */
	__u64 last_rx_ns;    /* the peer's last payload */
	__u8 addr[16];
	__u16 port;
	__u16 lport; /* the prober's port, once connected */
	__u8 family;
	__u8 app;	/* enum sw_probe_app */
	__u16 code;	/* as in sw_probe_key */
	__u32 rx_base;	/* TCP sequence number of the first payload */
	__u32 h2_next;	/* stream offset of the next HTTP/2 frame header */
};

/* A probe connection by its addresses, as both ends and the wire see it:
 * key of probe_flows, whose value is the prober's struct sock *. */
struct sw_probe_flow {
	__u8 addr[16]; /* the server's */
	__u16 server_port;
	__u16 client_port;
	__u8 family;
	__u8 pad[3];
};

/* An exec probe in flight, value of exec_start (by tgid). */
struct sw_exec_start {
	__u64 start_ns;
	__u64 cgroup;
	char comm[16];
};

/* A slow or failing probe, through the probe_events ring buffer. */
struct sw_probe_event {
	__u64 start_ns; /* CLOCK_MONOTONIC */
	__u64 duration_ns;
	__u64 connect_ns;
	__u64 cgroup; /* exec: the container's cgroup; else the accepting socket's, or 0 */
	__u8 addr[16];
	__u16 port;
	__u8 family;
	__u8 type;
	__u8 result;
	__u8 pad[3];
	__s32 exit_code; /* exec: status, or -signal; else the key's code */
	__u32 pid;	 /* exec: the probe process; else the prober */
	char comm[16];
};

/* Every shared struct's size, checked by both compilers (clang -target bpf
 * and the C++ build): a field added on one side only fails the build, not
 * a map update at run time. */
#ifdef __cplusplus
#define SW_ABI_SIZE(type, n) static_assert(sizeof(struct type) == (n), #type " layout is ABI")
#else
#define SW_ABI_SIZE(type, n) _Static_assert(sizeof(struct type) == (n), #type " layout is ABI")
#endif
SW_ABI_SIZE(sw_fsync_key, 16);
SW_ABI_SIZE(sw_hist, 8 * (SW_HIST_BUCKETS + 1));
SW_ABI_SIZE(sw_fsync_start, 32);
SW_ABI_SIZE(sw_vfs_start, 40);
SW_ABI_SIZE(sw_uring_key, 16);
SW_ABI_SIZE(sw_blk_hist_key, 8);
SW_ABI_SIZE(sw_blk_io_key, 32);
SW_ABI_SIZE(sw_blk_io, 40);
SW_ABI_SIZE(sw_blk_rq, 280);
SW_ABI_SIZE(sw_disk_busy, 16);
#ifdef __cplusplus
static_assert(SW_IO__CLASSES_ == SW_IO__CLASSES && SW_BLAME_SLOTS_ == SW_BLAME_SLOTS, "sw_blk_rq sizes");
#else
_Static_assert(SW_IO__CLASSES_ == SW_IO__CLASSES && SW_BLAME_SLOTS_ == SW_BLAME_SLOTS, "sw_blk_rq sizes");
#endif
SW_ABI_SIZE(sw_blk_bio, 32);
SW_ABI_SIZE(sw_tx, 64);
SW_ABI_SIZE(sw_blk_sector_key, 16);
SW_ABI_SIZE(sw_cgroup_event, 528);
SW_ABI_SIZE(sw_blame_culprit, 40);
SW_ABI_SIZE(sw_blame_slot, 384);
SW_ABI_SIZE(sw_blame_dev, 1744);
SW_ABI_SIZE(sw_blame_cache_entry, 24);
SW_ABI_SIZE(sw_blame_cache, 192);
SW_ABI_SIZE(sw_blame_ahead, 200);
SW_ABI_SIZE(sw_cost, 24);
SW_ABI_SIZE(sw_cost_key, 8);
SW_ABI_SIZE(sw_cost_stats, 40);
SW_ABI_SIZE(sw_cpu_wait, 88);
SW_ABI_SIZE(sw_blame_helper, 136);
SW_ABI_SIZE(sw_blame_issuer, 16);
SW_ABI_SIZE(sw_blame_win, 368);
SW_ABI_SIZE(sw_blame_key, 24);
SW_ABI_SIZE(sw_blame_val, 16);
SW_ABI_SIZE(sw_blame_event, 464);
SW_ABI_SIZE(sw_run_ring, 1040);
SW_ABI_SIZE(sw_probe_key, 32);
SW_ABI_SIZE(sw_probe_hist, 8 * (SW_PROBE_BUCKETS + 1));
SW_ABI_SIZE(sw_probe_sock, 64);
SW_ABI_SIZE(sw_probe_flow, 24);
SW_ABI_SIZE(sw_exec_start, 32);
SW_ABI_SIZE(sw_probe_event, 80);

#endif /* STALLWATCH_H */
