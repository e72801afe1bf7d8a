#include "cli/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <nlohmann/json.hpp>

namespace stallwatch::cli {

namespace {

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto t = std::chrono::system_clock::to_time_t(msg.time);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char date[32];
    std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    const std::string stamp = fmt::format("{}.{:03}Z", date, ms);
    const auto level = spdlog::level::to_string_view(msg.level);
    nlohmann::json line = {{"time", stamp},
                           {"level", std::string(level.data(), level.size())},
                           {"msg", std::string(msg.payload.data(), msg.payload.size())}};
    const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

std::atomic<bool> running{false};

class TextFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    if (msg.level >= spdlog::level::err && !running.load(std::memory_order_relaxed)) {
      constexpr std::string_view prefix = "stallwatch: error: ";
      dest.append(prefix.data(), prefix.data() + prefix.size());
      dest.append(msg.payload.data(), msg.payload.data() + msg.payload.size());
      dest.push_back('\n');
      return;
    }
    stamped_->format(msg, dest);
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<TextFormatter>(); }

 private:
  std::unique_ptr<spdlog::pattern_formatter> stamped_ =
      std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
};

}  // namespace

void mark_running() { running = true; }

Result<void> setup_logging(const std::string& level, const std::string& format) {
  const auto lvl = spdlog::level::from_str(level);
  // from_str maps anything unknown to "off"; only "off" itself may mean off.
  if (lvl == spdlog::level::off && level != "off") {
    return fail("unknown --log-level '" + level + "' (trace, debug, info, warn, error, off)");
  }
  auto logger = spdlog::stderr_color_mt("stallwatch");
  if (format == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else if (format == "text") {
    logger->set_formatter(std::make_unique<TextFormatter>());
  } else {
    return fail("unknown --log-format '" + format + "' (text or json)");
  }
  logger->set_level(lvl);
  spdlog::set_default_logger(logger);
  return {};
}

}  // namespace stallwatch::cli
