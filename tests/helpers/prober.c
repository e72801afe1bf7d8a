// A kubelet-shaped prober for the probe tests: N probes per target, each on
// a fresh connection with a deadline (1 s by default), one after another.
// It names itself --comm (default "kubelet") and prints, per probe, what it
// saw and how long it took from connect() until it closed the socket (the
// time an HTTP client waits; close() itself lingers for the FIN's ACK),
// judged as the kubelet does (HTTP status 200-399; gRPC health SERVING):
//
//   <target> <success|failure|refused|reset|timeout> <ns> [<code>]
//
//   sw_prober [--comm NAME] [--count N] [--timeout-ms MS] [--interval-ms MS] [--path PATH]
//             http:ADDR:PORT|tcp:ADDR:PORT|grpc:ADDR:PORT ...
// ADDR is IPv4 or [IPv6]. grpc: is grpc.health.v1.Health/Check over
// cleartext HTTP/2, written by hand (the kubelet's own client is grpc-go).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

enum kind { TCP, HTTP, GRPC };

static int parse(const char* target, int* kind, struct sockaddr_storage* sa, socklen_t* len) {
  char buf[128];
  if (!strncmp(target, "http:", 5))
    *kind = HTTP;
  else if (!strncmp(target, "grpc:", 5))
    *kind = GRPC;
  else if (!strncmp(target, "tcp:", 4))
    *kind = TCP;
  else
    return -1;
  snprintf(buf, sizeof(buf), "%s", strchr(target, ':') + 1);
  char* port = strrchr(buf, ':');
  if (!port) return -1;
  *port++ = 0;
  memset(sa, 0, sizeof(*sa));
  if (buf[0] == '[') {
    struct sockaddr_in6* a = (struct sockaddr_in6*)sa;
    buf[strlen(buf) - 1] = 0;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(atoi(port));
    *len = sizeof(*a);
    return inet_pton(AF_INET6, buf + 1, &a->sin6_addr) == 1 ? 0 : -1;
  }
  struct sockaddr_in* a = (struct sockaddr_in*)sa;
  a->sin_family = AF_INET;
  a->sin_port = htons(atoi(port));
  *len = sizeof(*a);
  return inet_pton(AF_INET, buf, &a->sin_addr) == 1 ? 0 : -1;
}

/* Waits for fd to be ready for `events` until the deadline; 0 on timeout. */
static int wait_fd(int fd, short events, int64_t deadline) {
  int64_t left = deadline - now_ns();
  if (left <= 0) return 0;
  struct pollfd p = {.fd = fd, .events = events};
  return poll(&p, 1, (int)((left + 999999) / 1000000));
}

static int64_t closed_at;
static char code[32];
static const char* path = "/healthz";

/* Reads exactly n bytes before the deadline; 0 on success. */
static int read_full(int fd, unsigned char* buf, size_t n, int64_t deadline) {
  size_t got = 0;
  while (got < n) {
    if (wait_fd(fd, POLLIN, deadline) <= 0) return -1;
    ssize_t r = read(fd, buf + got, n - got);
    if (r > 0)
      got += r;
    else if (r == 0 || errno != EAGAIN)
      return -2;
  }
  return 0;
}

