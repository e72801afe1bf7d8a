#pragma once
// The one table of label values for the kernel's enums (bpf/stallwatch.h):
// every exporter, the event log and the report name things through here.
// A value this build does not know gets "<what>_<n>", so a newer kernel side
// never makes a series vanish.
#include <cstdint>
#include <string>
#include <string_view>

namespace stallwatch::names {

std::string fsync_op_name(std::uint32_t op);  // enum sw_fsync_op: the `op` label
std::string block_op_name(std::uint32_t op);  // enum sw_blk_op
std::string file_class_name(std::uint32_t file_class);
std::string block_phase_name(std::uint32_t phase);    // queue, service
std::string submitter_kind_name(std::uint32_t kind);  // task, journal, writeback, kworker, kthread
std::string probe_type_name(std::uint32_t type);
std::string probe_result_name(std::uint32_t result);
// The answer a network probe got: the HTTP status ("503"), the gRPC health
// status ("NOT_SERVING"); "" when none was read.
std::string probe_code_name(std::uint32_t type, std::uint32_t code);
std::string_view blame_kind_name(std::uint32_t kind);  // the `kind` label of blamed time

struct DropName {
  const char* source;
  const char* reason;
};
DropName drop_name(std::uint32_t drop);  // stallwatch_events_lost_total{source,reason}
// The block layer's own accounting quirks (a completion never reported, one
// for a request never issued): nothing of ours is lost, so they are counted
// in stallwatch_block_anomalies_total{reason}, not as lost events.
bool is_anomaly(std::uint32_t drop);

}  // namespace stallwatch::names
