#include "identity/node_name.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace stallwatch::identity {

namespace {

// RFC 1123 subdomains, which Node objects are named by, plus upper case and
// '_' that host names outside Kubernetes carry.
bool dns_name(std::string_view s) {
  return !s.empty() && s.size() <= 253 && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_';
  });
}

// The value as one printable line: a newline in it must not split the error.
std::string shown(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 64)) {
    if (c >= ' ' && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static const char* hex = "0123456789abcdef";
      out += std::string("\\x") + hex[c >> 4] + hex[c & 15];
    }
  }
  return out;
}

}  // namespace

Result<std::string> node_name(const char* node_name_env, std::string_view host_name) {
  if (node_name_env && *node_name_env) {
    if (!dns_name(node_name_env)) {
      return fail("NODE_NAME is not a node name (letters, digits, '-', '.' and '_', at most 253): '" +
                  shown(node_name_env) + "'");
    }
    return std::string(node_name_env);
  }
  // The kernel's own host name is taken as it is ("(none)" on a host that
  // never set one), unless it holds what no log line should.
  const bool printable = !host_name.empty() && std::all_of(host_name.begin(), host_name.end(),
                                                           [](unsigned char c) { return c > ' ' && c < 0x7f; });
  if (!printable) return fail("no NODE_NAME, and the host name is empty or unprintable: set NODE_NAME");
  return std::string(host_name);
}

Result<std::string> node_name() {
  utsname u{};
  if (uname(&u) != 0) return fail_errno("uname", errno);
  return node_name(std::getenv("NODE_NAME"), u.nodename);
}

}  // namespace stallwatch::identity
