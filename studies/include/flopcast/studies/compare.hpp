#pragma once
// The question users bring: what does it cost, and how long does it take, to train one model on one token budget on
// each of several chips, and which should they buy? Fair by construction: every chip gets the best plan that fits
// (the planner's best few at tier 1, re-ranked at the comparison's tier, and the scenario's own plan where it runs
// and fits), so that no chip runs a plan written for another. A chip on which no plan fits is never
// ranked; the fewest chips on which one does is named instead.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "flopcast/studies/planner.hpp"
#include "flopcast/scenarios/uncertainty.hpp"

namespace flopcast {

struct CompareOptions {
  std::vector<std::string> chips;       // chip ids, in the order to show (empty: the scenario's chip alone)
  int chip_count = 0;                   // chips of each type, rounded up to whole nodes (0: the scenario's count)
  Tier tier = Tier::replica;            // the best `top_k` of tier 1 are re-ranked at this tier
  int top_k = 3;
  bool keep_plan = false;               // the scenario's own plan on every chip where it runs and fits (without it:
                                        // where it is at least as fast as the planner's pick)
  std::function<void(const std::string&)> progress;  // a line per step of the work (empty: none)
};

// One chip type in the comparison.
struct ChipOption {
  std::string chip;
  int chips = 0;
  Scenario scenario;                  // the job on these chips, with the plan compared
  std::optional<PlanCandidate> plan;  // none: no plan fits (or the cluster cannot be built)
  bool scenario_plan = false;         // the plan is the scenario's own, not the planner's
  PredictionIntervals intervals;      // of the plan's prediction (when there is one)
  std::vector<std::string> adapted;   // what changed for the job to run on this chip, in words
  std::string why_none;               // when no plan: why
  std::optional<SizedPlan> nearest;   // when no plan fits: the fewest chips (doubling, up to 8x) where one does

  // The plan's figures (only with a plan).
  const TrainingEstimate& estimate() const { return plan->estimate; }
  double cost_usd() const { return estimate().energy_cost.cost_usd; }
  double train_days() const { return estimate().train_days; }
};

struct ChipComparison {
  std::vector<ChipOption> options;  // in the order asked
  Tier tier = Tier::replica;
  CostMode cost_mode = CostMode::rental;
  int chips_asked = 0;  // of each type, before rounding up to whole nodes
};

// One figure's lead (cost or days): the best option against the next best, among those with a plan.
struct Lead {
  int best = -1;      // index into ChipComparison::options; -1: no option has a plan
  int next = -1;      // -1: only one has
  double margin = 0;  // 1 - best / next: the fraction less (cost) or sooner (days)
  double odds = 1;    // probability_below(best, next): that the order holds once both are measured
};
Lead cost_lead(const ChipComparison& comparison);
Lead days_lead(const ChipComparison& comparison);

// In rental mode, the price per chip-hour at which the next chip would cost as much as the cheapest (rental cost is
// chip-hours x price); none in ownership mode or without a next chip.
std::optional<double> break_even_usd_per_chip_hour(const ChipComparison& comparison, const Lead& cost);

// Every chip of `options` with its plan, prediction and interval. InputError for an unknown chip id.
ChipComparison compare_chips(const Scenario& scenario, const CompareOptions& options, const Catalogs& catalogs);

// The probability that a prediction `a` (interval ia) is below `b` (interval ib) once both are measured: each one's
// error log-normal with the spread its p10-p90 interval implies, s = ln(p90 / p10) / (2 x 1.2816), the two
// independent: Phi(ln(b / a) / sqrt(sa^2 + sb^2)). Errors of chips of one family are correlated in fact, which makes
// the order more certain than this says.
double probability_below(double a, const Interval& ia, double b, const Interval& ib);

// "77 %", or "over 99 %": a prediction with a 10-20 % spread is never certain.
std::string odds_text(double probability);

}  // namespace flopcast
