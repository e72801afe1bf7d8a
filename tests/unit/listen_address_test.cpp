#include <gtest/gtest.h>

#include "exporters/prometheus/listener.h"

namespace {

using stallwatch::exporters::parse_listen_address;

std::string shown(std::string_view text) {
  const auto a = parse_listen_address(text).value();
  return (a.ipv6() ? "[" + a.host + "]" : a.host) + ":" + std::to_string(a.port);
}

TEST(ListenAddress, AcceptedForms) {
  EXPECT_EQ(shown(":9688"), ":9688");  // every address, IPv4 and IPv6
  EXPECT_EQ(shown("127.0.0.1:9688"), "127.0.0.1:9688");
  EXPECT_EQ(shown("localhost:1"), "127.0.0.1:1");
  EXPECT_EQ(shown("[::1]:9688"), "[::1]:9688");
  EXPECT_EQ(shown("[::]:9688"), "[::]:9688");
  EXPECT_EQ(shown("0.0.0.0:0"), "0.0.0.0:0");
}

TEST(ListenAddress, MalformedIsRejectedWithTheReason) {
  for (const char* bad : {"", "9688", "foo", ":", ":http", ":65536", ":-1", "1.2.3:80", "example.com:80", "[::1:80",
                          "[zz]:80", ":99999999999"}) {
    auto r = parse_listen_address(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_NE(r.error().message.find("invalid --web.listen-address"), std::string::npos);
  }
}

}  // namespace
