// The rewrites that let the blame objects load before 5.12, checked on the
// real objects: every compare-and-swap becomes a plain store of the same
// register to the same place, and nothing else moves; the blame engine's
// global functions become static, and the programs stay as they were.
#include <bpf/btf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <cstring>
#include <map>
#include <string>

#include "blame.skel.h"
#include "blkio.skel.h"
#include "fsync.skel.h"
#include "loader/insn_compat.h"

namespace stallwatch::loader {
namespace {

std::span<const std::byte> bytes_of(const void* (*elf_bytes)(std::size_t*)) {
  std::size_t size = 0;
  const void* data = elf_bytes(&size);
  return {static_cast<const std::byte*>(data), size};
}

bool is_cmpxchg(const bpf_insn& insn) {
  return (insn.code == (BPF_STX | BPF_ATOMIC | BPF_DW) || insn.code == (BPF_STX | BPF_ATOMIC | BPF_W)) &&
         insn.imm == BPF_CMPXCHG;
}

// Instruction-aligned 8-byte slots that differ, each checked as a rewrite.
int rewritten(std::span<const std::byte> before, std::span<const std::byte> after) {
  EXPECT_EQ(before.size(), after.size());
  int n = 0;
  for (std::size_t off = 0; off + sizeof(bpf_insn) <= before.size(); ++off) {
    if (std::memcmp(before.data() + off, after.data() + off, 1) == 0) continue;
    bpf_insn a, b;
    std::memcpy(&a, before.data() + off, sizeof(a));
    std::memcpy(&b, after.data() + off, sizeof(b));
    EXPECT_TRUE(is_cmpxchg(a)) << "byte " << off << " changed but was no compare-and-swap";
    EXPECT_EQ(b.code, BPF_STX | BPF_MEM | BPF_SIZE(a.code));
    EXPECT_EQ(b.dst_reg, a.dst_reg);
    EXPECT_EQ(b.src_reg, a.src_reg);
    EXPECT_EQ(b.off, a.off);
    EXPECT_EQ(b.imm, 0);
    ++n;
    off += sizeof(bpf_insn) - 1;
  }
  return n;
}

TEST(InsnCompat, EveryBlameCompareAndSwapBecomesAPlainStore) {
  for (auto elf : {bytes_of(blame_bpf__elf_bytes), bytes_of(blkio_bpf__elf_bytes), bytes_of(fsync_bpf__elf_bytes)}) {
    const auto patched = without_cmpxchg(elf);
    ASSERT_NE(patched.data(), elf.data()) << "an object that shares the blame engine has no compare-and-swap";
    EXPECT_GE(rewritten(elf, patched), 1);  // blame_claim's, as the compiler unrolled it
    EXPECT_EQ(without_cmpxchg(elf).data(), patched.data()) << "one copy per object";
  }
}

TEST(InsnCompat, AnObjectWithoutOneIsReturnedAsItIs) {
  const std::byte junk[64] = {};
  EXPECT_EQ(without_cmpxchg(junk).data(), junk);
}

// name -> linkage of every FUNC in obj's BTF.
std::map<std::string, int> linkage_of_functions(bpf_object* obj) {
  std::map<std::string, int> out;
  const btf* types = bpf_object__btf(obj);
  for (__u32 id = 1; id < btf__type_cnt(types); ++id) {
    const btf_type* t = btf__type_by_id(types, id);
    if (btf_is_func(t)) out[btf__name_by_offset(types, t->name_off)] = btf_vlen(t);
  }
  return out;
}

TEST(InsnCompat, BeforeFiveTwelveTheBlameFunctionsAreStaticAndTheProgramsStayGlobal) {
  blkio_bpf* skel = blkio_bpf__open();
  ASSERT_NE(skel, nullptr);
  const auto before = linkage_of_functions(skel->obj);
  const char* engine[] = {"blame_issue",       "blame_issue_slot",  "blame_end",          "blame_end_slot",
                          "blame_credit_part", "blame_advance",     "blame_advance_slot", "blame_cpu_charge",
                          "blame_cpu_slice",   "blame_epoch_claim", "blame_table_take",   "blame_class_weights",
                          "blame_find_lost",   "rq_slot",           "rq_slot_free",       "bio_slot",
                          "bio_slot_free",     "take_bio"};
  for (const char* name : engine) {
    ASSERT_TRUE(before.contains(name)) << name;
    EXPECT_EQ(before.at(name), BTF_FUNC_GLOBAL) << name;
  }
  EXPECT_EQ(make_subprograms_static(skel->obj), static_cast<int>(std::size(engine)));
  const auto after = linkage_of_functions(skel->obj);
  for (const char* name : engine) EXPECT_EQ(after.at(name), BTF_FUNC_STATIC) << name;
  for (const auto& [name, linkage] : before) {
    if (bpf_object__find_program_by_name(skel->obj, name.c_str())) {
      EXPECT_EQ(after.at(name), linkage) << name;
    }
  }
  EXPECT_EQ(after.at("block_rq_issue_btf"), BTF_FUNC_GLOBAL);
  EXPECT_EQ(make_subprograms_static(skel->obj), 0) << "nothing global is left to mark";
  blkio_bpf__destroy(skel);
}

}  // namespace
}  // namespace stallwatch::loader
