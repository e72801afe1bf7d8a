/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The blame engine's block side, for blkio.bpf.c: requests enter and leave
 * service on a victim's device, weighted by their cost, and a cache flush
 * is charged to whoever filled the cache it writes out.
 *
 * Cost: blk-iocost's linear model, base + per_page x 4 KiB pages, read,
 * write and flush apart, learnt per device by user space (blame_cost; the
 * sums it fits are blame_cost_stats). While n requests are in service each
 * gets weight / sum of weights of the time, so a 1 MiB write next to a
 * victim's 4 KiB one takes most of it.
 *
 * Flushes: a volatile write cache (a disk's, or a loop device's backing
 * page cache) makes a flush cost what it holds. Completed writes are added
 * up per culprit in blame_cache; a flush takes that table at issue
 * (blame_flush), weighs as base + per_page x the pages it held, and at its
 * end its time is split by those bytes.
 *
 * Ownership: data a kernel thread writes (jbd2 flushing ordered data, flusher
 * kworkers) belongs to the cgroup that dirtied the pages: remembered per
 * inode in sw_inode_dirtier when pages get dirty, and read back from the
 * request's first page. The kind stays journal or writeback; the culprit is
 * the pod.
 */
#ifndef STALLWATCH_BLAME_BLOCK_BPF_H
#define STALLWATCH_BLAME_BLOCK_BPF_H

#include "blame.bpf.h"

/* disk dev_t -> learnt cost coefficients; absent: the defaults. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct sw_cost);
} blame_cost SEC(".maps");

/* (disk, op) -> sums for the cost fit, for victims' disks only. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 768);
	__type(key, struct sw_cost_key);
	__type(value, struct sw_cost_stats);
} blame_cost_stats SEC(".maps");

/* disk dev_t -> writes completed since its last flush was issued. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct sw_blame_cache);
} blame_cache SEC(".maps");

/* flush request -> the cache it writes out, from issue to end. Flushes
 * in flight per disk are few (the block layer merges pending ones). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct sw_blk_sector_key);
	__type(value, struct sw_blame_cache);
} blame_flush SEC(".maps");

/* inode -> cgroup that last dirtied its pages, for inodes on victims'
 * disks. LRU: inodes come and go; a forgotten one is "unknown owner". */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} sw_inode_dirtier SEC(".maps");

/* Set by user space: bi_blkg names the cgroup2 cgroup charged (io
 * controller on cgroup2); else the submitter is the culprit. */
const volatile bool cfg_blame_owner = false;

static __always_inline __u64 blame_culprit(const struct sw_blk_rq *r)
{
	if (r->dirtier)
		return r->dirtier;
	return cfg_blame_owner && r->owner ? r->owner : r->submitter;
}

static __always_inline __u8 blame_class_of(__u8 submitter_kind)
{
	switch (submitter_kind) {
	case SW_KIND_USER:
		return SW_IO_USER;
	case SW_KIND_JOURNAL:
		return SW_IO_JOURNAL;
	case SW_KIND_WRITEBACK:
		return SW_IO_WRITEBACK;
	/* Other kworkers (blk-throttle dispatching held bios, dio completion)
	 * carry I/O whose origin the block layer no longer shows. */
	default:
		return SW_IO_KTHREAD;
	}
}

static __always_inline __u8 blame_kind_of(__u8 io_class)
{
	switch (io_class) {
	case SW_IO_USER:
		return SW_BLAME_NEIGHBOR_IO;
	case SW_IO_JOURNAL:
		return SW_BLAME_JOURNAL;
	case SW_IO_WRITEBACK:
		return SW_BLAME_WRITEBACK;
	default:
		return SW_BLAME_OTHER;
	}
}

static __always_inline __u32 cost_op_of(__u8 blk_op)
{
	return blk_op == SW_BLK_READ ? SW_COST_READ : blk_op == SW_BLK_FLUSH ? SW_COST_FLUSH : SW_COST_WRITE;
}

