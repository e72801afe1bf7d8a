// SPDX-License-Identifier: GPL-2.0
/*
 * Block-layer latency per (device, op, phase) and I/O per (submitter, owner,
 * device, op), aggregated in the kernel.
 *
 * Rungs, best first: tp_btf, raw_tp (same logic, arguments read with probe
 * reads), and the classic block: tracepoints, which carry no request pointer:
 * requests are then keyed by (device, sector) and the owner is unknown.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "blame_block.bpf.h"
#include "core_fixes.bpf.h"
#include "maps.bpf.h"
#include "slots.bpf.h"
#include "stallwatch.h"

char LICENSE[] SEC("license") = "GPL";

#define PF_KTHREAD 0x00200000 /* include/linux/sched.h */
#define REQ_OP_MASK 0xff      /* (1 << REQ_OP_BITS) - 1, 8 bits since 4.10 */

/* Only devices in blk_devices are traced when set (--devices). */
const volatile bool cfg_filter_devices = false;

/* disk dev_t -> 1, the --devices include list. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u8);
} blk_devices SEC(".maps");

/* bio (or dev+sector) -> who queued it and when, until the bio becomes part
 * of a request. Bios of bio-based devices never do; user space sweeps them. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct sw_blk_sector_key);
	__type(value, struct sw_blk_bio);
} blk_bio SEC(".maps");

/* disk dev_t -> who last queued a bio asking for a cache flush. The flush
 * request the block layer then makes has no bio and is queued from
 * kblockd: it is charged to that submitter, whose fsync asked for it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct sw_blk_bio);
} blk_flush_by SEC(".maps");

/* Requests in flight, freed at completion. Requests that never complete
 * are swept by user space and counted. On the request-pointer rungs with
 * cfg_slots, a request lives in a slot (blk_rq_key: its struct request;
 * blk_rq_slot: its record), else here: request (or dev+sector, or a
 * dm-crypt bio) -> record. User space sizes this one down with slots. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct sw_blk_sector_key);
	__type(value, struct sw_blk_rq);
} blk_rq SEC(".maps");

/* Mapped by user space, which counts and sweeps the taken slots. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SW_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} blk_rq_key SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SW_SLOTS);
	__type(key, __u32);
	__type(value, struct sw_blk_rq);
} blk_rq_slot SEC(".maps");

/* Bios the same way: a bio queued to a request-based disk lives in a slot
 * (blk_bio_key: the bio; blk_bio_slot: its record) until it joins a request
 * or is merged into one, else in blk_bio. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SW_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} blk_bio_key SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SW_SLOTS);
	__type(key, __u32);
	__type(value, struct sw_blk_bio);
} blk_bio_slot SEC(".maps");

/* Requests (SW_SPILL_RQ) and bios (SW_SPILL_BIO) of the slot rungs in the
 * hashes, their slots all taken: while there are none, one not in a slot
 * is new, and no hash walk asks. */
#define SW_SPILL_RQ 0
#define SW_SPILL_BIO 1
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __s64);
} blk_spilled SEC(".maps");

/* (device, op, phase, shard) -> histogram. Devices x 5 ops x 2 phases x
 * SW_BLK_SHARDS. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024 * SW_BLK_SHARDS);
	__type(key, struct sw_blk_hist_key);
	__type(value, struct sw_hist);
} blk_hist SEC(".maps");

/* (submitter, owner, device, op, kind, shard) -> counters. Sized by user
 * space: its series bound times SW_BLK_SHARDS. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct sw_blk_io_key);
	__type(value, struct sw_blk_io);
} blk_io SEC(".maps");

/* On the tp_btf rung the events' arguments are the kernel's typed
 * pointers, and the verifier lets a program load their fields directly (a
 * load that faults reads 0), where BPF_CORE_READ calls a helper for each
 * hop: 16 hops per request, whose direct loads took 0.17 us off each
 * request here (1.20 -> 1.03 us of BPF time at 390k requests a second). The
 * raw_tp rung's arguments are plain numbers and need the helper. User
 * space sets this for the tp_btf rung; read-only data is a constant to the
 * verifier, which never walks the branch a rung does not take. */
const volatile bool cfg_direct_reads = false;
#define SW_READ(src, ...) (cfg_direct_reads ? ___arrow(src, __VA_ARGS__) : BPF_CORE_READ(src, __VA_ARGS__))

/* The request-pointer rungs' keys (no dev) may live in slots. */
static __always_inline bool slotted(const struct sw_blk_sector_key *key)
{
	return cfg_slots && !key->dev;
}

static __always_inline void spilled_add(__u32 which)
{
	__s64 *v = bpf_map_lookup_elem(&blk_spilled, &which);

	if (v)
		__sync_fetch_and_add(v, 1);
}

/* Never below zero: an entry put there by hand (a test's) and forgotten
 * must not hide a real one from rq_find. */
static __always_inline void spilled_sub(__u32 which)
{
	__s64 *v = bpf_map_lookup_elem(&blk_spilled, &which);

	if (!v)
		return;
	for (int i = 0; i < 4; i++) {
		__s64 n = *v;

		if (n <= 0 || __sync_val_compare_and_swap(v, n, n - 1) == n)
			return;
	}
}

static __always_inline bool any_spilled(__u32 which)
{
	__s64 *v = bpf_map_lookup_elem(&blk_spilled, &which);

	return v && *v > 0;
}

/* sw_disk_dev, read as the rung allows. */
static __always_inline __u32 disk_dev(struct gendisk *disk)
{
	if (!disk)
		return 0;
	return ((__u32)SW_READ(disk, major) << SW_MINORBITS) | (__u32)SW_READ(disk, first_minor);
}

static __always_inline __u32 rq_dev(struct request *rq)
{
	struct request___pre5_16 *old = (void *)rq;

	if (bpf_core_field_exists(old->rq_disk))
		return disk_dev(SW_READ(old, rq_disk));
	return disk_dev(SW_READ(rq, q, disk));
}

