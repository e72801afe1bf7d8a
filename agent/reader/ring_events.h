#pragma once
// Drains one BPF ring buffer on a thread of its own and hands each record,
// copied out as T, to a callback. Destroy it before the programs that feed
// the ring buffer (declare it after their owner).
#include <bpf/libbpf.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>

#include "common/result.h"

namespace stallwatch::reader {

class RingEvents {
 public:
  // Called on the poll thread with each record; short records are skipped.
  using Raw = std::function<void(const void* data, std::size_t size)>;
  static Result<std::unique_ptr<RingEvents>> start(int ringbuf_fd, Raw callback);
  ~RingEvents();

  // A callback taking const T&: records shorter than T are dropped.
  template <typename T, typename F>
  static Result<std::unique_ptr<RingEvents>> start_typed(int ringbuf_fd, F callback) {
    return start(ringbuf_fd, [cb = std::move(callback)](const void* data, std::size_t size) {
      if (size < sizeof(T)) return;
      T record;
      std::memcpy(&record, data, sizeof(T));
      cb(record);
    });
  }

 private:
  RingEvents() = default;
  static int on_event(void* ctx, void* data, size_t size) noexcept;

  Raw callback_;
  ring_buffer* rb_ = nullptr;
  std::atomic<bool> stop_{false};
  std::jthread poller_;
};

}  // namespace stallwatch::reader
