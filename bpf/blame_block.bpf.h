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
 * up per culprit in blame_cache; a flush takes that table at issue, with
 * the writes still in service, which are served before it (blame_ahead),
 * weighs as base + per_page x the pages it held, is the victim's own for
 * what a flush of only its own pages costs, and the rest is charged to the
 * largest writer.
 *
 * Ownership: data a kernel thread writes (jbd2 flushing ordered data, flusher
 * kworkers) belongs to the cgroup that dirtied the pages: remembered per
 * inode in sw_inode_dirtier when pages get dirty, and read back from the
 * request's first page. The kind stays journal or writeback; the culprit is
 * the pod.
 *
 * Transactions: the journal's own blocks (descriptors, metadata copies, the
 * commit block) carry no one's pages, but each transaction holds the
 * blocks its handles dirtied. Per (filesystem, tid) the largest
 * contributors are counted at each handle's end (jbd2_handle_stats, in the
 * contributor's context); the jbd2 thread's writes while it commits that
 * transaction (jbd2_start_commit to jbd2_end_commit) are charged to the two
 * largest in proportion, the smaller ones folded into the second. A
 * victim's own part stays `journal`, as before.
 */
#ifndef STALLWATCH_BLAME_BLOCK_BPF_H
#define STALLWATCH_BLAME_BLOCK_BPF_H

#include "blame.bpf.h"
#include "blame_tables.h"

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

/* disk dev_t -> writes in service on it (sw_blame_ahead). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct sw_blame_ahead);
} blame_ahead SEC(".maps");

/* inode -> cgroup that last dirtied its pages, for inodes on victims'
 * disks. LRU: inodes come and go; a forgotten one is "unknown owner".
 * Keyed by address, which a new inode reuses once a file is deleted: the
 * entry keeps the inode's number and generation, and a mismatch is stale. */
struct sw_dirtier {
	__u64 cgroup;
	__u64 ino;
	__u32 gen;
	__u32 pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct sw_dirtier);
} sw_inode_dirtier SEC(".maps");

/* Grouped disk dev_t -> its own requests (sw_disk_busy). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct sw_disk_busy);
} blame_busy SEC(".maps");

/* Which blame state a request on disk dev is counted in: its own, or its
 * group's. Called when the request is first seen. */
static __always_inline void blame_place(struct sw_blk_rq *r, __u32 dev)
{
	__u32 *group = blame_group_lookup(dev);

	r->blame_dev = dev;
	r->blame_grouped = 0;
	if (group) {
		r->blame_dev = *group;
		r->blame_grouped = 1;
	}
}

/* Filesystems (dev_t) on victims' disks whose journal commits were seen:
 * only their handles are counted. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u8);
} blame_fs SEC(".maps");

/* (filesystem, tid) -> contributors. LRU: transactions end unannounced. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct sw_tx_key);
	__type(value, struct sw_tx);
} blame_tx SEC(".maps");

/* kernel thread -> the dirtier of the inode it last mapped blocks of
 * (ext4_ext_map_blocks_enter): a flusher allocating a pod's delayed blocks,
 * or a conversion worker marking a pod's written extents, ends a handle
 * in a kernel thread, for that pod. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} blame_acting_for SEC(".maps");

/* jbd2 thread -> the transaction it commits (sw_blk_bio.tx). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} blame_committing SEC(".maps");

/* Set by user space: bi_blkg names the cgroup2 cgroup charged (io
 * controller on cgroup2); else the submitter is the culprit. */
const volatile bool cfg_blame_owner = false;

/* The owner speaks for kernel threads only (flushers, dm-crypt's workers,
 * blk-throttle's dispatch): a process's own cgroup is as exact or more,
 * since the io controller charges a cgroup without it enabled to the
 * nearest ancestor that has it, and a victim there would be its own
 * ancestor's neighbour. */
