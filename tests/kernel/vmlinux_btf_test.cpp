// One parse of the kernel's BTF serves every load in a SharedVmlinuxBtf
// scope, libbpf's own loads included (through the link's --wrap), and the
// copy stays whole across them; outside a scope libbpf parses as before.
#include <bpf/btf.h>
#include <gtest/gtest.h>

#include <vector>

#include "loader/cgroup_probes.h"
#include "loader/vmlinux_btf.h"

namespace stallwatch::loader {
namespace {

TEST(SharedVmlinuxBtf, OutsideAScopeEachLoadParsesItsOwnCopy) {
  btf* a = btf__load_vmlinux_btf();
  btf* b = btf__load_vmlinux_btf();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a, b);
  btf__free(a);
  btf__free(b);
}

TEST(SharedVmlinuxBtf, InAScopeLoadsShareOneCopyThatFreesDoNotTouch) {
  const loader::SharedVmlinuxBtf scope;
  const int answered = SharedVmlinuxBtf::loads_answered();
  btf* a = btf__load_vmlinux_btf();
  ASSERT_NE(a, nullptr);
  const __u32 types = btf__type_cnt(a);
  const int fsync = btf__find_by_name_kind(a, "vfs_fsync_range", BTF_KIND_FUNC);
  ASSERT_GT(fsync, 0);
  btf__free(a);  // ignored: the scope owns it
  btf* b = btf__load_vmlinux_btf();
  EXPECT_EQ(a, b);
  EXPECT_EQ(btf__type_cnt(b), types);
  EXPECT_EQ(btf__find_by_name_kind(b, "vfs_fsync_range", BTF_KIND_FUNC), fsync);
  btf__free(b);
  EXPECT_EQ(SharedVmlinuxBtf::loads_answered(), answered + 1);
}

TEST(SharedVmlinuxBtf, LibbpfObjectLoadsUseTheSharedCopyAndLeaveItWhole) {
  const loader::SharedVmlinuxBtf scope;
  btf* shared = btf__load_vmlinux_btf();
  ASSERT_NE(shared, nullptr);
  const __u32 types = btf__type_cnt(shared);
  const int task = btf__find_by_name_kind(shared, "task_struct", BTF_KIND_STRUCT);
  const int answered = SharedVmlinuxBtf::loads_answered();
  // Two loads of an object with CO-RE relocations and tp_btf programs:
  // libbpf asks for the kernel's BTF at each and frees it after.
  for (int i = 0; i < 2; ++i) {
    std::vector<RungReport> report;
    auto probes = CgroupProbes::load(report);
    ASSERT_TRUE(probes) << probes.error().message;
  }
  EXPECT_GE(SharedVmlinuxBtf::loads_answered(), answered + 2) << "libbpf's loads parsed on their own";
  EXPECT_EQ(btf__type_cnt(shared), types);
  EXPECT_EQ(btf__find_by_name_kind(shared, "task_struct", BTF_KIND_STRUCT), task);
  EXPECT_EQ(btf__load_vmlinux_btf(), shared);
}

TEST(SharedVmlinuxBtf, NestedScopesKeepTheCopyUntilTheOutermostEnds) {
  btf* outer_copy = nullptr;
  {
    const loader::SharedVmlinuxBtf outer;
    outer_copy = btf__load_vmlinux_btf();
    {
      const loader::SharedVmlinuxBtf inner;
      EXPECT_EQ(btf__load_vmlinux_btf(), outer_copy);
    }
    EXPECT_EQ(btf__load_vmlinux_btf(), outer_copy);
    EXPECT_GT(btf__type_cnt(outer_copy), 1U);
  }
  // After the scope a load is libbpf's own again, freed by its caller.
  const int answered = SharedVmlinuxBtf::loads_answered();
  btf* fresh = btf__load_vmlinux_btf();
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(SharedVmlinuxBtf::loads_answered(), answered);
  btf__free(fresh);
}

}  // namespace
}  // namespace stallwatch::loader
