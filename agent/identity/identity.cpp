#include "identity/identity.h"

#include <sys/stat.h>

#include <filesystem>
#include <system_error>

#include "identity/cgroup_walk.h"
#include "identity/workload.h"

namespace stallwatch::identity {

namespace fs = std::filesystem;

namespace {
// A miss walks cgroupfs or rescans names at most this often.
constexpr auto kRescanEvery = std::chrono::seconds(1);
}  // namespace

Identity::Identity(Config config) : config_(std::move(config)) {}

void Identity::walk_locked() {
  CgroupWalk walk = walk_cgroups(config_.cgroup_root);
  auto& fresh = walk.paths;
  // Known cgroups the walk no longer finds were removed (missed rmdir); a
  // walk that skipped part of the tree proves nothing, and they stay.
  const auto now = Clock::now();
  for (const auto& [id, path] : paths_) {
    if (fresh.count(id) || removed_.count(id)) continue;
    if (walk.complete) {
      removed_[id] = now;
    } else {
      fresh[id] = path;
    }
  }
  // Keep removed ones until they expire: their series still need names.
  for (const auto& [id, t] : removed_) {
    if (auto it = paths_.find(id); it != paths_.end() && !fresh.count(id)) fresh[id] = it->second;
  }
  paths_ = std::move(fresh);
  walked_ = true;
  last_walk_ = now;
}

void Identity::refresh_names_locked(bool force) {
  const auto now = Clock::now();
  if (!force && now - last_names_ < kRescanEvery) return;
  last_names_ = now;
  pods_ = scan_pod_logs(config_.pod_logs_dir);
  containers_ = scan_runtime_state(config_.runtime_state_dirs);
  sandboxes_.clear();
  for (const auto& [id, info] : containers_) {
    if (info.sandbox) sandboxes_.insert(id);
  }
}

Labels Identity::resolve_locked(const std::string& path) {
  Labels l;
  l.cgroup = path;
  Workload w = parse_cgroup_path(path, sandboxes_);
  if (w.pod_uid.empty()) return l;
  auto pod = pods_.find(w.pod_uid);
  auto ctr = w.container_id.empty() ? containers_.end() : containers_.find(w.container_id);
  if (pod == pods_.end() || (!w.container_id.empty() && ctr == containers_.end())) {
    refresh_names_locked(false);  // a pod or container newer than our last scan
    w = parse_cgroup_path(path, sandboxes_);
    pod = pods_.find(w.pod_uid);
    ctr = w.container_id.empty() ? containers_.end() : containers_.find(w.container_id);
  }
  if (pod != pods_.end()) {
    l.ns = pod->second.ns;
    l.pod = pod->second.pod;
  }
  if (ctr != containers_.end()) {
    if (l.pod.empty()) {
      l.ns = ctr->second.ns;
      l.pod = ctr->second.pod;
    }
    l.container = ctr->second.sandbox ? "POD" : ctr->second.name;
  } else if (w.kind == "pod-container" && pod != pods_.end() && pod->second.containers.size() == 1) {
    // No runtime state to read; a pod with one container leaves no doubt.
    l.container = pod->second.containers.front();
  }
  return l;
}

Labels Identity::labels(std::uint64_t id) {
  std::lock_guard lock(mu_);
  if (auto it = labels_.find(id); it != labels_.end()) return it->second;
  auto path = paths_.find(id);
  if (path == paths_.end()) {
    if (!walked_ || Clock::now() - last_walk_ >= kRescanEvery) walk_locked();
    path = paths_.find(id);
    if (path == paths_.end()) return {"", "", "", "unknown:" + std::to_string(id)};
  }
  if (labels_.size() >= config_.max_series) {
    if (folded_.insert(id).second) ++dropped_;
    return {"", "", "", "other"};
  }
  if (!walked_) refresh_names_locked(true);
  Labels l = resolve_locked(path->second);
  labels_[id] = l;
  return l;
}

void Identity::on_mkdir(std::uint64_t id, const std::string& path) {
  std::lock_guard lock(mu_);
  paths_[id] = path.empty() || path.front() != '/' ? "/" + path : path;
  removed_.erase(id);
  labels_.erase(id);  // an id can be reused after its cgroup is gone
}

void Identity::on_rmdir(std::uint64_t id) {
  std::lock_guard lock(mu_);
  if (paths_.count(id)) removed_[id] = Clock::now();
}

std::vector<std::uint64_t> Identity::expire(Clock::time_point now) {
  std::lock_guard lock(mu_);
  std::vector<std::uint64_t> gone;
  for (auto it = removed_.begin(); it != removed_.end();) {
    if (now - it->second < config_.stale_after) {
      ++it;
      continue;
    }
    gone.push_back(it->first);
    paths_.erase(it->first);
    labels_.erase(it->first);
    folded_.erase(it->first);
    it = removed_.erase(it);
  }
  return gone;
}

std::vector<std::pair<std::uint64_t, Labels>> Identity::live() {
  std::lock_guard lock(mu_);
  if (!walked_) {
    walk_locked();
    refresh_names_locked(true);
  }
  std::vector<std::pair<std::uint64_t, Labels>> out;
  out.reserve(paths_.size());
  for (const auto& [id, path] : paths_) {
    if (removed_.count(id)) continue;
    auto cached = labels_.find(id);
    out.emplace_back(id, cached != labels_.end() ? cached->second : resolve_locked(path));
  }
  return out;
}

std::size_t Identity::tracked() const {
  std::lock_guard lock(mu_);
  return labels_.size();
}

std::uint64_t Identity::series_dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

}  // namespace stallwatch::identity
