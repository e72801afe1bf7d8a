#include "cli/startup.h"

#include "common/duration.h"
#include "identity/device_names.h"

namespace stallwatch::cli {

Result<std::vector<std::string>> parse_prober_comms(const std::string& text) {
  std::vector<std::string> out;
  std::size_t at = 0;
  for (;;) {
    const std::size_t comma = text.find(',', at);
    const std::string name = text.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    if (name.empty() || name.size() > 15) {
      return fail("--prober-comm '" + text + "': each process name is 1 to 15 characters, comma-separated");
    }
    out.push_back(name);
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  if (out.size() > 4) return fail("--prober-comm '" + text + "': at most 4 process names");
  return out;
}

Result<Configs> parse_configs(const Options& options) {
  Configs c;
  auto fsync_hook = loader::parse_fsync_hook(options.fsync_hook);
  if (!fsync_hook) return std::unexpected(fsync_hook.error());
  c.fsync.hook = *fsync_hook;
  c.fsync.hist_entries = options.fsync_map_entries;
  auto block_hook = loader::parse_block_hook(options.block_hook);
  if (!block_hook) return std::unexpected(block_hook.error());
  c.block.hook = *block_hook;
  c.block.io_entries = options.block_map_entries;
  auto blame_hook = loader::parse_blame_hook(options.blame_hook);
  if (!blame_hook) return std::unexpected(blame_hook.error());
  c.blame = {*blame_hook, options.blame_map_entries};
  for (const auto& text : options.victims) {
    auto selector = blame::VictimSelector::parse(text);
    if (!selector) return std::unexpected(selector.error());
    c.victims.push_back(std::move(*selector));
  }
  auto slow = parse_duration_ns(options.slow_threshold);
  if (!slow) return fail("--slow-threshold: " + slow.error().message);
  c.fsync.slow_ns = *slow;
  auto probe_hook = loader::parse_probe_hook(options.probe_hook);
  if (!probe_hook) return std::unexpected(probe_hook.error());
  auto comms = parse_prober_comms(options.prober_comm);
  if (!comms) return std::unexpected(comms.error());
  auto probe_slow = parse_duration_ns(options.probe_slow_threshold);
  if (!probe_slow) return fail("--probe-slow-threshold: " + probe_slow.error().message);
  auto probe_max = parse_duration_ns(options.probe_max_duration);
  if (!probe_max) return fail("--probe-max-duration: " + probe_max.error().message);
  if (*probe_max < 1'000'000'000) return fail("--probe-max-duration: at least 1s (the kubelet's shortest timeout)");
  c.probe = {*probe_hook, std::move(*comms), *probe_slow, *probe_max, {}};
  const identity::DeviceNames names;
  for (const auto& name : options.devices) {
    auto dev = names.disk_by_name(name);
    if (!dev) return fail("--devices: " + dev.error().message);
    c.block.devices.push_back(*dev);
  }
  return c;
}

Result<Loaded> load_all(Configs& configs, const Result<loader::Tracefs>& tracefs,
                        std::vector<loader::RungReport>& report) {
  std::optional<loader::BlameProbes> blame;
  if (configs.blame.hook == loader::Rung::kOff) {
    report.push_back({"blame", loader::Rung::kOff, true, "no blame windows (--blame-hook=off)"});
  } else {
    auto probes = loader::BlameProbes::load(configs.blame, report);
    if (probes) {
      blame.emplace(std::move(*probes));
      configs.fsync.blame_maps = blame->maps();
      configs.block.blame_maps = blame->maps();
    } else if (configs.blame.hook != loader::Rung::kAuto) {
      return std::unexpected(probes.error());
    } else {
      // Latency and I/O metrics do not need it: run without blame.
      report.push_back({"blame", loader::Rung::kOff, true, "no blame windows: " + probes.error().message});
    }
  }
  auto fsync = loader::FsyncProbes::load(configs.fsync, tracefs, report);
  if (!fsync) return std::unexpected(fsync.error());
  Loaded loaded{std::move(blame), std::move(*fsync), std::nullopt, std::nullopt};
  if (configs.probe.hook == loader::Rung::kOff) {
    report.push_back({"probe", loader::Rung::kOff, true, "probes not traced (--probe-hook=off)"});
  } else {
    auto probe = loader::ProbeProbes::load(configs.probe, report);
    if (probe) {
      loaded.probe.emplace(std::move(*probe));
    } else if (configs.probe.hook != loader::Rung::kAuto) {
      return std::unexpected(probe.error());
    } else {
      report.push_back({"probe", loader::Rung::kOff, true, "probes not traced: " + probe.error().message});
    }
  }
  if (configs.block.hook == loader::Rung::kOff) {
    report.push_back({"block", loader::Rung::kOff, true, "block layer not traced (--block-hook=off)"});
    return loaded;
  }
  auto block = loader::BlockProbes::load(configs.block, tracefs, report);
  if (!block) return std::unexpected(block.error());
  loaded.block.emplace(std::move(*block));
  return loaded;
}

}  // namespace stallwatch::cli
