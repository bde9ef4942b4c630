#pragma once
// Failure rates per component and the defaults of the whole-run model, loaded from models/data/failures.json where
// each number carries its source or its reasoning. Rates are per chip-hour or per node-hour of running; the whole-run
// model (sim/whole_run.hpp) multiplies them by the job's chip and node counts.

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "flopcast/core/units.hpp"

namespace flopcast {

enum class FailureScope { chip, node };

struct FailureComponent {
  std::string id;     // "gpu_hbm"
  std::string label;  // "GPU HBM3 memory"
  FailureScope scope = FailureScope::chip;
  double failures_per_unit_hour = 0;  // per chip-hour or per node-hour, as `scope` says
  bool replaces_node = true;          // the node goes to repair (a hot spare takes its place); else a restart only
};

// A synchronous step waits for its slowest chip. Each chip is persistently slow (by `slow_factor`) with probability
// `slow_fraction`, and every step its time is also multiplied by exp(jitter_sigma x Z), Z ~ Normal(0, 1).
struct StragglerModel {
  double slow_fraction = 0;
  double slow_factor = 1;
  double jitter_sigma = 0;
};

struct FailureData {
  std::vector<FailureComponent> components;
  double restart_s = 600;
  double repair_s = 86400;
  double storage_bytes_per_s = 2e12;
  double checkpoint_bytes_per_param = 14;
  double hot_spare_fraction = 0.005;  // of the job's nodes
  int draws = 1000;
  StragglerModel stragglers;
  // Every value as read, with its provenance, for the results' assumptions list ("failures.gpu_hbm", ...).
  std::vector<std::pair<std::string, Quantity>> provenance;
};

FailureData load_failure_data(const std::filesystem::path& root);

}  // namespace flopcast
