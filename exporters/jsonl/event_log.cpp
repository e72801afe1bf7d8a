#include "exporters/jsonl/event_log.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

namespace stallwatch::exporters {

Result<std::unique_ptr<EventLog>> EventLog::open(const EventLogConfig& config) {
  std::unique_ptr<EventLog> log(new EventLog(config));
  log->held_ = config.hold_until_header;
  if (config.path == "-") {
    log->out_ = stdout;
  } else {
    const auto dir = std::filesystem::path(config.path).parent_path();
    std::error_code ec;
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    if (ec) return fail("event log " + config.path + ": create " + dir.string() + ": " + ec.message());
    if (auto ok = log->open_file(); !ok) return std::unexpected(ok.error());
  }
  log->writer_ = std::jthread([raw = log.get()] { raw->run(); });
  return log;
}

Result<void> EventLog::open_file() {
  out_ = std::fopen(config_.path.c_str(), "ae");
  if (!out_) return fail("event log " + config_.path + ": " + errno_text(errno));
  struct stat st {};
  bytes_ = ::fstat(::fileno(out_), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  return {};
}

EventLog::~EventLog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  writer_ = {};  // joins after the queue is written
  if (out_ && out_ != stdout) std::fclose(out_);
}

void EventLog::write(std::string line) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= config_.queue_lines) {
      ++stats_.dropped;
      return;
    }
    queue_.push_back(std::move(line));
  }
  wake_.notify_one();
}

void EventLog::set_header(std::string line) {
  {
    std::lock_guard lock(mu_);
    header_ = std::move(line);
    header_due_ = true;
    held_ = false;
  }
  wake_.notify_one();
}

void EventLog::reopen() {
  {
    std::lock_guard lock(mu_);
    reopen_ = true;
  }
  wake_.notify_one();
}

EventLogStats EventLog::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void EventLog::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || reopen_ || header_due_ || (!held_ && !queue_.empty()); });
    if (reopen_ && out_ != stdout) {
      reopen_ = false;
      lock.unlock();
      if (out_) std::fclose(out_);
      out_ = nullptr;
      if (auto ok = open_file(); !ok) spdlog::error("{}; events fail until the next SIGHUP", ok.error().message);
      lock.lock();
      // A file logrotate moved away is new here: it starts with the header.
      header_due_ = header_due_ || (!header_.empty() && bytes_ == 0);
    }
    reopen_ = false;
    if (header_due_) {
      header_due_ = false;
      const std::string header = header_;
      lock.unlock();
      put_raw(header);
      lock.lock();
      continue;
    }
    if (held_ && !stop_) continue;  // stopping without a header: write what came
    if (queue_.empty()) {
      if (stop_) return;
      continue;
    }
    std::string line = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    put(line);
    lock.lock();
  }
}

// The writer thread only: out_ and bytes_ are its own.
bool EventLog::put_raw(const std::string& line) {
  const bool ok = out_ && std::fwrite(line.data(), 1, line.size(), out_) == line.size() &&
                  std::fputc('\n', out_) != EOF && std::fflush(out_) == 0;
  if (out_) std::clearerr(out_);
  if (ok) bytes_ += line.size() + 1;
  return ok;
}

void EventLog::put(const std::string& line) {
  const bool ok = put_raw(line);
  {
    std::lock_guard lock(mu_);
    if (ok) {
      ++stats_.written;
    } else {
      ++stats_.failed;
    }
  }
  if (ok && out_ != stdout && config_.max_bytes && bytes_ >= config_.max_bytes) rotate();
}

// path.keep goes, path.N becomes path.N+1, path becomes path.1.
void EventLog::rotate() {
  std::fclose(out_);
  out_ = nullptr;
  std::error_code ec;
  const std::string& p = config_.path;
  std::filesystem::remove(p + "." + std::to_string(config_.keep), ec);
  for (unsigned n = config_.keep; n > 1; --n) {
    std::filesystem::rename(p + "." + std::to_string(n - 1), p + "." + std::to_string(n), ec);
  }
  std::filesystem::rename(p, p + ".1", ec);
  if (ec) spdlog::warn("event log {}: rotate: {}", p, ec.message());
  if (auto ok = open_file(); !ok) spdlog::error("{}; events fail until the next SIGHUP", ok.error().message);
  std::lock_guard lock(mu_);
  ++stats_.rotations;
  header_due_ = !header_.empty();
}

std::string default_events_path(const std::string& state_dir) {
  return ::isatty(STDOUT_FILENO) ? "-" : (std::filesystem::path(state_dir) / "events.jsonl").string();
}

}  // namespace stallwatch::exporters
