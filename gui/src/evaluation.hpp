#pragma once
// The library calls behind every number the desktop app shows: a scenario's JSON (as edited) parsed by the same
// parser as the command line, simulated at a tier by simulate_scenario, and completed as a report shows it
// (report::scenario_result: intervals, sensitivities, assumptions). No formula here; the GUI only formats.

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flopcast/core/errors.hpp"
#include "flopcast/reports/report.hpp"

namespace flopcast::gui {

struct Evaluation {
  report::ScenarioResult result;                      // a training scenario's (empty for a serving deployment)
  std::shared_ptr<const report::ServingReport> serving;  // a serving deployment's; null for training
  // A deployment's throughput-interactivity curve on its chip (the serving search's front); made at tier 1 only,
  // null otherwise and for training.
  std::shared_ptr<const report::ServingCurve> serving_curve;
  Tier tier = Tier::analytical;
  double wall_s = 0;  // time spent in the library calls
};

// Parses `json` as the scenario file `label` (relative paths such as hf_config resolve against `base_dir`) and
// evaluates it at `tier` (with the Chrome trace recorded for the discrete-event tiers). A serving deployment is
// served as `flopcast serve` does: steady state at tier 1, request by request at the discrete-event tiers, with its
// throughput-interactivity curve on its chip (`flopcast serve --curve`). `whole_run` false leaves a
// failures section's Monte Carlo out (the what-if shows the step first, the whole run when it is ready). Throws
// InputError (every problem, with its JSON path), ModelError, or Cancelled when `cancel` is set during a simulation.
// `progress` hears the fraction of a discrete-event simulation done (SimOptions::progress).
Evaluation evaluate_scenario(const nlohmann::json& json, const std::string& label,
                             const std::filesystem::path& base_dir, const Catalogs& catalogs, Tier tier,
                             const std::atomic<bool>* cancel = nullptr, bool whole_run = true,
                             const std::function<void(double)>& progress = {});

// The report's data for scenarios already evaluated (every chip of `all_chips_of` in the export-control table when
// given, otherwise the chips the scenarios use), and the serving deployments evaluated at `serving_tier`.
report::ReportData report_data(const std::vector<report::ScenarioResult>& results, const Catalogs& catalogs,
                               bool all_catalog_chips = false, std::vector<report::ServingReport> serving = {},
                               Tier serving_tier = Tier::analytical);

}  // namespace flopcast::gui
