#include "loader/vmlinux_btf.h"

#include <bpf/btf.h>

#include <spdlog/spdlog.h>

#include <mutex>

extern "C" {
btf* __real_btf__load_vmlinux_btf();
void __real_btf__free(btf* b);
btf* __wrap_btf__load_vmlinux_btf();
void __wrap_btf__free(btf* b);
}

namespace {
std::mutex mu;
int scopes = 0;
btf* shared = nullptr;
int answered = 0;
}  // namespace

extern "C" btf* __wrap_btf__load_vmlinux_btf() {
  const std::lock_guard lock(mu);
  if (scopes == 0) return __real_btf__load_vmlinux_btf();
  // A failed parse is not kept: each caller sees libbpf's own error.
  if (!shared) return shared = __real_btf__load_vmlinux_btf();
  ++answered;
  return shared;
}

extern "C" void __wrap_btf__free(btf* b) {
  {
    const std::lock_guard lock(mu);
    if (b && b == shared) return;
  }
  __real_btf__free(b);
}

namespace stallwatch::loader {

SharedVmlinuxBtf::SharedVmlinuxBtf() {
  const std::lock_guard lock(mu);
  ++scopes;
}

SharedVmlinuxBtf::~SharedVmlinuxBtf() {
  btf* done = nullptr;
  int saved = 0;
  {
    const std::lock_guard lock(mu);
    if (--scopes > 0) return;
    done = shared;
    shared = nullptr;
    saved = answered;
  }
  spdlog::debug("kernel BTF parsed once for start-up: {} more parses saved so far", saved);
  __real_btf__free(done);
}

int SharedVmlinuxBtf::loads_answered() {
  const std::lock_guard lock(mu);
  return answered;
}

}  // namespace stallwatch::loader
