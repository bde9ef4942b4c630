#pragma once
// The scenario file: the user-facing description of a training job. Parsed once into an immutable, validated
// Scenario; the estimator never sees JSON. Every problem in a file is collected before failing, each naming the
// file, the JSON path and what was expected. SCHEMA.md beside this folder lists every key.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "flopcast/hardware/catalog.hpp"
#include "flopcast/models/architecture.hpp"
#include "flopcast/models/assumptions.hpp"
#include "flopcast/models/estimator.hpp"
#include "flopcast/sim/simulate.hpp"
#include "flopcast/models/plan.hpp"
#include "flopcast/scenarios/serving_scenario.hpp"
#include "flopcast/models/failures.hpp"
#include "flopcast/scenarios/failure_settings.hpp"

namespace flopcast {

struct Catalogs {
  Catalog hardware;
  ModelCatalog models;
  Assumptions assumptions;
  FailureData failures;  // component failure rates and whole-run defaults (models/data/failures.json)
};

// Loads everything under data_root() (or `root`).
Catalogs load_catalogs(const std::filesystem::path& root = data_root());

// A published measurement a scenario reproduces (scenarios/validation/): what `flopcast validate` compares with.
enum class PublishedMetric {
  step_time_s,
  tokens_per_s_per_chip,
  model_tflops_per_chip,
  hardware_tflops_per_chip,  // counts recompute FLOPs
  mfu,
  hfu
};
std::string_view to_string(PublishedMetric metric);
const std::vector<std::string>& published_metric_names();

// Micro-batches per optimizer step a scenario may ask for: every tier lays out the pipeline schedule micro-batch by
// micro-batch (2^40 sequences over dp 128 would take tens of GB).
inline constexpr long kMaxMicroBatches = 100000;

struct Published {
  std::string run;  // the run's id in calibration_runs.json
  PublishedMetric metric = PublishedMetric::step_time_s;
  double value = 0;
  std::string source;
  std::vector<std::string> assumed;  // what the publication left out and the scenario assumes
  // Non-empty: the run is validated but not fitted by `flopcast calibrate`, for this reason (its error comes from
  // what the model leaves out, which no kernel or collective efficiency should absorb).
  std::string validate_only;
  // The run's published peak memory per chip in GiB (0: not published) and what the figure counts.
  double peak_memory_gib = 0;
  std::string peak_memory_counts;
};

// The prediction of `metric` from an estimate (the same units as the published value).
double predicted_metric(PublishedMetric metric, const TrainingEstimate& estimate);

struct Scenario {
  std::string file;
  std::string name;
  std::string model_ref;  // the catalog id, "inline", or the HF config path
  TrainingJob job;
  std::vector<std::string> defaults_used;  // "cluster.node = hgx-h800 (the chip's default node)", ...
  nlohmann::json resolved;                 // the scenario with every default filled in
  std::optional<Published> published;
  // A deployment to serve (`flopcast serve`) rather than a job to train: job.model, job.cluster and job.costs
  // apply, job.plan and job.training do not.
  std::optional<ServingSection> serving;
  std::optional<FailureSettings> failures;  // the whole run is simulated when set ("failures" section, enabled)
  // "parallelism.pin": the plan search's dimensions (plan_dimensions()) kept at the file's values, sorted.
  std::vector<std::string> pinned;
  // "training.search_precisions": the precisions the plan search tries, each one the chip runs (empty: the job's).
  std::vector<Precision> search_precisions;
  // Prices taken from the catalog rather than given: they carry the catalog's range into the prediction intervals.
  struct CatalogPrices {
    bool chip = false;                // costs.usd_per_chip_hour or costs.ownership.chip_capex_usd
    bool node = false;                // costs.ownership.node_capex_usd
    std::vector<bool> stage_groups;   // per cluster.stage_chips entry
  } catalog_prices;
};

Scenario load_scenario(const std::filesystem::path& file, const Catalogs& catalogs);
// `file_label` names the source in messages; relative paths (hf_config) resolve against `base_dir`.
Scenario parse_scenario(const nlohmann::json& json, const std::string& file_label,
                        const std::filesystem::path& base_dir, const Catalogs& catalogs);

// A plan as the scenario's "parallelism" object, every key given.
nlohmann::json plan_to_json(const ParallelPlan& plan);

// The deployment of a scenario with a serving section; an InputError naming the file otherwise.
ServingJob serving_job(const Scenario& scenario);

// Tier 1 alone: the analytical estimate.
TrainingEstimate run_scenario(const Scenario& scenario, const Catalogs& catalogs);

// The one call behind every view (CLI, sweeps, reports, GUI): the scenario at the tier `options` asks for
// (replica, tier 2, by default). With failures enabled (and options.whole_run), the whole run is simulated too and
// the estimate's days, chip-hours, energy and cost are the whole run's (scenarios/whole_run.hpp).
SimResult simulate_scenario(const Scenario& scenario, const Catalogs& catalogs, const SimOptions& options = {});

// One JSON object with the results, the resolved scenario and the assumptions used.
nlohmann::json result_to_json(const Scenario& scenario, const TrainingEstimate& estimate, const Catalogs& catalogs);
// The same with the simulation's tier, per-device activity, busiest links and engine settings.
nlohmann::json result_to_json(const Scenario& scenario, const SimResult& result, const Catalogs& catalogs);

}  // namespace flopcast