static __always_inline __u64 blame_culprit(const struct sw_blk_rq *r)
{
	__u64 *alias, owner = r->owner;

	if (r->dirtier)
		return r->dirtier;
	if (!cfg_blame_owner || !owner || r->kind == SW_KIND_USER)
		return r->submitter;
	/* Keys from the stack: r may be a global function's argument, which
	 * 6.1's helpers refuse as a key. */
	alias = bpf_map_lookup_elem(&blame_owner_alias, &owner);
	return alias ? *alias : owner;
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

/* A write's bytes into table c (its disk's cache once completed, or those
 * in service) under its culprits: a journal write of a transaction split
 * between its two contributors. */
static __always_inline void blame_table_add_write(struct sw_blame_cache *c, const struct sw_blk_rq *r, __u64 culprit,
						  __s64 bytes)
{
	__u8 class = r->blame_class & (SW_IO__CLASSES - 1);

	if (r->tx_share && r->dirtier2) {
		__s64 first = bytes * r->tx_share >> 16;

		blame_table_add(c, culprit, class, first);
		blame_table_add(c, r->dirtier2, class, bytes - first);
	} else {
		blame_table_add(c, culprit, class, bytes);
	}
}

static __always_inline __u16 blame_ahead_gen(const struct sw_blame_ahead *a)
{
	return a->flushes % 65535 + 1;
}

/* A write enters service on a victim's disk: ahead of any flush issued
 * before it completes. */
static __always_inline void blame_ahead_count(struct sw_blk_rq *r, __u64 culprit)
{
	static const struct sw_blame_ahead zero;
	__u32 dev = r->dev; /* a key from the stack, as blame_culprit's */
	struct sw_blame_ahead *a = sw_lookup_or_init(&blame_ahead, &dev, &zero, SW_DROP_BLAME_SERIES_FULL);

	if (!a)
		return;
	blame_table_add_write(&a->writes, r, culprit, r->bytes);
	r->blame_ahead_gen = blame_ahead_gen(a);
}

/* A write leaves service. Returns whether a flush issued meanwhile took it
 * (it is in that flush, not in the cache the next one empties). */
static __always_inline bool blame_ahead_done(struct sw_blk_rq *r, __u64 culprit)
{
	__u32 dev = r->dev;
	struct sw_blame_ahead *a;
	__u16 gen = r->blame_ahead_gen;

	if (!gen)
		return false;
	r->blame_ahead_gen = 0;
	a = bpf_map_lookup_elem(&blame_ahead, &dev);
	if (!a || blame_ahead_gen(a) != gen)
		return true;
	blame_table_add_write(&a->writes, r, culprit, -(__s64)r->bytes);
	return false;
}

/* A flush is issued: the writes in service are ahead of it, so they join
 * the cache it empties, and the count of those in service starts anew. */
static __always_inline void blame_flush_takes_ahead(__u32 dev)
{
	static const struct sw_blame_cache zero;
	struct sw_blame_ahead *a = bpf_map_lookup_elem(&blame_ahead, &dev);
	struct sw_blame_cache *c;

	if (!a)
		return;
	c = (__s64)a->writes.bytes > 0 ? sw_lookup_or_init(&blame_cache, &dev, &zero, SW_DROP_BLAME_SERIES_FULL) : NULL;
	if (c)
		blame_table_take(c, &a->writes);
	__sync_fetch_and_add(&a->flushes, 1);
}

/* Members of a group serve in parallel: a mirror's copies of a write, or
 * a stripe's chunks of one, are issued to each member within microseconds.
 * Alone, the victim would have waited for one of them, not their sum; so
 * an own request of the same size as the slot's last one, on another
 * member, issued within SW_PARALLEL_NS of it, adds its weight but no
 * expected time. (Without this a two-disk mirror's own part came out 1.5
 * times a single disk's, and most of its calls `self` beside a neighbour.) */
#define SW_PARALLEL_NS 1000000ULL
static __always_inline bool blame_parallel_copy(struct sw_blame_slot *s, const struct sw_blk_rq *r)
{
	if (!r->blame_grouped)
		return false;
	if (s->par_dev && s->par_dev != r->dev && s->par_bytes == r->bytes && r->issue_ns - s->par_ns < SW_PARALLEL_NS)
		return true;
	s->par_ns = r->issue_ns;
	s->par_dev = r->dev;
	s->par_bytes = r->bytes;
	return false;
}

/* Slot k's view of a request entering service: its credit clocks now, and
 * what of it is the slot's victim's own (with the time the cost model
 * expects that to take). held: a flush's cache table, else NULL. */
SW_VERIFIED_ONCE int blame_issue_slot(struct sw_blk_rq *r, struct sw_blame_slot *s, __u32 k,
				      struct sw_blame_cache *held, __u64 culprit)
{
	__u64 own = 0;

	if (!r || !s)
		return 0;
	k &= SW_BLAME_SLOTS - 1;
	r->blame_credit[k] = s->clock[SW_CLK_CREDIT];
	r->blame_credit_own[k] = s->clock[SW_CLK_CREDIT_OWN];
	r->blame_held[k] = s->held_ns;
	r->blame_held_own[k] = s->held_own_ns;
	r->blame_own_w[k] = 0;
	if (!s->victim)
		return 0;
	if (held) {
		/* Its own part is what a flush of only its own writes would
		 * cost: the base and those pages. Alone it would have waited
		 * that long anyway. Charged by bytes instead, the base went to
		 * whoever else had written: a 1 MiB writer on ext4 was blamed
		 * for 1.12 to 1.27 times the slowdown it caused (1.00 since). */
		for (int i = 0; i < SW_CACHE_TOP; i++) {
			if (held->top[i].cgroup == s->victim)
				own += held->top[i].bytes;
		}
		if (own) {
			__u64 alone = blame_weight(r->dev, SW_COST_FLUSH, own);

			own = alone < r->blame_weight ? alone : r->blame_weight;
		}
	} else if (s->victim == culprit) {
		/* Own whatever submitted it: with the io controller on cgroup2
		 * the owner of flusher or throttle I/O is the victim itself; so
		 * is the dirtier of its own pages. */
		own = r->blame_weight;
	}
	if (own) {
		r->blame_own_w[k] = own;
		__sync_fetch_and_add(&s->own, own);
		if (!blame_parallel_copy(s, r))
			__sync_fetch_and_add(&s->own_budget, blame_expected_ns(own));
	}
	return 0;
}

/* A flush takes over its disk's cache table: the largest writer becomes
 * its culprit (its class the flush's), the second largest that of a victim
 * that is the largest itself, the classes share its weight by
 * bytes, and the table starts anew. Returns the table (NULL: empty cache,
 * an ordinary request). Writes completing meanwhile may be lost to both
 * tables: a bounded error, no lock in tracepoint programs. */
static __always_inline struct sw_blame_cache *blame_flush_takes_cache(struct sw_blk_rq *r)
{
	__u32 dev = r->dev; /* a key from the stack, as blame_culprit's */
	struct sw_blame_cache *c;
	__u64 most = 0, next = 0;

	blame_flush_takes_ahead(dev);
	c = bpf_map_lookup_elem(&blame_cache, &dev);
	if (!c || !c->bytes)
		return NULL;
	/* The cache's writers replace a commit's contributors. */
	r->dirtier = 0;
	r->dirtier2 = 0;
	r->tx_share = 0;
	for (int i = 0; i < SW_CACHE_TOP; i++) {
		__u64 b = c->top[i].bytes;

		if (b > most) {
			next = most;
			r->dirtier2 = r->dirtier;
			r->blame_class2 = r->blame_class;
			most = b;
			r->dirtier = c->top[i].cgroup;
			r->blame_class = c->top[i].io_class & (SW_IO__CLASSES - 1);
		} else if (b > next) {
			next = b;
			r->dirtier2 = c->top[i].cgroup;
			r->blame_class2 = c->top[i].io_class & (SW_IO__CLASSES - 1);
		}
	}
	r->blame_held_pages = (c->bytes + 4095) >> 12;
	return c;
}

/* A request enters service on dev. */
SW_VERIFIED_ONCE int blame_issue(struct sw_blk_rq *r, __u64 now)
{
	static const struct sw_disk_busy zero_busy;
	struct sw_blame_cache *held = NULL;
	struct sw_disk_busy *b = NULL;
	struct sw_blame_dev *d;
	__u64 culprit;
	__u32 w, dev;

	if (!r)
		return 0;
	dev = r->dev; /* a key from the stack, as blame_culprit's */
	d = blame_dev_of(r->blame_dev);
	if (!d)
		return 0;
	if (r->blame_grouped) {
		b = sw_lookup_or_init(&blame_busy, &dev, &zero_busy, SW_DROP_BLAME_SERIES_FULL);
		if (!b)
			return 0;
	}
	if (blame_any_blocked(d))
		blame_advance(d, now);
	blame_note_issue(r->blame_dev, now);
	r->blame_class = blame_class_of(r->kind);
	/* A kernel thread carrying I/O the io controller charges to a pod
	 * (dm-crypt's workers, blk-throttle dispatch): the pod's own. */
	if (r->blame_class == SW_IO_KTHREAD && cfg_blame_owner && r->owner > 1)
		r->blame_class = SW_IO_USER;
	if (r->op == SW_BLK_FLUSH && !r->blame_bio)
		held = blame_flush_takes_cache(r);
	if (b) {
		/* A group's state counts every member's requests: alone is judged on its own disk. */
		r->blame_alone = b->in_service <= 0;
		__sync_fetch_and_add(&b->in_service, 1);
		__sync_fetch_and_add(&b->issued, 1);
		r->blame_issue_seq = (__u32)b->issued;
	} else {
		r->blame_alone = d->by_class[SW_IO_USER] <= 0 && d->by_class[SW_IO_JOURNAL] <= 0 &&
				 d->by_class[SW_IO_WRITEBACK] <= 0 && d->by_class[SW_IO_KTHREAD] <= 0;
		__sync_fetch_and_add(&d->issued, 1);
		r->blame_issue_seq = (__u32)d->issued;
	}
	culprit = blame_culprit(r);
	r->blame_ahead_gen = 0;
	if (r->op == SW_BLK_WRITE && !r->blame_bio)
		blame_ahead_count(r, culprit);
	w = blame_weight(r->dev, cost_op_of(r->op), held ? (__u64)r->blame_held_pages << 12 : r->bytes);
	r->blame_weight = w;
	if (held) {
		blame_class_weights(r, held);
	} else {
		for (int c = 0; c < SW_IO__CLASSES; c++)
			r->blame_class_w[c] = c == r->blame_class ? w : 0;
	}
	for (int c = 0; c < SW_IO__CLASSES; c++) {
		if (r->blame_class_w[c])
			__sync_fetch_and_add(&d->by_class[c], r->blame_class_w[c]);
	}
	for (int k = 0; k < SW_BLAME_SLOTS; k++)
		blame_issue_slot(r, &d->slot[k], k, held, culprit);
	if (held)
		bpf_map_delete_elem(&blame_cache, &dev);
	r->blame_recent = 0;
	if (r->rq) {
		/* Plain loads and stores, no fetching atomic (5.12+): two CPUs
		 * may take one place, and the request overwritten goes unlooked
		 * at, as one 16 requests old does. */
		__u64 seq = d->recent_seq;
		__u32 i = seq & (SW_RECENT_RQ - 1);

		d->recent_seq = seq + 1;
		d->recent_rq[i] = r->rq;
		r->blame_recent = i + 1;
	}
	/* Last: an end that claims the request finds its weights counted. */
	asm volatile("" ::: "memory");
	r->blame_counted = 1;
	return 0;
}

/* One culprit's part of a request's blamed time in a slot. */
struct blame_part {
	__u64 culprit, ns, epoch_ns, bytes, count;
	__u32 dev;
	__u8 kind;
};

/* Called from several places per slot. */
SW_VERIFIED_ONCE int blame_credit_part(struct sw_blame_slot *s, const struct blame_part *p)
{
	__u8 kind;

	if (!s || !p)
		return 0;
	kind = p->kind;
	/* The victim's own part, whatever the path that named it (a request of
	 * its issued before it held this slot, the rounding and unnamed rest of
	 * a flush of a cache it wrote all of, its share of a transaction): its
	 * own I/O, never its own neighbour. Journal stays journal. */
	if (p->culprit == s->victim && kind != SW_BLAME_JOURNAL)
		kind = SW_BLAME_OWN_IO;
	blame_add(s->victim, p->culprit, p->dev, kind, p->ns, p->count);
	if (s->open > 0 && p->epoch_ns)
		blame_epoch_add(s, p->culprit, kind, p->epoch_ns, p->bytes, p->count);
	return 0;
}

/* Slot k's part of a request leaving service: its own part on the own
 * clock, the rest on the others' clock. culprit_done: the culprit, with
 * bit 63 set when the request completed. */
SW_VERIFIED_ONCE int blame_end_slot(struct sw_blk_rq *r, struct sw_blame_slot *s, __u32 k, __u64 culprit_done)
{
	struct blame_part p = { .culprit = culprit_done & ~(1ULL << 63) };
	bool done = culprit_done >> 63;
	__u64 own_w, other_w, c_now, c_own_now, h_now, h_own_now;

	if (!r || !s)
		return 0;
	p.dev = r->blame_dev;
	c_now = s->clock[SW_CLK_CREDIT];
	c_own_now = s->clock[SW_CLK_CREDIT_OWN];
	h_now = s->held_ns;
	h_own_now = s->held_own_ns;
	k &= SW_BLAME_SLOTS - 1;
	own_w = r->blame_own_w[k];
	other_w = r->blame_weight - own_w;
	if (own_w) {
		__s64 cap;

		__sync_fetch_and_add(&s->own, -(__s64)own_w);
		/* What budget this request left unused is no one's: the budget
		 * never exceeds what the own requests still in service are
		 * expected to take (a plain store: racy, bounded). */
		cap = blame_expected_ns(nonneg(s->own));
		if (s->own_budget > cap)
			s->own_budget = cap;
	}
	if (!s->victim)
		return 0;
	p.bytes = done && r->op != SW_BLK_FLUSH ? r->done_bytes : 0;
	/* The victim's part (its own request, or its writes in a flushed
	 * cache), then the others'; only the part inside the current epoch
	 * belongs to its windows. */
	if (own_w) {
		p.culprit = s->victim;
		p.kind = SW_BLAME_OWN_IO;
		p.ns = blame_credit_capped(c_own_now, r->blame_credit_own[k], own_w, h_own_now, r->blame_held_own[k]);
		p.epoch_ns = blame_credit_capped(c_own_now,
						 blame_epoch_from(s->epoch_credit_own, r->blame_credit_own[k]), own_w,
						 h_own_now, r->blame_held_own[k]);
		p.count = other_w ? 0 : done;
		if (p.ns || p.count)
			blame_credit_part(s, &p);
	}
	if (other_w) {
		p.culprit = culprit_done & ~(1ULL << 63);
		p.kind = blame_kind_of(r->blame_class & (SW_IO__CLASSES - 1));
		/* A flush of a cache the victim wrote most of: the others' part
		 * is the other writers' (the next largest named), not its own. */
		if (r->op == SW_BLK_FLUSH && p.culprit == s->victim && r->dirtier2) {
			p.culprit = r->dirtier2;
			p.kind = blame_kind_of(r->blame_class2 & (SW_IO__CLASSES - 1));
		}
		p.ns = blame_credit_capped(c_now, r->blame_credit[k], other_w, h_now, r->blame_held[k]);
		p.epoch_ns = blame_credit_capped(c_now, blame_epoch_from(s->epoch_credit, r->blame_credit[k]), other_w,
						 h_now, r->blame_held[k]);
		p.count = done;
		/* The journal's own write of a transaction: its contributors' in
		 * proportion, the first with the count. */
		if (r->tx_share && r->dirtier2 && r->op != SW_BLK_FLUSH) {
			struct blame_part q = p;

			p.ns = p.ns * r->tx_share >> 16;
			p.epoch_ns = p.epoch_ns * r->tx_share >> 16;
			q.ns -= p.ns;
			q.epoch_ns -= p.epoch_ns;
			q.count = 0;
			q.culprit = r->dirtier2;
			if (q.ns)
				blame_credit_part(s, &q);
		}
		if (p.ns || p.count)
			blame_credit_part(s, &p);
	}
	return 0;
}

/* A request leaves service: completed (done), requeued, forgotten or
 * found lost. Its blamed time is each slot's credit clocks' advance since
 * its issue, times its weight (its own part on the own clock). Returns 1
 * if it was in service: of two paths ending it at once, one does (before
 * 5.12 the compare-and-swap is a plain store, and both may; read first,
 * there, or a request never counted would read as claimed). */
SW_VERIFIED_ONCE int blame_end(struct sw_blk_rq *r, __u64 now, bool done)
{
	struct sw_blame_dev *d;
	struct sw_disk_busy *b = NULL;
	__u64 culprit;
	__u32 issued, dev, i;

	if (!r || !r->blame_counted || __sync_val_compare_and_swap(&r->blame_counted, 1, 0) != 1)
		return 0;
	dev = r->dev; /* a key from the stack, as blame_culprit's */
	d = blame_dev_of(r->blame_dev);
	if (!d)
		return 1;
	i = r->blame_recent - 1;
	if (r->blame_recent && d->recent_rq[i & (SW_RECENT_RQ - 1)] == r->rq)
		d->recent_rq[i & (SW_RECENT_RQ - 1)] = 0;
	issued = (__u32)d->issued;
	if (r->blame_grouped) {
		b = bpf_map_lookup_elem(&blame_busy, &dev);
		if (b) {
			__sync_fetch_and_add(&b->in_service, -1);
			issued = (__u32)b->issued;
		}
	}
	if (blame_any_blocked(d))
		blame_advance(d, now);
	for (int c = 0; c < SW_IO__CLASSES; c++) {
		if (r->blame_class_w[c])
			__sync_fetch_and_add(&d->by_class[c], -(__s64)r->blame_class_w[c]);
	}
	culprit = blame_culprit(r);
	/* The cost model learns what a request costs alone: a request that
	 * shared the device took its own time plus part of the others', and
	 * fitted on those the victim's own requests would be expected to take
	 * what waiting behind a neighbour takes. */
	/* A dm-crypt bio's time is its queue's, not its cost: no sample, and
	 * its writes reach the disk's cache as the requests below. */
	if (done && r->blame_alone && issued == r->blame_issue_seq && !r->blame_bio) {
		if (r->op == SW_BLK_FLUSH)
			blame_cost_sample(r->dev, SW_COST_FLUSH, (__u64)r->blame_held_pages << 12, now - r->issue_ns);
		else
			blame_cost_sample(r->dev, cost_op_of(r->op), r->done_bytes, now - r->issue_ns);
	}
	if (!blame_ahead_done(r, culprit) && done && !r->blame_bio && r->op == SW_BLK_WRITE && r->done_bytes) {
		static const struct sw_blame_cache zero;
		struct sw_blame_cache *c = sw_lookup_or_init(&blame_cache, &dev, &zero, SW_DROP_BLAME_SERIES_FULL);

		if (c)
			blame_table_add_write(c, r, culprit, r->done_bytes);
	}
	for (int k = 0; k < SW_BLAME_SLOTS; k++)
		blame_end_slot(r, &d->slot[k], k, culprit | ((__u64)done << 63));
	return 1;
}

/* The cgroup that last dirtied inode's pages; 0: unknown, or a stale
 * entry of a deleted inode at the same address. */
static __always_inline __u64 blame_inode_dirtier(struct inode *inode)
{
	__u64 host = (__u64)inode;
	struct sw_dirtier *d = bpf_map_lookup_elem(&sw_inode_dirtier, &host);

	if (!d)
		return 0;
	if (d->ino != BPF_CORE_READ(inode, i_ino) || d->gen != BPF_CORE_READ(inode, i_generation))
		return 0;
	return d->cgroup;
}

static __always_inline bool current_is_kthread(void)
{
	return BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), flags) & 0x00200000 /* PF_KTHREAD */;
}

