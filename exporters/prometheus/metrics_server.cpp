#include "exporters/prometheus/metrics_server.h"

#ifndef STALLWATCH_NO_TLS
#include <gnutls/gnutls.h>
#endif
#include <microhttpd.h>
#include <spdlog/spdlog.h>
#include <zlib.h>

#include <atomic>
#include <cstdarg>
#include <cstring>
#include <mutex>

#include "exporters/prometheus/text_format.h"

namespace stallwatch::exporters {

namespace {

std::atomic<bool> g_healthy{false};

constexpr const char* kMetricsType = "text/plain; version=0.0.4; charset=utf-8";

// Scrapers send "Accept-Encoding: gzip" (Prometheus does): a busy node's
// text shrinks about tenfold.
bool accepts_gzip(MHD_Connection* conn) {
  const char* enc = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
  return enc && std::strstr(enc, "gzip") != nullptr;
}

bool gzip(const std::string& in, std::string& out) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  out.resize(deflateBound(&zs, in.size()));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return rc == Z_STREAM_END;
}

// libmicrohttpd explains a refused start (a bad certificate) only through
// its log; the first line of a start names the cause.
std::mutex g_log_mu;
std::string g_first_error;

void log_mhd(void*, const char* fmt, va_list ap) {
  char line[512];
  std::vsnprintf(line, sizeof(line), fmt, ap);
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '.')) text.pop_back();
  spdlog::debug("http: {}", text);
  std::lock_guard lock(g_log_mu);
  if (g_first_error.empty()) g_first_error = text;
}

}  // namespace

struct MetricsServer::State {
  State(std::shared_ptr<prometheus::Collectable> c, WebConfig w)
      : collector(std::move(c)), web(std::move(w)), passwords(web.users) {}
  std::shared_ptr<prometheus::Collectable> collector;
  WebConfig web;
  PasswordCheck passwords;
  // The collector reads kernel maps and was written for one caller at a time.
  std::mutex collect_mu;

  MHD_Result answer(MHD_Connection* conn, unsigned status, std::string body, const char* type, bool gzipped) const {
    const std::size_t size = body.size();
    auto* held = new std::string(std::move(body));
    MHD_Response* r = MHD_create_response_from_buffer_with_free_callback_cls(
        size, held->data(), [](void* cls) { delete static_cast<std::string*>(cls); }, held);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (gzipped) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    for (const auto& [k, v] : web.headers) MHD_add_response_header(r, k.c_str(), v.c_str());
    const MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
  }

  // The client's certificate, where the web config asks for one.
  bool client_cert_ok(MHD_Connection* conn) const {
    if (!web.tls || web.client_auth == ClientAuth::kNone || web.client_auth == ClientAuth::kRequest) return true;
#ifdef STALLWATCH_NO_TLS
    (void)conn;
    return false;  // never reached: the web config refuses TLS in this build
#else
    const MHD_ConnectionInfo* info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!info || !info->tls_session) return false;
    auto* session = static_cast<gnutls_session_t>(info->tls_session);
    unsigned n = 0;
    const bool given = gnutls_certificate_get_peers(session, &n) != nullptr && n > 0;
    if (!given) return web.client_auth == ClientAuth::kVerifyIfGiven;
    if (web.client_auth == ClientAuth::kRequireAny) return true;
    unsigned status = 0;
    return gnutls_certificate_verify_peers2(session, &status) == 0 && status == 0;
#endif
  }

  MHD_Result handle(MHD_Connection* conn, const char* url, const char* method) {
    const bool head = std::strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (!head && std::strcmp(method, MHD_HTTP_METHOD_GET) != 0) {
      return answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n", "text/plain", false);
    }
    // /healthz says only "ok": the kubelet's probes, which carry neither a
    // password nor a client certificate, may ask it.
    if (std::strcmp(url, "/healthz") == 0) {
      const bool ok = g_healthy.load();
      return answer(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, ok ? "ok\n" : "not ready\n", "text/plain",
                    false);
    }
    if (!client_cert_ok(conn)) return answer(conn, MHD_HTTP_FORBIDDEN, "client certificate refused\n", "text/plain", false);
    if (passwords.enabled()) {
      char* password = nullptr;
      char* user = MHD_basic_auth_get_username_password(conn, &password);
      const bool ok = user && password && passwords.check(user, password);
      MHD_free(user);
      MHD_free(password);
      if (!ok) {
        const char* body = "Unauthorized\n";
        MHD_Response* r = MHD_create_response_from_buffer(std::strlen(body), const_cast<char*>(body),
                                                          MHD_RESPMEM_PERSISTENT);
        const MHD_Result rc = MHD_queue_basic_auth_fail_response(conn, "stallwatch", r);
        MHD_destroy_response(r);
        return rc;
      }
    }
    if (std::strcmp(url, "/metrics") == 0) {
      std::vector<prometheus::MetricFamily> families;
      {
        std::lock_guard lock(collect_mu);
        families = collector->Collect();
      }
      std::string body = text_format(families);
      if (accepts_gzip(conn)) {
        std::string packed;
        if (gzip(body, packed)) return answer(conn, MHD_HTTP_OK, std::move(packed), kMetricsType, true);
      }
      return answer(conn, MHD_HTTP_OK, std::move(body), kMetricsType, false);
    }
    if (std::strcmp(url, "/") == 0) {
      return answer(conn, MHD_HTTP_OK,
                    "<html><head><title>stallwatch</title></head><body><h1>stallwatch</h1>"
                    "<p><a href=\"/metrics\">Metrics</a> &middot; <a href=\"/healthz\">Health</a></p></body></html>\n",
                    "text/html; charset=utf-8", false);
    }
    return answer(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics or /healthz\n", "text/plain", false);
  }
};