/* A request's weight: base + per_page x pages, at least 1. */
static __always_inline __u32 blame_weight(__u32 dev, __u32 op, __u64 bytes)
{
	struct sw_cost *c = bpf_map_lookup_elem(&blame_cost, &dev);
	__u64 base = SW_COST_DEFAULT_BASE, page = SW_COST_DEFAULT_PAGE, w;
	__u32 i = op < SW_COST__OPS ? op : SW_COST_WRITE;

	if (c) {
		base = c->base[i];
		page = c->per_page[i];
	}
	w = base + page * ((bytes + 4095) >> 12);
	if (w < 1)
		w = 1;
	if (w > (1U << 24))
		w = 1U << 24;
	return w;
}

/* Adds one completed request to its disk's cost sums (x pages, y us). */
static __always_inline void blame_cost_sample(__u32 dev, __u32 op, __u64 bytes, __u64 service_ns)
{
	static const struct sw_cost_stats zero;
	struct sw_cost_key key = { .dev = dev, .op = op };
	struct sw_cost_stats *st = sw_lookup_or_init(&blame_cost_stats, &key, &zero, SW_DROP_BLAME_SERIES_FULL);
	__u64 x = (bytes + 4095) >> 12, y = service_ns / 1000;

	if (!st)
		return;
	if (x > (1 << 20))
		x = 1 << 20;
	if (y > 60 * 1000 * 1000)
		y = 60 * 1000 * 1000;
	__sync_fetch_and_add(&st->n, 1);
	if (x)
		__sync_fetch_and_add(&st->sx, x);
	if (y)
		__sync_fetch_and_add(&st->sy, y);
	if (x)
		__sync_fetch_and_add(&st->sxx, x * x);
	if (x && y)
		__sync_fetch_and_add(&st->sxy, x * y);
}

/* A completed write enters its disk's volatile cache, under its culprit.
 * The table is claimed without a lock, like the epoch's. */
static __always_inline void blame_cache_add(__u32 dev, __u64 culprit, __u8 class, __u64 bytes)
{
	static const struct sw_blame_cache zero;
	struct sw_blame_cache *c;

	if (!bytes)
		return;
	c = sw_lookup_or_init(&blame_cache, &dev, &zero, SW_DROP_BLAME_SERIES_FULL);
	if (!c)
		return;
	__sync_fetch_and_add(&c->bytes, bytes);
	__sync_fetch_and_add(&c->by_class[class & (SW_IO__CLASSES - 1)], bytes);
	for (int i = 0; i < SW_CACHE_TOP; i++) {
		struct sw_blame_cache_entry *e = &c->top[i];

		if (e->bytes && e->cgroup == culprit && e->io_class == class) {
			__sync_fetch_and_add(&e->bytes, bytes);
			return;
		}
		if (!e->bytes) {
			e->cgroup = culprit;
			e->io_class = class;
			__sync_fetch_and_add(&e->bytes, bytes);
			return;
		}
	}
	__sync_fetch_and_add(&c->rest_bytes, bytes);
}

/* Moves the disk's cache table to the flush request at key; returns the
 * bytes it held (0: nothing to split, the flush is an ordinary request). */
static __always_inline __u64 blame_cache_take(__u32 dev, const struct sw_blk_sector_key *key)
{
	struct sw_blame_cache *c = bpf_map_lookup_elem(&blame_cache, &dev);
	__u64 bytes;

	if (!c || !c->bytes)
		return 0;
	if (bpf_map_update_elem(&blame_flush, key, c, BPF_ANY))
		return 0;
	bytes = c->bytes;
	/* Writes completing meanwhile may be lost to both tables: a bounded
	 * error, no lock in tracepoint programs. */
	bpf_map_delete_elem(&blame_cache, &dev);
	return bytes;
}

