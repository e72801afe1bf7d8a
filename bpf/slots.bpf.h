/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Slot tables: state per kernel object (a struct request) in array maps,
 * keyed by the object's address. A preallocated hash map's insert and
 * delete took 150-250 ns each in the block programs at 200k requests a
 * second here (a bucket lock, and a free list the CPUs share: a request
 * completes on another CPU than the one that made it); an array's lookup is
 * a few instructions the verifier inlines. The block path made and freed
 * two hash entries a request.
 *
 * An address may own one of SW_SLOT_PROBES slots at its hash (sw_slot_at,
 * stallwatch.h), taken by compare-and-swap and given back at the end of
 * the object's life.
 * One that finds them all taken goes to the hash map as before. Kernels
 * before 5.12 have no compare-and-swap (the loader makes it a plain store):
 * there user space leaves cfg_slots off and every object goes to the hash.
 */
#ifndef STALLWATCH_SLOTS_BPF_H
#define STALLWATCH_SLOTS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "stallwatch.h"

#define SW_NO_SLOT 0xffffffffU

/* An address as plain bits. On the BTF rung a struct request argument is
 * a typed pointer, and the verifier refuses any arithmetic on it but adding
 * constants; copied from the stack by a probe read it is a number. */
static __always_inline __u64 sw_slot_id(const __u64 *on_stack)
{
	__u64 id = 0;

	bpf_probe_read_kernel(&id, sizeof(id), on_stack);
	return id;
}

/* Set by user space: the request-pointer rungs on a kernel with BPF_CMPXCHG. */
const volatile bool cfg_slots = false;

/* The slot holding id, SW_NO_SLOT if none does. */
static __always_inline __u32 sw_slot_find(void *keys, __u64 id)
{
	for (__u32 p = 0; p < SW_SLOT_PROBES; p++) {
		__u32 i = sw_slot_at(id, p);
		__u64 *k = bpf_map_lookup_elem(keys, &i);

		if (k && *k == id)
			return i;
	}
	return SW_NO_SLOT;
}

/* A free slot for id, now its own; SW_NO_SLOT if all are taken. The
 * caller knows id owns none (an object's events do not race). */
static __always_inline __u32 sw_slot_claim(void *keys, __u64 id)
{
	for (__u32 p = 0; p < SW_SLOT_PROBES; p++) {
		__u32 i = sw_slot_at(id, p);
		__u64 *k = bpf_map_lookup_elem(keys, &i);

		if (k && !*k && __sync_val_compare_and_swap(k, 0, id) == 0)
			return i;
	}
	return SW_NO_SLOT;
}

/* Gives slot i back. A full barrier (lock cmpxchg): the record's last
 * writes are done before another id may take it. */
static __always_inline void sw_slot_release(void *keys, __u32 i, __u64 id)
{
	__u64 *k = bpf_map_lookup_elem(keys, &i);

	if (k)
		__sync_val_compare_and_swap(k, id, 0);
}

#endif
