#pragma once
// Drains the cgroup mkdir/rmdir ring buffer on a thread of its own and hands
// each event to a callback. The ring buffer is destroyed before the loader's
// links and skeleton (declare this after them).
#include <bpf/libbpf.h>

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "common/result.h"
#include "stallwatch.h"

namespace stallwatch::reader {

class CgroupEvents {
 public:
  using Callback = std::function<void(const sw_cgroup_event&)>;
  static Result<std::unique_ptr<CgroupEvents>> start(int ringbuf_fd, Callback callback);
  ~CgroupEvents();

 private:
  CgroupEvents() = default;
  static int on_event(void* ctx, void* data, size_t size) noexcept;

  Callback callback_;
  ring_buffer* rb_ = nullptr;
  std::atomic<bool> stop_{false};
  std::jthread poller_;
};

}  // namespace stallwatch::reader
