#include "blame/victims.h"

#include <fnmatch.h>

#include <algorithm>
#include <cerrno>

namespace stallwatch::blame {

namespace {

constexpr std::size_t kCommMax = 15;  // TASK_COMM_LEN - 1

bool glob(const std::string& pattern, std::string_view text) {
  return ::fnmatch(pattern.c_str(), std::string(text).c_str(), 0) == 0;
}

}  // namespace

Result<VictimSelector> VictimSelector::parse(std::string_view text) {
  const auto eq = text.find('=');
  const std::string_view key = eq == std::string_view::npos ? "" : text.substr(0, eq);
  const std::string value(eq == std::string_view::npos ? "" : text.substr(eq + 1));
  const std::string quoted = "--victim '" + std::string(text) + "'";
  if (key.empty()) return fail(quoted + ": expected comm=NAME, cgroup=PATH or pod=NAMESPACE/NAME");
  if (value.empty()) return fail(quoted + ": empty pattern");
  if (key == "comm") {
    if (value.size() > kCommMax && value.find_first_of("*?[") == std::string::npos) {
      return fail(quoted + ": process names are at most 15 characters (/proc/PID/comm)");
    }
    return VictimSelector{Kind::kComm, value, std::string(text)};
  }
  if (key == "cgroup") {
    if (value.front() != '/') return fail(quoted + ": a cgroup path starts with '/' (from the cgroup2 root)");
    return VictimSelector{Kind::kCgroup, value, std::string(text)};
  }
  if (key == "pod") {
    if (value.find('/') == std::string::npos) return fail(quoted + ": expected pod=NAMESPACE/NAME");
    return VictimSelector{Kind::kPod, value, std::string(text)};
  }
  return fail(quoted + ": unknown selector '" + std::string(key) + "' (expected comm, cgroup or pod)");
}

bool VictimSelector::matches_comm(std::string_view comm) const { return kind == Kind::kComm && glob(pattern, comm); }

bool VictimSelector::matches(const identity::Labels& labels) const {
  switch (kind) {
    case Kind::kComm: return false;
    case Kind::kCgroup: return glob(pattern, labels.cgroup);
    case Kind::kPod: return !labels.pod.empty() && glob(pattern, labels.ns + "/" + labels.pod);
  }
  return false;
}

bool Victims::wants_cgroups() const {
  for (const auto& s : selectors_) {
    if (s.kind != VictimSelector::Kind::kComm) return true;
  }
  return false;
}

bool Victims::wants_processes() const {
  for (const auto& s : selectors_) {
    if (s.kind == VictimSelector::Kind::kComm) return true;
  }
  return false;
}

std::vector<std::string> Victims::exact_comms() const {
  std::vector<std::string> out;
  for (const auto& s : selectors_) {
    if (s.kind != VictimSelector::Kind::kComm || s.pattern.find_first_of("*?[\\") != std::string::npos) continue;
    if (std::find(out.begin(), out.end(), s.pattern) == out.end()) out.push_back(s.pattern);
  }
  return out;
}

VictimSet Victims::resolve(const std::vector<std::pair<std::uint64_t, identity::Labels>>& cgroups,
                           const std::vector<identity::Process>& processes) const {
  VictimSet out;
  for (const auto& p : processes) {
    for (const auto& s : selectors_) {
      if (s.matches_comm(p.comm)) {
        out.tasks.insert(p.tgid);
        break;
      }
    }
  }
  for (const auto& [id, labels] : cgroups) {
    for (const auto& s : selectors_) {
      if (s.matches(labels)) {
        out.cgroups.insert(id);
        break;
      }
    }
  }
  return out;
}

}  // namespace stallwatch::blame
