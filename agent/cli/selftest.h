#pragma once
// The start-up self-test: never assume a hook sees a call, try it. A child
// process in a private cgroup performs each fsync-family operation once on a
// temp file; the kernel maps then say which were seen, and by which rung.
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "reader/map_reader.h"

namespace stallwatch::cli {

struct SelfTestRow {
  std::string op;    // the `op` label it should appear under
  std::string call;  // what the child did
  std::uint64_t expected = 1;
  std::uint64_t seen = 0;
  bool made = true;  // false: the child could not make the call here (io_uring_setup refused)
};

struct SelfTest {
  std::string dir;  // where the temp file lived (its filesystem matters)
  std::vector<SelfTestRow> rows;
  bool duplicates() const;  // some call counted more than once
};

// expect_vfs: the fentry rung is loaded, so O_SYNC writes should show as
// vfs_fsync. The self-test's own series are removed from the maps again.
Result<SelfTest> run_fsync_selftest(reader::MapReader& maps, const std::string& cgroup2_mount, bool io_uring,
                                    bool expect_vfs);

}  // namespace stallwatch::cli
