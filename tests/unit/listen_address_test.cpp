#include <gtest/gtest.h>

#include "exporters/prometheus/metrics_server.h"

namespace {

using stallwatch::exporters::to_civetweb_ports;

TEST(ListenAddress, AcceptedForms) {
  EXPECT_EQ(to_civetweb_ports(":9688").value(), "9688");
  EXPECT_EQ(to_civetweb_ports("127.0.0.1:9688").value(), "127.0.0.1:9688");
  EXPECT_EQ(to_civetweb_ports("localhost:1").value(), "127.0.0.1:1");
  EXPECT_EQ(to_civetweb_ports("[::1]:9688").value(), "[::1]:9688");
  EXPECT_EQ(to_civetweb_ports("0.0.0.0:0").value(), "0.0.0.0:0");
}

TEST(ListenAddress, MalformedIsRejectedWithTheReason) {
  for (const char* bad : {"", "9688", "foo", ":", ":http", ":65536", ":-1", "1.2.3:80", "example.com:80", "[::1:80",
                          "[zz]:80", ":99999999999"}) {
    auto r = to_civetweb_ports(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_NE(r.error().message.find("invalid --web.listen-address"), std::string::npos);
  }
}

}  // namespace