/* A request enters service on dev. key: its blk_rq key, for a flush's table. */
static __always_inline void blame_issue(struct sw_blk_rq *r, const struct sw_blk_sector_key *key, __u64 now)
{
	struct sw_blame_dev *d = blame_dev_of(r->dev);
	struct sw_blame_cache *held = NULL;
	__u64 culprit, held_bytes = 0;
	__u32 w;
	__u8 class;

	if (!d)
		return;
	if (blame_any_blocked(d))
		blame_advance(d, now);
	class = blame_class_of(r->kind);
	culprit = blame_culprit(r);
	if (r->op == SW_BLK_FLUSH) {
		held_bytes = blame_cache_take(r->dev, key);
		if (held_bytes)
			held = bpf_map_lookup_elem(&blame_flush, key);
	}
	w = blame_weight(r->dev, cost_op_of(r->op), held ? held_bytes : r->bytes);
	r->blame_weight = w;
	r->blame_split = held ? 1 : 0;
	for (int c = 0; c < SW_IO__CLASSES; c++) {
		__u32 cw;

		if (held)
			cw = (__u64)w * held->by_class[c] / held_bytes;
		else
			cw = c == class ? w : 0;
		r->blame_class_w[c] = cw;
		if (cw)
			__sync_fetch_and_add(&d->by_class[c], cw);
	}
	for (int k = 0; k < SW_BLAME_SLOTS; k++) {
		struct sw_blame_slot *s = &d->slot[k];
		__u64 own = 0;

		r->blame_credit[k] = s->clock[SW_CLK_CREDIT];
		r->blame_own_w[k] = 0;
		if (!s->victim)
			continue;
		if (held) {
			/* The victim's own writes in the cache are its own. */
			for (int i = 0; i < SW_CACHE_TOP; i++) {
				if (held->top[i].cgroup == s->victim)
					own += held->top[i].bytes;
			}
			own = (__u64)w * own / held_bytes;
		} else if (s->victim == culprit) {
			/* Own whatever submitted it: with the io controller on
			 * cgroup2 the owner of flusher or throttle I/O is the
			 * victim itself; so is the dirtier of its own pages. */
			own = w;
		}
		if (own) {
			r->blame_own_w[k] = own;
			__sync_fetch_and_add(&s->own, own);
		}
	}
	r->blame_class = class;
	r->blame_counted = 1;
}

/* One culprit's part of a request's blamed time in slot s. */
static __always_inline void blame_credit_to(struct sw_blame_slot *s, __u64 culprit, __u32 dev, __u8 kind, __u64 ns,
					    __u64 epoch_ns, __u64 bytes, __u64 count)
{
	blame_add(s->victim, culprit, dev, kind, ns, count);
	if (s->open > 0 && epoch_ns)
		blame_epoch_add(s, culprit, kind, epoch_ns, bytes, count);
}

/* A request leaves service: completed (done), requeued or forgotten. Its
 * blamed time is each slot's credit clock advance since its issue, times
 * its weight. key: its blk_rq key. */