/* The partition a bio was sent to, 0 for a whole disk. */
static __always_inline __u32 bio_part(struct bio *bio)
{
	struct block_device *bdev;
	__u32 dev;

	if (!bio || !bpf_core_field_exists(bio->bi_bdev))
		return 0;
	bdev = SW_READ(bio, bi_bdev);
	if (!bdev)
		return 0;
	dev = SW_READ(bdev, bd_dev);
	return dev == disk_dev(SW_READ(bdev, bd_disk)) ? 0 : dev;
}

static __always_inline bool wanted(__u32 dev)
{
	return !cfg_filter_devices || bpf_map_lookup_elem(&blk_devices, &dev);
}

static __always_inline __u8 op_of(__u32 cmd_flags)
{
	switch (cmd_flags & REQ_OP_MASK) {
	case 0:
		return SW_BLK_READ;
	case 1:
		return SW_BLK_WRITE;
	case 2:
		return SW_BLK_FLUSH;
	case 3: /* discard */
	case 5: /* secure erase */
	case 9: /* write zeroes */
		return SW_BLK_DISCARD;
	default:
		return SW_BLK_OTHER;
	}
}

/* What a kworker is doing, from its current work: writeback runs as a
 * kworker whose description is "flush-<bdi>" (set by wb_workfn); XFS writes
 * its log from work items of the "xfs-log/<dev>" and "xfs-cil/<dev>"
 * workqueues. A kthread's struct kthread (whose data is the worker) hangs
 * off task->worker_private since 5.17; before, the kernel kept it in
 * task->set_child_tid, which a kernel thread never uses otherwise. */
static __always_inline __u8 kworker_kind(struct task_struct *task)
{
	struct kthread *kt;
	struct worker *w;
	char desc[6], wq[8];

	if (bpf_core_field_exists(task->worker_private))
		kt = BPF_CORE_READ(task, worker_private);
	else
		kt = (struct kthread *)BPF_CORE_READ(task, set_child_tid);
	if (!kt)
		return SW_KIND_KWORKER;
	w = BPF_CORE_READ(kt, data);
	if (!w)
		return SW_KIND_KWORKER;
	if (!bpf_probe_read_kernel(desc, sizeof(desc), &w->desc) && desc[0] == 'f' && desc[1] == 'l' &&
	    desc[2] == 'u' && desc[3] == 's' && desc[4] == 'h' && desc[5] == '-')
		return SW_KIND_WRITEBACK;
	if (!bpf_probe_read_kernel(wq, sizeof(wq), BPF_CORE_READ(w, current_pwq, wq, name)) && wq[0] == 'x' &&
	    wq[1] == 'f' && wq[2] == 's' && wq[3] == '-' &&
	    ((wq[4] == 'l' && wq[5] == 'o' && wq[6] == 'g') || (wq[4] == 'c' && wq[5] == 'i' && wq[6] == 'l')) &&
	    wq[7] == '/')
		return SW_KIND_JOURNAL;
	return SW_KIND_KWORKER;
}

static __always_inline __u8 submitter_kind(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	char comm[8];

	if (cfg_direct_reads && sw_have_task_btf()) {
		if (!(bpf_get_current_task_btf()->flags & PF_KTHREAD))
			return SW_KIND_USER;
	} else if (!(BPF_CORE_READ(task, flags) & PF_KTHREAD)) {
		return SW_KIND_USER;
	}
	bpf_get_current_comm(comm, sizeof(comm));
	if (comm[0] == 'j' && comm[1] == 'b' && comm[2] == 'd' && comm[3] == '2')
		return SW_KIND_JOURNAL;
	/* XFS's AIL pushes the log's tail out: journal work too. */
	if (comm[0] == 'x' && comm[1] == 'f' && comm[2] == 's' && comm[3] == 'a' && comm[4] == 'i' && comm[5] == 'l' &&
	    comm[6] == 'd')
		return SW_KIND_JOURNAL;
	if (comm[0] == 'k' && comm[1] == 'w' && comm[2] == 'o' && comm[3] == 'r' && comm[4] == 'k' && comm[5] == 'e' &&
	    comm[6] == 'r')
		return kworker_kind(task);
	return SW_KIND_KTHREAD;
}

/* The slot of the bio at key, SW_NO_SLOT if it has none; with make, a free
 * one it now owns when it has none. Global functions, which the verifier
 * walks once per program (bpf/blame_math.h), where a static one was walked
 * again at each of the bio loop's 16 turns; their temporaries stay off the
 * block programs' frames, which the blame engine's calls fill up to the
 * verifier's 512 bytes. */
SW_VERIFIED_ONCE __u32 bio_slot(const struct sw_blk_sector_key *key, bool make)
{
	struct sw_blk_bio *b;
	__u64 id;
	__u32 i;

	if (!key)
		return SW_NO_SLOT;
	id = sw_slot_id(&key->sector);
	i = sw_slot_find(&blk_bio_key, id);
	if (i != SW_NO_SLOT || !make)
		return i;
	i = sw_slot_claim(&blk_bio_key, id);
	if (i == SW_NO_SLOT)
		return i;
	b = bpf_map_lookup_elem(&blk_bio_slot, &i);
	if (b)
		b->slot = i + 1;
	return i;
}

SW_VERIFIED_ONCE int bio_slot_free(const struct sw_blk_sector_key *key, struct sw_blk_bio *b)
{
	if (key && b && b->slot)
		sw_slot_release(&blk_bio_key, b->slot - 1, sw_slot_id(&key->sector));
	return 0;
}

static __always_inline struct sw_blk_bio *bio_at(__u32 i)
{
	return bpf_map_lookup_elem(&blk_bio_slot, &i);
}

static __always_inline struct sw_blk_bio *bio_find(const struct sw_blk_sector_key *key)
{
	if (slotted(key)) {
		__u32 i = bio_slot(key, false);

		if (i != SW_NO_SLOT)
			return bio_at(i);
		if (!any_spilled(SW_SPILL_BIO))
			return NULL;
	}
	return bpf_map_lookup_elem(&blk_bio, key);
}

/* A bio's record goes, read: it joined a request or was merged into one. */
static __always_inline void bio_drop(const struct sw_blk_sector_key *key, struct sw_blk_bio *b)
{
	if (b->slot) {
		bio_slot_free(key, b);
		return;
	}
	if (!bpf_map_delete_elem(&blk_bio, key) && slotted(key))
		spilled_sub(SW_SPILL_BIO);
}