/* I_DIRTY_PAGES: bit 2 until 6.12 reordered the i_state bits (bit 5);
 * later kernels make the flags an enum, which names the value. Those bits
 * are #defines before that, invisible to BTF: the version tells. */
extern int LINUX_KERNEL_VERSION __kconfig;
enum inode_state_flags_t___new { I_DIRTY_PAGES___new = 64 };

static __always_inline int i_dirty_pages(void)
{
	if (bpf_core_enum_value_exists(enum inode_state_flags_t___new, I_DIRTY_PAGES___new))
		return bpf_core_enum_value(enum inode_state_flags_t___new, I_DIRTY_PAGES___new);
	return LINUX_KERNEL_VERSION >= KERNEL_VERSION(6, 12, 0) ? 1 << 5 : 1 << 2;
}

/* Pages of an inode on a victim's disk got dirty: remember by whom. Called
 * in the dirtier's context (writeback_mark_inode_dirty). */
static __always_inline void blame_note_dirtier(struct inode *inode, int flags)
{
	__u64 key = (__u64)inode;
	struct sw_dirtier d = {}, *have;
	__u32 disk;

	if (!(flags & i_dirty_pages()) || !inode)
		return;
	/* Block-device inodes (metadata buffers) have no disk here: left out. */
	disk = blame_disk(BPF_CORE_READ(inode, i_sb, s_dev), sw_disk_dev(BPF_CORE_READ(inode, i_sb, s_bdev, bd_disk)));
	if (!disk || !bpf_map_lookup_elem(&blame_dev, &disk))
		return;
	if (current_is_kthread())
		return;
	d.cgroup = bpf_get_current_cgroup_id();
	d.ino = BPF_CORE_READ(inode, i_ino);
	d.gen = BPF_CORE_READ(inode, i_generation);
	have = bpf_map_lookup_elem(&sw_inode_dirtier, &key);
	if (have && have->cgroup == d.cgroup && have->ino == d.ino && have->gen == d.gen)
		return;
	bpf_map_update_elem(&sw_inode_dirtier, &key, &d, BPF_ANY);
}

