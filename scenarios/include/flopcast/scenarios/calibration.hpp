#pragma once
// Calibration: bounded least squares (Levenberg-Marquardt with box constraints, Eigen) of assumptions with a
// physical meaning against the published runs of scenarios/validation/, in tier 1. The residual of a run is
// log(predicted / published), so a 10 % miss weighs the same for step times and for throughputs.
//
// Fitted: large-GEMM efficiency (bf16 per chip family in the data, fp8 for families with fp8 runs), the GEMM size at
// half efficiency, the attention backward efficiency, the scale-out bus efficiency, and the fixed overheads per step
// and per layer. Each has bounds a measurement could reach; families with no runs keep their prior.

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "flopcast/scenarios/validation.hpp"

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

// Fits `prior` to the scenarios' published values; `progress(iteration, rms)` after each iteration.
CalibrationResult calibrate(const std::vector<Scenario>& scenarios, const Assumptions& prior,
                            const std::function<void(int, double)>& progress = {});

// models/data/calibration.json: the fitted values with their bounds and priors, the runs, the residuals.
nlohmann::json calibration_to_json(const CalibrationResult& result);

}  // namespace flopcast
