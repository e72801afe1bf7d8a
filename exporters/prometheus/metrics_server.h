#pragma once
// HTTP endpoint: /metrics (prometheus-cpp Exposer) and /healthz.
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace stallwatch::exporters {

// "--web.listen-address" syntax, as other Prometheus exporters take it:
// ":9688" (all interfaces), "127.0.0.1:9688", "[::1]:9688", "localhost:9688".
// Port 0 asks the kernel for a free port. Returns civetweb's listening_ports.
Result<std::string> to_civetweb_ports(std::string_view listen_address);

class MetricsServer {
 public:
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& listen_address,
                                                      const std::shared_ptr<prometheus::Collectable>& collector);
  ~MetricsServer();

  int port() const;
  // /healthz answers 200 while healthy, 503 otherwise.
  static void set_healthy(bool healthy);

 private:
  MetricsServer(std::unique_ptr<prometheus::Exposer> exposer, std::string wake_host);
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string wake_host_;  // where a connect() reaches the listener
};

}  // namespace stallwatch::exporters