static __always_inline void note_bio(struct sw_blk_sector_key *key, __u32 dev, bool preflush)
{
	struct sw_blk_bio b = {
		.queue_ns = bpf_ktime_get_ns(),
		.submitter = bpf_get_current_cgroup_id(),
		.kind = submitter_kind(),
	};
	struct sw_blk_bio *s = NULL;

	if (b.kind == SW_KIND_JOURNAL)
		b.tx = blame_tx_of_current();

	/* A bio queued again (the rest of a split one) is overwritten. */
	if (slotted(key)) {
		__u32 i = bio_slot(key, true);

		if (i != SW_NO_SLOT)
			s = bio_at(i);
	}
	if (s) {
		b.slot = s->slot;
		*s = b;
	} else if (bpf_map_update_elem(&blk_bio, key, &b, BPF_ANY)) {
		/* Full: the request falls back to insert/issue time and task. */
		count_drop(SW_DROP_BLOCK_BIO_FULL);
	} else if (slotted(key)) {
		spilled_add(SW_SPILL_BIO);
	}
	if (preflush && bpf_map_update_elem(&blk_flush_by, &dev, &b, BPF_ANY))
		count_drop(SW_DROP_BLOCK_FLUSH_BY_FULL);
}

/* What a request's bios told: whether one was seen queued, and the
 * journal transaction of the one standing for the request. */
struct bio_took {
	__u64 tx;
	__u64 seen;
};

/* One of a request's bios: if it was seen queued, the earliest so far
 * stands for the request (its time, submitter and kind into r), and its
 * record goes. Global: the verifier walks it once, not at each of the bio
 * loop's 16 turns. */
SW_VERIFIED_ONCE int take_bio(struct sw_blk_rq *r, const struct sw_blk_sector_key *bio_key, struct bio_took *t)
{
	struct sw_blk_sector_key bkey;
	struct sw_blk_bio *b;

	if (!r || !bio_key || !t)
		return 0;
	/* A copy on this frame: 6.1's map helpers refuse a key in memory a
	 * global function was handed ("R2 type=mem"); 6.12's take it. */
	bkey = *bio_key;
	b = bio_find(&bkey);
	if (!b)
		return 0;
	if (b->queue_ns < r->queue_ns || !t->seen) {
		t->seen = 1;
		r->queue_ns = b->queue_ns;
		r->submitter = b->submitter;
		r->kind = b->kind;
		t->tx = b->tx;
	}
	bio_drop(&bkey, b);
	return 0;
}

/* A flush request of the block layer's own (no bio): who asked for it,
 * and for which journal transaction (0: none). */
static __always_inline __u64 flush_owner(__u32 dev, struct sw_blk_rq *r)
{
	struct sw_blk_bio *b = bpf_map_lookup_elem(&blk_flush_by, &dev);

	if (!b)
		return 0;
	r->submitter = b->submitter;
	r->kind = b->kind;
	return b->tx;
}

/* The blkcg the request is charged to, as a cgroup id; 0 without one. */
static __always_inline __u64 owner_of(struct bio *bio)
{
	struct blkcg_gq *blkg;

	if (!bio || !bpf_core_field_exists(bio->bi_blkg))
		return 0;
	blkg = SW_READ(bio, bi_blkg);
	if (!blkg)
		return 0;
	return SW_READ(blkg, blkcg, css.cgroup, kn, id);
}

/* First sight of a request (insert, or issue on devices without a
 * scheduler): take over what its bios told us. */
/* An all-zero request record, copied into blk_rq: sw_blk_rq is too big to
 * build on the stack next to the blame engine's frames (5.10 and 6.1 cap a
 * call chain at 512 bytes of stack). */
static const struct sw_blk_rq zero_rq;

/* The slot of the request at key, SW_NO_SLOT if it has none; with make,
 * a free one it now owns, its record zeroed (its rq still 0). Global, as
 * bio_slot. */
SW_VERIFIED_ONCE __u32 rq_slot(const struct sw_blk_sector_key *key, bool make)
{
	struct sw_blk_rq *r;
	__u64 id;
	__u32 i;

	if (!key)
		return SW_NO_SLOT;
	id = sw_slot_id(&key->sector);
	i = sw_slot_find(&blk_rq_key, id);
	if (i != SW_NO_SLOT || !make)
		return i;
	i = sw_slot_claim(&blk_rq_key, id);
	if (i == SW_NO_SLOT)
		return i;
	r = bpf_map_lookup_elem(&blk_rq_slot, &i);
	if (r) {
		*r = zero_rq;
		r->slot = i + 1;
	}
	return i;
}

SW_VERIFIED_ONCE int rq_slot_free(struct sw_blk_rq *r)
{
	if (r && r->slot)
		sw_slot_release(&blk_rq_key, r->slot - 1, r->rq);
	return 0;
}

static __always_inline struct sw_blk_rq *rq_at(__u32 i)
{
	return bpf_map_lookup_elem(&blk_rq_slot, &i);
}

static __always_inline struct sw_blk_rq *rq_find(const struct sw_blk_sector_key *key)
{
	if (slotted(key)) {
		__u32 i = rq_slot(key, false);

		if (i != SW_NO_SLOT)
			return rq_at(i);
		if (!any_spilled(SW_SPILL_RQ))
			return NULL;
	}
	return bpf_map_lookup_elem(&blk_rq, key);
}

/* The record of a request being tracked: the one it has (*existed), else
 * a zeroed one. NULL: no room anywhere. */
static __always_inline struct sw_blk_rq *rq_make(const struct sw_blk_sector_key *key, bool *existed)
{
	struct sw_blk_rq *r;
	long err;

	if (slotted(key)) {
		if (any_spilled(SW_SPILL_RQ)) {
			r = bpf_map_lookup_elem(&blk_rq, key);
			if (r) {
				*existed = true;
				return r;
			}
		}
		r = rq_at(rq_slot(key, true));
		if (r) {
			*existed = r->rq != 0;
			return r;
		}
	}
	/* Insert first, look up after: most requests are new (no insert
	 * event), and a lookup that misses cost one more hash walk. */
	err = bpf_map_update_elem(&blk_rq, key, &zero_rq, BPF_NOEXIST);
	r = bpf_map_lookup_elem(&blk_rq, key);
	*existed = err != 0;
	if (!err && slotted(key))
		spilled_add(SW_SPILL_RQ);
	return r;
}

