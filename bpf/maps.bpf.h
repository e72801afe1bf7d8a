/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Map pieces every stallwatch BPF object shares: the drop counters and the
 * histogram update. Each object gets its own `drops` map; user space sums
 * them. */
#ifndef STALLWATCH_MAPS_BPF_H
#define STALLWATCH_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "stallwatch.h"

/* enum sw_drop -> events lost, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SW_DROP__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* errno values, include/uapi/asm-generic/errno-base.h: BPF sees them negated. */
#define SW_EEXIST 17

static __always_inline void count_drop(__u32 why)
{
	__u64 *n = bpf_map_lookup_elem(&drops, &why);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/* The value at key in map, created from init when absent; NULL, with `full`
 * counted, when the map has no room. EEXIST from a racing CPU is fine: the
 * second lookup finds the entry it made. */
static __always_inline void *sw_lookup_or_init(void *map, const void *key, const void *init, __u32 full)
{
	void *v = bpf_map_lookup_elem(map, key);

	if (v)
		return v;
	bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	v = bpf_map_lookup_elem(map, key);
	if (!v)
		count_drop(full);
	return v;
}

/* Adds one duration to the histogram at key in map, creating it; a map with
 * no room counts `full` instead. Atomic: other CPUs update the same entry,
 * and tracepoints may run preemptible (6.x faultable syscall tracepoints);
 * counts must be exact. */
static __always_inline void sw_hist_add(void *map, const void *key, __u64 delta_ns, __u32 full)
{
	static const struct sw_hist zero;
	struct sw_hist *h = sw_lookup_or_init(map, key, &zero, full);

	if (!h)
		return;
	__sync_fetch_and_add(&h->buckets[sw_bucket_index(delta_ns) % SW_HIST_BUCKETS], 1);
	__sync_fetch_and_add(&h->sum_ns, delta_ns);
}

#endif
