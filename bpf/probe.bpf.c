// SPDX-License-Identifier: GPL-2.0
/*
 * Probe latency. Network probes: sockets a prober task (comm `kubelet` by
 * default) connects, followed through their TCP states from SYN_SENT until
 * the prober closes them. Exec probes: processes started in a cgroup by a
 * parent outside it (the runtime's `runc exec`), from exec to exit. Both
 * end in a per-CPU histogram keyed by destination (or cgroup), type and
 * result; slow or failing probes also go to user space as events.
 *
 * Rungs: tp_btf, else raw_tp (same handlers).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "maps.bpf.h"
#include "stallwatch.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define ECONNRESET 104
#define ECONNREFUSED 111
#define EPIPE 32

/* Set by user space: the prober's comm (--prober-comm), NUL-padded. */
const volatile char cfg_prober_comm[16] = "kubelet";
/* Probes at least this long become events (--probe-slow-threshold). */
const volatile __u64 cfg_probe_slow_ns = 500 * SW_NSEC_PER_MSEC;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64); /* struct sock * */
	__type(value, struct sw_probe_sock);
} probe_socks SEC(".maps");

/* LRU: a process that entered a cgroup from outside and lives on (a
 * service's main process, a container's app in a shared PID namespace)
 * makes room for newer ones. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32); /* tgid */
	__type(value, struct sw_exec_start);
} exec_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct sw_probe_key);
	__type(value, struct sw_probe_hist);
} probe_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} probe_events SEC(".maps");

static __always_inline bool is_prober(void)
{
	char comm[16];

	bpf_get_current_comm(comm, sizeof(comm));
	for (int i = 0; i < 16; i++) {
		if (comm[i] != cfg_prober_comm[i])
			return false;
		if (!comm[i])
			break;
	}
	return true;
}

static __always_inline void record(struct sw_probe_key *key, __u64 start_ns, __u64 duration, __u64 connect_ns,
				   __s32 exit_code, __u32 pid)
{
	static const struct sw_probe_hist zero;
	struct sw_probe_hist *h = sw_lookup_or_init(&probe_hist, key, &zero, SW_DROP_PROBE_SERIES_FULL);
	struct sw_probe_event *e;

	if (h) {
		__u32 idx = sw_probe_bucket_index(duration);

		/* 17 buckets is no power of two: bound the index where the
		 * verifier sees it, not where clang may fold it away. */
		asm volatile("" : "+r"(idx));
		if (idx >= SW_PROBE_BUCKETS)
			idx = SW_PROBE_BUCKETS - 1;
		__sync_fetch_and_add(&h->buckets[idx], 1);
		if (duration)
			__sync_fetch_and_add(&h->sum_ns, duration);
	}
	if (key->result == SW_PROBE_SUCCESS && duration < cfg_probe_slow_ns)
		return;
	e = bpf_ringbuf_reserve(&probe_events, sizeof(*e), 0);
	if (!e) {
		count_drop(SW_DROP_PROBE_RINGBUF_FULL);
		return;
	}
	e->start_ns = start_ns;
	e->duration_ns = duration;
	e->connect_ns = connect_ns;
	e->cgroup = key->cgroup;
	__builtin_memcpy(e->addr, key->addr, sizeof(e->addr));
	e->port = key->port;
	e->family = key->family;
	e->type = key->type;
	e->result = key->result;
	e->exit_code = exit_code;
	e->pid = pid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void start_sock(const struct sock *sk, __u64 now)
{
	struct sw_probe_sock s = { .start_ns = now };
	__u64 key = (__u64)sk;

	s.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	s.port = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (s.family == AF_INET) {
		__u32 a = BPF_CORE_READ(sk, __sk_common.skc_daddr);

		__builtin_memcpy(s.addr, &a, 4);
	} else if (s.family == AF_INET6) {
		BPF_CORE_READ_INTO(&s.addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		return;
	}
	if (bpf_map_update_elem(&probe_socks, &key, &s, BPF_ANY))
		count_drop(SW_DROP_PROBE_INFLIGHT_FULL);
}

/* The probe is over: the prober closed its side, or the connection died. */
static __always_inline void finish_sock(const struct sock *sk, struct sw_probe_sock *s, int oldstate, int newstate,
					__u64 now)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	__u64 sent = BPF_CORE_READ(tp, bytes_sent), received = BPF_CORE_READ(tp, bytes_received);
	int err = BPF_CORE_READ(sk, sk_err);
	struct sw_probe_key key = { .port = s->port, .family = s->family };
	__u64 skey = (__u64)sk;

	__builtin_memcpy(key.addr, s->addr, sizeof(key.addr));
	key.type = sent ? SW_PROBE_HTTP : SW_PROBE_TCP;
	if (!s->connect_ns)
		key.result = err == ECONNREFUSED ? SW_PROBE_REFUSED : SW_PROBE_TIMEOUT;
	else if (err == ECONNRESET || err == EPIPE)
		key.result = received && key.type == SW_PROBE_HTTP ? SW_PROBE_SUCCESS : SW_PROBE_RESET;
	else if (key.type == SW_PROBE_TCP || received)
		key.result = SW_PROBE_SUCCESS;
	else if (oldstate == TCP_CLOSE_WAIT)
		key.result = SW_PROBE_RESET; /* the peer hung up without an answer */
	else
		key.result = SW_PROBE_TIMEOUT; /* the prober gave up waiting */
	record(&key, s->start_ns, now - s->start_ns, s->connect_ns, 0, bpf_get_current_pid_tgid() >> 32);
	bpf_map_delete_elem(&probe_socks, &skey);
}

static __always_inline int on_state(const struct sock *sk, int oldstate, int newstate)
{
	__u64 now = bpf_ktime_get_ns(), key = (__u64)sk;
	struct sw_probe_sock *s;

	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) {
		if (is_prober())
			start_sock(sk, now);
		return 0;
	}
	s = bpf_map_lookup_elem(&probe_socks, &key);
	if (!s)
		return 0;
	switch (newstate) {
	case TCP_ESTABLISHED:
		s->connect_ns = now - s->start_ns;
		break;
	case TCP_FIN_WAIT1: /* the prober closed first */
	case TCP_LAST_ACK:  /* the peer did, then the prober */
	case TCP_CLOSE:	    /* refused, reset, or closed while connecting */
		finish_sock(sk, s, oldstate, newstate, now);
		break;
	}
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(inet_sock_set_state_btf, const struct sock *sk, int oldstate, int newstate)
{
	return on_state(sk, oldstate, newstate);
}

SEC("raw_tp/inet_sock_set_state")
int inet_sock_set_state_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return on_state((const struct sock *)ctx->args[0], (int)ctx->args[1], (int)ctx->args[2]);
}