namespace {

// Called once the headers are in. Answering on that first call means a
// request body (nobody should send one) is never read: libmicrohttpd closes
// such a connection after the answer instead of keeping it alive.
MHD_Result on_request(void* cls, MHD_Connection* conn, const char* url, const char* method, const char*,
                      const char*, size_t*, void**) {
  return static_cast<MetricsServer::State*>(cls)->handle(conn, url, method);
}

}  // namespace

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const ListenAddress& address, const WebConfig& web,
                                                            const std::shared_ptr<prometheus::Collectable>& collector,
                                                            const ServerLimits& limits) {
  auto listener = open_listener(address, static_cast<int>(limits.connections));
  if (!listener) return std::unexpected(listener.error());
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->state_ = std::make_unique<State>(collector, web);
  State& st = *server->state_;
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
  if (web.tls) flags |= MHD_USE_TLS;
  std::vector<MHD_OptionItem> opts{
      {MHD_OPTION_EXTERNAL_LOGGER, reinterpret_cast<intptr_t>(&log_mhd), nullptr},
      {MHD_OPTION_LISTEN_SOCKET, listener->fd.get(), nullptr},
      {MHD_OPTION_THREAD_POOL_SIZE, static_cast<intptr_t>(limits.threads), nullptr},
      {MHD_OPTION_CONNECTION_LIMIT, static_cast<intptr_t>(limits.connections), nullptr},
      {MHD_OPTION_CONNECTION_TIMEOUT, static_cast<intptr_t>(limits.idle_timeout_s), nullptr},
      {MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<intptr_t>(limits.request_bytes), nullptr},
  };
  if (web.tls) {
    opts.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, const_cast<char*>(st.web.cert_pem.c_str())});
    opts.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, const_cast<char*>(st.web.key_pem.c_str())});
    opts.push_back({MHD_OPTION_HTTPS_PRIORITIES, 0, const_cast<char*>(st.web.tls_priorities.c_str())});
    if (!st.web.client_ca_pem.empty()) {
      opts.push_back({MHD_OPTION_HTTPS_MEM_TRUST, 0, const_cast<char*>(st.web.client_ca_pem.c_str())});
    }
  }
  opts.push_back({MHD_OPTION_END, 0, nullptr});
  {
    std::lock_guard lock(g_log_mu);
    g_first_error.clear();
  }
  server->daemon_ = MHD_start_daemon(flags, 0, nullptr, nullptr, &on_request, &st, MHD_OPTION_ARRAY, opts.data(),
                                     MHD_OPTION_END);
  listener->fd.release();  // the daemon owns it from here, and closes it on failure too
  if (!server->daemon_) {
    std::lock_guard lock(g_log_mu);
    return fail("cannot serve on " + listener->where + ": " +
                (g_first_error.empty() ? "libmicrohttpd refused to start" : g_first_error) +
                (web.tls ? " (check the certificate and key in --web.config.file)" : ""));
  }
  server->port_ = listener->port;
  server->where_ = listener->where;
  return server;
}

MetricsServer::~MetricsServer() {
  g_healthy = false;
  if (daemon_) MHD_stop_daemon(daemon_);
}

void MetricsServer::set_healthy(bool healthy) { g_healthy = healthy; }

}  // namespace stallwatch::exporters
