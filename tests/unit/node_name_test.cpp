// The node name every event and series carries: NODE_NAME first, since a
// pod's host name is the pod's own.
#include "identity/node_name.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using stallwatch::identity::node_name;

TEST(NodeName, NodeNameEnvironmentWinsOverTheHostName) {
  EXPECT_EQ(node_name("ip-10-0-3-17.eu-west-1.compute.internal", "stallwatch-x7k2p").value(),
            "ip-10-0-3-17.eu-west-1.compute.internal");
  EXPECT_EQ(node_name("Worker_2", "pod").value(), "Worker_2");
}

TEST(NodeName, HostNameWithoutNodeName) {
  EXPECT_EQ(node_name(nullptr, "ctrl-1").value(), "ctrl-1");
  EXPECT_EQ(node_name("", "ctrl-1").value(), "ctrl-1");
  // A kernel that was never given a host name says "(none)": still a name.
  EXPECT_EQ(node_name(nullptr, "(none)").value(), "(none)");
}

TEST(NodeName, ANodeNameNoDnsNameAllowsIsRefusedInOneLine) {
  for (const std::string& bad :
       std::vector<std::string>{"node a", "node\"a", "node\na", "nöde", std::string(254, 'a'), "a/b"}) {
    const auto r = node_name(bad.c_str(), "ctrl-1");
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().message.rfind("NODE_NAME is not a node name", 0), 0U) << r.error().message;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  }
  EXPECT_TRUE(node_name(std::string(253, 'a').c_str(), "x").has_value());
}

TEST(NodeName, AnUnprintableHostNameAsksForNodeName) {
  const auto r = node_name(nullptr, "bad\x01host");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("set NODE_NAME"), std::string::npos);
  EXPECT_FALSE(node_name(nullptr, "").has_value());
}

}  // namespace
