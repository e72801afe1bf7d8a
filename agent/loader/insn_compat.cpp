#include "loader/insn_compat.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <elf.h>
#include <linux/bpf.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace stallwatch::loader {

namespace {

constexpr std::uint8_t kAtomicDw = BPF_STX | BPF_ATOMIC | BPF_DW;
constexpr std::uint8_t kAtomicW = BPF_STX | BPF_ATOMIC | BPF_W;

bool probe_cmpxchg() {
  // *(u64 *)(r10 - 8) = 0; r0 = cmpxchg_64(r10 - 8, r0 = 0, r1 = 0); exit
  const bpf_insn insns[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1, .src_reg = 0, .off = 0, .imm = 0},
      {.code = BPF_STX | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_10, .src_reg = BPF_REG_1, .off = -8, .imm = 0},
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = 0},
      {.code = kAtomicDw, .dst_reg = BPF_REG_10, .src_reg = BPF_REG_1, .off = -8, .imm = BPF_CMPXCHG},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  const int fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, nullptr, "GPL", insns, std::size(insns), nullptr);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// int m(void) { long v = 0; return g(&v); }  int g(struct s *p) { return 0; }
// with both functions global in the program's BTF.
bool probe_global_pointer_args() {
  std::unique_ptr<btf, decltype(&btf__free)> types(btf__new_empty(), btf__free);
  if (!types) return false;
  btf* b = types.get();
  const int int_id = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
  const int long_id = btf__add_int(b, "long", 8, BTF_INT_SIGNED);
  const int struct_id = btf__add_struct(b, "s", 8);
  if (int_id < 0 || long_id < 0 || struct_id < 0 || btf__add_field(b, "v", long_id, 0, 0) < 0) return false;
  const int ptr_id = btf__add_ptr(b, struct_id);
  const int main_proto = btf__add_func_proto(b, int_id);
  const int main_id = btf__add_func(b, "m", BTF_FUNC_GLOBAL, main_proto);
  const int sub_proto = btf__add_func_proto(b, int_id);
  if (ptr_id < 0 || main_proto < 0 || main_id < 0 || sub_proto < 0 || btf__add_func_param(b, "p", ptr_id) < 0) {
    return false;
  }
  const int sub_id = btf__add_func(b, "g", BTF_FUNC_GLOBAL, sub_proto);
  if (sub_id < 0 || btf__load_into_kernel(b) != 0) return false;

  const bpf_insn insns[] = {
      {.code = BPF_ST | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_10, .src_reg = 0, .off = -8, .imm = 0},
      {.code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_1, .src_reg = BPF_REG_10, .off = 0, .imm = 0},
      {.code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_1, .src_reg = 0, .off = 0, .imm = -8},
      {.code = BPF_JMP | BPF_CALL, .dst_reg = 0, .src_reg = BPF_PSEUDO_CALL, .off = 0, .imm = 1},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = 0},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  const bpf_func_info funcs[] = {{.insn_off = 0, .type_id = static_cast<__u32>(main_id)},
                                 {.insn_off = 5, .type_id = static_cast<__u32>(sub_id)}};
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .prog_btf_fd = static_cast<__u32>(btf__fd(b)), .func_info = funcs,
              .func_info_cnt = 2, .func_info_rec_size = sizeof(bpf_func_info));
  const int fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, nullptr, "GPL", insns, std::size(insns), &opts);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

}  // namespace

bool kernel_has_global_pointer_args() {
  static const bool has = [] {
    const bool yes = probe_global_pointer_args();
    if (!yes) {
      spdlog::info("kernel takes no pointer arguments to global BPF functions (5.12+): the blame engine's functions "
                   "are verified at every call, and loading takes seconds longer");
    }
    return yes;
  }();
  return has;
}

int make_subprograms_static(bpf_object* obj) {
  btf* types = bpf_object__btf(obj);
  if (!types) return 0;
  int changed = 0;
  for (__u32 id = 1; id < btf__type_cnt(types); ++id) {
    // libbpf's own sanitizing rewrites BTF types in place the same way.
    auto* t = const_cast<btf_type*>(btf__type_by_id(types, id));
    if (!btf_is_func(t) || btf_vlen(t) != BTF_FUNC_GLOBAL) continue;  // a FUNC's vlen is its linkage
    if (bpf_object__find_program_by_name(obj, btf__name_by_offset(types, t->name_off))) continue;
    t->info = (BTF_KIND_FUNC << 24) | BTF_FUNC_STATIC;
    ++changed;
  }
  return changed;
}

bool kernel_has_cmpxchg() {
  static const bool has = probe_cmpxchg();
  return has;
}

std::span<const std::byte> without_cmpxchg(std::span<const std::byte> elf) {
  static std::mutex mu;
  static std::map<const std::byte*, std::vector<std::byte>> copies;
  std::lock_guard lock(mu);
  if (auto it = copies.find(elf.data()); it != copies.end()) return it->second;

  Elf64_Ehdr eh;
  if (elf.size() < sizeof(eh)) return elf;
  std::memcpy(&eh, elf.data(), sizeof(eh));
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff + std::size_t{eh.e_shnum} * sizeof(Elf64_Shdr) > elf.size()) {
    return elf;  // not what clang writes: libbpf will say what is wrong
  }
  std::vector<std::byte> copy(elf.begin(), elf.end());
  bool changed = false;
  for (std::size_t i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh;
    std::memcpy(&sh, copy.data() + eh.e_shoff + i * sizeof(sh), sizeof(sh));
    if (sh.sh_type != SHT_PROGBITS || !(sh.sh_flags & SHF_EXECINSTR) || sh.sh_offset + sh.sh_size > copy.size()) {
      continue;
    }
    for (std::size_t off = sh.sh_offset; off + sizeof(bpf_insn) <= sh.sh_offset + sh.sh_size; off += sizeof(bpf_insn)) {
      bpf_insn insn;
      std::memcpy(&insn, copy.data() + off, sizeof(insn));
      if ((insn.code != kAtomicDw && insn.code != kAtomicW) || insn.imm != BPF_CMPXCHG) continue;
      insn.code = BPF_STX | BPF_MEM | BPF_SIZE(insn.code);
      insn.imm = 0;
      std::memcpy(copy.data() + off, &insn, sizeof(insn));
      changed = true;
    }
  }
  if (!changed) return elf;
  if (copies.empty()) {
    spdlog::info("kernel has no BPF_CMPXCHG (5.12+): device clocks advance by a plain store, and CPUs that advance "
                 "one disk at the same moment may count a sliver of blamed time twice (as may a request's "
                 "completion and the check for lost ones, ending it at the same moment)");
  }
  return copies.emplace(elf.data(), std::move(copy)).first->second;
}

}  // namespace stallwatch::loader
