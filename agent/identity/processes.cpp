#include "identity/processes.h"

#include <charconv>
#include <filesystem>
#include <fstream>

namespace stallwatch::identity {

namespace fs = std::filesystem;

std::vector<Process> list_processes(const std::string& proc_root) {
  std::vector<Process> out;
  std::error_code ec;
  for (fs::directory_iterator it(proc_root, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::uint32_t pid = 0;
    const auto [p, err] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (err != std::errc() || p != name.data() + name.size()) continue;
    std::ifstream in(it->path() / "comm");
    std::string comm;
    if (!std::getline(in, comm)) continue;  // exited meanwhile
    out.push_back({pid, std::move(comm)});
  }
  return out;
}

}  // namespace stallwatch::identity