/* A request's record goes: its slot given back, or its entry deleted. */
static __always_inline void rq_drop(const struct sw_blk_sector_key *key, struct sw_blk_rq *r)
{
	bool spill = false;

	if (r && r->slot) {
		rq_slot_free(r);
		return;
	}
	if (slotted(key) && r)
		spill = !r->blame_bio;
	if (bpf_map_delete_elem(&blk_rq, key))
		return;
	if (spill)
		spilled_sub(SW_SPILL_RQ);
}

/* First sight of a request (insert, or issue on devices without a
 * scheduler): take over what its bios told us. */
static __always_inline struct sw_blk_rq *track_rq(struct request *rq, bool issue, __u64 now)
{
	struct sw_blk_sector_key key = { .sector = (__u64)rq };
	struct sw_blk_rq *r;
	struct bio *bio;
	__u64 tx = 0;
	__u32 flags, dev;
	struct bio_took took = {};
	bool existed;
	__u32 slot;

	/* A scheduler's requests were inserted before they are issued: found
	 * at once, as before, not after a failed insert and the device read. */
	if (issue && SW_READ(rq, q, elevator)) {
		r = rq_find(&key);
		if (r && !r->issue_ns)
			return r;
	}
	dev = rq_dev(rq);
	if (!wanted(dev))
		return NULL;
	r = rq_make(&key, &existed);
	if (!r) {
		count_drop(SW_DROP_BLOCK_INFLIGHT_FULL);
		return NULL;
	}
	if (existed) {
		/* Inserted earlier, or requeued (issue_ns cleared): same request. */
		if (!issue || !r->issue_ns)
			return r;
		/* Issued twice without a requeue: the request that had this
		 * pointer before completed unseen. Count it (unless the check
		 * for lost ones did); start afresh. */
		if (!r->blame_lost)
			count_drop(SW_DROP_BLOCK_COMPLETION_MISSED);
		blame_end(r, now, false);
		slot = r->slot;
		*r = zero_rq;
		r->slot = slot;
	}
	r->dev = dev;
	r->rq = (__u64)rq;
	blame_place(r, dev);
	flags = SW_READ(rq, cmd_flags);
	r->op = op_of(flags);
	r->preflush = !!(flags & (1U << bpf_core_enum_value(enum req_flag_bits, __REQ_PREFLUSH)));
	r->fua = !!(flags & (1U << bpf_core_enum_value(enum req_flag_bits, __REQ_FUA)));
	r->queue_ns = now;

	bio = SW_READ(rq, bio);
	r->owner = owner_of(bio);
	r->part = bio_part(bio);
	/* Merged bios hang off bi_next; the earliest queued one and its
	 * submitter stand for the request, and every entry is freed. */
	for (int i = 0; i < 16 && bio; i++) {
		struct sw_blk_sector_key bkey = { .sector = (__u64)bio };

		take_bio(r, &bkey, &took);
		bio = SW_READ(bio, bi_next);
	}
	tx = took.tx;
	/* No bio seen queued (a full map, or a request the block layer made
	 * itself): whoever inserts or issues it. */
	if (!took.seen) {
		r->submitter = bpf_get_current_cgroup_id();
		r->kind = submitter_kind();
	}
	if (r->op == SW_BLK_FLUSH && !SW_READ(rq, bio))
		tx = flush_owner(r->dev, r);
	if (r->kind == SW_KIND_USER || !blame_dev_of(r->blame_dev))
		return r;
	/* A kernel thread writing someone's pages on a victim's disk: whose. */
	if (r->op == SW_BLK_WRITE)
		r->dirtier = blame_dirtier_of(BPF_CORE_READ(rq, bio));
	/* The journal's own blocks, and the flush before its commit block:
	 * the transaction's contributors. (A flush that finds a cache to
	 * write out is charged to its writers instead, at issue.) */
	if (!r->dirtier && tx && (r->op == SW_BLK_WRITE || r->op == SW_BLK_FLUSH))
		blame_tx_owner(r, tx);
	return r;
}

static __always_inline void hist_add(__u32 dev, __u8 op, __u8 phase, __u64 delta)
{
	struct sw_blk_hist_key key = {
		.dev = dev, .op = op, .phase = phase, .shard = bpf_get_smp_processor_id() % SW_BLK_SHARDS
	};

	sw_hist_add(&blk_hist, &key, delta, SW_DROP_BLOCK_SERIES_FULL);
}

/*
 * Completions the programs never see. On this 6.18 guest the kernel fires
 * block_rq_complete (ftrace records it) and now and then the program does
 * not run, with no recursion miss counted: about once a second under load,
 * each time a completion run in softirq on top of one particular task (the
 * VM's init agent). Such a request stays counted in service until its struct
 * request is issued again, which a tag set cycling through its tags (128 on
 * a loop device) delays by as many requests: meanwhile it takes a share of
 * every victim's blocked time, which reaches the counters only when it
 * ends, late and charged to its culprit. A CI run found a victim's kinds
 * 26% short of its windows beside a 1 MiB writer (63 ms of 240 ms).
 *
 * So while a victim waits on a disk, each completion there looks at up to
 * SW_LOST_CHECKS of the last SW_RECENT_RQ requests issued on it: one
 * counted in service whose struct request the kernel has freed (idle, its
 * data length zero: a request being issued is idle too, but has its
 * length) completed unseen, and leaves service then. A flush has no length:
 * only one issued SW_LOST_MIN_NS ago or more is judged, as a request being
 * issued is idle for microseconds. Requests never looked at wait, as
 * before, for their struct request's next issue, or the sweep.
 *
 * The look returns what it found and the program ends it: called from
 * here, blame_end's frames made the call chain's stack 544 bytes on 6.1
 * (the verifier's limit is 512).
 */
#define SW_LOST_CHECKS 4
#define SW_LOST_MIN_NS (1000 * 1000ULL)

