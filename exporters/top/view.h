#pragma once
// What `stallwatch top` shows, as text: built from one-second samples and
// the recent probe events, never from BPF. The terminal handling is the
// command's (agent/cli/top.cpp).
#include <nlohmann/json.hpp>

#include <chrono>
#include <deque>
#include <mutex>
#include <string>

#include "live/sampler.h"

namespace stallwatch::top {

enum class SortKey { kIops, kMbps, kBusy, kShare };
const char* sort_name(SortKey k);

class View {
 public:
  void add(const live::Sample& s);      // the newest second; the last ten are kept
  void event(const nlohmann::json& e);  // probe events, for the failures list
  void set_node(std::string node) { node_ = std::move(node); }  // before the first frame
  // One frame, `width` columns; ansi: clear lines and a reverse-video key line.
  std::string frame(int width, SortKey sort, const std::string& filter, bool help, bool ansi);

 private:
  std::string node_;
  std::deque<live::Sample> window_;
  std::mutex mu_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, nlohmann::json>> probes_;
};

}  // namespace stallwatch::top
