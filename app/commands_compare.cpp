// flopcast compare: one model, one token budget, several chips; each with the best plan that fits, the answer first.

#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <fmt/ranges.h>

#include "commands.hpp"
#include "flopcast/core/text.hpp"
#include "flopcast/studies/compare.hpp"
#include "format.hpp"

namespace flopcast::cli {

namespace {

std::string plan_source(const ChipOption& o) { return o.scenario_plan ? "scenario's plan" : "planner's plan"; }

// The answer: which chip is cheapest and which fastest, by how much, how sure, and what would change it.
void print_answer(const ChipComparison& c, std::ostream& out) {
  const Lead cost = cost_lead(c);
  if (cost.best < 0) {
    fmt::print(out, "  no chip has a plan that fits: nothing to rank (see the fewest chips that fit below)\n");
    return;
  }
  const auto& cheap = c.options[cost.best];
  fmt::print(out, "  cheapest   {}: {} (p10-p90 {} to {}), {}\n", cheap.chip, usd(cheap.cost_usd()),
             usd(cheap.intervals.cost_usd.p10), usd(cheap.intervals.cost_usd.p90), days(cheap.train_days()));
  if (cost.next >= 0) {
    const auto& other = c.options[cost.next];
    fmt::print(out, "             {:.1f} % less than {} ({}); {} likely to stay the cheaper of the two\n",
               100.0 * cost.margin, other.chip, usd(other.cost_usd()), odds_text(cost.odds));
    if (const auto price = break_even_usd_per_chip_hour(c, cost)) {
      fmt::print(out, "             {} would cost as much at {} per chip-hour (now {})\n", other.chip, usd(*price),
                 usd(other.scenario.job.costs.usd_per_chip_hour));
    }
  }
  const Lead time = days_lead(c);
  const auto& fast = c.options[time.best];
  fmt::print(out, "  fastest    {}: {} (p10-p90 {}), {}\n", fast.chip, days(fast.train_days()),
             days_range(fast.intervals.train_days.p10, fast.intervals.train_days.p90), usd(fast.cost_usd()));
  if (time.next >= 0) {
    const auto& other = c.options[time.next];
    const std::string line =
        fmt::format("             {:.1f} % sooner than {} ({}); {} likely to stay the faster of the two",
                    100.0 * time.margin, other.chip, days(other.train_days()), odds_text(time.odds));
    fmt::print(out, "{}\n", wrap_lines(line, 98, 13));
  }
  for (const auto& o : c.options) {
    if (o.plan) continue;
    fmt::print(out, "  not ranked {}: {}\n", o.chip, o.why_none);
    if (o.nearest) {
      fmt::print(out, "             the nearest that fits: {} chips, {}, {}\n", o.nearest->chips,
                 days(o.nearest->best->estimate.train_days), usd(o.nearest->best->estimate.energy_cost.cost_usd));
    }
  }
}

void print_table(const ChipComparison& c, std::ostream& out) {
  fmt::print(out, "\n  {:<14} {:>6} {:>11} {:>9} {:>11} {:>7} {:>10} {:>11}\n", "chip", "chips", "train time", "cost",
             "$/M tokens", "MFU", "memory", "usable");
  for (const auto& o : c.options) {
    if (!o.plan) {
      fmt::print(out, "  {:<14} {:>6}  no plan fits\n", o.chip, o.chips);
      continue;
    }
    const auto& e = o.estimate();
    fmt::print(out, "  {:<14} {:>6} {:>11} {:>9} {:>11} {:>7} {:>10} {:>11}\n", o.chip, o.chips, days(e.train_days),
               usd(e.energy_cost.cost_usd), usd(e.energy_cost.usd_per_mtok), percent(e.mfu),
               bytes(e.memory.total_bytes), bytes(e.memory.usable_bytes));
    const std::string label = fmt::format("    {:<24}", plan_source(o));
    fmt::print(out, "{}\n", wrap_lines(label + plan_summary(o.plan->plan), 98, label.size()));
    for (std::size_t k = 0; k < o.adapted.size(); ++k) {
      fmt::print(out, "    {:<24}{}\n", k == 0 ? "changed for this chip:" : "", o.adapted[k]);
    }
  }
}

nlohmann::json comparison_json(const ChipComparison& c, const Scenario& scenario) {
  nlohmann::json options = nlohmann::json::array();
  for (const auto& o : c.options) {
    nlohmann::json j = {{"chip", o.chip}, {"chips", o.chips}, {"adapted", o.adapted}};
    if (o.plan) {
      const auto& e = o.estimate();
      const auto& i = o.intervals;
      j["plan_source"] = o.scenario_plan ? "scenario" : "planner";
      j["parallelism"] = plan_to_json(o.plan->plan);
      j["precision"] = std::string(to_string(o.scenario.job.training.precision));
      j["tier"] = std::string(to_string(o.plan->tier));
      j["train_days"] = {{"value", e.train_days}, {"p10", i.train_days.p10}, {"p90", i.train_days.p90}};
      j["cost_usd"] = {{"value", e.energy_cost.cost_usd}, {"p10", i.cost_usd.p10}, {"p90", i.cost_usd.p90}};
      j["usd_per_mtok"] = {{"value", e.energy_cost.usd_per_mtok}, {"p10", i.usd_per_mtok.p10},
                           {"p90", i.usd_per_mtok.p90}};
      j["mfu"] = e.mfu;
      j["memory_per_chip_bytes"] = e.memory.total_bytes;
      j["usable_per_chip_bytes"] = e.memory.usable_bytes;
    } else {
      j["no_plan"] = o.why_none;
      if (o.nearest) j["fits_on_chips"] = o.nearest->chips;
    }
    options.push_back(std::move(j));
  }
  nlohmann::json answer = nlohmann::json::object();
  const auto lead_json = [&](const Lead& l) {
    nlohmann::json j = {{"chip", c.options[l.best].chip}};
    if (l.next >= 0) j.update({{"next", c.options[l.next].chip}, {"margin", l.margin}, {"odds", l.odds}});
    return j;
  };
  if (const Lead cost = cost_lead(c); cost.best >= 0) {
    answer["cheapest"] = lead_json(cost);
    if (const auto price = break_even_usd_per_chip_hour(c, cost)) {
      answer["cheapest"]["next_break_even_usd_per_chip_hour"] = *price;
    }
    answer["fastest"] = lead_json(days_lead(c));
  }
  return {{"name", scenario.name},
          {"file", scenario.file},
          {"model", scenario.job.model.id},
          {"tokens", scenario.job.training.tokens},
          {"tier", std::string(to_string(c.tier))},
          {"answer", answer},
          {"options", options}};
}

}  // namespace

int compare_command(const CompareCommandOptions& options, const Catalogs& catalogs, std::ostream& out) {
  auto scenario = load_scenario(options.file, catalogs);
  if (!scenario.job.cluster.stage_chips.empty()) {
    throw InputError(scenario.file, "/cluster/stage_chips",
                     "compare puts the whole job on each chip type; a mixed fleet has no one chip to swap");
  }
  if (options.tokens) scenario.job.training.tokens = *options.tokens;
  CompareOptions compare;
  compare.chips = options.chips;
  compare.chip_count = options.chip_count;
  compare.tier = options.tier;
  compare.keep_plan = options.keep_plan;
  if (!options.quiet && ::isatty(STDERR_FILENO)) {
    compare.progress = [](const std::string& line) { fmt::print(stderr, "flopcast compare: {}\n", line); };
  }
  const auto c = compare_chips(scenario, compare, catalogs);
  if (options.json) {
    out << comparison_json(c, scenario).dump(2) << '\n';
    return 0;
  }
  const auto& job = scenario.job;
  fmt::print(out, "{}\n",
             wrap_lines(fmt::format("Which chip: {}, {} tokens on {} chips of each type (tier {})", job.model.name,
                                    count(job.training.tokens), c.chips_asked, to_string(c.tier)),
                        100, 2));
  fmt::print(out, "  from {}\n", scenario.file);
  fmt::print(out, "  each chip with {}\n",
             options.keep_plan ? "the scenario's plan where it runs and fits, the planner's best elsewhere"
                               : "the best plan that fits: the planner's best few re-ranked, or the scenario's own");
  fmt::print(out, "  p10-p90: 80 % likely between\n\n");
  print_answer(c, out);
  print_table(c, out);
  return 0;
}

}  // namespace flopcast::cli
