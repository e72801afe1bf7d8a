// A kubelet-shaped prober for the probe tests: N probes per target, each on
// a fresh connection with a deadline (1 s by default), one after another.
// It names itself --comm (default "kubelet") and prints, per probe, what it
// saw and how long it took from connect() until it closed the socket (the
// time an HTTP client waits; close() itself lingers for the FIN's ACK):
//
//   <target> <success|refused|reset|timeout> <ns>
//
//   sw_prober [--comm NAME] [--count N] [--timeout-ms MS] http:ADDR:PORT|tcp:ADDR:PORT ...
// ADDR is IPv4 or [IPv6].
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

static int parse(const char* target, int* http, struct sockaddr_storage* sa, socklen_t* len) {
  char buf[128];
  *http = !strncmp(target, "http:", 5);
  if (!*http && strncmp(target, "tcp:", 4)) return -1;
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

static const char* probe(int http, struct sockaddr_storage* sa, socklen_t len, int timeout_ms) {
  const char* result = "success";
  int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000;
  int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct linger lg = {.l_onoff = 1, .l_linger = 1}; /* the kubelet's dialer does this */
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
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
  if (!http) goto out;
  static const char req[] =
      "GET /healthz HTTP/1.1\r\nHost: pod\r\nUser-Agent: kube-probe/1.30\r\nConnection: close\r\n\r\n";
  if (write(fd, req, sizeof(req) - 1) < 0) {
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
    ssize_t r = read(fd, buf, sizeof(buf));
    if (r > 0) {
      got += r;
      continue;
    }
    if (r < 0 && errno == EAGAIN) continue;
    result = got ? "success" : "reset";
    break;
  }
out:
  closed_at = now_ns();
  close(fd);
  return result;
}

int main(int argc, char** argv) {
  const char* comm = "kubelet";
  int count = 1, timeout_ms = 1000, i = 1;
  for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
    if (!strcmp(argv[i], "--comm"))
      comm = argv[i + 1];
    else if (!strcmp(argv[i], "--count"))
      count = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--timeout-ms"))
      timeout_ms = atoi(argv[i + 1]);
    else
      break;
  }
  prctl(PR_SET_NAME, comm, 0, 0, 0);
  for (; i < argc; i++) {
    int http;
    struct sockaddr_storage sa;
    socklen_t len;
    if (parse(argv[i], &http, &sa, &len)) {
      fprintf(stderr, "sw_prober: bad target %s\n", argv[i]);
      return 2;
    }
    for (int n = 0; n < count; n++) {
      int64_t t0 = now_ns();
      const char* result = probe(http, &sa, len, timeout_ms);
      printf("%s %s %lld\n", argv[i], result, (long long)(closed_at - t0));
    }
  }
  return 0;
}
