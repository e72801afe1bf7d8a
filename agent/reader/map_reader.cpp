#include "reader/map_reader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <vector>

namespace stallwatch::reader {

FsyncMapReader::FsyncMapReader(int hist_fd, int drops_fd)
    : hist_fd_(hist_fd), drops_fd_(drops_fd), ncpus_(libbpf_num_possible_cpus()) {}

Result<FsyncSnapshot> FsyncMapReader::snapshot() const {
  if (ncpus_ <= 0) return fail("count possible CPUs: " + errno_text(ncpus_));
  FsyncSnapshot snap;
  std::vector<sw_hist> values(static_cast<std::size_t>(ncpus_));

  sw_fsync_key key{};
  sw_fsync_key next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(hist_fd_, prev, &next) == 0) {
    // A key deleted between get_next_key and lookup is simply gone: skip it.
    if (bpf_map_lookup_elem(hist_fd_, &next, values.data()) == 0) {
      snap.series.push_back({next.cgroup_id, next.dev, next.op, merge_percpu(values)});
    } else if (errno != ENOENT) {
      return fail("read fsync_hist: " + errno_text(errno));
    }
    key = next;
    prev = &key;
  }

  std::vector<std::uint64_t> counts(static_cast<std::size_t>(ncpus_));
  for (std::uint32_t i = 0; i < SW_DROP__COUNT; ++i) {
    if (bpf_map_lookup_elem(drops_fd_, &i, counts.data()) != 0) {
      return fail("read drops: " + errno_text(errno));
    }
    for (auto c : counts) snap.drops[i] += c;
  }
  return snap;
}

}  // namespace stallwatch::reader
