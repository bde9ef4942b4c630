// build_comparison_document: the answer first, from the comparison's numbers; nothing is typed in per chip.

#include "flopcast/reports/compare_report.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cells.hpp"
#include "flopcast/core/human_units.hpp"
#include "flopcast/core/units.hpp"
#include "flopcast/reports/report.hpp"

namespace flopcast::report {

namespace {

using human::bytes;
using human::days;
using human::percent;
using human::usd;


std::string cost_sentence(const ChipComparison& c, const Lead& cost) {
  const auto& best = c.options[cost.best];
  const auto& e = best.estimate();
  std::string text = fmt::format(
      "The cheapest is the {}: {} for the run (80 % likely between {} and {}), {} of training.", best.chip,
      usd(e.energy_cost.cost_usd), usd(best.intervals.cost_usd.p10), usd(best.intervals.cost_usd.p90),
      days(e.train_days));
  if (cost.next < 0) return text + " No other chip has a plan that fits, so there is nothing to rank it against.";
  const auto& next = c.options[cost.next];
  text += fmt::format(
      " It costs {:.1f} % less than the next, the {} ({}); the odds that it stays the cheaper of the two once both "
      "are measured are {} (from the two p10-p90 ranges, their errors taken as independent).",
      100.0 * cost.margin, next.chip, usd(next.estimate().energy_cost.cost_usd), odds_text(cost.odds));
  if (const auto price = break_even_usd_per_chip_hour(c, cost)) {
    text += fmt::format(" The {} would cost as much at {} per chip-hour; its catalog rental price is {}.", next.chip,
                        usd(*price), usd(next.scenario.job.costs.usd_per_chip_hour));
  }
  return text;
}

std::string time_sentence(const ChipComparison& c, const Lead& time) {
  const auto& best = c.options[time.best];
  std::string text = fmt::format("The fastest is the {}: {} (80 % likely between {:.1f} and {:.1f} days).", best.chip,
                                 days(best.estimate().train_days), best.intervals.train_days.p10,
                                 best.intervals.train_days.p90);
  if (time.next < 0) return text;
  const auto& next = c.options[time.next];
  return text + fmt::format(" It finishes {:.1f} % sooner than the {} ({}); the odds that it stays the faster: {}.",
                            100.0 * time.margin, next.chip, days(next.estimate().train_days),
                            odds_text(time.odds));
}

ChartSpec interval_chart(const ChipComparison& c, std::string id, std::string title, std::string axis,
                         std::string unit, double scale, double (ChipOption::*central)() const,
                         Interval PredictionIntervals::*range) {
  ChartSpec chart{.id = std::move(id), .title = std::move(title), .kind = ChartKind::intervals,
                  .x_title = std::move(axis), .y_title = "", .x_unit = "", .y_unit = std::move(unit),
                  .categories = {}, .series = {}, .log_x = false, .log_y = false,
                  .caption = "The dot is the central prediction, the bar its p10-p90 range (80 % likely between). "
                             "Chips on which no plan fits are not shown.",
                  .height_px = 0};
  ChartSeries series{.name = "central (p10-p90)", .x = {}, .y = {}, .low = {}, .high = {}, .colour = {}};
  for (const auto& o : c.options) {
    if (!o.plan) continue;
    chart.categories.push_back(fmt::format("{} x {}", o.chips, o.chip));
    series.y.push_back((o.*central)() * scale);
    series.low.push_back((o.intervals.*range).p10 * scale);
    series.high.push_back((o.intervals.*range).p90 * scale);
  }
  chart.series.push_back(std::move(series));
  return chart;
}


Section answer_section(const ChipComparison& c, const Scenario& scenario) {
  Section section{.title = "The answer", .blocks = {}};
  const Lead cost = cost_lead(c);
  if (cost.best < 0) {
    section.blocks.push_back(Paragraph{fmt::format(
        "No chip compared has a plan that fits {} on these chips; the table below names, for each, the nearest "
        "cluster size on which one does.", scenario.job.model.name)});
    return section;
  }
  section.blocks.push_back(Paragraph{cost_sentence(c, cost)});
  section.blocks.push_back(Paragraph{time_sentence(c, days_lead(c))});
  for (const auto& o : c.options) {
    if (o.plan) continue;
    std::string text = fmt::format("The {} is not ranked: {}.", o.chip, o.why_none);
    if (o.nearest) {
      text += fmt::format(" The nearest size on which a plan fits is {} chips: {}, {}.", o.nearest->chips,
                          days(o.nearest->best->estimate.train_days),
                          usd(o.nearest->best->estimate.energy_cost.cost_usd));
    }
    section.blocks.push_back(Paragraph{text});
  }
  section.blocks.push_back(interval_chart(c, "cost", "Cost of the training run", "cost (million USD)", "million USD",
                                          1e-6, &ChipOption::cost_usd, &PredictionIntervals::cost_usd));
  section.blocks.push_back(interval_chart(c, "days", "Training time", "training time (days)", "days", 1.0,
                                          &ChipOption::train_days, &PredictionIntervals::train_days));
  section.blocks.push_back(Paragraph{
      "Caveats. These are predictions, not measurements: each range is the model's cross-validated error on "
      "published runs of that chip family combined with the catalog's uncertain inputs (peak rates, prices), and "
      "families with fewer published runs (Ascend, Blackwell) get wider ranges. Chips of one family share some of "
      "their error, so the odds above understate how sure the order within a family is. A rental price is not a "
      "cost of ownership, and a catalog price is not a negotiated one. Every chip runs the plan found for it, not "
      "the scenario's; the table lists the plans and what changed for each chip."});
  return section;
}

Section side_by_side_section(const ChipComparison& c) {
  Section section{.title = "The chips side by side", .blocks = {}};
  Table figures{.caption = "Each chip's prediction, p10-p90 in brackets",
                .header = {"chip", "chips", "training time", "cost", "$ per million tokens", "MFU", "memory per chip"},
                .rows = {}};
  Table plans{.caption = "The plan each chip runs, and what changed for it",
              .header = {"chip", "plan", "changed for this chip"},
              .rows = {}};
  for (const auto& o : c.options) {
    const std::string changed = o.adapted.empty() ? "nothing" : fmt::format("{}", fmt::join(o.adapted, "; "));
    std::vector<Cell> row{text_cell(o.chip), number_cell(fmt::format("{}", o.chips), o.chips, "chips")};
    if (!o.plan) {
      row.push_back(text_cell("no plan fits"));
      for (int k = 0; k < 4; ++k) row.push_back(text_cell(""));
      figures.rows.push_back(std::move(row));
      plans.rows.push_back({text_cell(o.chip), text_cell(o.why_none), text_cell(changed)});
      continue;
    }
    const auto& e = o.estimate();
    const auto& i = o.intervals;
    row.push_back(interval_cell(e.train_days, i.train_days, [](double v) { return days(v); }, 1.0, "days"));
    row.push_back(interval_cell(e.energy_cost.cost_usd, i.cost_usd, [](double v) { return usd(v); }, 1.0, "USD"));
    row.push_back(interval_cell(e.energy_cost.usd_per_mtok, i.usd_per_mtok, [](double v) { return usd(v); }, 1.0,
                                "USD per million tokens"));
    row.push_back(interval_cell(e.mfu, i.mfu, [](double v) { return percent(v); }, 100.0, "%"));
    row.push_back(number_cell(fmt::format("{} of {}", bytes(e.memory.total_bytes), bytes(e.memory.usable_bytes)),
                              e.memory.total_bytes / kBytesPerGiB, "GiB"));
    figures.rows.push_back(std::move(row));
    plans.rows.push_back({text_cell(o.chip),
                          text_cell(fmt::format("{} ({})", plan_summary(o.plan->plan),
                                                o.scenario_plan ? "the scenario's" : "the planner's")),
                          text_cell(changed)});
  }
  section.blocks.push_back(std::move(figures));
  section.blocks.push_back(std::move(plans));
  return section;
}

Section method_section(const ChipComparison& c, const Scenario& scenario) {
  Section section{.title = "How this was computed", .blocks = {}};
  section.blocks.push_back(Paragraph{fmt::format(
      "The job of {} ({}, {} tokens, {} sequences of {} tokens per step, {}) was put on each chip type in that "
      "chip's default node, with the scale-out fabric that node ships with and the chip's catalog price, in bf16 "
      "where the chip has no peak for the scenario's precision. On each, the plan search enumerated the parallel "
      "plans that divide the cluster and the batch, dropped those that do not fit in memory, ranked the rest at tier "
      "1 and simulated the best three at {}; the scenario's own plan was kept where it runs, fits and was at least "
      "as fast. The ranges are the p10 and p90 of each prediction: 80 % likely between.",
      scenario.job.model.name, scenario.file, human::count(scenario.job.training.tokens),
      scenario.job.training.global_batch, scenario.job.training.seq_len, to_string(scenario.job.training.precision),
      tier_text(c.tier))});
  Table versions{.caption = "Versions", .header = {"what", "version"}, .rows = {}};
  versions.rows.push_back({text_cell("flopcast"), text_cell(tool_version())});
  const std::string revision = source_revision();
  versions.rows.push_back({text_cell("source (git describe at build time)"),
                           text_cell(revision.empty() ? "unknown" : revision)});
  section.blocks.push_back(std::move(versions));
  return section;
}

}  // namespace

Document build_comparison_document(const ChipComparison& comparison, const Scenario& scenario) {
  Document document;
  std::vector<std::string> chips;
  for (const auto& o : comparison.options) chips.push_back(o.chip);
  document.title = fmt::format("Which chip to train {}: {}", scenario.job.model.name, fmt::join(chips, ", "));
  document.subtitle = fmt::format("{} tokens on {} chips of each type, {}", human::count(scenario.job.training.tokens),
                                  comparison.chips_asked, tier_text(comparison.tier));
  document.sections.push_back(answer_section(comparison, scenario));
  document.sections.push_back(side_by_side_section(comparison));
  document.sections.push_back(method_section(comparison, scenario));
  return document;
}

}  // namespace flopcast::report
