// The blame scenarios' victim: an etcd-like WAL writer. Names itself
// "etcd", waits --delay-ms (so the agent's once-a-second victim scan finds
// it before its first sync), preallocates its file (as etcd's WAL is), then
// writes 4 KiB and fdatasyncs, --calls times, and prints what it measured
// around each fdatasync:
//
//   calls N sum_ns S p50_ns P p99_ns Q max_ns M
//   sorted_ns L1 L2 ... LN
//
//   sw_victim_helper FILE [--calls N] [--delay-ms D] [--interval-us U]
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096
#define PREALLOC (16 << 20)

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void die(const char* what) {
  fprintf(stderr, "sw_victim_helper: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int cmp(const void* a, const void* b) {
  uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  long calls = 200, delay_ms = 1500, interval_us = 0;
  static char buf[BLOCK];

  if (argc < 2) {
    fprintf(stderr, "usage: sw_victim_helper FILE [--calls N] [--delay-ms D] [--interval-us U]\n");
    return 2;
  }
  for (int i = 2; i + 1 < argc; i += 2) {
    long v = strtol(argv[i + 1], NULL, 10);
    if (!strcmp(argv[i], "--calls"))
      calls = v;
    else if (!strcmp(argv[i], "--delay-ms"))
      delay_ms = v;
    else if (!strcmp(argv[i], "--interval-us"))
      interval_us = v;
    else {
      fprintf(stderr, "sw_victim_helper: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  prctl(PR_SET_NAME, "etcd", 0, 0, 0);
  usleep(delay_ms * 1000);
  int fd = open(argv[1], O_RDWR | O_CREAT, 0600);
  if (fd < 0) die("open");
  /* Written, not fallocated: overwriting unwritten extents would make
   * every fdatasync commit the journal to convert them. A file already
   * that size was prefilled by an earlier run: its big first commit then
   * stays out of this run's measurements. */
  memset(buf, 'z', sizeof(buf));
  if (lseek(fd, 0, SEEK_END) >= PREALLOC) goto prefilled;
  for (long off = 0; off < PREALLOC; off += BLOCK) {
    if (pwrite(fd, buf, BLOCK, off) != BLOCK) die("prefill");
  }
  if (fsync(fd)) die("fsync");
prefilled:;

  uint64_t *lat = calloc(calls, sizeof(*lat)), sum = 0;
  if (!lat) die("calloc");
  for (long i = 0; i < calls; i++) {
    memset(buf, 'a' + i % 26, sizeof(buf));
    if (pwrite(fd, buf, BLOCK, (i * BLOCK) % PREALLOC) != BLOCK) die("pwrite");
    uint64_t t0 = now_ns();
    if (fdatasync(fd)) die("fdatasync");
    lat[i] = now_ns() - t0;
    sum += lat[i];
    if (interval_us) usleep(interval_us);
  }
  qsort(lat, calls, sizeof(*lat), cmp);
  printf("calls %ld sum_ns %llu p50_ns %llu p99_ns %llu max_ns %llu\n", calls, (unsigned long long)sum,
         (unsigned long long)lat[calls / 2], (unsigned long long)lat[calls * 99 / 100],
         (unsigned long long)lat[calls - 1]);
  printf("sorted_ns");
  for (long i = 0; i < calls; i++) printf(" %llu", (unsigned long long)lat[i]);
  printf("\n");
  return 0;
}