/* A kernel thread maps blocks of inode: the handle it ends next is for the
 * inode's dirtier. Without this, the handles of ext4's unwritten-extent
 * conversion after each of a pod's writes made one-block transactions of
 * the root's, and their commits "journal by /" (3% of a churning
 * neighbour's transactions, 6% of its journal time). */
static __always_inline void blame_note_acting(struct inode *inode)
{
	__u64 cg, *have;
	__u32 pid;

	if (!current_is_kthread() || !inode)
		return;
	pid = (__u32)bpf_get_current_pid_tgid();
	cg = blame_inode_dirtier(inode);
	/* Written only on a change: flushers map many blocks of one inode, and
	 * of inodes on disks no victim uses (no dirtier, nothing to delete). */
	have = bpf_map_lookup_elem(&blame_acting_for, &pid);
	if (cg && (!have || *have != cg))
		bpf_map_update_elem(&blame_acting_for, &pid, &cg, BPF_ANY);
	else if (!cg && have)
		bpf_map_delete_elem(&blame_acting_for, &pid);
}

/* A handle of transaction tid on filesystem fs_dev ended having dirtied
 * blocks: count them for the current task's cgroup; a kernel thread's for
 * the dirtier of the inode it mapped (else the root's: the journal's own,
 * as ext4's lazy inode-table zeroing). */
