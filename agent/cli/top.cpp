// `stallwatch top`: a live terminal view, refreshed every second: the
// victims' fsync rate, p50/p99 and verdict; I/O per cgroup with its share
// of the victims' blamed time; recent probe failures. Keys sort and
// filter; `q` quits and gives the terminal back as it was. On a pipe it
// prints plain frames (--once: one, after a second of sampling).
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>

#include "blame/verdict.h"
#include "cli/options.h"
#include "cli/session.h"
#include "exporters/top/view.h"
#include "live/sampler.h"
#include "reader/map_reader.h"

namespace stallwatch::cli {

using top::SortKey;
using top::View;

namespace {

std::int64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

// Raw keys, alternate screen, hidden cursor; all undone by the destructor.
class Terminal {
 public:
  Terminal() {
    if (tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    active_ = true;
    std::fputs("\x1b[?1049h\x1b[?25l", stdout);
    std::fflush(stdout);
  }
  ~Terminal() {
    if (!active_) return;
    std::fputs("\x1b[?25h\x1b[?1049l", stdout);
    std::fflush(stdout);
    tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  static int width() {
    winsize ws{};
    return ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 40 ? ws.ws_col : 120;
  }

 private:
  termios saved_{};
  bool active_ = false;
};

bool stop_requested() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  const timespec none{0, 0};
  return sigtimedwait(&set, nullptr, &none) > 0;
}

}  // namespace

int run_top(const Options& options) {
  auto view = std::make_shared<View>();
  // Logs would tear the screen: only errors, and only before it is taken.
  auto session = Session::start(options, {[view](const nlohmann::json& e) { view->event(e); }, {}});
  if (!session) return session.error();
  view->set_node((*session)->node());
  const bool interactive = !options.top_once && ::isatty(STDOUT_FILENO) && ::isatty(STDIN_FILENO);
  live::Sampler sampler((*session)->labeler());
  (void)sampler.next(*(*session)->maps().snapshot(), realtime_ns(), 0);
  auto last = std::chrono::steady_clock::now();
  const auto sample = [&] {
    (*session)->tick();
    const auto now = std::chrono::steady_clock::now();
    if (auto snap = (*session)->maps().snapshot(); snap) {
      if (auto s = sampler.next(*snap, realtime_ns(), std::chrono::duration<double>(now - last).count())) view->add(*s);
    }
    last = now;
  };
  if (!interactive) {
    for (;;) {
      const timespec second{1, 0};
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGINT);
      sigaddset(&set, SIGTERM);
      if (sigtimedwait(&set, nullptr, &second) > 0) return 0;
      sample();
      std::fputs(view->frame(200, SortKey::kBusy, "", false, false).c_str(), stdout);
      std::fputs("\n", stdout);
      std::fflush(stdout);
      if (options.top_once) return 0;
    }
  }
  spdlog::set_level(spdlog::level::off);
  Terminal term;
  SortKey sort = SortKey::kBusy;
  std::string filter, typing;
  bool filtering = false, help = false;
  const auto draw = [&] {
    std::string f = view->frame(Terminal::width(), sort, filtering ? typing + "_" : filter, help, true);
    std::fputs(("\x1b[H" + f).c_str(), stdout);
    std::fflush(stdout);
  };
  draw();
  auto next_sample = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  for (;;) {
    if (stop_requested()) return 0;
    pollfd in{STDIN_FILENO, POLLIN, 0};
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(next_sample - std::chrono::steady_clock::now());
    if (poll(&in, 1, static_cast<int>(std::max<std::int64_t>(0, std::min<std::int64_t>(wait.count(), 200)))) > 0) {
      char c = 0;
      while (read(STDIN_FILENO, &c, 1) == 1) {
        if (filtering) {
          if (c == '\n' || c == '\r') {
            filter = typing;
            filtering = false;
          } else if (c == 27) {
            filtering = false;
          } else if (c == 127 || c == 8) {
            if (!typing.empty()) typing.pop_back();
          } else if (c >= 32) {
            typing += c;
          }
          continue;
        }
        switch (c) {
          case 'q': return 0;
          case 'i': sort = SortKey::kIops; break;
          case 'm': sort = SortKey::kMbps; break;
          case 'b': sort = SortKey::kBusy; break;
          case 's': sort = SortKey::kShare; break;
          case 'f':
            filtering = true;
            typing.clear();
            break;
          case 'c': filter.clear(); break;
          case '?': help = !help; break;
          default: break;
        }
      }
      draw();
    }
    if (std::chrono::steady_clock::now() >= next_sample) {
      sample();
      next_sample += std::chrono::seconds(1);
      draw();
    }
  }
}

}  // namespace stallwatch::cli
