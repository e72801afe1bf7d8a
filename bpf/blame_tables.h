/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The flush tables' arithmetic (sw_blame_cache: writes a disk's cache
 * holds, or writes in service ahead of a flush), as blame_math.h: plain
 * structs, compiled into the BPF objects and into the host's unit tests
 * (tests/unit/blame_tables_test.cpp).
 *
 * No lock: tracepoint programs may not take one. Each field is its own
 * atomic counter, so a reader on one CPU can see a write another CPU is
 * adding counted in the total and not yet in its class, or the reverse.
 * What is built on a table must hold up to that.
 */
#ifndef STALLWATCH_BLAME_TABLES_H
#define STALLWATCH_BLAME_TABLES_H

#include "blame_math.h"

/* Bytes of culprit's, of class cls, into table c's entries: its own entry,
 * else the first free one, else the rest. Negative takes them back (from
 * its entry, else the rest). Entries are claimed without a lock, like the
 * epoch's. */
static __always_inline void blame_table_entry_add(struct sw_blame_cache *c, __u64 culprit, __u8 cls, __s64 bytes)
{
	for (int i = 0; i < SW_CACHE_TOP; i++) {
		struct sw_blame_cache_entry *e = &c->top[i];

		if (e->bytes && e->cgroup == culprit && e->io_class == cls) {
			__sync_fetch_and_add(&e->bytes, bytes);
			return;
		}
	}
	for (int i = 0; i < SW_CACHE_TOP && bytes > 0; i++) {
		struct sw_blame_cache_entry *e = &c->top[i];

		if (!e->bytes) {
			e->cgroup = culprit;
			e->io_class = cls;
			__sync_fetch_and_add(&e->bytes, bytes);
			return;
		}
	}
	__sync_fetch_and_add(&c->rest_bytes, bytes);
}

static __always_inline void blame_table_add(struct sw_blame_cache *c, __u64 culprit, __u8 cls, __s64 bytes)
{
	if (!bytes)
		return;
	cls &= SW_IO__CLASSES - 1;
	__sync_fetch_and_add(&c->bytes, bytes);
	__sync_fetch_and_add(&c->by_class[cls], bytes);
	blame_table_entry_add(c, culprit, cls, bytes);
}

/* Moves what table from holds into table into, field by field: each
 * positive count read is added there and subtracted here, not zeroed, so
 * a write counted on another CPU between the read and the subtraction
 * stays in from, for the next take (zeroed, it was lost to both tables).
 * The fields are read one at a time: a write racing the take can be moved
 * in the total and not in its class, and the classes moved can hold more
 * than the total (blame_class_weights does not rely on them agreeing).
 * Negative counts (a completion racing a take) stay. */
SW_VERIFIED_ONCE int blame_table_take(struct sw_blame_cache *into, struct sw_blame_cache *from)
{
	__s64 b;

	if (!into || !from)
		return 0;
	b = (__s64)from->bytes;
	if (b > 0) {
		__sync_fetch_and_add(&into->bytes, b);
		__sync_fetch_and_add(&from->bytes, -b);
	}
	for (int k = 0; k < SW_IO__CLASSES; k++) {
		b = (__s64)from->by_class[k];
		if (b > 0) {
			__sync_fetch_and_add(&into->by_class[k], b);
			__sync_fetch_and_add(&from->by_class[k], -b);
		}
	}
	for (int i = 0; i < SW_CACHE_TOP; i++) {
		struct sw_blame_cache_entry *e = &from->top[i];

		b = (__s64)e->bytes;
		if (b > 0) {
			blame_table_entry_add(into, e->cgroup, e->io_class & (SW_IO__CLASSES - 1), b);
			__sync_fetch_and_add(&e->bytes, -b);
		}
	}
	b = (__s64)from->rest_bytes;
	if (b > 0) {
		__sync_fetch_and_add(&into->rest_bytes, b);
		__sync_fetch_and_add(&from->rest_bytes, -b);
	}
	return 0;
}

/* Flush r's weight split among the classes of the cache it writes out
 * (held), by their bytes as read once here, into r->blame_class_w, so that
 * the parts add up to its weight exactly: the device's load counts the
 * parts and the flush's credit is its weight, and parts summing past it
 * divide every request's credit by more than is in service (the blocked
 * time they stand for is then nobody's). The rounding's rest, and all of
 * it where no class holds bytes, go to the flush's own class. */
SW_VERIFIED_ONCE int blame_class_weights(struct sw_blk_rq *r, const struct sw_blame_cache *held)
{
	__u64 bytes[SW_IO__CLASSES], sum = 0;
	__u32 w, given = 0;

	if (!r || !held)
		return 0;
	w = r->blame_weight;
	for (int c = 0; c < SW_IO__CLASSES; c++) {
		__s64 b = (__s64)held->by_class[c];

		bytes[c] = b > 0 ? (__u64)b : 0;
		sum += bytes[c];
	}
	/* w times bytes stays in 64 bits: w < 2^32, so bytes < 2^32. */
	if (sum >> 32) {
		sum = 0;
		for (int c = 0; c < SW_IO__CLASSES; c++) {
			bytes[c] >>= 32;
			sum += bytes[c];
		}
	}
	for (int c = 0; c < SW_IO__CLASSES; c++) {
		r->blame_class_w[c] = sum ? (__u32)((__u64)w * bytes[c] / sum) : 0;
		given += r->blame_class_w[c];
	}
	r->blame_class_w[r->blame_class & (SW_IO__CLASSES - 1)] += w - given;
	return 0;
}

#endif