/* The struct request of one request lost on disk; 0: none. */
SW_VERIFIED_ONCE __u64 blame_find_lost(__u32 disk, __u64 now)
{
	struct sw_blame_dev *d = blame_dev_of(disk);

	if (!d || !blame_any_blocked(d))
		return 0;
	for (int n = 0; n < SW_LOST_CHECKS; n++) {
		/* Plain, as recent_seq: CPUs racing look at one place twice. */
		__u64 seq = d->check_seq;
		__u32 i = seq & (SW_RECENT_RQ - 1);
		struct sw_blk_sector_key key = { .sector = d->recent_rq[i] };
		struct request *rq = (struct request *)key.sector;
		struct sw_blk_rq *r;

		d->check_seq = seq + 1;
		if (!key.sector)
			continue;
		r = rq_find(&key);
		if (!r || !r->blame_counted || r->rq != key.sector || (__s64)(now - r->issue_ns) < (__s64)SW_LOST_MIN_NS)
			continue;
		if (BPF_CORE_READ(rq, state) == MQ_RQ_IDLE && !BPF_CORE_READ(rq, __data_len))
			return key.sector;
	}
	return 0;
}

/* A request found lost leaves service (if nothing ended it meanwhile). */
static __always_inline void end_lost(__u64 lost, __u64 now)
{
	struct sw_blk_sector_key key = { .sector = lost };
	struct sw_blk_rq *r = rq_find(&key);

	if (r && blame_end(r, now, false)) {
		r->blame_lost = 1;
		count_drop(SW_DROP_BLOCK_COMPLETION_LOST);
	}
}

/* now: the issue event's time, which track_rq took as the request's too
 * where it saw no bio (a clock read costs 35 ns in a guest). */
static __always_inline void issue(struct sw_blk_rq *r, __u32 bytes, __u64 now)
{
	if (!r)
		return;
	/* A requeued request is issued again; its service starts anew. */
	r->issue_ns = now;
	r->bytes = bytes;
	blame_issue(r, r->issue_ns);
}

static __always_inline void io_add(const struct sw_blk_rq *r, __u64 service_ns)
{
	static const struct sw_blk_io zero;
	struct sw_blk_io_key key = {
		.submitter = r->submitter,
		.owner = r->owner,
		.dev = r->dev,
		.part = r->part,
		.op = r->op,
		.kind = r->kind,
		.shard = bpf_get_smp_processor_id() % SW_BLK_SHARDS,
	};
	struct sw_blk_io *v = sw_lookup_or_init(&blk_io, &key, &zero, SW_DROP_BLOCK_SERIES_FULL);

	if (!v)
		return;
	__sync_fetch_and_add(&v->requests, 1);
	__sync_fetch_and_add(&v->bytes, r->done_bytes);
	__sync_fetch_and_add(&v->busy_ns, service_ns);
	if (r->preflush)
		__sync_fetch_and_add(&v->preflush, 1);
	if (r->fua)
		__sync_fetch_and_add(&v->fua, 1);
}

/* Partial completions (large requests) come as several events; the request
 * is done when all its bytes are. */
static __always_inline void complete(struct sw_blk_sector_key *key, __u32 nr_bytes)
{
	__u64 now = bpf_ktime_get_ns();
	struct sw_blk_rq *r = rq_find(key);

	if (!r || !r->issue_ns) {
		count_drop(SW_DROP_BLOCK_UNMATCHED_COMPLETION);
		return;
	}
	r->done_bytes += nr_bytes;
	if (r->done_bytes < r->bytes)
		return;
	hist_add(r->dev, r->op, SW_PHASE_QUEUE, r->issue_ns > r->queue_ns ? r->issue_ns - r->queue_ns : 0);
	hist_add(r->dev, r->op, SW_PHASE_SERVICE, now - r->issue_ns);
	io_add(r, now - r->issue_ns);
	if (r->blame_counted && blame_end(r, now, true)) {
		__u64 lost = blame_find_lost(r->blame_dev, now);

		if (lost)
			end_lost(lost, now);
	}
	rq_drop(key, r);
}

/* 5.11 dropped the request_queue argument of the request and bio events
 * (commit a54895fa057c, "block: remove the request_queue to argument
 * request based tracepoints"); stable kernels may carry it earlier, so user
 * space reads the arity from the kernel's BTF and sets this. Each branch
 * calls the handler itself, as libbpf-tools does: a select between ctx[0]
 * and ctx[1] would become a computed ctx offset, which the verifier refuses. */
const volatile bool cfg_queue_arg = false;
#define NEW_BLOCK_ARGS (!cfg_queue_arg)
/* The bio events apart: Debian's 5.10 took the request events' change and
 * not theirs (block_rq_insert(rq) beside block_bio_queue(q, bio)). */
const volatile bool cfg_bio_queue_arg = false;
#define NEW_BIO_ARGS (!cfg_bio_queue_arg)

/* A bio queued to a dm-crypt device of a group (blame_bio_dev): in service
 * for blame until it completes, under its submitter, as a request is. Its
 * clones reach the disk below later, from dm-crypt's workers; meanwhile a
 * victim behind a neighbour's bios waits on theirs. Tracked on the BTF and
 * raw rungs only (the classic tracepoint's completion names no bio). */
static __always_inline void bio_unit_start(struct bio *bio, __u32 dev)
{
	struct sw_blk_sector_key key = { .sector = (__u64)bio };
	struct sw_blk_rq *r;
	__u32 *group;
	__u64 now;
	long err;

	/* Only where a victim's window may wait: its group has blame state. */
	if (!bpf_map_lookup_elem(&blame_bio_dev, &dev))
		return;
	group = blame_group_lookup(dev);
	if (!group || !blame_dev_of(*group))
		return;
	err = bpf_map_update_elem(&blk_rq, &key, &zero_rq, BPF_NOEXIST);
	if (err) {
		if (err != -SW_EEXIST) /* already queued once */
			count_drop(SW_DROP_BLOCK_INFLIGHT_FULL);
		return;
	}
	r = bpf_map_lookup_elem(&blk_rq, &key);
	if (!r)
		return;
	now = bpf_ktime_get_ns();
	r->dev = dev;
	blame_place(r, dev);
	r->blame_bio = 1;
	r->op = op_of(BPF_CORE_READ(bio, bi_opf));
	r->queue_ns = now;
	r->submitter = bpf_get_current_cgroup_id();
	r->kind = submitter_kind();
	r->owner = owner_of(bio);
	r->issue_ns = now;
	r->bytes = BPF_CORE_READ(bio, bi_iter.bi_size);
	r->done_bytes = r->bytes;
	blame_issue(r, now);
}

