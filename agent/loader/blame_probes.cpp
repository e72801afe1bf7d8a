#include "loader/blame_probes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <string>

#include "blame.skel.h"

namespace stallwatch::loader {

void BlameSkeletonDeleter::operator()(blame_bpf* skel) const { blame_bpf__destroy(skel); }

Result<void> reuse_blame_maps(bpf_object* obj, const SharedBlameMaps& maps) {
  const struct {
    const char* name;
    int fd;
  } shared[] = {{"victim_tasks", maps.victim_tasks}, {"victim_cgroups", maps.victim_cgroups},
                {"blame_dev", maps.blame_dev},       {"blame_win", maps.blame_win},
                {"blame", maps.blame},               {"blame_events", maps.blame_events}};
  for (const auto& m : shared) {
    if (m.fd < 0) continue;
    bpf_map* map = bpf_object__find_map_by_name(obj, m.name);
    if (!map) return fail(std::string("BPF object has no map ") + m.name);
    if (int err = bpf_map__reuse_fd(map, m.fd); err) {
      return fail(std::string("share map ") + m.name + ": " + errno_text(err));
    }
  }
  return {};
}

SharedBlameMaps BlameProbes::maps() const {
  return {bpf_map__fd(skel_->maps.victim_tasks), bpf_map__fd(skel_->maps.victim_cgroups),
          bpf_map__fd(skel_->maps.blame_dev),    bpf_map__fd(skel_->maps.blame_win),
          bpf_map__fd(skel_->maps.blame),        bpf_map__fd(skel_->maps.blame_events)};
}

int BlameProbes::drops_fd() const { return bpf_map__fd(skel_->maps.drops); }

namespace {

template <typename Key>
Result<void> sync_map(int fd, const std::set<Key>& want, std::set<Key>& have, const char* what) {
  const std::uint8_t one = 1;
  for (Key k : want) {
    if (have.count(k)) continue;
    if (bpf_map_update_elem(fd, &k, &one, BPF_ANY) != 0) {
      return fail(std::string("add victim ") + what + " " + std::to_string(k) + ": " + errno_text(errno));
    }
    have.insert(k);
  }
  for (auto it = have.begin(); it != have.end();) {
    if (want.count(*it)) {
      ++it;
      continue;
    }
    bpf_map_delete_elem(fd, &*it);
    it = have.erase(it);
  }
  return {};
}

}  // namespace

Result<void> BlameProbes::set_victims(const std::set<std::uint32_t>& tasks, const std::set<std::uint64_t>& cgroups) {
  if (auto ok = sync_map(bpf_map__fd(skel_->maps.victim_tasks), tasks, tasks_, "process"); !ok) return ok;
  return sync_map(bpf_map__fd(skel_->maps.victim_cgroups), cgroups, cgroups_, "cgroup");
}

Result<BlameProbes> BlameProbes::try_rung(BlameHook rung, const BlameConfig& config) {
  BlameProbes probes;
  probes.skel_.reset(blame_bpf__open());
  if (!probes.skel_) return fail("open blame BPF object: " + errno_text(errno));
  auto& skel = *probes.skel_;
  const bool btf = rung == BlameHook::kTpBtf;
  bpf_program__set_autoload(skel.progs.sched_switch_btf, btf);
  bpf_program__set_autoload(skel.progs.sched_wakeup_btf, btf);
  bpf_program__set_autoload(skel.progs.sched_switch_raw, !btf);
  bpf_program__set_autoload(skel.progs.sched_wakeup_raw, !btf);
  if (int err = bpf_map__set_max_entries(skel.maps.blame, config.entries); err) {
    return fail("size blame map: " + errno_text(err));
  }
  if (int err = blame_bpf__load(&skel); err) {
    return fail("load " + std::string(to_string(rung)) + " programs: " + errno_text(err));
  }
  auto links = attach_all(skel.obj);
  if (!links) return fail(links.error().message);
  probes.links_ = std::move(*links);
  probes.mode_ = to_string(rung);
  return probes;
}

Result<BlameProbes> BlameProbes::load(const BlameConfig& config, std::vector<RungReport>& report) {
  return climb_btf<BlameProbes>(
      "blame", config.hook, [&config](BtfRung rung) { return try_rung(rung, config); },
      [](const BlameProbes&) { return std::string("victim threads followed through the scheduler"); }, report);
}

}  // namespace stallwatch::loader
