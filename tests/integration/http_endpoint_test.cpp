// The metrics endpoint under peers that misbehave (idle connections, floods
// of scrapes, malformed and oversized requests), on IPv6, and behind the
// web config's TLS and basic auth.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "support/pki.h"
#include "support/processes.h"
#include "support/scratch.h"
#include "support/shell.h"
#include "support/test_env.h"

namespace stallwatch::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

int connect_to(int port, bool v6 = false) {
  const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{5, 0};  // a stalled endpoint shows as a failed read, not a hung test
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  int rc;
  if (v6) {
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(static_cast<uint16_t>(port));
    addr.sin6_addr = in6addr_loopback;
    rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  } else {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  }
  if (rc != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// The status line of the answer to `request`, or "" when none came within 5 s.
std::string ask(int port, const std::string& request, bool v6 = false) {
  const int fd = connect_to(port, v6);
  if (fd < 0) return "";
  std::string answer;
  if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) answer.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return answer.substr(0, answer.find("\r\n"));
}

const std::string kScrape = "GET /metrics HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n";

TEST(HttpEndpoint, IdleConnectionsFloodsAndBadRequestsDoNotStopScrapes) {
  SW_REQUIRE_ROOT();
  Agent agent;
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  for (int i = 0; i < 20; ++i) ASSERT_EQ(ask(agent.port(), kScrape), "HTTP/1.1 200 OK");
  const long rss_before = rss_kib(agent.pid());
  // 200 peers that send half a request and wait.
  std::vector<int> idle;
  for (int i = 0; i < 200; ++i) {
    const int fd = connect_to(agent.port());
    ASSERT_GE(fd, 0);
    const std::string half = "GET /metrics HTTP/1.1\r\nHost: node\r\n";
    ASSERT_EQ(write(fd, half.data(), half.size()), static_cast<ssize_t>(half.size()));
    idle.push_back(fd);
  }
  std::this_thread::sleep_for(200ms);
  auto t0 = Clock::now();
  EXPECT_EQ(ask(agent.port(), kScrape), "HTTP/1.1 200 OK") << "a scrape behind 200 idle connections";
  const auto behind_idle = Clock::now() - t0;
  if (!sanitized()) {
    EXPECT_LT(behind_idle, 1s);
  }
  // 500 scrapes at once, the idle peers still there.
  std::vector<double> ms(500);
  std::atomic<int> ok{0};
  std::vector<std::thread> scrapers;
  t0 = Clock::now();
  for (int i = 0; i < 500; ++i) {
    scrapers.emplace_back([&, i] {
      const auto start = Clock::now();
      if (ask(agent.port(), kScrape) == "HTTP/1.1 200 OK") ++ok;
      ms[i] = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    });
  }
  for (auto& t : scrapers) t.join();
  const double all_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  std::sort(ms.begin(), ms.end());
  EXPECT_EQ(ok.load(), 500);
  if (!sanitized()) {
    EXPECT_LT(ms.back(), 1000.0) << "the slowest of 500 concurrent scrapes";
  }
  const long rss_after = rss_kib(agent.pid());
  std::printf("behind 200 idle: %.1f ms; 500 concurrent scrapes: p50 %.1f ms, p99 %.1f ms, max %.1f ms, all in %.0f ms; "
              "RSS %ld KiB before, %ld KiB after\n",
              std::chrono::duration<double, std::milli>(behind_idle).count(), ms[250], ms[495], ms.back(), all_ms,
              rss_before, rss_after);
  if (!sanitized()) {
    EXPECT_LT(rss_after - rss_before, 16 * 1024) << "memory grew by more than 16 MiB";
  }

  // Malformed and oversized requests get a 4xx, and scrapes go on.
  EXPECT_EQ(ask(agent.port(), "POST /metrics HTTP/1.1\r\nHost: node\r\nContent-Length: 3\r\n\r\nabc").substr(0, 12),
            "HTTP/1.1 405");
  EXPECT_EQ(ask(agent.port(), "GET /nope HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n").substr(0, 12),
            "HTTP/1.1 404");
  const std::string garbage = ask(agent.port(), std::string("\x16\x03\x01\x02\x00garbage\r\n\r\n", 16));
  EXPECT_TRUE(garbage.empty() || garbage.substr(9, 1) == "4") << garbage;
  const std::string huge = "GET /metrics HTTP/1.1\r\nHost: node\r\nX-Pad: " + std::string(1 << 20, 'a') + "\r\n\r\n";
  const std::string refused = ask(agent.port(), huge);
  EXPECT_TRUE(refused.empty() || refused.substr(9, 1) == "4") << refused;
  EXPECT_EQ(ask(agent.port(), kScrape), "HTTP/1.1 200 OK") << "a scrape after bad requests";
  for (int fd : idle) close(fd);
  EXPECT_EQ(ask(agent.port(), "GET /healthz HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n"), "HTTP/1.1 200 OK");
}

// ":port" listens on IPv4 and IPv6 with one socket.
TEST(HttpEndpoint, EveryAddressMeansIpv4AndIpv6) {
  SW_REQUIRE_ROOT();
  if (run_shell("test -e /proc/net/if_inet6").rc != 0) GTEST_SKIP() << "this host has no IPv6";
  Agent agent({"--web.listen-address=:0"});
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  EXPECT_NE(agent.log().find("for IPv4 and IPv6"), std::string::npos) << agent.log();
  EXPECT_EQ(ask(agent.port(), kScrape, true), "HTTP/1.1 200 OK") << "on [::1]";
  EXPECT_EQ(ask(agent.port(), kScrape, false), "HTTP/1.1 200 OK") << "on 127.0.0.1";
}

TEST(HttpEndpoint, Ipv6LoopbackOnly) {
  SW_REQUIRE_ROOT();
  if (run_shell("test -e /proc/net/if_inet6").rc != 0) GTEST_SKIP() << "this host has no IPv6";
  Agent agent({"--web.listen-address=[::1]:0"});
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  EXPECT_EQ(ask(agent.port(), kScrape, true), "HTTP/1.1 200 OK");
  EXPECT_EQ(ask(agent.port(), kScrape, false), "") << "IPv4 must not reach an [::1] listener";
}

// The HTTP status curl got, "000" when no HTTP answer came at all.
std::string curl(const std::string& args) {
  return run_shell("curl -s -o /dev/null -w '%{http_code}' --max-time 5 " + args).out;
}

TEST(HttpEndpoint, TlsAndBasicAuthFromTheWebConfig) {
  SW_REQUIRE_ROOT();
  if (run_shell("command -v openssl && command -v curl").rc != 0) {
    if (in_ci()) FAIL() << "openssl and curl are needed";
    GTEST_SKIP() << "openssl and curl are needed";
  }
  Pki pki;
  Agent agent({"--web.config.file=" + pki.web_config_with_user("prometheus", "s3cret")});
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  EXPECT_NE(agent.log().find("over TLS with basic auth"), std::string::npos) << agent.log();
  const std::string url = " https://127.0.0.1:" + std::to_string(agent.port());
  const std::string ca = " --cacert " + pki.path("ca.pem");
  EXPECT_EQ(curl(ca + " -u prometheus:s3cret" + url + "/metrics"), "200");
  EXPECT_EQ(curl(ca + " -u prometheus:wrong" + url + "/metrics"), "401");
  EXPECT_EQ(curl(ca + " -u nobody:s3cret" + url + "/metrics"), "401");
  EXPECT_EQ(curl(ca + url + "/metrics"), "401");
  EXPECT_EQ(curl(ca + url + "/healthz"), "200") << "the kubelet's probes carry no password";
  EXPECT_EQ(curl(ca + url + "/"), "401");
  // A plain-HTTP client gets no HTTP answer at all.
  EXPECT_EQ(curl("http://127.0.0.1:" + std::to_string(agent.port()) + "/metrics"), "000");
  // A client that does not trust the server's CA stops at the handshake.
  EXPECT_EQ(curl("-u prometheus:s3cret" + url + "/metrics"), "000");
  const auto body = run_shell("curl -s --max-time 5" + ca + " -u prometheus:s3cret" + url + "/metrics").out;
  EXPECT_NE(body.find("stallwatch_build_info"), std::string::npos);
}

TEST(HttpEndpoint, ClientCertificatesWhenTheWebConfigRequiresThem) {
  SW_REQUIRE_ROOT();
  if (run_shell("command -v openssl && command -v curl").rc != 0) {
    if (in_ci()) FAIL() << "openssl and curl are needed";
    GTEST_SKIP() << "openssl and curl are needed";
  }
  Pki pki;
  std::ofstream(pki.path("web.yml")) << "tls_server_config:\n  cert_file: " << pki.path("server.pem")
                                     << "\n  key_file: " << pki.path("server.key")
                                     << "\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: "
                                     << pki.path("ca.pem") << "\n  min_version: TLS13\n";
  Agent agent({"--web.config.file=" + pki.path("web.yml")});
  ASSERT_TRUE(agent.wait_ready()) << agent.log();
  const std::string url = " https://127.0.0.1:" + std::to_string(agent.port()) + "/metrics";
  const std::string ca = " --cacert " + pki.path("ca.pem");
  EXPECT_EQ(curl(ca + " --cert " + pki.path("client.pem") + " --key " + pki.path("client.key") + url), "200");
  EXPECT_EQ(curl(ca + " https://127.0.0.1:" + std::to_string(agent.port()) + "/healthz"), "200");
  const std::string none = curl(ca + url);
  EXPECT_TRUE(none == "403" || none == "000") << none;
  const std::string stranger = curl(ca + " --cert " + pki.path("other.pem") + " --key " + pki.path("other.key") + url);
  EXPECT_TRUE(stranger == "403" || stranger == "000") << stranger;
  // TLS 1.2 is below the configured minimum.
  EXPECT_EQ(curl(ca + " --tls-max 1.2 --cert " + pki.path("client.pem") + " --key " + pki.path("client.key") + url),
            "000");
}

}  // namespace
}  // namespace stallwatch::test
