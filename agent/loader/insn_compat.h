#pragma once
// BPF instructions and BTF the running kernel lacks, rewritten in the object
// before libbpf loads it, the way libbpf itself sanitizes BTF for older
// kernels.
//
// BPF_CMPXCHG came with 5.12 (commit 5ffa25502b5a, "bpf: Add instructions
// for atomic_[cmp]xchg"). Before it the verifier refuses the instruction
// wherever it is, reachable or not ("BPF_STX uses reserved fields", checked
// over every instruction before the walk), so a branch on the kernel version
// cannot keep it out. The blame engine's compare-and-swaps (bpf/blame_math.h,
// blame_claim; bpf/blame_block.bpf.h, blame_end) degrade to plain stores: r0
// keeps the expected value, so the compare reads as a success.
//
// Pointer arguments to global functions came with 5.12 too (commit
// e5069b9c23b3, "bpf: Support pointers in global func args"). The blame
// engine's larger functions are global so that the verifier checks each
// once per program (SW_VERIFIED_ONCE, bpf/blame_math.h); before 5.12 they
// are marked static in the object's BTF, and the verifier walks them at
// every call as it did before (start-up takes seconds longer there).
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <span>

#include <bpf/libbpf.h>

namespace stallwatch::loader {

// Whether the kernel loads BPF_CMPXCHG (probed once with a 4-instruction program).
bool kernel_has_cmpxchg();

// The object's bytes with every 32- and 64-bit BPF_CMPXCHG in its executable
// sections turned into a plain store; the copy lives as long as the process.
// Returns elf unchanged when it has none.
std::span<const std::byte> without_cmpxchg(std::span<const std::byte> elf);

// Whether the kernel takes a pointer argument to a global function (probed
// once with a two-function program and its BTF).
bool kernel_has_global_pointer_args();

// Marks every global function of obj that is not a program static in its
// BTF; returns how many. Call after open, before load.
int make_subprograms_static(bpf_object* obj);

// Opens a skeleton (bpftool's Create and Destroy) from bytes the running
// kernel accepts; nullptr with errno set on failure.
template <typename Skel, int (*Create)(Skel*), void (*Destroy)(Skel*)>
Skel* open_for_this_kernel() {
  auto* obj = static_cast<Skel*>(std::calloc(1, sizeof(Skel)));
  if (!obj) {
    errno = ENOMEM;
    return nullptr;
  }
  if (int err = Create(obj); err) {
    Destroy(obj);
    errno = -err;
    return nullptr;
  }
  if (!kernel_has_cmpxchg()) {
    const auto bytes = without_cmpxchg({static_cast<const std::byte*>(obj->skeleton->data), obj->skeleton->data_sz});
    obj->skeleton->data = const_cast<std::byte*>(bytes.data());
  }
  if (int err = bpf_object__open_skeleton(obj->skeleton, nullptr); err) {
    Destroy(obj);
    errno = -err;
    return nullptr;
  }
  if (!kernel_has_global_pointer_args()) make_subprograms_static(obj->obj);
  return obj;
}

}  // namespace stallwatch::loader
