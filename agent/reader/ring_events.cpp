#include "reader/ring_events.h"

#include <cerrno>

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
    while (!raw->stop_) ring_buffer__poll(raw->rb_, 100);
  });
  return events;
}

RingEvents::~RingEvents() {
  stop_ = true;
  if (poller_.joinable()) poller_.join();
  ring_buffer__free(rb_);
}

}  // namespace stallwatch::reader
