#include "support/shell.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <stdexcept>

namespace stallwatch::test {

ShellResult run_shell(const std::string& cmd) {
  ShellResult r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string sh(const std::string& cmd) {
  auto r = run_shell(cmd);
  if (r.rc != 0) throw std::runtime_error("`" + cmd + "` failed (" + std::to_string(r.rc) + "): " + r.out);
  return r.out;
}

}  // namespace stallwatch::test
