// SPDX-License-Identifier: GPL-2.0
/*
 * Probe latency. Network probes: sockets a prober task (comm `kubelet` by
 * default) connects, followed through their TCP states from SYN_SENT until
 * the prober closes them. Exec probes: processes started in a cgroup by a
 * parent outside it (the runtime's `runc exec`), from exec to exit. Both
 * end in a per-CPU histogram keyed by destination (or cgroup), type and
 * result; slow or failing probes also go to user space as events.
 *
 * Rungs: tp_btf, else raw_tp (same handlers). The answers' first bytes are
 * read by a cgroup_skb program on the cgroup2 root where it can attach;
 * without it results follow the TCP states alone.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "core_fixes.bpf.h"
#include "maps.bpf.h"
#include "stallwatch.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define ECONNRESET 104
#define ECONNREFUSED 111
#define EPIPE 32
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

/* Set by user space: the probers' comms (--prober-comm), NUL-padded; the
 * first empty one ends the list. */
#define SW_PROBERS 4
const volatile char cfg_prober_comm[SW_PROBERS][16] = { "kubelet" };
/* Probes at least this long become events (--probe-slow-threshold). */
const volatile __u64 cfg_probe_slow_ns = 500 * SW_NSEC_PER_MSEC;
/* A prober's connection open longer than this is no probe (an API watch, a
 * port-forward, a stream): it is not counted (--probe-max-duration). */
const volatile __u64 cfg_probe_max_ns = 120 * 1000 * SW_NSEC_PER_MSEC;

/* Prober connections in flight: the per-packet and per-accept work is
 * skipped while there are none, which is most of the time. */
__s64 probes_in_flight;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64); /* struct sock * */
	__type(value, struct sw_probe_sock);
} probe_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct sw_probe_flow);
	__type(value, __u64); /* the prober's struct sock * */
} probe_flows SEC(".maps");

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
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct sw_probe_key);
	__type(value, struct sw_probe_hist);
} probe_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} probe_events SEC(".maps");

static __always_inline bool comm_is(const char *comm, int p)
{
	for (int i = 0; i < 16; i++) {
		if (comm[i] != cfg_prober_comm[p][i])
			return false;
		if (!comm[i])
			break;
	}
	return true;
}

static __always_inline bool is_prober(void)
{
	char comm[16];

	bpf_get_current_comm(comm, sizeof(comm));
	for (int p = 0; p < SW_PROBERS; p++) {
		if (!cfg_prober_comm[p][0])
			return false;
		if (comm_is(comm, p))
			return true;
	}
	return false;
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
	if (bpf_map_update_elem(&probe_socks, &key, &s, BPF_NOEXIST)) {
		count_drop(SW_DROP_PROBE_INFLIGHT_FULL);
		return;
	}
	__sync_fetch_and_add(&probes_in_flight, 1);
}

static __always_inline void flow_of(const struct sw_probe_sock *s, struct sw_probe_flow *f)
{
	__builtin_memcpy(f->addr, s->addr, sizeof(f->addr));
	f->server_port = s->port;
	f->client_port = s->lport;
	f->family = s->family;
}

/* Connected: remember the connection by its addresses, so that the server's
 * side and the answer's packets find it. */
static __always_inline void connected(const struct sock *sk, struct sw_probe_sock *s, __u64 now)
{
	struct sw_probe_flow f = {};
	__u64 key = (__u64)sk;

	s->connect_ns = now - s->start_ns;
	s->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	flow_of(s, &f);
	if (bpf_map_update_elem(&probe_flows, &f, &key, BPF_ANY))
		count_drop(SW_DROP_PROBE_FLOW_FULL);
}

/* A connection was accepted on this node: if a prober made it, the
 * listener's cgroup names the pod that answers, hostNetwork pods too. */
static __always_inline void accepted(const struct sock *sk)
{
	struct sw_probe_flow f = {};
	struct sw_probe_sock *s;
	__u64 *prober;

	f.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	f.server_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	f.client_port = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (f.family == AF_INET) {
		__u32 a = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);

		__builtin_memcpy(f.addr, &a, 4);
	} else if (f.family == AF_INET6) {
		BPF_CORE_READ_INTO(&f.addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		/* An IPv4 connection to a dual-stack listener: ::ffff:a.b.c.d
		 * here, a.b.c.d at the prober's end. */
		if (!(f.addr[0] | f.addr[1] | f.addr[2] | f.addr[3] | f.addr[4] | f.addr[5] | f.addr[6] | f.addr[7] |
		      f.addr[8] | f.addr[9]) &&
		    f.addr[10] == 0xff && f.addr[11] == 0xff) {
			__u32 a = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);

			__builtin_memset(f.addr, 0, sizeof(f.addr));
			__builtin_memcpy(f.addr, &a, 4);
			f.family = AF_INET;
		}
	} else {
		return;
	}
	prober = bpf_map_lookup_elem(&probe_flows, &f);
	if (!prober)
		return;
	s = bpf_map_lookup_elem(&probe_socks, prober);
	if (s)
		s->server_cgroup = sw_sock_cgroup_id(sk);
}