static __always_inline void blame_end(struct sw_blk_rq *r, const struct sw_blk_sector_key *key, __u64 now, bool done)
{
	struct sw_blame_cache *held = NULL;
	struct sw_blame_dev *d;
	__u64 culprit;
	__u8 class;

	if (!r->blame_counted)
		return;
	r->blame_counted = 0;
	if (r->blame_split)
		held = bpf_map_lookup_elem(&blame_flush, key);
	d = blame_dev_of(r->dev);
	if (!d)
		goto out;
	if (blame_any_blocked(d))
		blame_advance(d, now);
	class = r->blame_class & (SW_IO__CLASSES - 1);
	for (int c = 0; c < SW_IO__CLASSES; c++) {
		if (r->blame_class_w[c])
			__sync_fetch_and_add(&d->by_class[c], -(__s64)r->blame_class_w[c]);
	}
	culprit = blame_culprit(r);
	if (done) {
		blame_cost_sample(r->dev, cost_op_of(r->op), held ? held->bytes : r->done_bytes, now - r->issue_ns);
		if (r->op == SW_BLK_WRITE)
			blame_cache_add(r->dev, culprit, class, r->done_bytes);
	}
	for (int k = 0; k < SW_BLAME_SLOTS; k++) {
		struct sw_blame_slot *s = &d->slot[k];
		__u64 now_credit = s->clock[SW_CLK_CREDIT];
		__u64 from = r->blame_credit[k];
		__u64 ns, epoch_ns, own_w = r->blame_own_w[k];

		if (own_w)
			__sync_fetch_and_add(&s->own, -(__s64)own_w);
		if (!s->victim || now_credit == from)
			continue;
		ns = (now_credit - from) * r->blame_weight >> SW_CREDIT_SHIFT;
		/* Only the part inside the current epoch belongs to its windows. */
		from = blame_epoch_from(s, from);
		epoch_ns = (__s64)(now_credit - from) > 0 ? (now_credit - from) * r->blame_weight >> SW_CREDIT_SHIFT : 0;
		if (!held) {
			__u8 kind = own_w ? SW_BLAME_OWN_IO : blame_kind_of(class);

			blame_credit_to(s, culprit, r->dev, kind, ns, epoch_ns, done ? r->done_bytes : 0, done);
			continue;
		}
		/* A flush: its time is the cache's, split by what each culprit wrote. */
		if (held->bytes == 0)
			continue;
		for (int i = 0; i < SW_CACHE_TOP; i++) {
			struct sw_blame_cache_entry *e = &held->top[i];
			__u64 b = e->bytes;

			if (!b)
				continue;
			blame_credit_to(s, e->cgroup, r->dev,
					e->cgroup == s->victim ? SW_BLAME_OWN_IO : blame_kind_of(e->io_class & 3),
					ns * b / held->bytes, epoch_ns * b / held->bytes, 0, 0);
		}
		if (held->rest_bytes)
			blame_credit_to(s, 0, r->dev, SW_BLAME_OTHER, ns * held->rest_bytes / held->bytes,
					epoch_ns * held->rest_bytes / held->bytes, 0, 0);
		/* The request itself, counted once under who asked for it. */
		blame_add(s->victim, culprit, r->dev, blame_kind_of(class), 0, done);
	}
out:
	if (held)
		bpf_map_delete_elem(&blame_flush, key);
}

/* Pages of an inode on a victim's disk got dirty: remember by whom. Called
 * in the dirtier's context (writeback_mark_inode_dirty). */
static __always_inline void blame_note_dirtier(struct inode *inode, int flags)
{
	__u64 key = (__u64)inode, cg, *have;
	__u32 disk;

	if (!(flags & (1 << 2) /* I_DIRTY_PAGES */) || !inode)
		return;
	/* Block-device inodes (metadata buffers) have no disk here: left out. */
	disk = sw_disk_dev(BPF_CORE_READ(inode, i_sb, s_bdev, bd_disk));
	if (!disk || !bpf_map_lookup_elem(&blame_dev, &disk))
		return;
	if (BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), flags) & 0x00200000 /* PF_KTHREAD */)
		return;
	cg = bpf_get_current_cgroup_id();
	have = bpf_map_lookup_elem(&sw_inode_dirtier, &key);
	if (have && *have == cg)
		return;
	bpf_map_update_elem(&sw_inode_dirtier, &key, &cg, BPF_ANY);
}

/* Whose data a bio a kernel thread submits carries: its first page's
 * inode's dirtier; 0 for metadata and anonymous pages. */
static __always_inline __u64 blame_dirtier_of(struct bio *bio)
{
	struct page *page;
	struct address_space *mapping;
	__u64 host, *cg;

	if (!bio)
		return 0;
	page = BPF_CORE_READ(bio, bi_io_vec, bv_page);
	if (!page)
		return 0;
	mapping = BPF_CORE_READ(page, mapping);
	if (!mapping || ((__u64)mapping & 1) /* PAGE_MAPPING_ANON */)
		return 0;
	host = (__u64)BPF_CORE_READ(mapping, host);
	cg = bpf_map_lookup_elem(&sw_inode_dirtier, &host);
	return cg ? *cg : 0;
}

#endif
