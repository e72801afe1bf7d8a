#pragma once
// Move-only owners of libbpf objects.
#include <bpf/libbpf.h>

#include <memory>
#include <vector>

#include "common/result.h"

namespace stallwatch::loader {

struct LinkDeleter {
  void operator()(bpf_link* link) const { bpf_link__destroy(link); }
};
using Link = std::unique_ptr<bpf_link, LinkDeleter>;

// Attaches every program of obj that is set to autoload. On failure the
// links made so far are destroyed and the error names the program.
Result<std::vector<Link>> attach_all(bpf_object* obj);

// Detaching a tracepoint link waits for an RCU grace period (about 70 ms
// each on 6.18); detaching them all at once waits for about one.
void destroy_links_concurrently(std::vector<Link>& links);

// Routes libbpf's own output to spdlog at debug level (shown under -v).
void route_libbpf_output();

}  // namespace stallwatch::loader
