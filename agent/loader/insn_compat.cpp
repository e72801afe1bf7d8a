#include "loader/insn_compat.h"

#include <bpf/bpf.h>
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

}  // namespace

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
                 "one disk at the same moment may count a sliver of blamed time twice");
  }
  return copies.emplace(elf.data(), std::move(copy)).first->second;
}

}  // namespace stallwatch::loader