static const char* grpc_health(int fd, int64_t deadline) {
  /* Preface, empty SETTINGS, HEADERS (HPACK: POST, http, :path, :authority,
   * content-type, te: trailers), DATA with an empty HealthCheckRequest. */
  static const char path[] = "/grpc.health.v1.Health/Check", ctype[] = "application/grpc";
  unsigned char out[256], *p = out;
  memcpy(p, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24), p += 24;
  memcpy(p, "\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9), p += 9;
  unsigned char hb[128], *h = hb;
  *h++ = 0x83, *h++ = 0x86;
  *h++ = 0x04, *h++ = sizeof(path) - 1, memcpy(h, path, sizeof(path) - 1), h += sizeof(path) - 1;
  *h++ = 0x01, *h++ = 3, memcpy(h, "pod", 3), h += 3;
  *h++ = 0x0f, *h++ = 0x10, *h++ = sizeof(ctype) - 1, memcpy(h, ctype, sizeof(ctype) - 1), h += sizeof(ctype) - 1;
  *h++ = 0x00, *h++ = 2, memcpy(h, "te", 2), h += 2, *h++ = 8, memcpy(h, "trailers", 8), h += 8;
  size_t hl = h - hb;
  *p++ = 0, *p++ = 0, *p++ = hl, *p++ = 0x01, *p++ = 0x04, memcpy(p, "\x00\x00\x00\x01", 4), p += 4;
  memcpy(p, hb, hl), p += hl;
  memcpy(p, "\x00\x00\x05\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00", 14), p += 14;
  if (write(fd, out, p - out) != p - out) return "reset";
  int status = -1;
  for (;;) {
    unsigned char fh[9], body[512];
    int r = read_full(fd, fh, 9, deadline);
    if (r) return r == -1 ? "timeout" : (status >= 0 ? (status == 1 ? "success" : "failure") : "reset");
    size_t len = (size_t)fh[0] << 16 | fh[1] << 8 | fh[2];
    uint32_t stream = ((uint32_t)fh[5] << 24 | fh[6] << 16 | fh[7] << 8 | fh[8]) & 0x7fffffff;
    if (len > sizeof(body)) return "reset";
    if ((r = read_full(fd, body, len, deadline))) return r == -1 ? "timeout" : "reset";
    if (fh[3] == 0x04 && !(fh[4] & 1)) { /* the server's SETTINGS: acknowledge */
      if (write(fd, "\x00\x00\x00\x04\x01\x00\x00\x00\x00", 9) != 9) return "reset";
    } else if (fh[3] == 0x00 && stream == 1 && len >= 5) {
      uint32_t n = (uint32_t)body[1] << 24 | body[2] << 16 | body[3] << 8 | body[4];
      status = n >= 2 && body[5] == 0x08 ? body[6] : 0;
      static const char* names[] = {"UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"};
      snprintf(code, sizeof(code), "%s", status < 4 ? names[status] : "other");
    }
    if ((fh[3] == 0x01 || fh[3] == 0x00) && stream == 1 && (fh[4] & 1)) /* END_STREAM: the trailers */
      return status == 1 ? "success" : status >= 0 ? "failure" : "reset";
  }
}

static const char* probe(int kind, struct sockaddr_storage* sa, socklen_t len, int timeout_ms) {
  const char* result = "success";
  int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000;
  int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct linger lg = {.l_onoff = 1, .l_linger = 1}; /* the kubelet's dialer does this */
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  code[0] = 0;
  if (connect(fd, (struct sockaddr*)sa, len) && errno != EINPROGRESS) {
    result = errno == ECONNREFUSED ? "refused" : "reset";
    goto out;
  }
  if (wait_fd(fd, POLLOUT, deadline) <= 0) {
    result = "timeout";
    goto out;
  }
  int err = 0;
  socklen_t elen = sizeof(err);
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
  if (err) {
    result = err == ECONNREFUSED ? "refused" : "reset";
    goto out;
  }
  if (kind == TCP) goto out;
  if (kind == GRPC) {
    result = grpc_health(fd, deadline);
    goto out;
  }
  char req[512];
  int req_len = snprintf(req, sizeof(req),
                         "GET %s HTTP/1.1\r\nHost: pod\r\nUser-Agent: kube-probe/1.30\r\nConnection: close\r\n\r\n",
                         path);
  if (write(fd, req, req_len) < 0) {
    result = "reset";
    goto out;
  }
  char buf[512];
  size_t got = 0;
  for (;;) {
    if (wait_fd(fd, POLLIN, deadline) <= 0) {
      result = got ? "success" : "timeout";
      break;
    }
    ssize_t r = read(fd, buf + (got < 16 ? got : 16), got < 16 ? 16 - got : sizeof(buf) - 16);
    if (r > 0) {
      got += r;
      continue;
    }
    if (r < 0 && errno == EAGAIN) continue;
    result = got ? "success" : "reset";
    break;
  }
  if (got >= 12 && !strncmp(buf, "HTTP/1.", 7)) {
    int status = atoi(buf + 9);
    snprintf(code, sizeof(code), "%d", status);
    if (!strcmp(result, "success") && (status < 200 || status >= 400)) result = "failure";
  }
out:
  closed_at = now_ns();
  close(fd);
  return result;
}

int main(int argc, char** argv) {
  const char* comm = "kubelet";
  int count = 1, timeout_ms = 1000, interval_ms = 0, i = 1;
  for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
    if (!strcmp(argv[i], "--comm"))
      comm = argv[i + 1];
    else if (!strcmp(argv[i], "--count"))
      count = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--timeout-ms"))
      timeout_ms = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--interval-ms"))
      interval_ms = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--path"))
      path = argv[i + 1];
    else
      break;
  }
  prctl(PR_SET_NAME, comm, 0, 0, 0);
  for (; i < argc; i++) {
    int kind;
    struct sockaddr_storage sa;
    socklen_t len;
    if (parse(argv[i], &kind, &sa, &len)) {
      fprintf(stderr, "sw_prober: bad target %s\n", argv[i]);
      return 2;
    }
    for (int n = 0; n < count; n++) {
      int64_t t0 = now_ns();
      const char* result = probe(kind, &sa, len, timeout_ms);
      printf("%s %s %lld%s%s\n", argv[i], result, (long long)(closed_at - t0), code[0] ? " " : "", code);
      fflush(stdout);
      /* The kubelet probes on a period, from the previous probe's start. */
      int64_t left = t0 + (int64_t)interval_ms * 1000000 - now_ns();
      if (left > 0) usleep(left / 1000);
    }
  }
  return 0;
}
