/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Every kernel-version shim in one place, as libbpf-tools keeps them. Each is
 * a CO-RE flavour: the `___suffix` is dropped when libbpf matches it against
 * the running kernel's BTF, and it keeps the shim from redefining the type
 * when vmlinux.h was made from a kernel that still has the old layout.
 * Which flavour to read is decided with bpf_core_field_exists /
 * bpf_core_type_exists at load time, never by version number.
 */
#ifndef STALLWATCH_CORE_FIXES_BPF_H
#define STALLWATCH_CORE_FIXES_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>

/* task_struct.state became __state in 5.14 (commit 2f064a59a11f, "sched:
 * Change task_struct::state"). */
struct task_struct___pre5_14 {
	long state;
} __attribute__((preserve_access_index));

/* Before 5.16 task_cpu() read task_struct.cpu (commit bcf9033e5449,
 * "sched: move CPU field back into thread_info if THREAD_INFO_IN_TASK=y"). */
struct task_struct___pre5_16 {
	unsigned int cpu;
} __attribute__((preserve_access_index));

/* Before 5.16 the disk hung off the request (commit f3fa33acca9f, "block:
 * remove the ->rq_disk field in struct request"). */
struct request___pre5_16 {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

/* Before 5.12 a bio named its disk and partition number, not a bdev
 * (commit 309dca309fc3, "block: store a block_device pointer in struct bio"). */
struct bio___pre5_12 {
	struct gendisk *bi_disk;
	__u8 bi_partno;
} __attribute__((preserve_access_index));

/* Before 5.11 block_bio_queue and the merge events had event classes of
 * their own (merged into block_bio by "block: simplify and extend the
 * block_bio_merge tracepoint class"); same fields. */
struct trace_event_raw_block_bio_queue___pre5_11 {
	dev_t dev;
	sector_t sector;
	char rwbs[8];
} __attribute__((preserve_access_index));

struct trace_event_raw_block_bio_merge___pre5_11 {
	dev_t dev;
	sector_t sector;
} __attribute__((preserve_access_index));

/* Before 5.16 block_rq_complete had a class of its own (now
 * block_rq_completion, shared with block_rq_error). */
struct trace_event_raw_block_rq_complete___pre5_16 {
	dev_t dev;
	sector_t sector;
	unsigned int nr_sector;
} __attribute__((preserve_access_index));

/* Until 5.19 (6.0 upstream, and Debian's 5.10 and 6.1 keep it) the io_uring
 * submit event was io_uring_submit_sqe ("io_uring: rename
 * trace_io_uring_submit_sqe() tracepoint"); 5.10's carries no req field. */
struct trace_event_raw_io_uring_submit_sqe___pre6_0 {
	void *ctx;
	void *req;
	u64 user_data;
	u8 opcode;
} __attribute__((preserve_access_index));

/* Before 5.15 a socket's cgroup was a tagged pointer in a u64: bit 0 set
 * means the word holds net_prio/net_cls data instead (commit 8520e224f547,
 * "bpf, cgroups: Fix cgroup v2 fallback on v1/v2 mixed mode"). */
struct sock_cgroup_data___pre5_15 {
	__u64 val;
} __attribute__((preserve_access_index));

struct sock___pre5_15 {
	struct sock_cgroup_data___pre5_15 sk_cgrp_data;
} __attribute__((preserve_access_index));

/* The cgroup2 id of the cgroup that made the socket (for an accepted one,
 * the listener's); 0 when the kernel kept none. */
static __always_inline __u64 sw_sock_cgroup_id(const struct sock *sk)
{
	struct cgroup *cg;

	if (bpf_core_field_exists(sk->sk_cgrp_data.cgroup)) {
		cg = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
	} else {
		const struct sock___pre5_15 *old = (const void *)sk;
		__u64 v = BPF_CORE_READ(old, sk_cgrp_data.val);

		if (v & 1)
			return 0;
		cg = (struct cgroup *)v;
	}
	return cg ? BPF_CORE_READ(cg, kn, id) : 0;
}

#endif
