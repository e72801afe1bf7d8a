// SPDX-License-Identifier: GPL-2.0
/*
 * fsync-family latency per (cgroup, device, op), aggregated in the kernel.
 *
 * Rung "tracepoint": the syscall tracepoints of fsync, fdatasync,
 * sync_file_range, msync(MS_SYNC) and syncfs, plus the io_uring submit and
 * complete tracepoints for IORING_OP_FSYNC and IORING_OP_SYNC_FILE_RANGE.
 * Nothing crosses to user space per call: user space reads fsync_hist.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "blame.bpf.h"
#include "core.bpf.h"
#include "core_fixes.bpf.h"
#include "maps.bpf.h"
#include "stallwatch.h"

char LICENSE[] SEC("license") = "GPL";

#define MS_SYNC 4	  /* uapi asm-generic/mman-common.h */
#define IORING_OP_FSYNC 3 /* uapi io_uring.h, stable ABI */
#define IORING_OP_SYNC_FILE_RANGE 8

/* A thread's call in flight (call.start_ns == 0: none), and whether the
 * thread is a victim. */
struct sync_thread {
	struct sw_fsync_start call;
	struct blame_memo victim;
};

/* tid -> sync_thread. Entries are reused, not deleted: a lookup and a store
 * cost far less than an update and a delete on every call, and the victim
 * verdict outlives the call. LRU, so entries of exited threads make room by
 * themselves; an in-flight entry is the most recently used, never the one
 * evicted, unless more threads than max_entries sit in fsync at once. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct sync_thread);
} fsync_start SEC(".maps");

/* The same per thread, in the task's own storage: allocated for threads
 * that sync, freed with them, where fsync_start preallocates 16384 entries
 * (2.3 MiB). Used where tracepoint programs may call bpf_task_storage_get
 * (6.1 and 6.12 let them, 5.10 does not): user space sets cfg_task_storage
 * then, and shrinks fsync_start to one entry. Before 5.11 there is no such
 * map type: user space makes this one a one-entry hash. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sync_thread);
} fsync_task SEC(".maps");

const volatile bool cfg_task_storage = false;

/* The current thread's state; created if create (NULL: a full map, or no
 * memory for the task's storage). */
static __always_inline struct sync_thread *thread_state(__u32 tid, bool create)
{
	static const struct sync_thread zero;
	struct sync_thread *t;

	if (cfg_task_storage)
		return bpf_task_storage_get(&fsync_task, bpf_get_current_task_btf(), 0,
					    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	t = bpf_map_lookup_elem(&fsync_start, &tid);
	if (t || !create)
		return t;
	bpf_map_update_elem(&fsync_start, &tid, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&fsync_start, &tid);
}

/* io_uring request -> call in flight. Bounded like fsync_start; a ring can
 * hold more, and a full map is counted, not silent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct sw_uring_key);
	__type(value, struct sw_fsync_start);
} uring_start SEC(".maps");

/* (cgroup, device, op) -> histogram. One entry, not one per CPU: a
 * cgroup's fsyncs rarely run on many CPUs at once (a WAL has one writer),
 * and per-CPU copies cost 640 KiB per possible CPU at 4096 series.
 * max_entries is set by user space before load (--fsync-map-entries): it
 * bounds the number of series, and a refused key is counted in drops. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct sw_fsync_key);
	__type(value, struct sw_hist);
} fsync_hist SEC(".maps");

static __always_inline void record(const struct sw_fsync_start *s, __u64 end_ns)
{
	struct sw_fsync_key key = {
		.cgroup_id = s->cgroup_id,
		.dev = s->dev,
		.op = s->op,
		.file_class = s->file_class,
	};

	sw_hist_add(&fsync_hist, &key, end_ns - s->start_ns, SW_DROP_FSYNC_HIST_FULL);
}

/* file may be NULL (msync of anonymous memory, or no bpf_find_vma): dev
 * and file_class are then 0. */
static __always_inline void start_call(__u16 op, struct file *file, __u32 dev, __u16 file_class)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 cgroup_id = bpf_get_current_cgroup_id();
	struct sync_thread *t = thread_state((__u32)id, true);
	bool victim;

	if (!t) {
		count_drop(SW_DROP_FSYNC_INFLIGHT_FULL);
		return;
	}
	victim = blame_is_victim_memo(&t->victim, id >> 32, cgroup_id);
	/* The window starts where the histogram's duration does, so the sum
	 * of a victim's windows is its histogram's _sum. */
	t->call.start_ns = bpf_ktime_get_ns();
	t->call.cgroup_id = cgroup_id;
	t->call.dev = dev;
	t->call.op = op;
	t->call.file_class = file_class;
	t->call.window = victim && blame_open(file, dev, op, file_class, cgroup_id, t->call.start_ns);
}

