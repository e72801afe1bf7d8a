#include "loader/libbpf_owners.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <string>
#include <thread>

namespace stallwatch::loader {

namespace {
int print_libbpf(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG && !spdlog::should_log(spdlog::level::trace)) return 0;
  // Verifier logs arrive as one message of many kilobytes.
  va_list again;
  va_copy(again, args);
  const int n = std::vsnprintf(nullptr, 0, format, args);
  if (n <= 0) {
    va_end(again);
    return 0;
  }
  std::string line(static_cast<std::size_t>(n) + 1, '\0');
  std::vsnprintf(line.data(), line.size(), format, again);
  va_end(again);
  line.resize(static_cast<std::size_t>(n));
  while (!line.empty() && line.back() == '\n') line.pop_back();
  spdlog::debug("libbpf: {}", line);
  return n;
}
}  // namespace

Result<std::vector<Link>> attach_all(bpf_object* obj) {
  std::vector<Link> links;
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, obj) {
    if (!bpf_program__autoload(prog)) continue;
    // A cgroup program needs a cgroup to attach to: its owner attaches it.
    if (bpf_program__type(prog) == BPF_PROG_TYPE_CGROUP_SKB) continue;
    if (runs_on_demand(prog)) continue;
    Link link(bpf_program__attach(prog));
    if (!link) {
      const int err = errno;
      destroy_links_concurrently(links);
      return fail_errno("attach " + std::string(bpf_program__section_name(prog)), err);
    }
    links.push_back(std::move(link));
  }
  return links;
}

void destroy_links_concurrently(std::vector<Link>& links) {
  std::vector<std::jthread> threads;
  threads.reserve(links.size());
  for (Link& link : links) threads.emplace_back([l = std::move(link)]() mutable { l.reset(); });
  links.clear();
}

bool runs_on_demand(const bpf_program* prog) { return std::string_view(bpf_program__section_name(prog)) == "raw_tp"; }

void autoload_rungs(bpf_object* obj, std::initializer_list<Rung> rungs) {
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, obj) {
    const std::string_view section = bpf_program__section_name(prog);
    bool on = runs_on_demand(prog);
    for (Rung rung : rungs) {
      for (std::string_view prefix : section_prefixes(rung)) on = on || section.starts_with(prefix);
    }
    bpf_program__set_autoload(prog, on);
  }
}

std::vector<std::pair<std::string, int>> loaded_programs(const bpf_object* obj) {
  std::vector<std::pair<std::string, int>> out;
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, obj) {
    if (const int fd = bpf_program__fd(prog); fd >= 0) out.emplace_back(bpf_program__name(prog), fd);
  }
  return out;
}

void route_libbpf_output() { libbpf_set_print(print_libbpf); }

}  // namespace stallwatch::loader
