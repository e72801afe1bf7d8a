#pragma once
// Move-only owners of libbpf objects.
#include <bpf/libbpf.h>

#include <memory>

namespace stallwatch::loader {

struct LinkDeleter {
  void operator()(bpf_link* link) const { bpf_link__destroy(link); }
};
using Link = std::unique_ptr<bpf_link, LinkDeleter>;

// Routes libbpf's own output to spdlog at debug level (shown under -v).
void route_libbpf_output();

}  // namespace stallwatch::loader
