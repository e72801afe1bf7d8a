#pragma once
// Reads the fsync maps on demand (at scrape time); no copy is kept.
#include "common/result.h"
#include "reader/snapshot.h"

namespace stallwatch::reader {

class FsyncMapReader {
 public:
  // The fds stay owned by the loader, which outlives the reader.
  FsyncMapReader(int hist_fd, int drops_fd);

  Result<FsyncSnapshot> snapshot() const;

 private:
  int hist_fd_;
  int drops_fd_;
  int ncpus_;
};

}  // namespace stallwatch::reader
