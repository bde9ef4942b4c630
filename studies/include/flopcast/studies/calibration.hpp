#pragma once
// Calibration: bounded least squares (Levenberg-Marquardt with box constraints, Eigen) of assumptions with a
// physical meaning against the published runs of scenarios/validation/, in tier 1. The residual of a run is
// log(predicted / published), so a 10 % miss weighs the same for step times and for throughputs.
//
// Fitted: large-GEMM efficiency (bf16 per chip family in the data, fp8 for families with fp8 runs), the GEMM size at
// half efficiency, the attention backward and memory-bound kernel efficiencies, the NVLink-switch and scale-out bus
// efficiencies, and the fixed overheads per step and per layer. Each has bounds a measurement could reach; families with no runs keep their prior.

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "flopcast/studies/validation.hpp"

namespace flopcast {

struct FittedParameter {
  std::string name;  // as in the assumptions list: "kernels.hopper.gemm_bf16"
  std::string unit;  // of `low`, `high`, `prior`, `value`: fraction, elements, s
  double low = 0;
  double high = 1;
  double prior = 0;
  double value = 0;
  bool at_bound() const;
};

struct CalibrationResult {
  std::vector<FittedParameter> parameters;
  std::vector<std::string> runs;
  std::vector<double> error_before_pct;  // tier 1, per run, with the prior
  std::vector<double> error_after_pct;   // with the fitted values
  double rms_log_before = 0;
  double rms_log_after = 0;
  int iterations = 0;
  ErrorStats before() const { return error_stats(error_before_pct); }
  ErrorStats after() const { return error_stats(error_after_pct); }
};

// The parameters worth fitting for these scenarios (families present in them), with their bounds and priors.
std::vector<FittedParameter> calibration_parameters(const std::vector<Scenario>& scenarios, const Assumptions& prior);

// Whether `calibrate` fits to the scenario: it has a published run that is not validate_only.
bool fitted_run(const Scenario& s);

// Fits `prior` to the scenarios' published values (validate_only runs left out; cross_validate leaves them out of
// every fold's fit and still predicts them); `progress(iteration, rms)` after each iteration.
CalibrationResult calibrate(const std::vector<Scenario>& scenarios, const Assumptions& prior,
                            const std::function<void(int, double)>& progress = {});

// `prior` with the fitted values of `result`.
Assumptions fitted_assumptions(const CalibrationResult& result, const Assumptions& prior);

// Honest generalisation: each run predicted, at both validation tiers, by a calibration that never saw it (leave one
// out), and by one that saw no run of its chip family (leave one family out: the family's kernels keep their prior,
// as for a chip with no calibration data). Errors in percent per run, in the order of the scenarios.
// What a cross-validation fold leaves out: one run, every run of one source (a publication or benchmark table:
// run_source), or every run of one chip family.
enum class Holdout { run, source, family };

struct CrossValidation {
  std::vector<std::string> runs;
  std::vector<std::string> families;
  std::vector<bool> moe;     // per run: a mixture-of-experts model
  std::vector<bool> fitted;  // per run: fitted (not validate_only)
  std::array<std::vector<double>, 2> loo_error_pct;   // per kValidationTiers
  std::array<std::vector<double>, 2> loso_error_pct;  // empty when the runs come from a single source
  std::array<std::vector<double>, 2> lofo_error_pct;  // empty when the runs cover a single family
  const std::array<std::vector<double>, 2>& error_pct(Holdout holdout) const {
    return holdout == Holdout::run ? loo_error_pct : holdout == Holdout::source ? loso_error_pct : lofo_error_pct;
  }
  // The log spread a prediction interval draws on: sigma such that 80 % of |log(predicted / published)| lie within
  // 1.2816 sigma (the 80th percentile over 1.2816), so that p10-p90 holds 80 % of these errors. A percentile, not an
  // rms: a few runs off by 2x widen every interval through an rms, and leave a percentile alone.
  static double spread_log_sigma(const std::vector<double>& errors_pct);
};

// One calibration per fold (tier 1; folds that hold out validate_only runs alone share one), `threads` at a time;
// `progress(fits done, fits)` after each.
CrossValidation cross_validate(const std::vector<Scenario>& scenarios, const Assumptions& prior, int threads,
                               const std::function<void(int, int)>& progress = {});

// The cross-validated errors as a table (CSV) and as summaries like validate's (Markdown), beside `rows`, the
// in-sample validation of the same scenarios in the same order.
std::string cross_validation_csv(const std::vector<ValidationRow>& rows, const CrossValidation& cv);
std::string cross_validation_markdown(const std::vector<ValidationRow>& rows, const CrossValidation& cv);
// Summaries of the errors with `holdout` left out of each fit.
std::vector<ErrorSummary> cross_validation_summaries(const std::vector<ValidationRow>& rows, const CrossValidation& cv,
                                                     Holdout holdout);

// models/data/calibration.json: the fitted values with their bounds and priors, the runs, the residuals; with `cv`,
// the prediction spread per tier (CrossValidation::spread_log_sigma of the leave-one-source-out errors for the
// families calibrated (leave one out where the runs come from a single source), over them all and per slice of 5
// runs or more (family, family/dense, family/moe); of the leave-one-family-out errors for the others; the prior's
// where the runs cover a single family). `runs_source` names where the runs came from, for the provenance.
nlohmann::json calibration_to_json(const CalibrationResult& result, const CrossValidation* cv = nullptr,
                                   const Assumptions* prior = nullptr,
                                   const std::string& runs_source = "shared/data/calibration_runs.json (scenarios/validation)");

}  // namespace flopcast
