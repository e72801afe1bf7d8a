// The metrics endpoint under peers that misbehave: idle connections with a
// half-sent request, and a request too large, must not stop scrapes.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "support/processes.h"
#include "support/test_env.h"

namespace stallwatch::test {
namespace {

using namespace std::chrono_literals;

int connect_to(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};  // a stalled endpoint shows as a failed read, not a hung test
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// The status line of the answer to `request`, or "" when none came within 5 s.
std::string ask(int port, const std::string& request) {
  const int fd = connect_to(port);
  if (fd < 0) return "";
  std::string answer;
  if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) answer.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return answer.substr(0, answer.find("\r\n"));
}

const std::string kScrape = "GET /metrics HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n";

TEST(HttpEndpoint, IdleConnectionsAndHugeRequestsDoNotStopScrapes) {
  SW_REQUIRE_ROOT();
  Agent agent;
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  // 60 peers that send half a request and wait (the endpoint has 64 workers).
  std::vector<int> idle;
  for (int i = 0; i < 60; ++i) {
    const int fd = connect_to(agent.port());
    ASSERT_GE(fd, 0);
    const std::string half = "GET /metrics HTTP/1.1\r\nHost: node\r\n";
    ASSERT_EQ(write(fd, half.data(), half.size()), static_cast<ssize_t>(half.size()));
    idle.push_back(fd);
  }
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(ask(agent.port(), kScrape), "HTTP/1.1 200 OK") << "a scrape behind 60 idle connections";
  // A request with 1 MiB of headers is refused, and the next scrape answers.
  const std::string huge = "GET /metrics HTTP/1.1\r\nHost: node\r\nX-Pad: " + std::string(1 << 20, 'a') + "\r\n\r\n";
  const std::string refused = ask(agent.port(), huge);
  // civetweb answers "HTTP/1.0 400" (or may just close).
  EXPECT_TRUE(refused.empty() || (refused.rfind("HTTP/1.", 0) == 0 && refused.substr(8, 2) == " 4")) << refused;
  EXPECT_EQ(ask(agent.port(), kScrape), "HTTP/1.1 200 OK") << "a scrape after a huge request";
  for (int fd : idle) close(fd);
  EXPECT_EQ(ask(agent.port(), "GET /healthz HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n"), "HTTP/1.1 200 OK");
}

}  // namespace
}  // namespace stallwatch::test
