#include "capture/flight_recorder.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>

#include "capture/segments.h"
#include "common/clock.h"

namespace stallwatch::capture {

namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kSegmentAgeNs = 3600LL * 1'000'000'000;

// Sixteen segments to a full recorder: the oldest sixteenth goes at once.
// One gzip member: a file of them reads back as their concatenation. About
// ten times smaller than the text; level 1, since it runs every 10 s.
std::string gzip_member(const std::string& text) {
  z_stream z{};
  if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out(deflateBound(&z, text.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END ? out : std::string();
}

std::uint64_t segment_limit(std::uint64_t max_bytes) { return std::max<std::uint64_t>(64 << 10, max_bytes / 16); }

}  // namespace

Result<std::unique_ptr<FlightRecorder>> FlightRecorder::open(FlightRecorderConfig config) {
  if (config.max_bytes < kMinBytes) {
    return fail("flight recorder: --recorder-max-size must be 1MiB at least (or 0: off)");
  }
  std::error_code ec;
  fs::create_directories(config.dir, ec);
  if (ec) return fail_errno("flight recorder: cannot create " + config.dir.string(), ec.value());
  std::unique_ptr<FlightRecorder> r(new FlightRecorder(std::move(config)));
  // Probe that it is writable now, not at the first event.
  const fs::path probe = r->config_.dir / ".writable";
  UniqueFd fd(::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return fail_errno("flight recorder: cannot write in " + r->config_.dir.string(), errno);
  fd.reset();
  fs::remove(probe, ec);
  std::lock_guard lock(r->mu_);
  r->prune_locked(realtime_ns());
  return r;
}

void FlightRecorder::set_host(const nlohmann::json& host, std::int64_t realtime_ns) {
  std::lock_guard lock(mu_);
  config_.host = host;
  if (fd_) append_locked("host", realtime_ns, host);
}

void FlightRecorder::event(const nlohmann::json& e, std::int64_t realtime_ns) {
  std::lock_guard lock(mu_);
  append_locked("event", realtime_ns, e);
}

void FlightRecorder::sample(const live::Sample& s) {
  std::lock_guard lock(mu_);
  append_locked("sample", s.realtime_ns, s.to_json());
}

void FlightRecorder::metrics(const std::string& prom_text, std::int64_t realtime_ns) {
  // Compressed before the lock: the ring-buffer threads' events never wait
  // for deflate.
  const std::string member =
      gzip_member("# stallwatch snapshot " + std::to_string(realtime_ns) + "\n" + prom_text + "# end " +
                  std::to_string(realtime_ns) + "\n");
  std::lock_guard lock(mu_);
  if (!fd_ || realtime_ns - segment_start_ >= kSegmentAgeNs || segment_bytes_ >= segment_limit(config_.max_bytes)) {
    start_segment_locked(realtime_ns);
  }
  if (!prom_fd_) {
    prom_fd_ = UniqueFd(
        ::open((segment_.string() + ".prom.gz").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  }
  // A torn member loses that snapshot only: the reader stops at it.
  const ssize_t n = member.empty() || !prom_fd_ ? -1 : ::write(prom_fd_.get(), member.data(), member.size());
  if (n > 0) {
    segment_bytes_ += static_cast<std::uint64_t>(n);
    stats_.bytes += static_cast<std::uint64_t>(n);
  }
  n == static_cast<ssize_t>(member.size()) ? ++stats_.records : ++stats_.dropped;
}

FlightRecorderStats FlightRecorder::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void FlightRecorder::append_locked(const char* kind, std::int64_t t, const nlohmann::json& v) {
  if (!fd_ || t - segment_start_ >= kSegmentAgeNs || segment_bytes_ >= segment_limit(config_.max_bytes)) {
    start_segment_locked(t);
  }
  if (!fd_) {
    ++stats_.dropped;
    return;
  }
  nlohmann::json rec = {{"t", t}, {"k", kind}, {"v", v}};
  std::string line = rec.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line += '\n';
  write_locked(line) ? ++stats_.records : ++stats_.dropped;
}

bool FlightRecorder::write_locked(const std::string& line) {
  // A record cut short (a full disk) would join the next one's line.
  const std::string& out = torn_ ? "\n" + line : line;
  const ssize_t n = ::write(fd_.get(), out.data(), out.size());
  if (n > 0) {
    segment_bytes_ += static_cast<std::uint64_t>(n);
    stats_.bytes += static_cast<std::uint64_t>(n);
  }
  if (n == static_cast<ssize_t>(out.size())) {
    torn_ = false;
    return true;
  }
  torn_ = torn_ || n > 0;
  const std::string why = n < 0 ? errno_text(errno) : "short write (disk full?)";
  if (why != last_error_) {
    spdlog::warn("flight recorder: writing {}.jsonl: {}; records are dropped (and counted) until it succeeds",
                 segment_.string(), why);
    last_error_ = why;
  }
  return false;
}

void FlightRecorder::start_segment_locked(std::int64_t t) {
  fd_.reset();
  prom_fd_.reset();
  torn_ = false;
  segment_ = config_.dir / segment_name(t);
  segment_start_ = t;
  segment_bytes_ = 0;
  prune_locked(t);
  fd_ = UniqueFd(::open((segment_.string() + ".jsonl").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!fd_) {
    const std::string why = errno_text(errno);
    if (why != last_error_) spdlog::warn("flight recorder: cannot create {}.jsonl: {}", segment_.string(), why);
    last_error_ = why;
    return;
  }
  nlohmann::json rec = {{"t", t}, {"k", "host"}, {"v", config_.host}};
  write_locked(rec.dump() + "\n") ? ++stats_.records : ++stats_.dropped;
}

void FlightRecorder::prune_locked(std::int64_t now) {
  const auto segs = list_segments(config_.dir);
  std::uint64_t total = 0;
  for (const auto& s : segs) total += s.bytes;
  // Oldest first, never the one being written (the newest): over the size
  // bound, or ended (the next one began) longer ago than the age bound.
  for (std::size_t i = 0; i < segs.size() && segs[i].base != segment_; ++i) {
    const std::int64_t ended = i + 1 < segs.size() ? segs[i + 1].start_ns : now;
    if (total <= config_.max_bytes && now - ended <= config_.max_age_ns) break;
    std::error_code ec;
    fs::remove(segs[i].base.string() + ".jsonl", ec);
    fs::remove(segs[i].base.string() + ".prom.gz", ec);
    total -= segs[i].bytes;
    ++stats_.removed;
  }
  stats_.bytes = total;
}

}  // namespace stallwatch::capture
