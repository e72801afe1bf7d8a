/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The only header shared between the BPF programs and user space: plain
 * fixed-width structs, enums and constants. No kernel types, no pointers;
 * padding is explicit and sizes are static_assert'ed on the C++ side.
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
 * stallwatch_events_lost_total. Index into the per-CPU `drops` array. */
enum sw_drop {
	SW_DROP_FSYNC_INFLIGHT_FULL = 0, /* fsync_start / uring_start full */
	SW_DROP_FSYNC_HIST_FULL = 1,     /* fsync_hist full: new key refused */
	SW_DROP__COUNT = 2,
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

/* Key of fsync_hist: one histogram per (cgroup, device, op). */
struct sw_fsync_key {
	__u64 cgroup_id; /* cgroup v2 id (inode of the cgroup2 directory) */
	__u32 dev;       /* kernel dev_t of the file's superblock: major << 20 | minor; 0 = unknown */
	__u32 op;        /* enum sw_fsync_op */
};

/* Value of fsync_hist, per CPU. Counts are per bucket, not cumulative. */
struct sw_hist {
	__u64 buckets[SW_HIST_BUCKETS];
	__u64 sum_ns; /* exact sum of durations, ns */
};

/* In-flight call, value of fsync_start (by tid) and uring_start (by request). */
struct sw_fsync_start {
	__u64 start_ns;  /* bpf_ktime_get_ns(), CLOCK_MONOTONIC */
	__u64 cgroup_id; /* caller's cgroup v2 id at entry */
	__u32 dev;       /* as in sw_fsync_key */
	__u32 op;        /* enum sw_fsync_op */
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

#endif /* STALLWATCH_H */
