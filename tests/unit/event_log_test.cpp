// The event log's header (the agent's start event): first in every file,
// before lines that came while it was unknown, again after a rotation or
// after logrotate moved the file, and never counted as an event.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "exporters/jsonl/event_log.h"

namespace {

using namespace std::chrono_literals;
using stallwatch::exporters::EventLog;
using stallwatch::exporters::EventLogConfig;
namespace fs = std::filesystem;

class EventLogHeader : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/stallwatch-evlog-unit.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/events.jsonl";
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::vector<std::string> lines(const std::string& path) {
    std::vector<std::string> out;
    std::ifstream in(path);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
  // Waits until the writer has written n events.
  static void wait_written(const EventLog& log, std::uint64_t n) {
    for (int i = 0; i < 500 && log.stats().written < n; ++i) std::this_thread::sleep_for(10ms);
  }

  std::string dir_, path_;
};

TEST_F(EventLogHeader, LinesQueuedBeforeTheHeaderComeAfterIt) {
  EventLogConfig config{path_};
  config.hold_until_header = true;
  auto log = EventLog::open(config);
  ASSERT_TRUE(log) << log.error().message;
  for (const char* l : {"a", "b", "c"}) (*log)->write(l);
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(lines(path_).empty()) << "nothing before the header";
  (*log)->set_header("start");
  wait_written(**log, 3);
  EXPECT_EQ(lines(path_), (std::vector<std::string>{"start", "a", "b", "c"}));
  EXPECT_EQ((*log)->stats().written, 3U) << "the header is no event";
}

TEST_F(EventLogHeader, EveryRotatedFileStartsWithIt) {
  EventLogConfig config{path_};
  config.max_bytes = 200;
  config.keep = 3;
  auto log = EventLog::open(config);
  ASSERT_TRUE(log);
  (*log)->set_header("start");
  for (int i = 0; i < 41; ++i) (*log)->write("event-" + std::string(40, 'x') + std::to_string(i));
  wait_written(**log, 41);
  EXPECT_GE((*log)->stats().rotations, 3U);
  for (const std::string& p : {path_, path_ + ".1", path_ + ".2", path_ + ".3"}) {
    const auto l = lines(p);
    ASSERT_GE(l.size(), p == path_ ? 1U : 2U) << p;
    EXPECT_EQ(l.front(), "start") << p;
    EXPECT_EQ(std::count(l.begin(), l.end(), "start"), 1) << p;
  }
}

TEST_F(EventLogHeader, AFileMovedAwayIsFollowedByOneThatStartsWithIt) {
  auto log = EventLog::open(EventLogConfig{path_});
  ASSERT_TRUE(log);
  (*log)->set_header("start");
  (*log)->write("one");
  wait_written(**log, 1);
  // SIGHUP without a move: the file goes on, no second header.
  (*log)->reopen();
  (*log)->write("two");
  wait_written(**log, 2);
  EXPECT_EQ(lines(path_), (std::vector<std::string>{"start", "one", "two"}));
  fs::rename(path_, path_ + ".old");
  (*log)->reopen();
  (*log)->write("three");
  wait_written(**log, 3);
  EXPECT_EQ(lines(path_), (std::vector<std::string>{"start", "three"}));
}

TEST_F(EventLogHeader, AStopBeforeAnyHeaderStillWritesWhatCame) {
  {
    EventLogConfig config{path_};
    config.hold_until_header = true;
    auto log = EventLog::open(config);
    ASSERT_TRUE(log);
    (*log)->write("a");
  }
  EXPECT_EQ(lines(path_), (std::vector<std::string>{"a"}));
}

}  // namespace
