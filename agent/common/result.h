#pragma once
// Recoverable errors travel as values; one fatal user error is reported in main.
#include <cstring>
#include <expected>
#include <string>
#include <utility>

namespace stallwatch {

struct Error {
  std::string message;
};

template <typename T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(std::string message) {
  return std::unexpected<Error>(Error{std::move(message)});
}

// "ENOENT (No such file or directory)" for an errno value, positive or negative.
inline std::string errno_text(int err) {
  if (err < 0) err = -err;
  const char* name = strerrorname_np(err);
  return std::string(name ? name : "E?") + " (" + std::strerror(err) + ")";
}

}  // namespace stallwatch
