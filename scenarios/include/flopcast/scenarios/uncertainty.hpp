#pragma once
// Prediction intervals: p10 and p90 of step time, training days, cost and $ per million tokens.
//
// Two kinds of uncertainty, combined by Monte Carlo over a first-order (log-linear) model:
//   - the model's own error: log(predicted / measured) ~ Normal(0, sigma), with sigma the cross-validated spread of
//     the tier (Assumptions::prediction_spread): the calibrated spread when every chip family used had calibration
//     runs, the wider leave-one-family-out spread otherwise;
//   - the catalog inputs given as a range (low, value, high): disputed peak FLOP/s, estimated bandwidths, latencies,
//     power, prices taken from the catalog. Each is drawn from a triangular distribution on its range; its effect is
//     the tier-1 step time and cost with the input at its low and at its high end, interpolated in log space.
// The model error scales time, and cost with it (rental and depreciation are paid per hour, electricity per hour of
// power); inputs act through their own estimates. Inputs are independent. The seed is fixed: the same scenario gives
// the same interval.

#include <string>
#include <vector>

#include "flopcast/scenarios/scenario.hpp"

namespace flopcast {

// The standard normal's 90th percentile: p10-p90 of a log-normal spans +-kNormalZ90 sigma.
inline constexpr double kNormalZ90 = 1.2815515655446004;

struct WholeRunResult;  // flopcast/sim/whole_run.hpp

struct Interval {
  double p10 = 0;
  double p90 = 0;
};

// One catalog input with a range, and what its ends do to the tier-1 prediction (ratios to the central one).
struct UncertainInput {
  std::string name;  // "ascend-910b peak_dense.bf16"
  std::string unit;  // the catalog's unit; low, value and high are in it
  double low = 0;
  double value = 0;
  double high = 0;
  double step_ratio_low = 1;
  double step_ratio_high = 1;
  double cost_ratio_low = 1;
  double cost_ratio_high = 1;
};

struct PredictionIntervals {
  double model_log_sigma = 0;
  bool calibrated = false;  // every chip family used had calibration runs
  std::string spread_slice;  // "hopper/dense": the calibration slice whose own spread applies; empty when none does
  std::string spread_source;
  int samples = 0;
  std::vector<UncertainInput> inputs;  // those that move step time or cost by 0.5 % or more, the largest first
  Interval step_time_s;
  Interval train_days;
  Interval cost_usd;
  Interval usd_per_mtok;
  Interval usd_per_hour;  // what the cluster costs per hour of running: catalog ranges only, no model error
  Interval chip_hours;
  Interval tokens_per_s_per_chip;
  Interval mfu;           // against the catalog's bf16 peak, as the central value
  // With a whole-run simulation: the spread of its Monte Carlo wall time, in log space below and above its median
  // (ln(p50 / p10) / z90 and ln(p90 / p50) / z90). It widens days, chip-hours and cost, not the step.
  double run_log_sigma_low = 0;
  double run_log_sigma_high = 0;
};

// Intervals around `central`, the prediction of `scenario` at `tier` (with the catalogs' assumptions). With
// `whole_run` (failures simulated; `central` then holds its median days), days and cost also carry the run's own
// spread, independent of the model's error.
PredictionIntervals prediction_intervals(const Scenario& scenario, const TrainingEstimate& central, Tier tier,
                                         const Catalogs& catalogs, const WholeRunResult* whole_run = nullptr);

}  // namespace flopcast
