// Prediction intervals: the model spread, catalog ranges, and their combination.

#include <cmath>

#include "flopcast/core/files.hpp"
#include "flopcast/scenarios/uncertainty.hpp"
#include "flopcast/sim/whole_run.hpp"
#include "helpers.hpp"

namespace flopcast {

namespace {

// A small H100 job whose catalog inputs carry no range that matters, with a price the scenario gives.
nlohmann::json h100_job() {
  return {{"model", "llama3-8b"},
          {"cluster", {{"chip", "h100-sxm"}, {"chips", 64}}},
          {"parallelism", {{"tp", 1}, {"pp", 1}, {"dp", 64}, {"zero", 1}, {"recompute", "selective"}}},
          {"training", {{"seq_len", 8192}, {"global_batch", 512}, {"tokens", 1e12}}},
          {"costs", {{"usd_per_chip_hour", 2.0}}}};
}

// The same on Ascend 910B, whose bf16 peak is disputed (320 TFLOP/s, range 280-400) and whose rental price comes
// from the catalog (1.4 $/h, range 1.0-2.0).
nlohmann::json ascend_job() {
  auto j = h100_job();
  j["cluster"]["chip"] = "ascend-910b";
  j.erase("costs");
  return j;
}

// The catalogs with a known spread: 0.1 for calibrated families (hopper only), 0.2 for the others.
Catalogs with_spread(double calibrated, double uncalibrated) {
  Catalogs c = test::catalogs();
  c.assumptions.prediction_spread[0] = {calibrated, uncalibrated, {}};
  c.assumptions.prediction_spread[1] = {calibrated, uncalibrated, {}};
  c.assumptions.calibrated_families = {"hopper"};
  return c;
}

}  // namespace

TEST_CASE("the model spread alone gives p10 and p90 at exp(-+1.2816 sigma)", "[uncertainty]") {
  const auto catalogs = with_spread(0.1, 0.2);
  const auto s = test::scenario_from(h100_job());
  const auto e = estimate_training(s.job, catalogs.assumptions);
  const auto p = prediction_intervals(s, e, Tier::analytical, catalogs);
  CHECK(p.calibrated);
  CHECK(p.model_log_sigma == 0.1);
  CHECK(p.inputs.empty());  // no range moves this job by 0.5 %; the price is the scenario's own
  // Normal quantiles: z(0.9) = 1.2816, so p90 / central = exp(0.12816) = 1.1367 and p10 / central = 0.8797.
  // 4,000 draws put the sample quantile within about 1 % of it.
  CHECK_THAT(p.step_time_s.p90 / e.step_time_s, Catch::Matchers::WithinRel(1.1367, 0.01));
  CHECK_THAT(p.step_time_s.p10 / e.step_time_s, Catch::Matchers::WithinRel(0.8797, 0.01));
  // Days follow the step time; cost and $ per M tokens scale with time (rental: chip-hours x price).
  CHECK_THAT(p.train_days.p90 / e.train_days, Catch::Matchers::WithinRel(p.step_time_s.p90 / e.step_time_s, 1e-12));
  CHECK_THAT(p.cost_usd.p10 / e.energy_cost.cost_usd, Catch::Matchers::WithinRel(p.step_time_s.p10 / e.step_time_s, 1e-12));
  CHECK_THAT(p.usd_per_mtok.p90 / e.energy_cost.usd_per_mtok,
             Catch::Matchers::WithinRel(p.cost_usd.p90 / e.energy_cost.cost_usd, 1e-12));
}

TEST_CASE("no spread and no ranged input give a point", "[uncertainty]") {
  const auto catalogs = with_spread(1e-12, 1e-12);
  const auto s = test::scenario_from(h100_job());
  const auto e = estimate_training(s.job, catalogs.assumptions);
  const auto p = prediction_intervals(s, e, Tier::analytical, catalogs);
  CHECK_THAT(p.step_time_s.p10, Catch::Matchers::WithinRel(e.step_time_s, 1e-9));
  CHECK_THAT(p.cost_usd.p90, Catch::Matchers::WithinRel(e.energy_cost.cost_usd, 1e-9));
}

TEST_CASE("a chip family without calibration runs gets the wider spread and its disputed peak", "[uncertainty]") {
  const auto catalogs = with_spread(0.1, 0.2);
  const auto s = test::scenario_from(ascend_job());
  const auto e = estimate_training(s.job, catalogs.assumptions);
  const auto p = prediction_intervals(s, e, Tier::replica, catalogs);
  CHECK_FALSE(p.calibrated);
  CHECK(p.model_log_sigma == 0.2);
  const UncertainInput* peak = nullptr;
  const UncertainInput* price = nullptr;
  for (const auto& i : p.inputs) {
    if (i.name == "ascend-910b peak_dense.bf16") peak = &i;
    if (i.name == "ascend-910b rental_price (cluster)") price = &i;
  }
  REQUIRE(peak != nullptr);
  REQUIRE(price != nullptr);
  CHECK(peak->low == 280);
  CHECK(peak->value == 320);
  CHECK(peak->high == 400);
  CHECK(peak->unit == "TFLOP/s");
  // Only the compute part scales with the peak: slower at 280, faster at 400, never beyond 320/280 = 1.143 or
  // 320/400 = 0.8.
  CHECK(peak->step_ratio_low > 1.0);
  CHECK(peak->step_ratio_low <= 320.0 / 280.0 + 1e-9);
  CHECK(peak->step_ratio_high < 1.0);
  CHECK(peak->step_ratio_high >= 320.0 / 400.0 - 1e-9);
  // The catalog price moves cost alone, in proportion: 1.0 / 1.4 = 0.714, 2.0 / 1.4 = 1.429.
  CHECK(price->step_ratio_low == 1.0);
  CHECK_THAT(price->cost_ratio_low, Catch::Matchers::WithinRel(1.0 / 1.4, 1e-9));
  CHECK_THAT(price->cost_ratio_high, Catch::Matchers::WithinRel(2.0 / 1.4, 1e-9));
  // The inputs widen the cost interval beyond the model spread's own (p90/p10 = exp(2 x 1.2816 x 0.2) = 1.67).
  CHECK(p.cost_usd.p90 / p.cost_usd.p10 > 1.7);
  CHECK(p.cost_usd.p10 < e.energy_cost.cost_usd);
  CHECK(p.cost_usd.p90 > e.energy_cost.cost_usd);
}

TEST_CASE("a slice with its own cross-validated spread takes it before its family's", "[uncertainty]") {
  auto catalogs = with_spread(0.1, 0.2);
  catalogs.assumptions.prediction_spread[1].by_class = {
      {"hopper/dense", 0.05}, {"ascend-910/dense", 0.4}, {"ascend-910", 0.5}};
  const auto& a = catalogs.assumptions;
  CHECK(spread_class("hopper", false) == "hopper/dense");
  CHECK(spread_class("blackwell", true) == "blackwell/moe");
  CHECK(a.model_log_sigma(1, "hopper", false) == 0.05);    // its slice
  CHECK(a.model_log_sigma(1, "hopper", true) == 0.1);      // hopper/moe has none: the calibrated families'
  CHECK(a.model_log_sigma(0, "hopper", false) == 0.1);     // tier 1 has no slices here
  CHECK(a.model_log_sigma(1, "blackwell", false) == 0.2);  // not calibrated
  CHECK(a.model_log_sigma(1, "ascend-910", false) == 0.4);
  CHECK(a.model_log_sigma(1, "ascend-910", true) == 0.5);  // ascend-910/moe has none: the family's
  const auto s = test::scenario_from(h100_job());
  const auto e = estimate_training(s.job, a);
  const auto p = prediction_intervals(s, e, Tier::replica, catalogs);
  CHECK(p.model_log_sigma == 0.05);
  CHECK(p.spread_source.find("hopper/dense runs") != std::string::npos);
}

TEST_CASE("intervals are deterministic", "[uncertainty]") {
  const auto s = test::scenario_from(ascend_job());
  const auto e = estimate_training(s.job, test::catalogs().assumptions);
  const auto a = prediction_intervals(s, e, Tier::analytical, test::catalogs());
  const auto b = prediction_intervals(s, e, Tier::analytical, test::catalogs());
  CHECK(a.step_time_s.p10 == b.step_time_s.p10);
  CHECK(a.usd_per_mtok.p90 == b.usd_per_mtok.p90);
}

TEST_CASE("the shipped calibration carries a cross-validated spread per tier", "[uncertainty][calibration]") {
  const auto& a = test::catalogs().assumptions;
  CHECK(a.prediction_spread_source.find("cross-validated") == 0);
  CHECK(a.calibrated_families == std::vector<std::string>{"ampere", "ascend-910", "blackwell", "hopper"});
  for (const auto& spread : a.prediction_spread) {
    // A family never seen by the calibration is not known better than the ones it saw.
    CHECK(spread.calibrated_log_sigma > 0.0);
    CHECK(spread.uncalibrated_log_sigma >= spread.calibrated_log_sigma);
    // The slices with enough runs have their own spread; Megatron-style A100 runs are predicted best.
    REQUIRE(spread.by_class.count("ampere/dense") == 1);
    REQUIRE(spread.by_class.count("ascend-910/dense") == 1);
    CHECK(spread.by_class.at("ampere/dense") < spread.calibrated_log_sigma);
    CHECK(spread.by_class.at("ascend-910/dense") > spread.calibrated_log_sigma);
  }
}

TEST_CASE("a whole run's spread widens days and cost, not the step", "[uncertainty][whole_run]") {
  // No model spread and no ranged input: what is left is the whole run's own spread. Its p10 / p50 / p90 of 90, 100
  // and 125 days give a two-piece normal in log space with sigma ln(100/90) / 1.2816 = 0.0822 below the median and
  // ln(125/100) / 1.2816 = 0.1741 above, so the days' p10 and p90 come back at 0.90 and 1.25 of the central value
  // (4,000 draws: within about 1.5 %).
  const auto catalogs = with_spread(1e-12, 1e-12);
  const auto s = test::scenario_from(h100_job());
  const auto e = estimate_training(s.job, catalogs.assumptions);
  WholeRunResult run;
  run.runs.p10_wall_s = 90 * kSecondsPerDay;
  run.runs.p50_wall_s = 100 * kSecondsPerDay;
  run.runs.p90_wall_s = 125 * kSecondsPerDay;
  const auto p = prediction_intervals(s, e, Tier::analytical, catalogs, &run);
  CHECK_THAT(p.run_log_sigma_low, Catch::Matchers::WithinRel(std::log(100.0 / 90.0) / 1.2815515655446004, 1e-12));
  CHECK_THAT(p.run_log_sigma_high, Catch::Matchers::WithinRel(std::log(1.25) / 1.2815515655446004, 1e-12));
  CHECK_THAT(p.train_days.p10 / e.train_days, Catch::Matchers::WithinRel(0.90, 0.015));
  CHECK_THAT(p.train_days.p90 / e.train_days, Catch::Matchers::WithinRel(1.25, 0.015));
  CHECK_THAT(p.chip_hours.p90 / e.chip_hours, Catch::Matchers::WithinRel(p.train_days.p90 / e.train_days, 1e-12));
  CHECK_THAT(p.cost_usd.p90 / e.energy_cost.cost_usd, Catch::Matchers::WithinRel(p.train_days.p90 / e.train_days, 1e-12));
  CHECK_THAT(p.step_time_s.p10, Catch::Matchers::WithinRel(e.step_time_s, 1e-9));
  CHECK_THAT(p.step_time_s.p90, Catch::Matchers::WithinRel(e.step_time_s, 1e-9));
  // Without the run, the same job's days are a point.
  const auto none = prediction_intervals(s, e, Tier::analytical, catalogs);
  CHECK_THAT(none.train_days.p90, Catch::Matchers::WithinRel(e.train_days, 1e-9));
}

}  // namespace flopcast
