#include "cli/startup.h"

#include "identity/device_names.h"

namespace stallwatch::cli {

Result<Configs> parse_configs(const Options& options) {
  Configs c;
  auto fsync_hook = loader::parse_fsync_hook(options.fsync_hook);
  if (!fsync_hook) return std::unexpected(fsync_hook.error());
  c.fsync = {*fsync_hook, options.fsync_map_entries};
  auto block_hook = loader::parse_block_hook(options.block_hook);
  if (!block_hook) return std::unexpected(block_hook.error());
  c.block.hook = *block_hook;
  c.block.io_entries = options.block_map_entries;
  const identity::DeviceNames names;
  for (const auto& name : options.devices) {
    auto dev = names.disk_by_name(name);
    if (!dev) return fail("--devices: " + dev.error().message);
    c.block.devices.push_back(*dev);
  }
  return c;
}

Result<Loaded> load_all(const Configs& configs, const Result<loader::Tracefs>& tracefs,
                        std::vector<loader::RungReport>& report) {
  auto fsync = loader::FsyncProbes::load(configs.fsync, tracefs, report);
  if (!fsync) return std::unexpected(fsync.error());
  Loaded loaded{std::move(*fsync), std::nullopt};
  if (configs.block.hook == loader::BlockHook::kOff) {
    report.push_back({"block", "off", true, "block layer not traced (--block-hook=off)"});
    return loaded;
  }
  auto block = loader::BlockProbes::load(configs.block, tracefs, report);
  if (!block) return std::unexpected(block.error());
  loaded.block.emplace(std::move(*block));
  return loaded;
}

}  // namespace stallwatch::cli
