#pragma once
// The metrics endpoint's listening socket, opened by us rather than by the
// HTTP library so that the address syntax, dual-stack binding and the error
// a user sees are ours.
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/unique_fd.h"

namespace stallwatch::exporters {

struct ListenAddress {
  std::string host;  // "" (every address), an IPv4 literal or an IPv6 literal without brackets
  int port = 0;      // 0: the kernel picks a free port
  bool ipv6() const { return host.find(':') != std::string::npos; }
};

// "--web.listen-address" syntax, as other Prometheus exporters take it:
// ":9688" (every interface, IPv4 and IPv6), "0.0.0.0:9688" (IPv4 only),
// "[::]:9688" (IPv6 only), "127.0.0.1:9688", "[::1]:9688", "localhost:9688".
Result<ListenAddress> parse_listen_address(std::string_view text);

struct Listener {
  UniqueFd fd;
  int port = 0;
  std::string where;      // "[::]:9688 (port 9688) for IPv4 and IPv6", for the start-up line
  std::string loopback;   // an address on which a local client reaches it
};

// ":port" binds [::] with IPV6_V6ONLY off, so one socket takes IPv4 and IPv6;
// on a host without IPv6 it falls back to IPv4 and says so in `where`.
Result<Listener> open_listener(const ListenAddress& address, int backlog);

}  // namespace stallwatch::exporters
