#include "reader/cgroup_events.h"

#include <cerrno>

namespace stallwatch::reader {

int CgroupEvents::on_event(void* ctx, void* data, size_t size) noexcept {
  if (size < sizeof(sw_cgroup_event)) return 0;
  sw_cgroup_event e;
  __builtin_memcpy(&e, data, sizeof(e));
  e.path[SW_CGROUP_PATH_MAX - 1] = '\0';
  try {
    static_cast<CgroupEvents*>(ctx)->callback_(e);
  } catch (...) {
    // Nothing may cross back into libbpf's C frames.
  }
  return 0;
}

Result<std::unique_ptr<CgroupEvents>> CgroupEvents::start(int ringbuf_fd, Callback callback) {
  std::unique_ptr<CgroupEvents> events(new CgroupEvents());
  events->callback_ = std::move(callback);
  events->rb_ = ring_buffer__new(ringbuf_fd, &CgroupEvents::on_event, events.get(), nullptr);
  if (!events->rb_) return fail("open cgroup event ring buffer: " + errno_text(errno));
  events->poller_ = std::jthread([raw = events.get()] {
    while (!raw->stop_) ring_buffer__poll(raw->rb_, 100);
  });
  return events;
}

CgroupEvents::~CgroupEvents() {
  stop_ = true;
  if (poller_.joinable()) poller_.join();
  ring_buffer__free(rb_);
}

}  // namespace stallwatch::reader
