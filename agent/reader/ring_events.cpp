#include "reader/ring_events.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>

namespace stallwatch::reader {

int RingEvents::on_event(void* ctx, void* data, size_t size) noexcept {
  try {
    static_cast<RingEvents*>(ctx)->callback_(data, size);
  } catch (...) {
    // Nothing may cross back into libbpf's C frames.
  }
  return 0;
}

Result<std::unique_ptr<RingEvents>> RingEvents::start(int ringbuf_fd, Raw callback) {
  std::unique_ptr<RingEvents> events(new RingEvents());
  events->callback_ = std::move(callback);
  events->rb_ = ring_buffer__new(ringbuf_fd, &RingEvents::on_event, events.get(), nullptr);
  if (!events->rb_) return fail("open ring buffer: " + errno_text(errno));
  events->poller_ = std::jthread([raw = events.get()] {
    std::uint64_t failures = 0;
    while (!raw->stop_) {
      const int n = ring_buffer__poll(raw->rb_, 100);
      // EINTR is a signal (SIGTERM on the way out); anything else means the
      // records stopped flowing: say so once, then every 600th time (about
      // a minute), and back off rather than spin.
      if (n >= 0 || n == -EINTR) continue;
      if (failures++ % 600 == 0) {
        spdlog::error("ring buffer poll failed ({} times): {}", failures, errno_text(n));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  return events;
}

RingEvents::~RingEvents() {
  stop_ = true;
  if (poller_.joinable()) poller_.join();
  ring_buffer__free(rb_);
}

}  // namespace stallwatch::reader