static __always_inline int on_bio_complete(struct bio *bio)
{
	struct sw_blk_sector_key key = { .sector = (__u64)bio };
	struct sw_blk_rq *r = bpf_map_lookup_elem(&blk_rq, &key);

	if (!r || !r->blame_bio)
		return 0;
	blame_end(r, bpf_ktime_get_ns(), true);
	bpf_map_delete_elem(&blk_rq, &key);
	return 0;
}

static __always_inline int on_bio_queue(struct bio *bio)
{
	struct sw_blk_sector_key key = { .sector = (__u64)bio };
	struct bio___pre5_12 *old = (void *)bio;
	struct gendisk *disk;
	__u32 dev;

	if (bpf_core_field_exists(bio->bi_bdev))
		disk = SW_READ(bio, bi_bdev, bd_disk);
	else
		disk = SW_READ(old, bi_disk);
	/* Bio-based devices (dm, md) never turn this bio into a request; their
	 * clones are queued to the disks below and seen there. */
	if (!disk)
		return 0;
	if (!SW_READ(disk, queue, mq_ops)) {
		bio_unit_start(bio, disk_dev(disk));
		return 0;
	}
	dev = disk_dev(disk);
	if (wanted(dev))
		note_bio(&key, dev, SW_READ(bio, bi_opf) & (1U << bpf_core_enum_value(enum req_flag_bits, __REQ_PREFLUSH)));
	return 0;
}

static __always_inline int on_issue(struct request *rq)
{
	__u64 now = bpf_ktime_get_ns();

	issue(track_rq(rq, true, now), SW_READ(rq, __data_len), now);
	return 0;
}

/* A requeued request is issued again; that is not a missed completion. */
static __always_inline void requeue(struct sw_blk_sector_key *key)
{
	struct sw_blk_rq *r = rq_find(key);

	if (r) {
		blame_end(r, bpf_ktime_get_ns(), false);
		r->issue_ns = 0;
	}
}

static __always_inline int on_requeue(struct request *rq)
{
	struct sw_blk_sector_key key = { .sector = (__u64)rq };

	requeue(&key);
	return 0;
}

static __always_inline int on_complete(struct request *rq, unsigned int nr_bytes)
{
	struct sw_blk_sector_key key = { .sector = (__u64)rq };

	complete(&key, nr_bytes);
	return 0;
}

/* A bio merged into a request already queued never shows in rq->bio at
 * insert or issue; forget it here rather than let it wait for the sweep. */
static __always_inline int on_bio_merge(struct bio *bio)
{
	struct sw_blk_sector_key key = { .sector = (__u64)bio };
	struct sw_blk_bio *b = bio_find(&key);

	if (b)
		bio_drop(&key, b);
	return 0;
}

/* Before 5.11 the merge events were (q, rq, bio). */
SEC("tp_btf/block_bio_backmerge")
int block_bio_backmerge_btf(unsigned long long *ctx)
{
	if (NEW_BIO_ARGS)
		return on_bio_merge((void *)ctx[0]);
	return on_bio_merge((void *)ctx[2]);
}
SEC("tp_btf/block_bio_frontmerge")
int block_bio_frontmerge_btf(unsigned long long *ctx)
{
	if (NEW_BIO_ARGS)
		return on_bio_merge((void *)ctx[0]);
	return on_bio_merge((void *)ctx[2]);
}
SEC("raw_tp/block_bio_backmerge")
int block_bio_backmerge_raw(struct bpf_raw_tracepoint_args *ctx)
{
	if (NEW_BIO_ARGS)
		return on_bio_merge((void *)ctx->args[0]);
	return on_bio_merge((void *)ctx->args[2]);
}
SEC("raw_tp/block_bio_frontmerge")
int block_bio_frontmerge_raw(struct bpf_raw_tracepoint_args *ctx)
{
	if (NEW_BIO_ARGS)
		return on_bio_merge((void *)ctx->args[0]);
	return on_bio_merge((void *)ctx->args[2]);
}

#define ONE_OR_TWO_ARGS(name, handler, args)                                                                           \
	{                                                                                                              \
		if (NEW_BLOCK_ARGS)                                                                                    \
			return handler((void *)args[0]);                                                               \
		return handler((void *)args[1]);                                                                       \
	}

static __always_inline int on_insert(struct request *rq)
{
	track_rq(rq, false, bpf_ktime_get_ns());
	return 0;
}

SEC("tp_btf/block_bio_queue")
int block_bio_queue_btf(unsigned long long *ctx)
{
	if (NEW_BIO_ARGS)
		return on_bio_queue((void *)ctx[0]);
	return on_bio_queue((void *)ctx[1]);
}

SEC("tp_btf/block_rq_insert")
int block_rq_insert_btf(unsigned long long *ctx) ONE_OR_TWO_ARGS(rq_insert, on_insert, ctx)

SEC("tp_btf/block_rq_issue")
int block_rq_issue_btf(unsigned long long *ctx) ONE_OR_TWO_ARGS(rq_issue, on_issue, ctx)

SEC("tp_btf/block_rq_requeue")
int block_rq_requeue_btf(unsigned long long *ctx) ONE_OR_TWO_ARGS(rq_requeue, on_requeue, ctx)

SEC("tp_btf/block_rq_complete")
int BPF_PROG(block_rq_complete_btf, struct request *rq, int error, unsigned int nr_bytes)
{
	return on_complete(rq, nr_bytes);
}

SEC("tp_btf/block_bio_complete")
int BPF_PROG(block_bio_complete_btf, struct request_queue *q, struct bio *bio)
{
	return on_bio_complete(bio);
}

SEC("raw_tp/block_bio_complete")
int block_bio_complete_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return on_bio_complete((struct bio *)ctx->args[1]);
}