static __always_inline void blame_tx_handle(__u32 fs_dev, __u32 tid, int blocks)
{
	static const struct sw_tx zero;
	struct sw_tx_key key = { .fs_dev = fs_dev, .tid = tid };
	struct sw_tx_part *c = 0;
	struct sw_tx *tx;
	__u64 cg, least = ~0ULL;
	__u32 smallest = 0;

	if (blocks <= 0 || !bpf_map_lookup_elem(&blame_fs, &fs_dev))
		return;
	tx = bpf_map_lookup_elem(&blame_tx, &key);
	if (!tx) {
		bpf_map_update_elem(&blame_tx, &key, &zero, BPF_NOEXIST);
		tx = bpf_map_lookup_elem(&blame_tx, &key);
		if (!tx)
			return;
	}
	cg = bpf_get_current_cgroup_id();
	if (current_is_kthread()) {
		__u32 pid = (__u32)bpf_get_current_pid_tgid();
		__u64 *acting = bpf_map_lookup_elem(&blame_acting_for, &pid);

		if (acting) {
			cg = *acting;
			bpf_map_delete_elem(&blame_acting_for, &pid);
		}
	}
	for (int i = 0; i < SW_TX_TOP; i++) {
		struct sw_tx_part *t = &tx->c[i];

		if (t->cgroup == cg || !t->blocks) {
			t->cgroup = cg;
			c = t;
			break;
		}
		if (t->blocks < least) {
			least = t->blocks;
			smallest = i;
		}
	}
	if (!c) {
		/* Full: a larger newcomer takes the smallest's place. */
		if ((__u64)blocks <= least)
			return;
		c = &tx->c[smallest & (SW_TX_TOP - 1)];
		c->cgroup = cg;
		c->blocks = 0;
	}
	__sync_fetch_and_add(&c->blocks, blocks);
}