static __always_inline void start_file_call(__u16 op, struct file *file)
{
	start_call(op, file, sw_file_dev(file), sw_file_class(file));
}

static __always_inline void end_call(void)
{
	__u64 now = bpf_ktime_get_ns();
	struct sync_thread *t = thread_state((__u32)bpf_get_current_pid_tgid(), false);
	struct sw_fsync_start *s;

	if (!t || !t->call.start_ns)
		return;
	s = &t->call;
	record(s, now);
	if (s->window)
		blame_close(now);
	s->start_ns = 0;
	s->window = 0;
}

/* The fentry rung's programs come first: libbpf loads in this order, and a
 * kernel that refuses them (EPERM) then refuses before the verifier has
 * spent a second on the tracepoint programs, which load again on the next rung. */
/*
 * Rung "fentry": an addition to the tracepoints, never a replacement. On
 * Debian's 5.10 and 6.1 kernels fdatasync(2) never enters vfs_fsync_range
 * (inlined into __x64_sys_fdatasync), and on 6.12 O_SYNC writes to tmpfs do
 * not either. So this only counts what no syscall tracepoint is already
 * timing on the same thread, and skips io_uring workers, whose requests the
 * io_uring tracepoints time.
 */
#define PF_IO_WORKER 0x00000010 /* include/linux/sched.h */

/* tid -> outermost vfs_fsync_range in flight that no syscall covers. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct sw_vfs_start);
} vfs_start SEC(".maps");

SEC("fentry/vfs_fsync_range")
int BPF_PROG(vfs_fsync_range_fentry, struct file *file, loff_t start, loff_t end, int datasync)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	/* bpf_get_current_task_btf() arrived in 5.11; this runs on 5.10 too. */
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct sync_thread *syscall = thread_state(tid, false);
	struct sw_vfs_start s = {};
	long err;

	/* Thread states stay after the call with start_ns = 0. */
	if ((syscall && syscall->call.start_ns) || (BPF_CORE_READ(task, flags) & PF_IO_WORKER))
		return 0;
	s.call.start_ns = bpf_ktime_get_ns();
	s.call.cgroup_id = bpf_get_current_cgroup_id();
	s.call.dev = sw_file_dev(file);
	s.call.op = SW_OP_VFS_FSYNC;
	s.call.file_class = sw_file_class(file);
	s.file = (__u64)file;
	err = bpf_map_update_elem(&vfs_start, &tid, &s, BPF_NOEXIST);
	if (err && err != -SW_EEXIST /* nested call: the outer one times it */)
		count_drop(SW_DROP_FSYNC_INFLIGHT_FULL);
	return 0;
}

SEC("fexit/vfs_fsync_range")
int BPF_PROG(vfs_fsync_range_fexit, struct file *file, loff_t start, loff_t end, int datasync, int ret)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sw_vfs_start *s = bpf_map_lookup_elem(&vfs_start, &tid);

	if (!s || s->file != (__u64)file)
		return 0;
	record(&s->call, now);
	bpf_map_delete_elem(&vfs_start, &tid);
	return 0;
}

/* Syscall numbers of this architecture, from the loader: one program
 * serves the four fd-taking calls (one to verify, not four), attached to
 * each one's enter tracepoint. */
const volatile __s64 nr_fdatasync = -1;
const volatile __s64 nr_sync_file_range = -1;
const volatile __s64 nr_syncfs = -1;

static __always_inline __u16 fd_call_op(long id)
{
	if (id == nr_fdatasync)
		return SW_OP_FDATASYNC;
	if (id == nr_sync_file_range)
		return SW_OP_SYNC_FILE_RANGE;
	if (id == nr_syncfs)
		return SW_OP_SYNCFS;
	return SW_OP_FSYNC;
}

SEC("tracepoint/syscalls/sys_enter_fsync")
int sys_enter_sync_tp(struct trace_event_raw_sys_enter *ctx)
{
	start_file_call(fd_call_op(ctx->id), sw_fd_file((int)ctx->args[0]));
	return 0;
}

/* The same, reading the file by plain loads (sw_file_facts_direct): the
 * loader picks this one where the kernel lets it call bpf_rdonly_cast. */
