// Serving calibration: what no kernel measurement fixes (an engine step's fixed CPU-side time, a layer's launch and
// synchronisation cost, and how unevenly the served traffic loads the experts), fitted to the published serving
// figures on a grid, the same fit
// cross-validated leaving one source out, and the spread of the cross-validated errors that gives every serving
// figure its p10-p90 range.
#pragma once

#include <cmath>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "flopcast/models/assumptions.hpp"
#include "flopcast/scenarios/scenario.hpp"

namespace flopcast {

struct ServingOverheads {
  double per_step_s = 0;
  double per_layer_s = 0;
  double expert_load_cv = 0;  // Assumptions::serving_synthetic_expert_load_cv
};

struct ServingFitRun {
  std::size_t deployment = 0;  // its index in the deployments fitted
  std::string run;
  std::string group;  // its source and model: one publication's table for one model, left out together
  bool moe = false;
  double published = 0;
  std::vector<double> predicted;  // at each grid point
  std::string failure;            // why it could not be simulated (then it takes no part in the fit)
  std::size_t loso_point = 0;     // the grid point fitted without its group
  double log_error(std::size_t point) const { return std::log(predicted[point] / published); }
};

// The spread of a set of predictions' errors, and how often it holds for a group it did not see.
struct ServingSpread {
  double log_sigma_dense = 0;  // dense and MoE runs (log space)
  double log_sigma_moe = 0;
  double coverage = 0;  // share of runs inside their p10-p90 when the spread is made without their group
};

struct ServingFit {
  std::vector<ServingOverheads> grid;
  std::vector<ServingFitRun> runs;
  std::size_t best = 0;     // the grid point that fits every run best (in sample)
  std::size_t current = 0;  // the grid point of the assumptions in use (their errors are out of sample: no serving
                            // figure set them)
  ServingSpread at_current;  // the spread of the errors at the assumptions in use
  ServingSpread loso;        // the spread of the errors left one source out, each run at its fold's point
};

// The grid the fit searches: per-step overheads of 0.5-12 ms and per-layer ones of 0-50 us at the expert load in use,
// and expert-load coefficients of variation of 0-6 at the overheads in use, with the values in use (added when they
// are not on it).
std::vector<ServingOverheads> serving_overhead_grid(const Assumptions& assumptions);

// Each deployment with a published figure (lower bounds left out) simulated at every grid point; `progress` hears
// (done, total) after each simulation.
ServingFit fit_serving(const std::vector<Scenario>& deployments, const Assumptions& assumptions,
                       const std::vector<ServingOverheads>& grid,
                       const std::function<void(std::size_t, std::size_t)>& progress = {});

// The fit's choices from the runs' predictions (fit_serving's second half, apart for tests): the in-sample best (the
// least mean |log error|), each group's point chosen without it, and both spreads with their coverage.
void choose_serving_fit(ServingFit& fit);

// The log-space spread that puts 80 % of these |log errors| within p10-p90 of a log-normal (1.2816 sigma each side).
double log_sigma_covering(std::vector<double> abs_log_errors);

}  // namespace flopcast
