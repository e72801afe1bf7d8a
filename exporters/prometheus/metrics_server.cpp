#include "exporters/prometheus/metrics_server.h"

#include <CivetServer.h>
#include <arpa/inet.h>
#include <civetweb.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

namespace stallwatch::exporters {

namespace {

std::atomic<bool> g_healthy{false};
std::mutex g_log_mu;
std::string g_first_civetweb_error;

int begin_request(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  if (!info || !info->local_uri || std::strcmp(info->local_uri, "/healthz") != 0) return 0;
  const bool ok = g_healthy.load();
  const char* body = ok ? "ok\n" : "not ready\n";
  mg_printf(conn,
            "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
            "Connection: close\r\n\r\n%s",
            ok ? "200 OK" : "503 Service Unavailable", std::strlen(body), body);
  return ok ? 200 : 503;
}

// civetweb reports bind failures only through this hook. The first message
// names the cause ("cannot bind to ...: 98 (Address already in use)"), later
// ones only the consequence, so keep the first for our own error line.
int log_message(const mg_connection*, const char* message) {
  std::lock_guard lock(g_log_mu);
  if (g_first_civetweb_error.empty() && message) g_first_civetweb_error = message;
  return 1;
}

bool parse_port(std::string_view text, int& port) {
  if (text.empty() || text.size() > 5) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  return ec == std::errc() && ptr == text.data() + text.size() && port >= 0 && port <= 65535;
}

// One throwaway connection, to make civetweb's master thread return from
// poll() and notice it is being stopped.
void poke(const std::string& host, int port) {
  const bool v6 = host.find(':') != std::string::npos;
  const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return;
  if (v6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET6, host.c_str(), &a.sin6_addr);
    connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  }
  close(fd);
}

}  // namespace

Result<std::string> to_civetweb_ports(std::string_view addr) {
  const auto bad = [&](std::string_view why) {
    return fail("invalid --web.listen-address '" + std::string(addr) + "': " + std::string(why));
  };
  const auto colon = addr.rfind(':');
  if (colon == std::string_view::npos) return bad("expected [host]:port");
  std::string_view host = addr.substr(0, colon);
  int port = 0;
  if (!parse_port(addr.substr(colon + 1), port)) return bad("port must be a number 0-65535");
  const std::string port_text = std::to_string(port);
  if (host.empty()) return port_text;  // all IPv4 interfaces
  if (host == "localhost") return "127.0.0.1:" + port_text;
  if (host.front() == '[') {
    if (host.back() != ']') return bad("unterminated IPv6 address");
    const std::string inner(host.substr(1, host.size() - 2));
    in6_addr a6{};
    if (inet_pton(AF_INET6, inner.c_str(), &a6) != 1) return bad("not an IPv6 address");
    return "[" + inner + "]:" + port_text;
  }
  in_addr a4{};
  if (inet_pton(AF_INET, std::string(host).c_str(), &a4) != 1) {
    return bad("host must be an IPv4 address, [IPv6] or localhost");
  }
  return std::string(host) + ":" + port_text;
}

MetricsServer::MetricsServer(std::unique_ptr<prometheus::Exposer> exposer, std::string wake_host)
    : exposer_(std::move(exposer)), wake_host_(std::move(wake_host)) {}

MetricsServer::~MetricsServer() {
  g_healthy = false;
  // civetweb's mg_stop() waits for its master thread, which only checks the
  // stop flag between 2 s poll() timeouts; connecting wakes it, so stopping
  // takes milliseconds instead of up to 2 s.
  const int port = this->port();
  std::atomic<bool> stopped{false};
  std::jthread waker([&] {
    while (!stopped) {
      poke(wake_host_, port);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  exposer_.reset();
  stopped = true;
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& listen_address,
                                                            const std::shared_ptr<prometheus::Collectable>& collector) {
  auto ports = to_civetweb_ports(listen_address);
  if (!ports) return std::unexpected(ports.error());
  static CivetCallbacks callbacks;
  callbacks.begin_request = begin_request;
  callbacks.log_message = log_message;
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    // civetweb gives each connection a worker thread until its request is
    // read: with few workers, a couple of idle connections (a half-sent
    // request, a health checker's keep-alive) stall every scrape. 64
    // workers (about 60 KiB resident each once used: 4 MiB), a timeout that frees
    // a worker from a peer that never finishes its request, and a bounded
    // request size.
    exposer = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", *ports, "num_threads", "64", "request_timeout_ms", "5000",
                                 "connection_queue", "64", "max_request_size", "16384"},
        &callbacks);
  } catch (const std::exception& e) {
    std::lock_guard lock(g_log_mu);
    return fail("cannot listen on " + listen_address + ": " +
                (g_first_civetweb_error.empty() ? e.what() : g_first_civetweb_error));
  }
  exposer->RegisterCollectable(collector);
  // Where to connect to reach the listener: loopback for a wildcard bind.
  std::string host = ports->substr(0, ports->rfind(':') == std::string::npos ? 0 : ports->rfind(':'));
  if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(exposer), std::move(host)));
}

int MetricsServer::port() const {
  const auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

void MetricsServer::set_healthy(bool healthy) { g_healthy = healthy; }

}  // namespace stallwatch::exporters
