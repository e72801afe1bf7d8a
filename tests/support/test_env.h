#pragma once
// Root-only tests skip with a reason on a developer box, but under CI=true a
// skip is a failure: CI must run them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace stallwatch::test {

inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

// Set by scripts/sanitize.sh: the agent runs under AddressSanitizer, whose
// quarantine and slowdown make memory and latency bounds meaningless.
inline bool sanitized() {
  const char* s = std::getenv("STALLWATCH_SANITIZED");
  return s && std::string(s) == "1";
}

inline std::string missing_prerequisite() {
  if (geteuid() != 0) return "needs root";
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) return "needs kernel BTF";
  return "";
}

}  // namespace stallwatch::test

#define SW_REQUIRE_ROOT()                                                       \
  do {                                                                          \
    const std::string why = ::stallwatch::test::missing_prerequisite();         \
    if (!why.empty()) {                                                         \
      if (::stallwatch::test::in_ci()) FAIL() << why << " (CI=true: no skips)"; \
      GTEST_SKIP() << why;                                                      \
    }                                                                           \
  } while (0)
