// SPDX-License-Identifier: GPL-2.0
/*
 * cgroup mkdir/rmdir to user space, so a cgroup created after start and
 * used for a millisecond is still named. Rare events: a ring buffer is the
 * right transport. Rungs: tp_btf, then raw_tp (same arguments).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "maps.bpf.h"
#include "stallwatch.h"

char LICENSE[] SEC("license") = "GPL";

/* 256 KiB: about 480 events, far more than a node creates between two polls. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} cgroup_events SEC(".maps");

static __always_inline int emit(struct cgroup *cgrp, const char *path, __u32 type)
{
	struct sw_cgroup_event *e = bpf_ringbuf_reserve(&cgroup_events, sizeof(*e), 0);

	if (!e) {
		count_drop(SW_DROP_CGROUP_RINGBUF_FULL);
		return 0;
	}
	e->id = BPF_CORE_READ(cgrp, kn, id);
	e->hierarchy_id = BPF_CORE_READ(cgrp, root, hierarchy_id);
	e->type = type;
	if (bpf_probe_read_kernel_str(e->path, sizeof(e->path), path) < 0)
		e->path[0] = '\0';
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(cgroup_mkdir_btf, struct cgroup *cgrp, const char *path)
{
	return emit(cgrp, path, SW_CGROUP_MKDIR);
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(cgroup_rmdir_btf, struct cgroup *cgrp, const char *path)
{
	return emit(cgrp, path, SW_CGROUP_RMDIR);
}

SEC("raw_tp/cgroup_mkdir")
int cgroup_mkdir_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return emit((struct cgroup *)ctx->args[0], (const char *)ctx->args[1], SW_CGROUP_MKDIR);
}

SEC("raw_tp/cgroup_rmdir")
int cgroup_rmdir_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return emit((struct cgroup *)ctx->args[0], (const char *)ctx->args[1], SW_CGROUP_RMDIR);
}
