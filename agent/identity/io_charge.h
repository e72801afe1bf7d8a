#pragma once
// Which cgroup the kernel charges a cgroup's I/O to on cgroup2. A cgroup
// without the io controller is charged to its nearest ancestor that has it,
// and the pages it dirties are written back under the io cgroup of the
// memory cgroup holding them (its nearest ancestor with memory). With the
// agent's owner mode, a flusher's request names that ancestor: it is the
// victim's own I/O only when the victim's branch is all that lives there.
#include <cstdint>
#include <map>
#include <set>
#include <string>

namespace stallwatch::identity {

struct IoCharge {
  std::string direct;     // where its own submissions are charged
  std::string writeback;  // where the flusher's writes of its pages are charged
};

// path: from the cgroup2 root ("/a/b"). The root charges itself.
IoCharge io_charge_of(const std::string& root, const std::string& path);

// True when nothing runs under ancestor outside path's subtree: no process
// in ancestor or a cgroup between them, no populated sibling branch.
bool sole_branch(const std::string& root, const std::string& ancestor, const std::string& path);

// cgroup id of the charged ancestor -> the victim it stands for, for each
// victim (id -> path) charged elsewhere and alone there. An ancestor that
// two victims share, or that is a victim itself, stands for neither.
std::map<std::uint64_t, std::uint64_t> owner_aliases(const std::string& root,
                                                     const std::map<std::uint64_t, std::string>& victims);

}  // namespace stallwatch::identity
