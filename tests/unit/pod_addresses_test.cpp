#include <gtest/gtest.h>

#include "identity/pod_addresses.h"

namespace {

using stallwatch::identity::parse_fib_trie_locals;
using stallwatch::identity::parse_if_inet6;

// /proc/PID/net/fib_trie of a pod netns (6.x layout): the local table lists
// each address followed by its route; "/32 host LOCAL" marks the pod's own.
constexpr const char* kFibTrie = R"(Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 10.231.1.0/24 2 0 2
        +-- 10.231.1.0/30 2 0 2
           |-- 10.231.1.0
              /24 link UNICAST
           |-- 10.231.1.2
              /32 host LOCAL
        |-- 10.231.1.255
           /32 link BROADCAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 5
           |-- 10.231.1.2
              /32 host LOCAL
)";

TEST(PodAddresses, LocalIpv4FromFibTrie) {
  EXPECT_EQ(parse_fib_trie_locals(kFibTrie), std::vector<std::string>{"10.231.1.2"});
  EXPECT_TRUE(parse_fib_trie_locals("").empty());
}

TEST(PodAddresses, GlobalIpv6FromIfInet6) {
  const std::string text =
      "fd310001000000000000000000000002 02 40 00 80     eth0\n"
      "00000000000000000000000000000001 01 80 10 80       lo\n"
      "fe800000000000000c5e2dfffe4b0a11 02 40 20 80     eth0\n";
  EXPECT_EQ(parse_if_inet6(text), std::vector<std::string>{"fd31:1::2"});
  EXPECT_TRUE(parse_if_inet6("garbage\n").empty());
}

}  // namespace
