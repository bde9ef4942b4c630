#include "flopcast/studies/compare.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "flopcast/core/errors.hpp"
#include "flopcast/core/text.hpp"

namespace flopcast {

namespace {

// z of the normal distribution's 90th percentile: p10-p90 spans 2 z sigma.
constexpr double kZ90 = 1.2815515655446004;

double log_sigma(const Interval& i) {
  return i.p10 > 0 && i.p90 > i.p10 ? std::log(i.p90 / i.p10) / (2.0 * kZ90) : 0.0;
}

const Chip& find_chip_or_throw(const std::string& id, const Catalogs& catalogs) {
  const Chip* chip = catalogs.hardware.find_chip(id);
  if (chip == nullptr) {
    throw InputError("--chips", "", fmt::format("unknown chip \"{}\"{}; known: {}", id,
                                                 did_you_mean(id, catalogs.hardware.chip_ids()),
                                                 fmt::join(catalogs.hardware.chip_ids(), ", ")));
  }
  return *chip;
}

// What the job changed to run on `on` rather than as the scenario wrote it, in words.
std::vector<std::string> adaptations(const Scenario& scenario, const Scenario& on, int asked_chips) {
  std::vector<std::string> out;
  const auto& from = scenario.job;
  const auto& to = on.job;
  if (to.cluster.chips != asked_chips) {
    out.push_back(fmt::format("{} chips rather than {}: whole {}-chip {} nodes", to.cluster.chips, asked_chips,
                              to.cluster.node.chip_count(), to.cluster.node.id));
  }
  if (to.cluster.node.id != from.cluster.node.id) out.push_back(fmt::format("node {}", to.cluster.node.id));
  if (to.cluster.fabric.id != from.cluster.fabric.id) out.push_back(fmt::format("fabric {}", to.cluster.fabric.id));
  if (to.training.precision != from.training.precision) {
    out.push_back(fmt::format("precision {} (the chip has no {} peak)", to_string(to.training.precision),
                              to_string(from.training.precision)));
  }
  return out;
}

}  // namespace

namespace {

Lead lead(const ChipComparison& c, double (ChipOption::*value)() const, Interval PredictionIntervals::*range) {
  Lead out;
  const auto better = [&](int i, int than) { return than < 0 || (c.options[i].*value)() < (c.options[than].*value)(); };
  for (int i = 0; i < static_cast<int>(c.options.size()); ++i) {
    if (!c.options[i].plan) continue;
    if (better(i, out.best)) {
      out.next = out.best;
      out.best = i;
    } else if (better(i, out.next)) {
      out.next = i;
    }
  }
  if (out.next >= 0) {
    const auto& a = c.options[out.best];
    const auto& b = c.options[out.next];
    out.margin = 1.0 - (a.*value)() / (b.*value)();
    out.odds = probability_below((a.*value)(), a.intervals.*range, (b.*value)(), b.intervals.*range);
  }
  return out;
}

}  // namespace

Lead cost_lead(const ChipComparison& comparison) {
  return lead(comparison, &ChipOption::cost_usd, &PredictionIntervals::cost_usd);
}

Lead days_lead(const ChipComparison& comparison) {
  return lead(comparison, &ChipOption::train_days, &PredictionIntervals::train_days);
}

std::optional<double> break_even_usd_per_chip_hour(const ChipComparison& c, const Lead& cost) {
  if (c.cost_mode != CostMode::rental || cost.next < 0) return std::nullopt;
  const auto& next = c.options[cost.next];
  return next.scenario.job.costs.usd_per_chip_hour * (1.0 - cost.margin);
}

double probability_below(double a, const Interval& ia, double b, const Interval& ib) {
  const double spread = std::hypot(log_sigma(ia), log_sigma(ib));
  if (!(a > 0) || !(b > 0)) return 0.5;
  if (spread <= 0) return a < b ? 1.0 : a > b ? 0.0 : 0.5;
  const double z = std::log(b / a) / spread;
  return 0.5 * std::erfc(-z / std::sqrt(2.0));
}

std::string odds_text(double probability) {
  return probability > 0.99 ? "over 99 %" : fmt::format("{:.0f} %", 100.0 * probability);
}

ChipComparison compare_chips(const Scenario& scenario, const CompareOptions& options, const Catalogs& catalogs) {
  std::vector<const Chip*> chips;
  for (const auto& id : options.chips) chips.push_back(&find_chip_or_throw(id, catalogs));
  if (chips.empty()) chips.push_back(&scenario.job.cluster.chip);
  const int asked = options.chip_count > 0 ? options.chip_count : scenario.job.cluster.chips;
  const auto say = [&](const std::string& line) {
    if (options.progress) options.progress(line);
  };

  ChipComparison out;
  out.tier = options.tier;
  out.cost_mode = scenario.job.costs.mode;
  out.chips_asked = asked;
  for (const Chip* chip : chips) {
    ChipOption option;
    option.chip = chip->id;
    const Node* node = catalogs.hardware.find_node(chip->default_node);
    const int unit = node != nullptr ? node->chip_count() : 1;
    option.chips = (asked + unit - 1) / unit * unit;
    const Scenario base = with_default_fabric(scenario, *chip, catalogs);
    try {
      option.scenario = with_cluster(base, *chip, option.chips, catalogs);
    } catch (const ModelError& error) {
      option.why_none = error.what();
      option.scenario = scenario;
      out.options.push_back(std::move(option));
      continue;
    }
    option.adapted = adaptations(scenario, option.scenario, asked);
    say(fmt::format("{}: searching the plans on {} chips (tier 1), then the best {} at {} ...", chip->id,
                    option.chips, options.top_k, to_string(options.tier)));
    PlanSearchOptions search;
    search.top_k = options.top_k;
    search.rerank_tier = options.tier;
    search.compare_given = true;  // the scenario's own plan, where it divides these chips
    search.quick = true;          // one search per chip: the quick space (planner.hpp)
    auto found = search_plans(option.scenario, catalogs, search);
    const auto& p = scenario.job.plan;
    const bool given_fits = found.given && found.given->estimate.memory.fits &&
                            static_cast<long>(p.tp) * p.pp * p.cp * p.dp == option.chips;
    if (!found.best.empty()) option.plan = std::move(found.best.front());
    // The scenario's plan where the user asks for it, or where it beats the planner's pick at this tier (the
    // planner ranks by tier 1, whose order the discrete-event tier can change).
    if (given_fits && (options.keep_plan || !option.plan ||
                       found.given->estimate.step_time_s <= option.plan->estimate.step_time_s)) {
      option.plan = std::move(found.given);
      option.scenario_plan = true;
    }
    if (!option.plan) {
      option.why_none = found.evaluated == 0 && found.out_of_memory == 0
                            ? fmt::format("no plan divides {} chips and the global batch of {} sequences",
                                          option.chips, scenario.job.training.global_batch)
                            : fmt::format("no plan that divides {} chips fits in memory", option.chips);
      // The nearest size where one fits: the next few whole nodes (a batch that does not divide), then doublings
      // (memory), up to 8x.
      std::vector<int> sizes;
      for (int k = 1; k <= 8; ++k) sizes.push_back(option.chips + k * unit);
      for (int more = option.chips * 2; more <= option.chips * 8; more *= 2) sizes.push_back(more);
      std::sort(sizes.begin(), sizes.end());
      sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
      for (const int more : sizes) {
        say(fmt::format("{}: no plan fits; trying {} chips ...", chip->id, more));
        auto sized = best_plan_at(base, *chip, more, catalogs);
        if (sized.best) {
          option.nearest = std::move(sized);
          break;
        }
      }
      out.options.push_back(std::move(option));
      continue;
    }
    option.scenario.job.plan = option.plan->plan;
    option.intervals = prediction_intervals(option.scenario, option.plan->estimate, options.tier, catalogs);
    out.options.push_back(std::move(option));
  }

  return out;
}

}  // namespace flopcast
