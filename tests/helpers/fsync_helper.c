// Performs an exact number of fsync-family calls on a file in DIR and
// prints, per operation, how many it made and the total time it measured
// around the calls itself: "<op> <count> <total_ns>".
//
//   sw_fsync_helper DIR [--fsync N] [--fdatasync N] [--sync-file-range N]
//                       [--msync N] [--msync-async N] [--syncfs N]
//                       [--uring-fsync N] [--uring-sync-file-range N]
//                       [--osync-write N]   (4 KiB writes to an O_SYNC file)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096
#define FILE_BYTES (2 << 20) /* dirtied before every call */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void die(const char* what) {
  fprintf(stderr, "sw_fsync_helper: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* Dirties the whole 2 MiB file before each call, so that on a real
 * filesystem every call writes and waits for I/O, and the time the kernel
 * spends dwarfs the few microseconds of syscall and tracing overhead. */
static void dirty(int fd, int i) {
  static char buf[FILE_BYTES];
  memset(buf, 'a' + i % 26, sizeof(buf));
  if (pwrite(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf)) die("pwrite");
}

static void uring_sync(int fd, int n, int sfr, const char* label) {
  struct io_uring ring;
  uint64_t total = 0;
  int err = io_uring_queue_init(8, &ring, 0);

  if (err < 0) {
    errno = -err;
    die("io_uring_queue_init");
  }
  for (int i = 0; i < n; i++) {
    struct io_uring_sqe* sqe;
    struct io_uring_cqe* cqe;
    uint64_t t0;

    dirty(fd, i);
    sqe = io_uring_get_sqe(&ring);
    if (sfr)
      io_uring_prep_sync_file_range(sqe, fd, FILE_BYTES, 0, 0);
    else
      io_uring_prep_fsync(sqe, fd, 0);
    sqe->user_data = (uint64_t)i;
    t0 = now_ns();
    if (io_uring_submit(&ring) != 1) die("io_uring_submit");
    if ((err = io_uring_wait_cqe(&ring, &cqe)) < 0) {
      errno = -err;
      die("io_uring_wait_cqe");
    }
    total += now_ns() - t0;
    if (cqe->res < 0) {
      errno = -cqe->res;
      die(label);
    }
    io_uring_cqe_seen(&ring, cqe);
  }
  io_uring_queue_exit(&ring);
  printf("%s %d %llu\n", label, n, (unsigned long long)total);
}

int main(int argc, char** argv) {
  char path[4096];
  int fd;

  if (argc < 2 || argc % 2) {
    fprintf(stderr, "usage: sw_fsync_helper DIR [--op N]...\n");
    return 2;
  }
  snprintf(path, sizeof(path), "%s/sw_fsync_helper.%d", argv[1], getpid());
  fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) die("open");
  if (ftruncate(fd, FILE_BYTES)) die("ftruncate");

  for (int a = 2; a + 1 < argc; a += 2) {
    const char* op = argv[a] + 2;
    int n = atoi(argv[a + 1]);
    uint64_t total = 0;

    if (strncmp(argv[a], "--", 2) || n < 0) {
      fprintf(stderr, "sw_fsync_helper: bad argument %s\n", argv[a]);
      return 2;
    }
    if (!strcmp(op, "uring-fsync")) {
      uring_sync(fd, n, 0, "io_uring_fsync");
      continue;
    }
    if (!strcmp(op, "uring-sync-file-range")) {
      uring_sync(fd, n, 1, "io_uring_sync_file_range");
      continue;
    }
    if (!strcmp(op, "osync-write")) {
      char osync_path[4200];
      static char block[BLOCK];
      int sfd;

      snprintf(osync_path, sizeof(osync_path), "%s.osync", path);
      sfd = open(osync_path, O_WRONLY | O_CREAT | O_TRUNC | O_SYNC, 0600);
      if (sfd < 0) die("open O_SYNC");
      for (int i = 0; i < n; i++) {
        uint64_t t0 = now_ns();

        if (pwrite(sfd, block, sizeof(block), (off_t)i * BLOCK) != (ssize_t)sizeof(block)) die("O_SYNC pwrite");
        total += now_ns() - t0;
      }
      close(sfd);
      unlink(osync_path);
      printf("osync_write %d %llu\n", n, (unsigned long long)total);
      continue;
    }
    if (!strcmp(op, "msync") || !strcmp(op, "msync-async")) {
      char* map = mmap(NULL, FILE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      int flags = !strcmp(op, "msync") ? MS_SYNC : MS_ASYNC;

      if (map == MAP_FAILED) die("mmap");
      for (int i = 0; i < n; i++) {
        uint64_t t0;

        /* Every page dirty, as dirty() does for the other calls. */
        memset(map, (char)i, FILE_BYTES);
        t0 = now_ns();
        if (msync(map, FILE_BYTES, flags)) die("msync");
        total += now_ns() - t0;
      }
      munmap(map, FILE_BYTES);
      printf("%s %d %llu\n", op, n, (unsigned long long)total);
      continue;
    }
    for (int i = 0; i < n; i++) {
      uint64_t t0;
      int rc;

      dirty(fd, i);
      t0 = now_ns();
      if (!strcmp(op, "fsync"))
        rc = fsync(fd);
      else if (!strcmp(op, "fdatasync"))
        rc = fdatasync(fd);
      else if (!strcmp(op, "sync-file-range"))
        rc = sync_file_range(fd, 0, FILE_BYTES,
                             SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
      else if (!strcmp(op, "syncfs"))
        rc = syncfs(fd);
      else {
        fprintf(stderr, "sw_fsync_helper: unknown op %s\n", op);
        return 2;
      }
      total += now_ns() - t0;
      if (rc) die(op);
    }
    printf("%s %d %llu\n", !strcmp(op, "sync-file-range") ? "sync_file_range" : op, n, (unsigned long long)total);
  }
  close(fd);
  unlink(path);
  return 0;
}
