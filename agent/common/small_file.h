#pragma once
// Reads a file that should be small and regular (an OCI config.json, a pid's
// comm) from a tree someone else controls: a FIFO in its place must not
// block us, a huge one must not fill our memory.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <string>

namespace stallwatch {

// The whole file, or nullopt when it is not a regular file, cannot be read,
// or holds more than max_bytes.
inline std::optional<std::string> read_small_file(const std::string& path, std::size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  std::optional<std::string> out;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && static_cast<std::size_t>(st.st_size) <= max_bytes) {
    std::string data(max_bytes + 1, '\0');
    std::size_t got = 0;
    for (ssize_t n; got < data.size() && (n = ::read(fd, data.data() + got, data.size() - got)) > 0;) {
      got += static_cast<std::size_t>(n);
    }
    if (got <= max_bytes) {  // it may have grown since fstat
      data.resize(got);
      out = std::move(data);
    }
  }
  ::close(fd);
  return out;
}

}  // namespace stallwatch
