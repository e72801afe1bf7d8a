#pragma once
// Loading shared by `run` and `doctor`: flags -> configs -> ladders.
#include <optional>
#include <vector>

#include "blame/victims.h"
#include "cli/options.h"
#include "common/result.h"
#include "loader/blame_probes.h"
#include "loader/blkio_probes.h"
#include "loader/fsync_probes.h"
#include "loader/probe_probes.h"
#include "loader/tracefs.h"

namespace stallwatch::cli {

struct Configs {
  loader::FsyncConfig fsync;
  loader::BlockConfig block;
  loader::BlameConfig blame;
  std::vector<blame::VictimSelector> victims;
  loader::ProbeConfig probe;
};

// Usage errors (unknown hook, unknown device) before anything loads.
// "kubelet,k3s-server" -> names, each 1 to 15 characters, at most 4.
Result<std::vector<std::string>> parse_prober_comms(const std::string& text);
Result<Configs> parse_configs(const Options& options);

struct Loaded {
  std::optional<loader::BlameProbes> blame;  // empty with --blame-hook=off; loads first
  loader::FsyncProbes fsync;
  std::optional<loader::BlockProbes> block;  // empty with --block-hook=off
  std::optional<loader::ProbeProbes> probe;  // empty with --probe-hook=off or where it cannot load
};

// The rung an optional subsystem runs on; off when it did not load.
template <typename Probes>
loader::Rung rung_of(const std::optional<Probes>& probes) {
  return probes ? probes->rung() : loader::Rung::kOff;
}

// Loads every subsystem; report gets one line per rung tried. The blame
// engine loads first: the fsync and block objects share its maps.
Result<Loaded> load_all(Configs& configs, const Result<loader::Tracefs>& tracefs,
                        std::vector<loader::RungReport>& report);

}  // namespace stallwatch::cli
