#include "common/names.h"

#include "stallwatch.h"

namespace stallwatch::names {

std::string probe_type_name(std::uint32_t type) {
  switch (type) {
    case SW_PROBE_TCP: return "tcp";
    case SW_PROBE_HTTP: return "http";
    case SW_PROBE_EXEC: return "exec";
    case SW_PROBE_GRPC: return "grpc";
    case SW_PROBE_HTTPS: return "https";
    default: return "type_" + std::to_string(type);
  }
}

std::string probe_result_name(std::uint32_t result) {
  switch (result) {
    case SW_PROBE_SUCCESS: return "success";
    case SW_PROBE_REFUSED: return "refused";
    case SW_PROBE_RESET: return "reset";
    case SW_PROBE_TIMEOUT: return "timeout";
    case SW_PROBE_FAILURE: return "failure";
    default: return "result_" + std::to_string(result);
  }
}

std::string probe_code_name(std::uint32_t type, std::uint32_t code) {
  if (code == 0) return "";
  if (type != SW_PROBE_GRPC) return std::to_string(code);
  switch (code) {
    case SW_GRPC_CODE(0): return "UNKNOWN";
    case SW_GRPC_CODE(1): return "SERVING";
    case SW_GRPC_CODE(2): return "NOT_SERVING";
    case SW_GRPC_CODE(3): return "SERVICE_UNKNOWN";
    default: return "status_" + std::to_string(code - 1);
  }
}

std::string fsync_op_name(std::uint32_t op) {
  switch (op) {
    case SW_OP_FSYNC: return "fsync";
    case SW_OP_FDATASYNC: return "fdatasync";
    case SW_OP_SYNC_FILE_RANGE: return "sync_file_range";
    case SW_OP_MSYNC: return "msync";
    case SW_OP_SYNCFS: return "syncfs";
    case SW_OP_URING_FSYNC: return "io_uring_fsync";
    case SW_OP_URING_SYNC_FILE_RANGE: return "io_uring_sync_file_range";
    case SW_OP_VFS_FSYNC: return "vfs_fsync";
    default: return "op_" + std::to_string(op);
  }
}

std::string block_op_name(std::uint32_t op) {
  switch (op) {
    case SW_BLK_READ: return "read";
    case SW_BLK_WRITE: return "write";
    case SW_BLK_FLUSH: return "flush";
    case SW_BLK_DISCARD: return "discard";
    case SW_BLK_OTHER: return "other";
    default: return "op_" + std::to_string(op);
  }
}

std::string file_class_name(std::uint32_t file_class) {
  return file_class == SW_FILE_WAL ? "wal" : file_class == SW_FILE_DB ? "db" : "other";
}

std::string block_phase_name(std::uint32_t phase) {
  return phase == SW_PHASE_QUEUE ? "queue" : phase == SW_PHASE_SERVICE ? "service" : "phase_" + std::to_string(phase);
}

std::string submitter_kind_name(std::uint32_t kind) {
  switch (kind) {
    case SW_KIND_USER: return "task";
    case SW_KIND_JOURNAL: return "journal";
    case SW_KIND_WRITEBACK: return "writeback";
    case SW_KIND_KWORKER: return "kworker";
    case SW_KIND_KTHREAD: return "kthread";
    default: return "kind_" + std::to_string(kind);
  }
}

DropName drop_name(std::uint32_t drop) {
  switch (drop) {
    case SW_DROP_FSYNC_INFLIGHT_FULL: return {"fsync", "inflight_map_full"};
    case SW_DROP_FSYNC_HIST_FULL: return {"fsync", "histogram_map_full"};
    case SW_DROP_BLOCK_INFLIGHT_FULL: return {"block", "inflight_map_full"};
    case SW_DROP_BLOCK_SERIES_FULL: return {"block", "series_map_full"};
    case SW_DROP_BLOCK_COMPLETION_MISSED: return {"block", "completion_missed"};
    case SW_DROP_BLOCK_UNMATCHED_COMPLETION: return {"block", "unmatched_completion"};
    case SW_DROP_CGROUP_RINGBUF_FULL: return {"cgroup", "ringbuf_full"};
    case SW_DROP_BLAME_RINGBUF_FULL: return {"blame", "ringbuf_full"};
    case SW_DROP_BLAME_SLOTS_FULL: return {"blame", "victim_slots_full"};
    case SW_DROP_BLAME_WINDOWS_FULL: return {"blame", "window_map_full"};
    case SW_DROP_BLAME_SERIES_FULL: return {"blame", "series_map_full"};
    case SW_DROP_PROBE_INFLIGHT_FULL: return {"probe", "inflight_map_full"};
    case SW_DROP_PROBE_SERIES_FULL: return {"probe", "series_map_full"};
    case SW_DROP_PROBE_RINGBUF_FULL: return {"probe", "ringbuf_full"};
    case SW_DROP_BLOCK_BIO_FULL: return {"block", "bio_map_full"};
    case SW_DROP_BLOCK_FLUSH_BY_FULL: return {"block", "flush_owner_map_full"};
    case SW_DROP_PROBE_FLOW_FULL: return {"probe", "flow_map_full"};
    case SW_DROP_BLOCK_COMPLETION_LOST: return {"block", "completion_lost"};
    default: return {"unknown", "unknown"};
  }
}

bool is_anomaly(std::uint32_t drop) {
  return drop == SW_DROP_BLOCK_COMPLETION_MISSED || drop == SW_DROP_BLOCK_UNMATCHED_COMPLETION ||
         drop == SW_DROP_BLOCK_COMPLETION_LOST;
}

std::string_view blame_kind_name(std::uint32_t kind) {
  static constexpr std::string_view names[SW_BLAME__KINDS] = {"own_io", "neighbor_io", "journal", "writeback",
                                                              "device", "cpu",         "other",   "cpu_throttled"};
  if (kind < SW_BLAME__KINDS) return names[kind];
  return "unknown";
}

}  // namespace stallwatch::names