/* The current (jbd2) thread starts committing transaction tid of the
 * filesystem on bdev; only filesystems on victims' disks are followed. */
static __always_inline void blame_tx_commit_start(struct block_device *bdev, __u32 tid)
{
	__u32 fs_dev = BPF_CORE_READ(bdev, bd_dev), disk = blame_disk(fs_dev, sw_disk_dev(BPF_CORE_READ(bdev, bd_disk)));
	__u32 pid = (__u32)bpf_get_current_pid_tgid();
	__u64 tx = ((__u64)fs_dev << 32) | tid;
	const __u8 one = 1;

	if (!disk || !bpf_map_lookup_elem(&blame_dev, &disk))
		return;
	if (!bpf_map_lookup_elem(&blame_fs, &fs_dev))
		bpf_map_update_elem(&blame_fs, &fs_dev, &one, BPF_ANY);
	bpf_map_update_elem(&blame_committing, &pid, &tx, BPF_ANY);
}

static __always_inline void blame_tx_commit_end(void)
{
	__u32 pid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_delete_elem(&blame_committing, &pid);
}

/* The transaction the current thread commits, for a bio it queues; 0: none. */
static __always_inline __u64 blame_tx_of_current(void)
{
	__u32 pid = (__u32)bpf_get_current_pid_tgid();
	__u64 *tx = bpf_map_lookup_elem(&blame_committing, &pid);

	return tx ? *tx : 0;
}

