#pragma once
// Recoverable errors travel as values; one fatal user error is reported in main.
#include <cstring>
#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace stallwatch {

// "ENOENT (No such file or directory)" for an errno value, positive or negative.
inline std::string errno_text(int err) {
  if (err < 0) err = -err;
  const char* name = strerrorname_np(err);
  return std::string(name ? name : "E?") + " (" + std::strerror(err) + ")";
}

// The message is for people; code keeps the errno (positive, 0 when the
// error did not come from the kernel) so that callers decide on it rather
// than on the text.
struct Error {
  std::string message;
  int code = 0;
};

template <typename T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(std::string message) { return std::unexpected<Error>(Error{std::move(message), 0}); }

// "context: EPERM (Operation not permitted)", keeping the errno.
inline std::unexpected<Error> fail_errno(std::string_view context, int err) {
  if (err < 0) err = -err;
  return std::unexpected<Error>(Error{std::string(context) + ": " + errno_text(err), err});
}

}  // namespace stallwatch
