#pragma once
#include <string>

namespace stallwatch::test {

struct ShellResult {
  int rc = -1;
  std::string out;  // stdout and stderr together
};

// Runs `sh -c cmd`, capturing output. Never throws.
ShellResult run_shell(const std::string& cmd);
// Runs `sh -c cmd` and throws std::runtime_error with the output if it fails.
std::string sh(const std::string& cmd);

}  // namespace stallwatch::test
