// A tight loop for the overhead benchmarks (tests/bench/all.sh): N 64-byte
// pwrite calls on a file in DIR, each followed by fsync unless --no-sync,
// optionally paced to RATE calls per second; prints "<calls> <ns per call>".
//
//   sw_sync_loop DIR N [--no-sync] [--rate RATE]
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: sw_sync_loop DIR N [--no-sync] [--rate RATE]\n");
    return 2;
  }
  const long n = atol(argv[2]);
  int sync = 1;
  double rate = 0;
  for (int i = 3; i < argc; ++i) {
    if (strcmp(argv[i], "--no-sync") == 0) {
      sync = 0;
    } else if (strcmp(argv[i], "--rate") == 0 && i + 1 < argc) {
      rate = atof(argv[++i]);
    } else {
      fprintf(stderr, "sw_sync_loop: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  char path[4096];
  snprintf(path, sizeof(path), "%s/sw-sync-loop.%d", argv[1], getpid());
  const int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    perror("open");
    return 1;
  }
  char buf[64];
  memset(buf, 'x', sizeof(buf));
  const uint64_t start = now_ns();
  for (long i = 0; i < n; ++i) {
    if (pwrite(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) || (sync && fsync(fd) != 0)) {
      perror("pwrite/fsync");
      return 1;
    }
    if (rate > 0) {  // paced: wait for this call's slot
      const uint64_t due = start + (uint64_t)((double)(i + 1) * 1e9 / rate);
      while (now_ns() < due) {
      }
    }
  }
  const uint64_t took = now_ns() - start;
  close(fd);
  unlink(path);
  printf("%ld %.1f\n", n, (double)took / (double)n);
  return 0;
}
