// A pod's probe handler for the probe tests: an HTTP server on [::]:PORT
// (IPv4 and IPv6), one connection at a time.
//
//   sw_probe_server PORT ok            answer 200 at once
//   sw_probe_server PORT status CODE   answer CODE at once
//   sw_probe_server PORT slow MS       answer after MS milliseconds
//   sw_probe_server PORT hang          read the request, never answer
//   sw_probe_server PORT fsync FILE    write 4 KiB to FILE and fdatasync it, then answer
//
// Prints "listening" once it accepts connections.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char* what) {
  fprintf(stderr, "sw_probe_server: %s: %s\n", what, strerror(errno));
  exit(1);
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: sw_probe_server PORT ok|status CODE|slow MS|hang|fsync FILE\n");
    return 2;
  }
  const char* mode = argv[2];
  int slow_ms = !strcmp(mode, "slow") && argc > 3 ? atoi(argv[3]) : 0;
  int status = !strcmp(mode, "status") && argc > 3 ? atoi(argv[3]) : 200;
  int file = -1;
  if (!strcmp(mode, "fsync")) {
    if (argc < 4 || (file = open(argv[3], O_RDWR | O_CREAT, 0600)) < 0) die("open");
  }
  int s = socket(AF_INET6, SOCK_STREAM, 0), zero = 0, one = 1;
  if (s < 0) die("socket");
  setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(atoi(argv[1])), .sin6_addr = in6addr_any};
  if (bind(s, (struct sockaddr*)&a, sizeof(a)) || listen(s, 64)) die("bind/listen");
  printf("listening\n");
  fflush(stdout);
  static char buf[4096];
  for (unsigned long n = 0;; n++) {
    int c = accept(s, NULL, NULL);
    if (c < 0) continue;
    size_t got = 0;
    while (got < sizeof(buf) - 1) {
      ssize_t r = read(c, buf + got, sizeof(buf) - 1 - got);
      if (r <= 0) break;
      got += r;
      buf[got] = 0;
      if (strstr(buf, "\r\n\r\n")) break;
    }
    if (!strcmp(mode, "hang")) {
      while (read(c, buf, sizeof(buf)) > 0) /* until the prober gives up */
        ;
      close(c);
      continue;
    }
    if (slow_ms) usleep(slow_ms * 1000);
    if (file >= 0) {
      memset(buf, 'a' + n % 26, 4096);
      if (pwrite(file, buf, 4096, (n % 256) * 4096) != 4096 || fdatasync(file)) die("fdatasync");
    }
    char answer[128];
    int n_answer = snprintf(answer, sizeof(answer),
                            "HTTP/1.1 %d %s\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", status,
                            status == 200 ? "OK" : "Status");
    if (write(c, answer, n_answer) < 0) perror("write");
    close(c);
  }
}
