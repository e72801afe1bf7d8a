#include "cli/selftest.h"

#include <fcntl.h>
#include <liburing.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "common/names.h"

namespace stallwatch::cli {

namespace {

constexpr std::size_t kBlock = 4096;
// The child's exit status when every call was made but io_uring_setup was
// refused (a container runtime's default seccomp profile refuses it).
constexpr int kUringRefused = 100;

// Runs in the child, inside the self-test cgroup. Exit status: 0, or the
// number of the step that failed.
int perform(const std::string& file, bool with_uring) {
  bool uring_refused = false;
  const int fd = open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return 10;
  char buf[kBlock];
  std::memset(buf, 'x', sizeof(buf));
  const auto dirty = [&] { return pwrite(fd, buf, sizeof(buf), 0) == static_cast<ssize_t>(sizeof(buf)); };
  if (!dirty() || fsync(fd) != 0) return 11;
  if (!dirty() || fdatasync(fd) != 0) return 12;
  if (!dirty() ||
      sync_file_range(fd, 0, kBlock,
                      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
    return 13;
  }
  void* map = mmap(nullptr, kBlock, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) return 14;
  static_cast<char*>(map)[0] = 'y';
  if (msync(map, kBlock, MS_SYNC) != 0) return 14;
  munmap(map, kBlock);
  if (syncfs(fd) != 0) return 15;
  if (with_uring) {
    struct io_uring ring;
    const int err = io_uring_queue_init(2, &ring, 0);
    if (err == -EPERM || err == -ENOSYS) {
      uring_refused = true;
    } else if (err != 0) {
      return 16;
    } else {
      io_uring_prep_fsync(io_uring_get_sqe(&ring), fd, 0);
      io_uring_cqe* cqe = nullptr;
      if (io_uring_submit(&ring) != 1 || io_uring_wait_cqe(&ring, &cqe) != 0 || cqe->res != 0) return 16;
      io_uring_cqe_seen(&ring, cqe);
      io_uring_queue_exit(&ring);
    }
  }
  close(fd);
  const int sfd = open(file.c_str(), O_WRONLY | O_SYNC);
  if (sfd < 0 || pwrite(sfd, buf, sizeof(buf), 0) != static_cast<ssize_t>(sizeof(buf))) return 17;
  close(sfd);
  unlink(file.c_str());
  return uring_refused ? kUringRefused : 0;
}

std::string writable_dir() {
  // A read-only root filesystem (the DaemonSets') leaves the state directory.
  for (const char* d : {"/var/tmp", "/tmp", "/var/lib/stallwatch"}) {
    if (access(d, W_OK) == 0) return d;
  }
  return ".";
}

}  // namespace

bool SelfTest::duplicates() const {
  for (const auto& r : rows) {
    if (r.seen > r.expected) return true;
  }
  return false;
}

Result<SelfTest> run_fsync_selftest(reader::MapReader& maps, const std::string& cgroup2_mount, bool io_uring,
                                    bool expect_vfs) {
  SelfTest test;
  test.dir = writable_dir();
  const std::string cgroup = cgroup2_mount + "/stallwatch-selftest." + std::to_string(getpid());
  if (mkdir(cgroup.c_str(), 0700) != 0 && errno != EEXIST) {
    return fail("self-test: mkdir " + cgroup + ": " + errno_text(errno));
  }
  struct stat st {};
  stat(cgroup.c_str(), &st);
  const std::uint64_t id = st.st_ino;
  const std::string file = test.dir + "/.stallwatch-selftest." + std::to_string(getpid());

  const pid_t child = fork();
  if (child == 0) {
    const int procs = open((cgroup + "/cgroup.procs").c_str(), O_WRONLY);
    if (procs < 0 || write(procs, "0", 1) != 1) _exit(2);
    close(procs);
    _exit(perform(file, io_uring));
  }
  int status = 0;
  waitpid(child, &status, 0);
  auto snap = maps.snapshot();
  maps.forget({id});
  rmdir(cgroup.c_str());
  const bool uring_refused = WIFEXITED(status) && WEXITSTATUS(status) == kUringRefused;
  if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && !uring_refused)) {
    return fail("self-test: the test process failed at step " +
                std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + " in " + test.dir);
  }
  if (!snap) return std::unexpected(snap.error());

  std::map<std::string, std::uint64_t> seen;
  for (const auto& s : snap->fsync) {
    if (s.cgroup_id == id) seen[names::fsync_op_name(s.op)] += s.hist.count();
  }
  test.rows = {{"fsync", "fsync(2)", 1, 0},
               {"fdatasync", "fdatasync(2)", 1, 0},
               {"sync_file_range", "sync_file_range(2) with WAIT_AFTER", 1, 0},
               {"msync", "msync(2) MS_SYNC", 1, 0},
               {"syncfs", "syncfs(2)", 1, 0}};
  if (io_uring && uring_refused) {
    // Not made, so not expected: what the hook sees of other processes' calls is untested.
    test.rows.push_back({"io_uring_fsync", "io_uring IORING_OP_FSYNC (not made: io_uring_setup refused here)", 0, 0, false});
  } else if (io_uring) {
    test.rows.push_back({"io_uring_fsync", "io_uring IORING_OP_FSYNC", 1, 0});
  }
  test.rows.push_back({"vfs_fsync", "write(2) to an O_SYNC file", expect_vfs ? 1U : 0U, 0});
  for (auto& r : test.rows) r.seen = seen[r.op];
  return test;
}

}  // namespace stallwatch::cli