static __always_inline __u64 task_cgroup(struct task_struct *t)
{
	return BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
}

/* PID 1 of its PID namespace: a container's own init, not a probe. */
static __always_inline bool is_ns_init(struct task_struct *t)
{
	struct pid *pid = BPF_CORE_READ(t, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	struct upid up;

	if (bpf_probe_read_kernel(&up, sizeof(up), &pid->numbers[level & 31]))
		return false;
	return up.nr == 1;
}

static __always_inline int on_exec(struct task_struct *p)
{
	struct task_struct *parent = BPF_CORE_READ(p, real_parent);
	struct sw_exec_start s = { .start_ns = bpf_ktime_get_ns() };
	__u32 tgid = BPF_CORE_READ(p, tgid);

	s.cgroup = task_cgroup(p);
	/* Started by a parent in the same cgroup: the workload's own child. */
	if (!parent || task_cgroup(parent) == s.cgroup || is_ns_init(p))
		return 0;
	bpf_get_current_comm(s.comm, sizeof(s.comm));
	bpf_map_update_elem(&exec_start, &tgid, &s, BPF_ANY);
	return 0;
}

static __always_inline int on_exit(struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	struct sw_exec_start *s;
	struct sw_probe_key key = { .type = SW_PROBE_EXEC };
	int code;
	__s32 status;

	if (BPF_CORE_READ(p, pid) != tgid)
		return 0;
	s = bpf_map_lookup_elem(&exec_start, &tgid);
	if (!s)
		return 0;
	code = BPF_CORE_READ(p, exit_code);
	if (code & 0x7f) {
		key.result = SW_PROBE_TIMEOUT; /* killed: the runtime's timeout, or worse */
		status = -(code & 0x7f);
	} else {
		status = (code >> 8) & 0xff;
		key.result = status ? SW_PROBE_FAILURE : SW_PROBE_SUCCESS;
	}
	key.cgroup = s->cgroup;
	record(&key, s->start_ns, bpf_ktime_get_ns() - s->start_ns, 0, status, tgid);
	bpf_map_delete_elem(&exec_start, &tgid);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_process_exec_btf, struct task_struct *p)
{
	return on_exec(p);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit_btf, struct task_struct *p)
{
	return on_exit(p);
}

SEC("raw_tp/sched_process_exec")
int sched_process_exec_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return on_exec((struct task_struct *)ctx->args[0]);
}

SEC("raw_tp/sched_process_exit")
int sched_process_exit_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return on_exit((struct task_struct *)ctx->args[0]);
}