SEC("tracepoint/syscalls/sys_enter_fsync")
int sys_enter_sync_direct_tp(struct trace_event_raw_sys_enter *ctx)
{
	struct file *file = sw_fd_file((int)ctx->args[0]);
	__u32 dev;
	__u16 file_class;

	sw_file_facts_direct(file, &dev, &file_class);
	start_call(fd_call_op(ctx->id), file, dev, file_class);
	return 0;
}

static long vma_file_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	*(struct file **)data = BPF_CORE_READ(vma, vm_file);
	return 0;
}

/* msync names memory, not a file: the device is the mapped file's, found
 * with bpf_find_vma (5.17+). The loader picks this or the _novma twin. */
SEC("tracepoint/syscalls/sys_enter_msync")
int sys_enter_msync_vma_tp(struct trace_event_raw_sys_enter *ctx)
{
	struct file *file = NULL;

	if (!(ctx->args[2] & MS_SYNC))
		return 0;
	bpf_find_vma(bpf_get_current_task_btf(), ctx->args[0], vma_file_cb, &file, 0);
	start_file_call(SW_OP_MSYNC, file);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_msync")
int sys_enter_msync_novma_tp(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[2] & MS_SYNC)
		start_call(SW_OP_MSYNC, NULL, 0, SW_FILE_OTHER);
	return 0;
}

/* Every call's exit: the loader attaches this to each enter's twin. */
SEC("tracepoint/syscalls/sys_exit_fsync")
int sys_exit_sync_tp(void *ctx)
{
	end_call();
	return 0;
}

/* Older kernels (5.10, 6.1) name the submit event io_uring_submit_sqe, newer
 * ones io_uring_submit_req (core_fixes.bpf.h); the loader enables whichever
 * tracefs lists. */

/* Both ends must build the same key: the request pointer only where the
 * completion event carries it too. Debian's 5.10 (5.15 io_uring backport)
 * has req in the submit event but not in the completion. */
static __always_inline bool complete_has_req(void)
{
	return bpf_core_field_exists(((struct trace_event_raw_io_uring_complete *)0)->req);
}

static __always_inline void uring_submit(void *ring, void *req, __u64 user_data, __u8 opcode)
{
	struct sw_uring_key key = { .ring = (__u64)ring, .req = req && complete_has_req() ? (__u64)req : user_data };
	struct sw_fsync_start s = {
		.cgroup_id = bpf_get_current_cgroup_id(),
	};

	if (opcode == IORING_OP_FSYNC)
		s.op = SW_OP_URING_FSYNC;
	else if (opcode == IORING_OP_SYNC_FILE_RANGE)
		s.op = SW_OP_URING_SYNC_FILE_RANGE;
	else
		return;
	s.start_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&uring_start, &key, &s, BPF_ANY))
		count_drop(SW_DROP_FSYNC_INFLIGHT_FULL);
}

SEC("tracepoint/io_uring/io_uring_submit_req")
int io_uring_submit_req_tp(struct trace_event_raw_io_uring_submit_req *ctx)
{
	uring_submit(ctx->ctx, ctx->req, ctx->user_data, ctx->opcode);
	return 0;
}

SEC("tracepoint/io_uring/io_uring_submit_sqe")
int io_uring_submit_sqe_tp(struct trace_event_raw_io_uring_submit_sqe___pre6_0 *ctx)
{
	void *req = NULL;

	if (bpf_core_field_exists(ctx->req))
		req = ctx->req;
	uring_submit(ctx->ctx, req, ctx->user_data, ctx->opcode);
	return 0;
}

SEC("tracepoint/io_uring/io_uring_complete")
int io_uring_complete_tp(struct trace_event_raw_io_uring_complete *ctx)
{
	__u64 now = bpf_ktime_get_ns();
	struct sw_uring_key key = { .ring = (__u64)ctx->ctx };
	struct sw_fsync_start *s;
	struct io_kiocb *req = NULL;

	if (complete_has_req())
		req = ctx->req;
	key.req = req ? (__u64)req : ctx->user_data;
	s = bpf_map_lookup_elem(&uring_start, &key);
	if (!s)
		return 0;
	/* The file is assigned after the submit event, so read it here. */
	if (req) {
		struct file *file = BPF_CORE_READ(req, file);

		s->dev = sw_file_dev(file);
		s->file_class = sw_file_class(file);
	}
	record(s, now);
	bpf_map_delete_elem(&uring_start, &key);
	return 0;
}
