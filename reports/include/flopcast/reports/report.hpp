#pragma once
// Cost comparison reports: what the numbers are (compute_report: every scenario at the asked tier with its p10-p90
// intervals, a tier-1 sensitivity of cost and days to each uncertain input, each sweep at tier 1, the claims), then
// the report as a Document (build_document: summary, a paragraph per scenario written from the numbers, charts,
// export-control classification, assumptions with their sources, versions and the resolved scenarios).
// No Qt here; charts.hpp renders the Document's charts.

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "flopcast/hardware/export_control.hpp"
#include "flopcast/reports/document.hpp"
#include "flopcast/studies/claims.hpp"
#include "flopcast/scenarios/scenario.hpp"
#include "flopcast/studies/serving_search.hpp"
#include "flopcast/studies/sweep.hpp"
#include "flopcast/scenarios/uncertainty.hpp"

namespace flopcast::report {

struct ReportOptions {
  Tier tier = Tier::replica;  // the scenarios' tier; sweeps and sensitivities run at tier 1
  // The sensitivity's swing on a price the scenario gives itself (a catalog price swings over its catalog range):
  // a fraction either way.
  double price_swing = 0.25;
  // Deadlines of the chips-against-deadline chart, in days.
  std::vector<double> deadlines_days{30, 45, 60, 90, 120, 180, 270, 365};
  std::string title = "flopcast cost comparison";
  std::function<void(const std::string&)> progress;  // one line per step; may be empty
};

// One uncertain input at its low and high end, and what that does to tier 1: ratios to the central tier-1 days and
// cost (1.1: 10 % more).
struct Sensitivity {
  std::string input;  // "ascend-910b peak_dense.bf16 (280 to 400 TFLOP/s)"
  double days_ratio_low = 1;
  double days_ratio_high = 1;
  double cost_ratio_low = 1;
  double cost_ratio_high = 1;
  double swing() const;  // the largest change of days or cost, as a fraction
};

struct ScenarioResult {
  Scenario scenario;
  SimResult result;  // at ReportOptions::tier
  PredictionIntervals intervals;
  TrainingEstimate tier1;  // the central tier-1 estimate the sensitivities start from
  std::vector<Sensitivity> sensitivities;  // the widest swing in cost first
  nlohmann::json assumptions;              // result_to_json's "assumptions": the catalog figures used, with sources
};

// A scenario with a serving section: the deployment served (`flopcast serve`'s result).
struct ServingReport {
  Scenario scenario;
  ServingResult result;
};

// The throughput-interactivity curve of one served model on the chip types the report's deployments of it use
// (flopcast serve --curve): per chip type, the Pareto front of the serving search's plans and batches.
struct ServingCurve {
  std::string model;         // the catalog id
  std::string scenario;      // the deployment searched (its workload, SLO and weights)
  std::vector<std::string> chips;
  std::vector<std::vector<ServingChoice>> fronts;  // per chip, by falling tokens/s per user
};

struct SweepResult {
  Sweep sweep;
  std::vector<nlohmann::json> rows;  // evaluate_sweep_point, in point order
};

struct ReportData {
  std::vector<ScenarioResult> scenarios;
  std::vector<ServingReport> serving;  // scenarios with a serving section, at tier 1 or the request-level simulation
  std::vector<ServingCurve> serving_curves;  // per model served, over the chip types its deployments use
  std::vector<SweepResult> sweeps;
  std::vector<ClaimResult> claims;
  Tier tier = Tier::replica;
  double price_swing = 0;
  std::vector<double> deadlines_days;
  std::string title;
  std::string catalog_version;
  std::vector<Chip> chips_used;  // by the scenarios, the sweeps' points and the claims, in order of first use
};

// Whether a JSON file is a sweep (a "base" and "axes") rather than a scenario.
bool is_sweep_file(const std::filesystem::path& file);

// Every input file (scenarios and sweeps, in the order given) and the claim files of `claims_dir` (none when empty).
// InputError listing every problem of every file before anything runs.
ReportData compute_report(const std::vector<std::string>& files, const std::string& claims_dir,
                          const Catalogs& catalogs, const ReportOptions& options);

// One training scenario as a report shows it, from its result at some tier (simulate_scenario): the tier-1
// estimate, the p10-p90 intervals, the sensitivities and the assumptions used. The desktop app calls it too.
// ModelError when tier 1 cannot evaluate the scenario.
ScenarioResult scenario_result(Scenario scenario, SimResult result, const Catalogs& catalogs, double price_swing);

// The chips of `scenarios` (each stage group's too), in order of first use: the export-control section's rows.
std::vector<Chip> chips_used(const std::vector<ScenarioResult>& scenarios);

// Tier-1 sensitivities of one scenario: each catalog range, the price (its catalog range or +-price_swing), the
// chip family's kernel efficiencies scaled by the model's own spread, exp(+-sigma).
std::vector<Sensitivity> sensitivities(const Scenario& scenario, const TrainingEstimate& tier1,
                                       const PredictionIntervals& intervals, double price_swing,
                                       const Catalogs& catalogs);

// The chips of the scenario's chip needed to train its tokens within `deadline_days`, scaling its throughput per
// chip (whole nodes, rounded up): chips x train_days / deadline.
double chips_for_deadline(const ScenarioResult& result, double deadline_days);

Document build_document(const ReportData& data);

// Versions for the report: the tool, `git describe` of the source at build time (empty if unknown).
std::string tool_version();
std::string source_revision();

}  // namespace flopcast::report