SEC("raw_tp/block_bio_queue")
int block_bio_queue_raw(struct bpf_raw_tracepoint_args *ctx)
{
	if (NEW_BIO_ARGS)
		return on_bio_queue((void *)ctx->args[0]);
	return on_bio_queue((void *)ctx->args[1]);
}

SEC("raw_tp/block_rq_insert")
int block_rq_insert_raw(struct bpf_raw_tracepoint_args *ctx) ONE_OR_TWO_ARGS(rq_insert, on_insert, ctx->args)

SEC("raw_tp/block_rq_issue")
int block_rq_issue_raw(struct bpf_raw_tracepoint_args *ctx) ONE_OR_TWO_ARGS(rq_issue, on_issue, ctx->args)

SEC("raw_tp/block_rq_requeue")
int block_rq_requeue_raw(struct bpf_raw_tracepoint_args *ctx) ONE_OR_TWO_ARGS(rq_requeue, on_requeue, ctx->args)

SEC("raw_tp/block_rq_complete")
int block_rq_complete_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return on_complete((struct request *)ctx->args[0], (unsigned int)ctx->args[2]);
}

/*
 * Classic tracepoints: (dev, sector) stands for the request. rwbs is
 * blk_fill_rwbs()'s string: optional 'F' (preflush), then the op letter
 * (R, W, D, E, F for a flush op, N), then modifiers where 'F' is FUA.
 */
static __always_inline void rwbs_parse(const char *rwbs, __u8 *op, __u8 *preflush, __u8 *fua)
{
	/* Constant indexes only: the verifier refuses pointer arithmetic that
	 * clang likes to emit for rwbs[i]. */
	char c0 = rwbs[0], c1 = rwbs[1], c2 = rwbs[2];
	char letter, next;

	*preflush = c0 == 'F' && c1 != '\0';
	letter = *preflush ? c1 : c0;
	next = *preflush ? c2 : c1;
	switch (letter) {
	case 'R':
		*op = SW_BLK_READ;
		break;
	case 'W':
		*op = SW_BLK_WRITE;
		break;
	case 'F':
		*op = SW_BLK_FLUSH;
		break;
	case 'D':
	case 'E':
	case 'Z':
		*op = SW_BLK_DISCARD;
		break;
	default:
		*op = SW_BLK_OTHER;
		break;
	}
	*fua = next == 'F';
}

/* ctx fields may only be read at constant offsets: parse a stack copy. */
#define RWBS_COPY(dst, ctx) bpf_probe_read_kernel(dst, sizeof(dst), (ctx)->rwbs)

static __always_inline struct sw_blk_rq *track_classic(__u32 dev, __u64 sector, const char *rwbs)
{
	struct sw_blk_sector_key key = { .sector = sector, .dev = dev };
	struct sw_blk_rq *r = bpf_map_lookup_elem(&blk_rq, &key);
	struct sw_blk_bio *b;

	if (r)
		return r;
	if (!wanted(dev))
		return NULL;
	if (bpf_map_update_elem(&blk_rq, &key, &zero_rq, BPF_NOEXIST)) {
		count_drop(SW_DROP_BLOCK_INFLIGHT_FULL);
		return NULL;
	}
	r = bpf_map_lookup_elem(&blk_rq, &key);
	if (!r)
		return NULL;
	r->dev = dev;
	blame_place(r, dev);
	rwbs_parse(rwbs, &r->op, &r->preflush, &r->fua);
	b = bpf_map_lookup_elem(&blk_bio, &key);
	if (b) {
		r->queue_ns = b->queue_ns;
		r->submitter = b->submitter;
		r->kind = b->kind;
		bpf_map_delete_elem(&blk_bio, &key);
	} else {
		r->queue_ns = bpf_ktime_get_ns();
		r->submitter = bpf_get_current_cgroup_id();
		r->kind = submitter_kind();
		if (r->op == SW_BLK_FLUSH)
			flush_owner(dev, r);
	}
	return r;
}

static __noinline int bio_queue_classic(__u32 dev, __u64 sector, char rwbs0, char rwbs1)
{
	struct sw_blk_sector_key key = { .sector = sector, .dev = dev };

	if (wanted(dev))
		note_bio(&key, dev, rwbs0 == 'F' && rwbs1 != '\0');
	return 0;
}

SEC("tracepoint/block/block_bio_queue")
int block_bio_queue_tp(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_block_bio_queue___pre5_11)) {
		struct trace_event_raw_block_bio_queue___pre5_11 *old = ctx;

		/* Probe reads: plain loads of either layout get merged by clang
		 * into one load from a computed ctx offset, which is refused. */
		return bio_queue_classic(BPF_CORE_READ(old, dev), BPF_CORE_READ(old, sector),
					 BPF_CORE_READ(old, rwbs[0]), BPF_CORE_READ(old, rwbs[1]));
	}
	struct trace_event_raw_block_bio *cur = ctx;

	return bio_queue_classic(BPF_CORE_READ(cur, dev), BPF_CORE_READ(cur, sector), BPF_CORE_READ(cur, rwbs[0]),
				 BPF_CORE_READ(cur, rwbs[1]));
}

static __noinline int bio_merge_classic(__u32 dev, __u64 sector)
{
	struct sw_blk_sector_key key = { .sector = sector, .dev = dev };

	bpf_map_delete_elem(&blk_bio, &key);
	return 0;
}

static __always_inline int on_bio_merge_classic(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_block_bio_merge___pre5_11)) {
		struct trace_event_raw_block_bio_merge___pre5_11 *old = ctx;

		return bio_merge_classic(BPF_CORE_READ(old, dev), BPF_CORE_READ(old, sector));
	}
	struct trace_event_raw_block_bio *cur = ctx;

	return bio_merge_classic(BPF_CORE_READ(cur, dev), BPF_CORE_READ(cur, sector));
}

SEC("tracepoint/block/block_bio_backmerge")
int block_bio_backmerge_tp(void *ctx)
{
	return on_bio_merge_classic(ctx);
}
SEC("tracepoint/block/block_bio_frontmerge")
int block_bio_frontmerge_tp(void *ctx)
{
	return on_bio_merge_classic(ctx);
}

