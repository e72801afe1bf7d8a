#include "loader/blame_probes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <string>
#include <vector>

#include "blame.skel.h"
#include "loader/insn_compat.h"
#include "stallwatch.h"

namespace stallwatch::loader {

Result<void> reuse_blame_maps(bpf_object* obj, const SharedBlameMaps& maps) {
  const struct {
    const char* name;
    int fd;
  } shared[] = {{"victim_tasks", maps.victim_tasks},
                {"victim_cgroups", maps.victim_cgroups},
                {"victim_comms", maps.victim_comms},
                {"victim_gen", maps.victim_gen},
                {"blame_dev", maps.blame_dev},
                {"blame_win", maps.blame_win},
                {"blame", maps.blame},
                {"blame_events", maps.blame_events},
                {"run_ring", maps.run_ring},
                {"blame_disk_of", maps.blame_disk_of},
                {"blame_group_of", maps.blame_group_of},
                {"blame_bio_dev", maps.blame_bio_dev},
                {"blame_owner_alias", maps.blame_owner_alias},
                {"blame_issuer", maps.blame_issuer},
                {"blame_windows", maps.blame_windows}};
  for (const auto& m : shared) {
    if (m.fd < 0) continue;
    bpf_map* map = bpf_object__find_map_by_name(obj, m.name);
    if (!map) return fail(std::string("BPF object has no map ") + m.name);
    if (int err = bpf_map__reuse_fd(map, m.fd); err) {
      return fail_errno(std::string("share map ") + m.name, err);
    }
  }
  return {};
}

SharedBlameMaps BlameProbes::maps() const {
  const auto& m = programs_.skel().maps;
  return {bpf_map__fd(m.victim_tasks),
          bpf_map__fd(m.victim_cgroups),
          bpf_map__fd(m.victim_comms),
          bpf_map__fd(m.victim_gen),
          bpf_map__fd(m.blame_dev),
          bpf_map__fd(m.blame_win),
          bpf_map__fd(m.blame),
          bpf_map__fd(m.blame_events),
          bpf_map__fd(m.run_ring),
          bpf_map__fd(m.blame_disk_of),
          bpf_map__fd(m.blame_group_of),
          bpf_map__fd(m.blame_bio_dev),
          bpf_map__fd(m.blame_owner_alias),
          bpf_map__fd(m.blame_issuer),
          bpf_map__fd(m.blame_windows)};
}

int BlameProbes::drops_fd() const { return bpf_map__fd(programs_.skel().maps.drops); }

namespace {

// Makes a set map hold exactly want, by difference from have; true if it changed.
template <typename Key>
Result<bool> sync_map(int fd, const std::set<Key>& want, std::set<Key>& have, const char* what) {
  const std::uint8_t one = 1;
  bool changed = false;
  for (Key k : want) {
    if (have.count(k)) continue;
    if (bpf_map_update_elem(fd, &k, &one, BPF_ANY) != 0) {
      return fail_errno(std::string("add ") + what + " " + std::to_string(k), errno);
    }
    have.insert(k);
    changed = true;
  }
  for (auto it = have.begin(); it != have.end();) {
    if (want.count(*it)) {
      ++it;
      continue;
    }
    bpf_map_delete_elem(fd, &*it);
    it = have.erase(it);
    changed = true;
  }
  return changed;
}

}  // namespace

Result<void> BlameProbes::set_victims(const std::set<std::uint32_t>& tasks, const std::set<std::uint64_t>& cgroups) {
  auto t = sync_map(bpf_map__fd(programs_.skel().maps.victim_tasks), tasks, tasks_, "victim process");
  if (!t) return std::unexpected(t.error());
  auto c = sync_map(bpf_map__fd(programs_.skel().maps.victim_cgroups), cgroups, cgroups_, "victim cgroup");
  if (!c) return std::unexpected(c.error());
  return *t || *c ? bump_victim_gen() : Result<void>{};
}

Result<void> BlameProbes::bump_victim_gen() {
  const int fd = bpf_map__fd(programs_.skel().maps.victim_gen);
  const std::uint32_t zero = 0;
  std::uint32_t gen = 0;
  if (bpf_map_lookup_elem(fd, &zero, &gen) != 0) return fail_errno("read victim_gen", errno);
  ++gen;
  if (bpf_map_update_elem(fd, &zero, &gen, BPF_ANY) != 0) return fail_errno("bump victim_gen", errno);
  return {};
}

Result<void> BlameProbes::set_victim_comms(const std::vector<std::string>& names) {
  if (names.size() > SW_VICTIM_COMMS_MAX) {
    return fail("at most " + std::to_string(SW_VICTIM_COMMS_MAX) + " comm= victims without glob characters, got " +
                std::to_string(names.size()));
  }
  const int fd = bpf_map__fd(programs_.skel().maps.victim_comms);
  const std::uint8_t one = 1;
  for (const auto& name : names) {
    char key[sizeof(sw_comm::name)] = {};
    if (name.empty() || name.size() >= sizeof key) return fail("comm victim '" + name + "': 1 to 15 characters");
    name.copy(key, name.size());
    if (bpf_map_update_elem(fd, key, &one, BPF_ANY) != 0) return fail_errno("add comm victim " + name, errno);
  }
  return names.empty() ? Result<void>{} : bump_victim_gen();
}

namespace {

// Makes a key -> value map hold exactly want, by difference from have.
template <typename Key, typename Value>
Result<void> sync_pair_map(int fd, const std::map<Key, Value>& want, std::map<Key, Value>& have, const char* what) {
  for (const auto& [key, value] : want) {
    if (auto it = have.find(key); it != have.end() && it->second == value) continue;
    if (bpf_map_update_elem(fd, &key, &value, BPF_ANY) != 0) {
      return fail_errno(std::string(what) + " " + std::to_string(key), errno);
    }
    have[key] = value;
  }
  for (auto it = have.begin(); it != have.end();) {
    if (want.count(it->first)) {
      ++it;
      continue;
    }
    bpf_map_delete_elem(fd, &it->first);
    it = have.erase(it);
  }
  return {};
}

}  // namespace

Result<void> BlameProbes::set_stacked_disks(const std::map<std::uint32_t, std::uint32_t>& disk_of,
                                            const std::map<std::uint32_t, std::uint32_t>& group_of,
                                            const std::set<std::uint32_t>& bio_devs) {
  const auto& maps = programs_.skel().maps;
  // Groups first: a filesystem mapped to a group's key finds its members counted there.
  if (auto ok = sync_pair_map(bpf_map__fd(maps.blame_group_of), group_of, group_of_, "group disk"); !ok) return ok;
  if (auto ok = sync_map(bpf_map__fd(maps.blame_bio_dev), bio_devs, bio_devs_, "dm-crypt device"); !ok) {
    return std::unexpected(ok.error());
  }
  return sync_pair_map(bpf_map__fd(maps.blame_disk_of), disk_of, disk_of_, "map filesystem to its disk");
}

Result<void> BlameProbes::set_owner_aliases(const std::map<std::uint64_t, std::uint64_t>& aliases) {
  return sync_pair_map(bpf_map__fd(programs_.skel().maps.blame_owner_alias), aliases, aliases_,
                       "io-charged ancestor of a victim");
}

Result<BlameProbes> BlameProbes::try_rung(Rung rung, const BlameConfig& config) {
  auto programs =
      Programs<blame_bpf>::open({open_for_this_kernel<blame_bpf, blame_bpf__create_skeleton, blame_bpf__destroy>,
                                 blame_bpf__load, blame_bpf__destroy},
                                "blame");
  if (!programs) return std::unexpected(programs.error());
  BlameProbes probes(std::move(*programs));
  auto& skel = probes.programs_.skel();
  autoload_rungs(skel.obj, {rung});
  if (int err = bpf_map__set_max_entries(skel.maps.blame, config.entries); err) {
    return fail_errno("size blame map", err);
  }
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return fail_errno("count possible CPUs", -cpus);
  if (int err = bpf_map__set_max_entries(skel.maps.run_ring, static_cast<std::uint32_t>(cpus)); err) {
    return fail_errno("size run ring map", err);
  }
  if (auto loaded = probes.programs_.load_and_attach(rung); !loaded) return std::unexpected(loaded.error());
  return probes;
}

Result<BlameProbes> BlameProbes::load(const BlameConfig& config, std::vector<RungReport>& report) {
  return climb<BlameProbes>(
      "blame", {Rung::kTpBtf, Rung::kRawTp}, config.hook, [&config](Rung rung) { return try_rung(rung, config); },
      [](const BlameProbes&) { return std::string("victim threads followed through the scheduler"); }, report);
}

std::vector<std::pair<std::string, int>> BlameProbes::loaded_programs() const { return programs_.loaded(); }

}  // namespace stallwatch::loader
