// The per-victim event limit: a token bucket per key, with what it held back
// handed to the key's next event.
#include <gtest/gtest.h>

#include "exporters/jsonl/rate_limit.h"

namespace stallwatch::exporters {
namespace {

TEST(RateLimit, ABurstPassesThenTheRateAndTheNextEventCarriesTheCount) {
  RateLimit limit(2, 5);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limit.admit("etcd", 0).pass) << i;
  for (int i = 0; i < 7; ++i) EXPECT_FALSE(limit.admit("etcd", 0.1).pass) << i;
  const auto next = limit.admit("etcd", 0.6);  // 0.6 s x 2/s: one token back
  EXPECT_TRUE(next.pass);
  EXPECT_EQ(next.suppressed_before, 7u);
  EXPECT_EQ(limit.admit("etcd", 0.6).pass, false);
  EXPECT_EQ(limit.suppressed_total(), 8u);
}

TEST(RateLimit, VictimsHaveBucketsOfTheirOwn) {
  RateLimit limit(1, 1);
  EXPECT_TRUE(limit.admit("a", 0).pass);
  EXPECT_FALSE(limit.admit("a", 0).pass);
  EXPECT_TRUE(limit.admit("b", 0).pass);
}

TEST(RateLimit, ZeroRateIsNoLimit) {
  RateLimit limit(0, 0);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limit.admit("a", 0).pass);
  EXPECT_EQ(limit.suppressed_total(), 0u);
}

TEST(RateLimit, ManyVictimsStayWithinTheKeyBound) {
  RateLimit limit(1, 1, 8);
  for (int i = 0; i < 100; ++i) {
    const std::string key = "v" + std::to_string(i);
    EXPECT_TRUE(limit.admit(key, i).pass);
    EXPECT_FALSE(limit.admit(key, i).pass);  // each holds one back
  }
  EXPECT_EQ(limit.suppressed_total(), 100u) << "forgotten keys' counts stay in the total";
}

}  // namespace
}  // namespace stallwatch::exporters