SEC("tracepoint/block/block_rq_insert")
int block_rq_insert_tp(struct trace_event_raw_block_rq *ctx)
{
	char rwbs[8] = {};

	RWBS_COPY(rwbs, ctx);
	track_classic(ctx->dev, ctx->sector, rwbs);
	return 0;
}

SEC("tracepoint/block/block_rq_issue")
int block_rq_issue_tp(struct trace_event_raw_block_rq *ctx)
{
	char rwbs[8] = {};

	RWBS_COPY(rwbs, ctx);
	issue(track_classic(ctx->dev, ctx->sector, rwbs), ctx->bytes, bpf_ktime_get_ns());
	return 0;
}

SEC("tracepoint/block/block_rq_requeue")
int block_rq_requeue_tp(struct trace_event_raw_block_rq_requeue *ctx)
{
	struct sw_blk_sector_key key = { .sector = ctx->sector, .dev = ctx->dev };

	requeue(&key);
	return 0;
}

static __noinline int complete_classic(__u32 dev, __u64 sector, __u32 nr_sector)
{
	struct sw_blk_sector_key key = { .sector = sector, .dev = dev };

	complete(&key, nr_sector << 9);
	return 0;
}

SEC("tracepoint/block/block_rq_complete")
int block_rq_complete_tp(void *ctx)
{
	if (bpf_core_type_exists(struct trace_event_raw_block_rq_complete___pre5_16)) {
		struct trace_event_raw_block_rq_complete___pre5_16 *old = ctx;

		return complete_classic(BPF_CORE_READ(old, dev), BPF_CORE_READ(old, sector),
					BPF_CORE_READ(old, nr_sector));
	}
	struct trace_event_raw_block_rq_completion *cur = ctx;

	return complete_classic(BPF_CORE_READ(cur, dev), BPF_CORE_READ(cur, sector), BPF_CORE_READ(cur, nr_sector));
}

/* Pages getting dirty, in the dirtier's context: whose data a later
 * writeback or journal commit writes (blame_block.bpf.h). Same prototype
 * on 5.10 through 6.18. */
SEC("tp_btf/writeback_mark_inode_dirty")
int BPF_PROG(writeback_mark_inode_dirty_btf, struct inode *inode, int flags)
{
	blame_note_dirtier(inode, flags);
	return 0;
}

SEC("raw_tp/writeback_mark_inode_dirty")
int writeback_mark_inode_dirty_raw(struct bpf_raw_tracepoint_args *ctx)
{
	blame_note_dirtier((struct inode *)ctx->args[0], (int)ctx->args[1]);
	return 0;
}

/* ext4 maps an inode's blocks; a kernel thread doing so acts for its
 * dirtier in the handle it ends next (blame_note_acting). */
SEC("tp_btf/ext4_ext_map_blocks_enter")
int BPF_PROG(ext4_map_blocks_btf, struct inode *inode)
{
	blame_note_acting(inode);
	return 0;
}

SEC("raw_tp/ext4_ext_map_blocks_enter")
int ext4_map_blocks_raw(struct bpf_raw_tracepoint_args *ctx)
{
	blame_note_acting((struct inode *)ctx->args[0]);
	return 0;
}

/* Journal transactions (blame_block.bpf.h): handles end in their task's
 * context; commits run in the jbd2 thread. The handle's arguments are one
 * 64-bit slot each on every kernel, whatever their C types (tid became
 * tid_t, interval an int, over the years). Loaded only where the kernel's
 * BTF has jbd2 (ext4 built in). */
SEC("tp_btf/jbd2_handle_stats")
int BPF_PROG(jbd2_handle_stats_btf, dev_t dev, __u64 tid, unsigned int type, unsigned int line_no, __u64 interval,
	     int sync, int requested_blocks, int dirtied_blocks)
{
	blame_tx_handle(dev, (__u32)tid, dirtied_blocks);
	return 0;
}

SEC("raw_tp/jbd2_handle_stats")
int jbd2_handle_stats_raw(struct bpf_raw_tracepoint_args *ctx)
{
	blame_tx_handle((__u32)ctx->args[0], (__u32)ctx->args[1], (int)ctx->args[7]);
	return 0;
}

static __always_inline void commit_start(journal_t *journal, transaction_t *t)
{
	blame_tx_commit_start(BPF_CORE_READ(journal, j_fs_dev), BPF_CORE_READ(t, t_tid));
}

SEC("tp_btf/jbd2_start_commit")
int BPF_PROG(jbd2_start_commit_btf, journal_t *journal, transaction_t *t)
{
	commit_start(journal, t);
	return 0;
}

SEC("raw_tp/jbd2_start_commit")
int jbd2_start_commit_raw(struct bpf_raw_tracepoint_args *ctx)
{
	commit_start((journal_t *)ctx->args[0], (transaction_t *)ctx->args[1]);
	return 0;
}

SEC("tp_btf/jbd2_end_commit")
int BPF_PROG(jbd2_end_commit_btf, journal_t *journal, transaction_t *t)
{
	blame_tx_commit_end();
	return 0;
}

SEC("raw_tp/jbd2_end_commit")
int jbd2_end_commit_raw(struct bpf_raw_tracepoint_args *ctx)
{
	blame_tx_commit_end();
	return 0;
}

/* Run by user space (BPF_PROG_TEST_RUN, never attached) for a request the
 * device never completed: it leaves service here, with the same atomic
 * updates a requeue makes, so live blame state is never rewritten from a
 * copy. args: the request's key (sector, dev). Returns 1 if it was there. */
SEC("raw_tp")
int forget_request(struct bpf_raw_tracepoint_args *ctx)
{
	struct sw_blk_sector_key key = { .sector = ctx->args[0], .dev = (__u32)ctx->args[1] };
	struct sw_blk_rq *r = rq_find(&key);

	/* A dm-crypt bio's record is in the hash whatever rq_find says. */
	if (!r)
		r = bpf_map_lookup_elem(&blk_rq, &key);
	if (!r)
		return 0;
	blame_end(r, bpf_ktime_get_ns(), false);
	rq_drop(&key, r);
	return 1;
}
