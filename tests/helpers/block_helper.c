// Exact block I/O for the block-layer tests: O_DIRECT 4 KiB writes and
// reads on a file that already exists at full size (so no allocation, no
// metadata I/O from this process). Prints "write <n> <bytes>" and
// "read <n> <bytes>".
//
//   sw_block_helper FILE [--write N] [--read N] [--bs BYTES]
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void die(const char* what) {
  fprintf(stderr, "sw_block_helper: %s: %s\n", what, strerror(errno));
  exit(1);
}

int main(int argc, char** argv) {
  long writes = 0, reads = 0, bs = 4096;
  void* buf;
  off_t size;
  int fd;

  if (argc < 2 || argc % 2) {
    fprintf(stderr, "usage: sw_block_helper FILE [--write N] [--read N] [--bs BYTES]\n");
    return 2;
  }
  for (int a = 2; a + 1 < argc; a += 2) {
    long v = atol(argv[a + 1]);
    if (!strcmp(argv[a], "--write"))
      writes = v;
    else if (!strcmp(argv[a], "--read"))
      reads = v;
    else if (!strcmp(argv[a], "--bs"))
      bs = v;
    else {
      fprintf(stderr, "sw_block_helper: bad argument %s\n", argv[a]);
      return 2;
    }
  }
  fd = open(argv[1], O_RDWR | O_DIRECT);
  if (fd < 0) die("open");
  size = lseek(fd, 0, SEEK_END);
  if (size < bs) die("file smaller than one block");
  if (posix_memalign(&buf, 4096, (size_t)bs)) die("posix_memalign");
  memset(buf, 0x5a, (size_t)bs);
  for (long i = 0; i < writes; i++) {
    if (pwrite(fd, buf, (size_t)bs, (i * bs) % size) != bs) die("pwrite");
  }
  for (long i = 0; i < reads; i++) {
    if (pread(fd, buf, (size_t)bs, (i * bs) % size) != bs) die("pread");
  }
  close(fd);
  printf("write %ld %ld\nread %ld %ld\n", writes, writes * bs, reads, reads * bs);
  return 0;
}
