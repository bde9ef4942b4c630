#pragma once
// The scenario's optional "failures" section, validated: how the whole run is simulated (sim/whole_run.hpp). Values
// not given come from models/data/failures.json (FailureData) and are listed among the scenario's defaults.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "flopcast/core/json_reader.hpp"
#include "flopcast/models/failures.hpp"

namespace flopcast {

struct FailureSettings {
  std::optional<double> checkpoint_interval_s;  // none: "auto", the best interval the search finds
  double storage_bytes_per_s = 0;               // checkpoint writes and reads
  double checkpoint_bytes_per_param = 0;
  double restart_s = 0;
  double repair_s = 0;
  int hot_spare_nodes = 0;
  int draws = 1;
  std::uint64_t seed = 1;
  double failure_rate_factor = 1;               // multiplies every component's rate (what-if; 0: no failures)
  std::optional<StragglerModel> stragglers;     // none: stragglers off
};

// Reads "failures" from the scenario's root: none when the section is absent or says "enabled": false (its keys are
// still checked). `nodes` sizes the default spare pool. Defaults taken are appended to `defaults_used`.
std::optional<FailureSettings> read_failure_settings(JsonReader& root, const FailureData& data, int nodes,
                                                     std::vector<std::string>& defaults_used);

// The section with every default filled in (the resolved scenario's "failures").
nlohmann::json failure_settings_to_json(const FailureSettings& settings);

}  // namespace flopcast
