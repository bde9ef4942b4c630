// The serving fit's choices, on made-up predictions whose answers are known by hand.

#include <cmath>

#include "flopcast/studies/serving_fit.hpp"
#include "flopcast/studies/validation.hpp"
#include "helpers.hpp"

namespace flopcast {
namespace {

using Catch::Matchers::WithinRel;

ServingFitRun run(std::string group, bool moe, std::vector<double> predicted) {
  ServingFitRun r;
  r.run = group + "-run";
  r.group = std::move(group);
  r.moe = moe;
  r.published = 100.0;
  r.predicted = std::move(predicted);
  return r;
}

TEST_CASE("the 80 % spread: the nearest-rank 80th percentile of |log error| over 1.2816", "[serving][fit]") {
  // Ten errors 0.01 ... 0.10: the 8th, 0.08, holds 80 % of them: sigma = 0.08 / 1.2816 = 0.062422...
  std::vector<double> errors;
  for (int i = 10; i >= 1; --i) errors.push_back(0.01 * i);
  CHECK_THAT(log_sigma_covering(errors), WithinRel(0.08 / kNormalZ90, 1e-12));
  CHECK(log_sigma_covering({}) == 0.0);
}

TEST_CASE("leave one source out picks each group's point without it", "[serving][fit]") {
  // Two grid points. Groups a and b (two runs each) are right at point 0 and 20 % high at point 1; group c (two runs)
  // is 25 % low at point 0 and right at point 1. Mean |log error| in sample: point 0, 2 x 0.2877 / 6 = 0.096; point
  // 1, 4 x 0.1823 / 6 = 0.122: point 0. Without a: point 0, 2 x 0.2877 / 4 = 0.144; point 1, 2 x 0.1823 / 4 =
  // 0.091: point 1 (and so without b). Without c: point 0 fits a and b exactly.
  ServingFit fit;
  fit.grid = {{0.001, 0.0}, {0.002, 0.0}};
  fit.runs = {run("a", false, {100, 120}), run("a", false, {100, 120}), run("b", false, {100, 120}),
              run("b", false, {100, 120}), run("c", true, {75, 100}),   run("c", true, {75, 100})};
  choose_serving_fit(fit);
  CHECK(fit.best == 0);
  CHECK(fit.runs[0].loso_point == 1);
  CHECK(fit.runs[2].loso_point == 1);
  CHECK(fit.runs[4].loso_point == 0);
  // At the point in use (0), the dense runs are exact (sigma 0) and the MoE ones 25 % low: sigma = |log 0.75| /
  // 1.2816. Without its own group no MoE run is left, so an MoE run takes the dense runs' spread (0) and falls
  // outside: 4 of 6 inside.
  CHECK(fit.at_current.log_sigma_dense == 0.0);
  CHECK_THAT(fit.at_current.log_sigma_moe, WithinRel(std::abs(std::log(0.75)) / kNormalZ90, 1e-12));
  CHECK_THAT(fit.at_current.coverage, WithinRel(4.0 / 6.0, 1e-12));
  // Left one source out, a and b sit at point 1 (20 % high), c at point 0 (25 % low). A dense run of a takes b's
  // spread (|log 1.2| / 1.2816) and falls just inside it; an MoE run takes the dense runs' (log 1.2 / 1.2816), which
  // its |log 0.75| exceeds: 4 of 6.
  CHECK_THAT(fit.loso.log_sigma_dense, WithinRel(std::log(1.2) / kNormalZ90, 1e-12));
  CHECK_THAT(fit.loso.coverage, WithinRel(4.0 / 6.0, 1e-12));
}

}  // namespace
}  // namespace flopcast
