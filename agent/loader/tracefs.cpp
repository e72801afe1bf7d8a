#include "loader/tracefs.h"

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>

namespace stallwatch::loader {

namespace {
constexpr const char* kTracefs = "/sys/kernel/tracing";
constexpr const char* kDebugfsTracing = "/sys/kernel/debug/tracing";

bool has_events(const std::string& dir) { return access((dir + "/events").c_str(), F_OK) == 0; }
}  // namespace

Result<Tracefs> ensure_tracefs(bool may_mount) {
  // libbpf 1.1 picks the debugfs path whenever it exists, so it must work there.
  if (access(kDebugfsTracing, F_OK) == 0) {
    if (has_events(kDebugfsTracing)) return Tracefs{kDebugfsTracing, false};
  } else if (has_events(kTracefs)) {
    return Tracefs{kTracefs, false};
  }
  const std::string where = access(kDebugfsTracing, F_OK) == 0 ? kDebugfsTracing : kTracefs;
  if (!may_mount) {
    return fail("tracefs is not mounted at " + where +
                " (classic tracepoints need it); mount it with `mount -t tracefs nodev " + where + "`");
  }
  if (mount("nodev", where.c_str(), "tracefs", 0, nullptr) != 0) {
    const int err = errno;
    return fail("tracefs is not mounted at " + where + " and mounting it failed: " + errno_text(err) +
                (err == EPERM ? " (needs CAP_SYS_ADMIN)" : ""));
  }
  if (!has_events(where)) return fail("mounted tracefs at " + where + " but it has no events/");
  return Tracefs{where, true};
}

bool tracepoint_exists(const Tracefs& tracefs, const std::string& category, const std::string& event) {
  return access((tracefs.path + "/events/" + category + "/" + event).c_str(), F_OK) == 0;
}

}  // namespace stallwatch::loader
