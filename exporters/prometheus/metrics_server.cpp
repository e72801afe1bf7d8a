#include "exporters/prometheus/metrics_server.h"

#include <CivetServer.h>
#include <arpa/inet.h>
#include <civetweb.h>

#include <atomic>
#include <charconv>
#include <cstring>
#include <mutex>

namespace stallwatch::exporters {

namespace {

std::atomic<bool> g_healthy{false};
std::mutex g_log_mu;
std::string g_last_civetweb_error;

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

// civetweb reports bind failures only through this hook; keep the last one
// for the error message instead of letting it print on its own.
int log_message(const mg_connection*, const char* message) {
  std::lock_guard lock(g_log_mu);
  g_last_civetweb_error = message ? message : "";
  return 1;
}

bool parse_port(std::string_view text, int& port) {
  if (text.empty() || text.size() > 5) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  return ec == std::errc() && ptr == text.data() + text.size() && port >= 0 && port <= 65535;
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

MetricsServer::MetricsServer(std::unique_ptr<prometheus::Exposer> exposer)
    : exposer_(std::move(exposer)) {}

MetricsServer::~MetricsServer() { g_healthy = false; }

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(
    const std::string& listen_address, const std::shared_ptr<prometheus::Collectable>& collector) {
  auto ports = to_civetweb_ports(listen_address);
  if (!ports) return std::unexpected(ports.error());
  static CivetCallbacks callbacks;
  callbacks.begin_request = begin_request;
  callbacks.log_message = log_message;
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", *ports, "num_threads", "2"}, &callbacks);
  } catch (const std::exception& e) {
    std::lock_guard lock(g_log_mu);
    return fail("cannot listen on " + listen_address + ": " +
                (g_last_civetweb_error.empty() ? e.what() : g_last_civetweb_error));
  }
  exposer->RegisterCollectable(collector);
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(exposer)));
}

int MetricsServer::port() const {
  const auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

void MetricsServer::set_healthy(bool healthy) { g_healthy = healthy; }

}  // namespace stallwatch::exporters