/* The kubelet's verdict on an answer it read, where the answer was read. */
static __always_inline __u8 judge_answer(const struct sw_probe_sock *s, int oldstate, __u64 now)
{
	if (s->app == SW_APP_HTTP1 && s->code)
		return s->code >= 200 && s->code < 400 ? SW_PROBE_SUCCESS : SW_PROBE_FAILURE;
	if (s->app == SW_APP_H2 && s->code)
		return s->code == SW_GRPC_SERVING ? SW_PROBE_SUCCESS : SW_PROBE_FAILURE;
	if (s->app == SW_APP_NONE || oldstate == TCP_CLOSE_WAIT)
		return SW_PROBE_SUCCESS; /* not read, or the peer closed after answering */
	/* Encrypted or not understood, and the prober hung up first: if the
	 * peer had been silent for most of the probe (a TLS handshake, then
	 * nothing), the prober gave up waiting. */
	if (now - s->last_rx_ns > (now - s->start_ns) / 2 && now - s->last_rx_ns > 10 * SW_NSEC_PER_MSEC)
		return SW_PROBE_TIMEOUT;
	return SW_PROBE_SUCCESS;
}

/* The probe is over: the prober closed its side, or the connection died. */
static __always_inline void finish_sock(const struct sock *sk, struct sw_probe_sock *s, int oldstate, int newstate,
					__u64 now)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	__u64 sent = BPF_CORE_READ(tp, bytes_sent), received = BPF_CORE_READ(tp, bytes_received);
	int err = BPF_CORE_READ(sk, sk_err);
	struct sw_probe_key key = { .port = s->port, .family = s->family, .cgroup = s->server_cgroup };
	struct sw_probe_flow f = {};
	__u64 skey = (__u64)sk;

	__builtin_memcpy(key.addr, s->addr, sizeof(key.addr));
	key.type = sent ? SW_PROBE_HTTP : SW_PROBE_TCP;
	if (s->app == SW_APP_H2)
		key.type = SW_PROBE_GRPC;
	else if (s->app == SW_APP_TLS)
		key.type = SW_PROBE_HTTPS;
	key.code = s->code;
	if (!s->connect_ns)
		key.result = err == ECONNREFUSED ? SW_PROBE_REFUSED : SW_PROBE_TIMEOUT;
	else if (err == ECONNRESET || err == EPIPE)
		key.result = received && key.type != SW_PROBE_TCP ? judge_answer(s, oldstate, now) : SW_PROBE_RESET;
	else if (key.type == SW_PROBE_TCP)
		key.result = SW_PROBE_SUCCESS;
	else if (received)
		key.result = judge_answer(s, oldstate, now);
	else if (oldstate == TCP_CLOSE_WAIT)
		key.result = SW_PROBE_RESET; /* the peer hung up without an answer */
	else
		key.result = SW_PROBE_TIMEOUT; /* the prober gave up waiting */
	if (now - s->start_ns <= cfg_probe_max_ns)
		record(&key, s->start_ns, now - s->start_ns, s->connect_ns, key.code,
		       bpf_get_current_pid_tgid() >> 32);
	if (s->lport) {
		flow_of(s, &f);
		bpf_map_delete_elem(&probe_flows, &f);
	}
	if (!bpf_map_delete_elem(&probe_socks, &skey))
		__sync_fetch_and_add(&probes_in_flight, -1);
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
	if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
		if (probes_in_flight > 0)
			accepted(sk);
		return 0;
	}
	s = bpf_map_lookup_elem(&probe_socks, &key);
	if (!s)
		return 0;
	switch (newstate) {
	case TCP_ESTABLISHED:
		connected(sk, s, now);
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

/*
 * The answer's first bytes, read from the packets the prober's socket
 * receives (every cgroup's ingress, so the prober may live anywhere; a
 * packet of no probe costs a load of probes_in_flight). Enough to judge as
 * the kubelet does: the HTTP/1 status line, the gRPC health message in the
 * first HTTP/2 DATA frame, or that it is TLS (whose content stays unseen).
 * Always lets the packet through.
 */
static __always_inline void walk_h2(struct __sk_buff *skb, struct sw_probe_sock *s, __u32 hl, __u32 payload,
				    __u32 off)
{
	for (int i = 0; i < 8; i++) {
		__u32 at = s->h2_next, len;
		__u8 h[9], m[7];

		if (at < off || at - off + 9 > payload)
			return; /* this frame's header is in another packet */
		if (bpf_skb_load_bytes(skb, hl + (at - off), h, sizeof(h)))
			return;
		len = (__u32)h[0] << 16 | (__u32)h[1] << 8 | h[2];
		/* DATA on a stream: the gRPC message, 5 bytes of prefix then
		 * HealthCheckResponse { status = 1 } as 08 <status>. */
		if (h[3] == 0 && (h[5] | h[6] | h[7] | h[8]) && len >= 5) {
			if (at - off + 9 + 5 > payload)
				return;
			__builtin_memset(m, 0, sizeof(m));
			if (len >= 7 && at - off + 9 + 7 <= payload) {
				if (bpf_skb_load_bytes(skb, hl + (at - off) + 9, m, 7))
					return;
			} else if (bpf_skb_load_bytes(skb, hl + (at - off) + 9, m, 5)) {
				return;
			}
			if (!(m[1] | m[2] | m[3] | m[4]))
				s->code = SW_GRPC_CODE(0); /* empty message: UNKNOWN */
			else if (m[5] == 0x08)
				s->code = SW_GRPC_CODE(m[6]);
			return;
		}
		s->h2_next = at + 9 + len;
	}
}

static __always_inline void classify(struct __sk_buff *skb, struct sw_probe_sock *s, __u32 hl, __u32 payload)
{
	__u8 b[12];

	s->app = SW_APP_OTHER;
	if (payload < 5 || bpf_skb_load_bytes(skb, hl, b, payload < 12 ? 5 : 12))
		return;
	if (b[0] == 0x16 && b[1] == 0x03) {
		s->app = SW_APP_TLS;
	} else if (payload >= 12 && b[0] == 'H' && b[1] == 'T' && b[2] == 'T' && b[3] == 'P' && b[4] == '/') {
		s->app = SW_APP_HTTP1;
		if (b[9] >= '1' && b[9] <= '5' && b[10] >= '0' && b[10] <= '9' && b[11] >= '0' && b[11] <= '9')
			s->code = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
	} else if (payload >= 9 && b[3] == 0x04) {
		s->app = SW_APP_H2; /* a server's first frame is SETTINGS */
	}
}

SEC("cgroup_skb/ingress")
int probe_answer(struct __sk_buff *skb)
{
	struct sw_probe_flow f = {};
	struct sw_probe_sock *s;
	struct tcphdr th;
	__u32 ip_len, total, hl, payload, seq;
	__u64 *prober;

	if (probes_in_flight <= 0)
		return 1;
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) || ip.protocol != IPPROTO_TCP)
			return 1;
		ip_len = ip.ihl * 4;
		total = bpf_ntohs(ip.tot_len);
		f.family = AF_INET;
		__builtin_memcpy(f.addr, &ip.saddr, 4);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) || ip6.nexthdr != IPPROTO_TCP)
			return 1;
		ip_len = sizeof(ip6);
		total = sizeof(ip6) + bpf_ntohs(ip6.payload_len);
		f.family = AF_INET6;
		__builtin_memcpy(f.addr, &ip6.saddr, 16);
	} else {
		return 1;
	}
	if (bpf_skb_load_bytes(skb, ip_len, &th, sizeof(th)))
		return 1;
	hl = ip_len + th.doff * 4;
	if (total <= hl)
		return 1;
	payload = total - hl;
	f.server_port = bpf_ntohs(th.source);
	f.client_port = bpf_ntohs(th.dest);
	prober = bpf_map_lookup_elem(&probe_flows, &f);
	if (!prober)
		return 1;
	s = bpf_map_lookup_elem(&probe_socks, prober);
	if (!s)
		return 1;
	seq = bpf_ntohl(th.seq);
	s->last_rx_ns = bpf_ktime_get_ns();
	if (s->app == SW_APP_NONE) {
		s->rx_base = seq;
		classify(skb, s, hl, payload);
	}
	if (s->app == SW_APP_H2 && !s->code)
		walk_h2(skb, s, hl, payload, seq - s->rx_base);
	return 1;
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
	if (bpf_map_update_elem(&exec_start, &tgid, &s, BPF_ANY))
		count_drop(SW_DROP_PROBE_INFLIGHT_FULL);
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
