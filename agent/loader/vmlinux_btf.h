#pragma once
// One parse of the kernel's BTF for all of start-up.
//
// libbpf (1.1) parses /sys/kernel/btf/vmlinux (5.4 MB on 6.18) afresh for
// every object it loads and for every libbpf_find_vmlinux_btf_id, and has
// no way to hand it a parsed copy: the agent's start-up parsed it eight
// times, 2.5 to 16 ms each. The link wraps btf__load_vmlinux_btf and
// btf__free (cmake/StaticLibbpf.cmake): while a SharedVmlinuxBtf lives,
// every load gets its one copy, and frees of it are ignored. libbpf only
// reads the kernel's BTF (CO-RE candidates, attach and kfunc ids, and as
// the base of module BTF), so one copy serves every object. Outside such a
// scope the calls go to libbpf unchanged, and the memory (about 6 MB) is
// not kept once start-up is done.
namespace stallwatch::loader {

class SharedVmlinuxBtf {
 public:
  SharedVmlinuxBtf();
  ~SharedVmlinuxBtf();
  SharedVmlinuxBtf(const SharedVmlinuxBtf&) = delete;
  SharedVmlinuxBtf& operator=(const SharedVmlinuxBtf&) = delete;

  // How many loads the shared copy answered: the parses saved.
  static int loads_answered();
};

}  // namespace stallwatch::loader