/* A journal write of transaction tx carrying no one's pages: its two largest
 * contributors, in proportion (the rest folded into the second). */
static __always_inline void blame_tx_owner(struct sw_blk_rq *r, __u64 tx)
{
	struct sw_tx_key key = { .fs_dev = tx >> 32, .tid = (__u32)tx };
	struct sw_tx *t = bpf_map_lookup_elem(&blame_tx, &key);
	__u64 first = 0, second = 0, b1 = 0, b2 = 0, sum = 0;

	if (!t)
		return;
	for (int i = 0; i < SW_TX_TOP; i++) {
		__u64 b = t->c[i].blocks, cg = t->c[i].cgroup;

		if (!b)
			continue;
		sum += b;
		if (b > b1) {
			second = first;
			b2 = b1;
			first = cg;
			b1 = b;
		} else if (b > b2) {
			second = cg;
			b2 = b;
		}
	}
	if (!first)
		return;
	r->dirtier = first;
	if (!second || sum <= b1)
		return;
	r->dirtier2 = second;
	r->tx_share = (__u32)((b1 << 16) / sum);
	if (!r->tx_share)
		r->tx_share = 1;
}

/* Whose data a bio a kernel thread submits carries: its first page's
 * inode's dirtier; 0 for metadata and anonymous pages. */
static __always_inline __u64 blame_dirtier_of(struct bio *bio)
{
	struct page *page;
	struct address_space *mapping;
	struct inode *inode;

	if (!bio)
		return 0;
	page = BPF_CORE_READ(bio, bi_io_vec, bv_page);
	if (!page)
		return 0;
	mapping = BPF_CORE_READ(page, mapping);
	if (!mapping || ((__u64)mapping & 1) /* PAGE_MAPPING_ANON */)
		return 0;
	inode = BPF_CORE_READ(mapping, host);
	return inode ? blame_inode_dirtier(inode) : 0;
}

#endif
