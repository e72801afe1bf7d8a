#include "cli/other_agent.h"

#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace stallwatch::cli {

namespace {

std::string read_small(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string out(4096, '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<std::size_t>(in.gcount()));
  return out;
}

// A zombie holds nothing any more.
bool alive(const std::string& dir) {
  const std::string stat = read_small(dir + "/stat");
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z' && stat[close + 2] != 'X';
}

}  // namespace

std::optional<RunningAgent> find_other_agent(const std::string& proc_root) {
  const pid_t self = getpid();
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(proc_root, ec)) {
    const std::string name = entry.path().filename().string();
    pid_t pid = 0;
    if (std::from_chars(name.data(), name.data() + name.size(), pid).ec != std::errc() || pid == self) continue;
    const std::string dir = entry.path().string();
    std::string comm = read_small(dir + "/comm");
    if (!comm.empty() && comm.back() == '\n') comm.pop_back();
    if (comm != "stallwatch") continue;
    std::vector<std::string> argv;
    std::stringstream cmdline(read_small(dir + "/cmdline"));
    for (std::string arg; std::getline(cmdline, arg, '\0');) argv.push_back(arg);
    bool runs = false;
    for (std::size_t i = 1; i < argv.size() && !runs; ++i) runs = argv[i] == "run";
    if (!runs || !alive(dir)) continue;
    RunningAgent found{pid, ""};
    for (const auto& a : argv) found.command += (found.command.empty() ? "" : " ") + a;
    return found;
  }
  return std::nullopt;
}

}  // namespace stallwatch::cli
