// flopcast compare: every chip gets a plan that fits, in its own nodes and fabric; the ranking and its odds.

#include <cmath>

#include "flopcast/studies/compare.hpp"
#include "helpers.hpp"

namespace flopcast {

namespace {

// The small job in FP8, which an Ascend 910B cannot run.
const nlohmann::json kJob = [] {
  auto job = test::small_job();
  job["training"]["precision"] = "fp8";
  return job;
}();

Interval spread_of(double log_sigma) {
  // p10-p90 around 1 with this log-normal spread: exp(-/+ 1.2816 sigma).
  return {std::exp(-1.2815515655446004 * log_sigma), std::exp(1.2815515655446004 * log_sigma)};
}

}  // namespace

TEST_CASE("the odds that one prediction stays below another follow their log-normal spreads", "[compare]") {
  // Both spreads 0.1: the difference of the logs has sigma sqrt(0.1^2 + 0.1^2) = 0.1414. b = a x exp(0.1414) puts
  // it one sigma above: Phi(1) = 0.8413.
  const Interval i = spread_of(0.1);
  CHECK_THAT(probability_below(1.0, i, std::exp(0.1 * std::sqrt(2.0)), i), Catch::Matchers::WithinAbs(0.8413, 1e-4));
  CHECK_THAT(probability_below(2.0, i, 2.0, i), Catch::Matchers::WithinAbs(0.5, 1e-12));  // a tie: even odds
  // Spreads 0.3 and 0.4: sigma 0.5; b = a x exp(0.5 x 1.2816): Phi(1.2816) = 0.90.
  CHECK_THAT(probability_below(1.0, spread_of(0.3), std::exp(0.5 * 1.2815515655446004), spread_of(0.4)),
             Catch::Matchers::WithinAbs(0.90, 1e-4));
  // No spread at all: certainty either way.
  CHECK(probability_below(1.0, {1, 1}, 2.0, {2, 2}) == 1.0);
  CHECK(probability_below(3.0, {3, 3}, 2.0, {2, 2}) == 0.0);
}

TEST_CASE("compare gives every chip its own best plan that fits, in its own nodes and fabric", "[compare]") {
  const auto scenario = test::scenario_from(kJob);
  CompareOptions options;
  options.chips = {"h100-sxm", "h20", "ascend-910b"};
  options.tier = Tier::analytical;
  const auto c = compare_chips(scenario, options, test::catalogs());
  REQUIRE(c.options.size() == 3);
  for (const auto& o : c.options) {
    INFO(o.chip);
    REQUIRE(o.plan.has_value());
    CHECK(o.plan->estimate.memory.fits);
    CHECK(o.chips == 64);
    CHECK(static_cast<long>(o.plan->plan.tp) * o.plan->plan.pp * o.plan->plan.cp * o.plan->plan.dp == 64);
    CHECK(o.scenario.job.cluster.chip.id == o.chip);
    CHECK_FALSE(o.scenario_plan);
    CHECK(o.intervals.cost_usd.p10 < o.plan->estimate.energy_cost.cost_usd);
    CHECK(o.intervals.cost_usd.p90 > o.plan->estimate.energy_cost.cost_usd);
  }
  // The Atlas 800T A2 node ships with RoCE, not the H100 scenario's InfiniBand; the 910B has no FP8 peak: bf16.
  const auto& ascend = c.options[2];
  CHECK(ascend.scenario.job.cluster.fabric.id == "roce-200");
  CHECK(ascend.scenario.job.training.precision == Precision::bf16);
  CHECK(ascend.adapted == std::vector<std::string>{"node atlas-800t-a2", "fabric roce-200",
                                                   "precision bf16 (the chip has no fp8 peak)"});
  // The ranking is over the options' own figures: the best, then the next, then the third.
  const Lead cost = cost_lead(c);
  const Lead time = days_lead(c);
  REQUIRE(cost.best >= 0);
  REQUIRE(cost.next >= 0);
  const auto cost_of = [&](int i) { return c.options[i].plan->estimate.energy_cost.cost_usd; };
  for (int i = 0; i < 3; ++i) {
    CHECK(cost_of(cost.best) <= cost_of(i));
    if (i != cost.best) CHECK(cost_of(cost.next) <= cost_of(i));
    CHECK(c.options[time.best].plan->estimate.train_days <= c.options[i].plan->estimate.train_days);
  }
  CHECK_THAT(cost.margin, Catch::Matchers::WithinRel(1.0 - cost_of(cost.best) / cost_of(cost.next), 1e-12));
  CHECK(cost.odds >= 0.5);  // the cheaper is more likely than not to stay cheaper
  // Rental cost is chip-hours x price: at the break-even price the next chip's cost equals the cheapest's.
  const auto price = break_even_usd_per_chip_hour(c, cost);
  REQUIRE(price.has_value());
  const auto& next = c.options[cost.next];
  CHECK_THAT(*price / next.scenario.job.costs.usd_per_chip_hour * cost_of(cost.next),
             Catch::Matchers::WithinRel(cost_of(cost.best), 1e-9));
}

TEST_CASE("compare keeps the scenario's plan only where it runs and fits, and names the fewest chips that fit",
          "[compare]") {
  auto job = kJob;
  job["model"] = "llama3-70b";
  job["cluster"] = {{"chip", "b200"}, {"chips", 8}};
  job["parallelism"] = {{"tp", 8}, {"pp", 1}, {"dp", 1}, {"zero", 1}, {"recompute", "full"}};
  job["training"]["global_batch"] = 16;
  const auto scenario = test::scenario_from(job);
  CompareOptions options;
  options.chips = {"b200", "h100-sxm"};
  options.tier = Tier::analytical;
  options.keep_plan = true;
  const auto c = compare_chips(scenario, options, test::catalogs());
  REQUIRE(c.options.size() == 2);
  // On 8 B200 (192 GB each) the 70B model fits with the scenario's tp 8: 70.6 B params x 16 B (bf16 weights and
  // gradients, fp32 master and moments) / 8 = 141 GB per chip, and little activation under full recompute.
  REQUIRE(c.options[0].plan.has_value());
  CHECK(c.options[0].scenario_plan);
  CHECK(c.options[0].plan->plan.tp == 8);
  // The same 141 GB per chip cannot fit on 8 H100 (80 GB): no plan fits, it is not ranked, and a larger cluster
  // where one does is named.
  const auto& small = c.options[1];
  CHECK_FALSE(small.plan.has_value());
  CHECK(small.why_none == "no plan that divides 8 chips fits in memory");
  REQUIRE(small.nearest.has_value());
  CHECK(small.nearest->chips > 8);
  CHECK(small.nearest->best->estimate.memory.fits);
  CHECK(cost_lead(c).best == 0);
  CHECK(cost_lead(c).next == -1);  // the only chip with a plan
  CHECK(days_lead(c).best == 0);
}

}  // namespace flopcast
