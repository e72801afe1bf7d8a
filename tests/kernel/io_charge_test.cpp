// Which victim a flusher's request stands for when the io controller
// charges an ancestor: the live cgroup2 hierarchy's own files (controllers,
// processes, populated), with real processes coming and going.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <unistd.h>

#include <fstream>

#include "identity/io_charge.h"
#include "support/processes.h"
#include "support/scratch.h"

namespace stallwatch::test {
namespace {

std::uint64_t id_of(const std::string& dir) {
  struct stat st {};
  return ::stat(dir.c_str(), &st) == 0 ? st.st_ino : 0;
}

// A spawned process joins its cgroup in the child, after spawn returns.
void wait_joined(const std::string& dir) {
  for (int i = 0; i < 200; ++i) {
    std::ifstream procs(dir + "/cgroup.procs");
    std::string pid;
    if (procs >> pid) return;
    ::usleep(10000);
  }
  FAIL() << "no process joined " << dir;
}

bool root_enables(const std::string& controller) {
  std::ifstream in(cgroup2_mount() + "/cgroup.subtree_control");
  for (std::string w; in >> w;) {
    if (w == controller) return true;
  }
  return false;
}

TEST(IoCharge, ChargedCgroupFollowsTheControllersTheParentEnables) {
  TestCgroup v("swt-charge/v");
  const auto charge = identity::io_charge_of(cgroup2_mount(), v.rel());
  // The root enables a controller for its children only: /swt-charge has io
  // where the root's subtree_control lists it, /swt-charge/v never does.
  EXPECT_EQ(charge.direct, root_enables("io") ? "/swt-charge" : "/");
  EXPECT_EQ(charge.writeback, root_enables("io") && root_enables("memory") ? "/swt-charge" : "/");
}

TEST(IoCharge, AncestorStandsForTheVictimOnlyWhileNothingElseRunsThere) {
  const std::string root = cgroup2_mount();
  TestCgroup v("swt-alias/v");
  TestCgroup w("swt-alias/w");
  Background victim({"/bin/sleep", "60"}, v.dir());
  wait_joined(v.dir());
  const std::string anc = "/swt-alias";
  EXPECT_TRUE(identity::sole_branch(root, anc, v.rel()));
  EXPECT_FALSE(identity::sole_branch(root, "/", v.rel())) << "the root holds every daemon";

  {
    Background sibling({"/bin/sleep", "60"}, w.dir());
    wait_joined(w.dir());
    EXPECT_FALSE(identity::sole_branch(root, anc, v.rel())) << "a populated sibling shares the charge";
  }
  EXPECT_TRUE(identity::sole_branch(root, anc, v.rel())) << "the sibling is gone";

  // Where the io controller reaches v itself (a pure v2 host with io
  // delegated down), v is charged as itself and nothing is aliased.
  const auto aliases = identity::owner_aliases(root, {{id_of(v.dir()), v.rel()}});
  if (identity::io_charge_of(root, v.rel()).direct == anc) {
    ASSERT_EQ(aliases.size(), 1U);
    EXPECT_EQ(aliases.begin()->first, id_of(root + anc));
    EXPECT_EQ(aliases.begin()->second, id_of(v.dir()));
  } else {
    EXPECT_TRUE(aliases.empty()) << "no io controller on cgroup2 here: nothing is charged to an ancestor";
  }
}

TEST(IoCharge, ProcessInTheAncestorItselfSharesTheCharge) {
  TestCgroup v("swt-inner/v");
  Background victim({"/bin/sleep", "60"}, v.dir());
  Background parent({"/bin/sleep", "60"}, cgroup2_mount() + "/swt-inner");
  wait_joined(cgroup2_mount() + "/swt-inner");
  EXPECT_FALSE(identity::sole_branch(cgroup2_mount(), "/swt-inner", v.rel()));
}

}  // namespace
}  // namespace stallwatch::test
