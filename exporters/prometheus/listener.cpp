#include "exporters/prometheus/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>

namespace stallwatch::exporters {

namespace {

bool parse_port(std::string_view text, int& port) {
  if (text.empty() || text.size() > 5) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  return ec == std::errc() && ptr == text.data() + text.size() && port >= 0 && port <= 65535;
}

struct Bound {
  UniqueFd fd;
  int err = 0;
};

Bound bind_one(int family, const sockaddr* addr, socklen_t len, bool v6only, int backlog) {
  Bound b;
  b.fd = UniqueFd(socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!b.fd) {
    b.err = errno;
    return b;
  }
  const int one = 1;
  setsockopt(b.fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (family == AF_INET6) {
    const int flag = v6only ? 1 : 0;
    setsockopt(b.fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &flag, sizeof(flag));
  }
  if (bind(b.fd.get(), addr, len) != 0 || listen(b.fd.get(), backlog) != 0) {
    b.err = errno;
    b.fd.reset();
  }
  return b;
}

int bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

}  // namespace

Result<ListenAddress> parse_listen_address(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return fail("invalid --web.listen-address '" + std::string(text) + "': " + std::string(why));
  };
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("expected [host]:port");
  std::string_view host = text.substr(0, colon);
  ListenAddress out;
  if (!parse_port(text.substr(colon + 1), out.port)) return bad("port must be a number 0-65535");
  if (host.empty()) return out;
  if (host == "localhost") {
    out.host = "127.0.0.1";
    return out;
  }
  if (host.front() == '[') {
    if (host.back() != ']') return bad("unterminated IPv6 address");
    out.host = std::string(host.substr(1, host.size() - 2));
    in6_addr a6{};
    if (inet_pton(AF_INET6, out.host.c_str(), &a6) != 1) return bad("not an IPv6 address");
    return out;
  }
  out.host = std::string(host);
  in_addr a4{};
  if (inet_pton(AF_INET, out.host.c_str(), &a4) != 1) return bad("host must be an IPv4 address, [IPv6] or localhost");
  return out;
}

Result<Listener> open_listener(const ListenAddress& address, int backlog) {
  const std::string port_text = std::to_string(address.port);
  Listener out;
  Bound b;
  if (address.host.empty()) {
    sockaddr_in6 any6{};
    any6.sin6_family = AF_INET6;
    any6.sin6_port = htons(static_cast<uint16_t>(address.port));
    any6.sin6_addr = in6addr_any;
    b = bind_one(AF_INET6, reinterpret_cast<sockaddr*>(&any6), sizeof(any6), false, backlog);
    if (b.fd) {
      out.where = "[::]:{} (port {}) for IPv4 and IPv6";
      out.loopback = "::1";
    } else if (b.err == EAFNOSUPPORT || b.err == EADDRNOTAVAIL) {
      // IPv6 disabled on this host (ipv6.disable=1): IPv4 is all there is.
      sockaddr_in any4{};
      any4.sin_family = AF_INET;
      any4.sin_port = htons(static_cast<uint16_t>(address.port));
      any4.sin_addr.s_addr = htonl(INADDR_ANY);
      b = bind_one(AF_INET, reinterpret_cast<sockaddr*>(&any4), sizeof(any4), false, backlog);
      out.where = "0.0.0.0:{} (port {}) for IPv4 only: this host has no IPv6";
      out.loopback = "127.0.0.1";
    }
  } else if (address.ipv6()) {
    sockaddr_in6 a6{};
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons(static_cast<uint16_t>(address.port));
    inet_pton(AF_INET6, address.host.c_str(), &a6.sin6_addr);
    b = bind_one(AF_INET6, reinterpret_cast<sockaddr*>(&a6), sizeof(a6), true, backlog);
    out.where = "[" + address.host + "]:{} (port {})";
    out.loopback = address.host == "::" ? "::1" : address.host;
  } else {
    sockaddr_in a4{};
    a4.sin_family = AF_INET;
    a4.sin_port = htons(static_cast<uint16_t>(address.port));
    inet_pton(AF_INET, address.host.c_str(), &a4.sin_addr);
    b = bind_one(AF_INET, reinterpret_cast<sockaddr*>(&a4), sizeof(a4), false, backlog);
    out.where = address.host + ":{} (port {})";
    out.loopback = address.host == "0.0.0.0" ? "127.0.0.1" : address.host;
  }
  if (!b.fd) {
    const std::string shown = address.host.empty()  ? ":" + port_text
                              : address.ipv6()       ? "[" + address.host + "]:" + port_text
                                                     : address.host + ":" + port_text;
    return fail_errno("cannot listen on " + shown, b.err);
  }
  out.port = bound_port(b.fd.get());
  for (auto at = out.where.find("{}"); at != std::string::npos; at = out.where.find("{}")) {
    out.where.replace(at, 2, std::to_string(out.port));
  }
  out.fd = std::move(b.fd);
  return out;
}

}  // namespace stallwatch::exporters
