#pragma once
// HTTP endpoint: /metrics and /healthz, on libmicrohttpd's event loop. A
// connection costs a socket and a little memory, not a thread, so peers that
// open connections and send nothing cannot starve scrapes.
#include <prometheus/collectable.h>

#include <memory>
#include <string>

#include "common/result.h"
#include "exporters/prometheus/listener.h"
#include "exporters/prometheus/web_config.h"

struct MHD_Daemon;

namespace stallwatch::exporters {

struct ServerLimits {
  unsigned connections = 512;       // open at once; past it new ones are closed at accept
  unsigned idle_timeout_s = 30;     // a connection that sends nothing for this long is closed
  unsigned threads = 4;             // event loops; a scrape renders on one of them
  std::size_t request_bytes = 16384;  // request line and headers; past it: 431
};

class MetricsServer {
 public:
  static Result<std::unique_ptr<MetricsServer>> start(const ListenAddress& address, const WebConfig& web,
                                                      const std::shared_ptr<prometheus::Collectable>& collector,
                                                      const ServerLimits& limits = {});
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  int port() const { return port_; }
  const std::string& where() const { return where_; }
  // /healthz answers 200 while healthy, 503 otherwise.
  static void set_healthy(bool healthy);

  struct State;

 private:
  MetricsServer() = default;
  std::unique_ptr<State> state_;
  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;
  std::string where_;
};

}  // namespace stallwatch::exporters
