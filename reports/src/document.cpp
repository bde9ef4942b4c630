// build_document: the report's sections from the computed numbers. Every sentence about a scenario is written from
// its numbers here; nothing is typed in per scenario.

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <set>

#include <fmt/format.h>

#include "flopcast/core/human_units.hpp"
#include "flopcast/core/text.hpp"
#include "flopcast/core/units.hpp"
#include "flopcast/reports/report.hpp"
#include "flopcast/scenarios/compare.hpp"
#include "cells.hpp"

namespace flopcast::report {

std::vector<const ChartSpec*> Document::charts() const {
  std::vector<const ChartSpec*> out;
  for (const auto& section : sections) {
    for (const auto& block : section.blocks) {
      if (const auto* chart = std::get_if<ChartSpec>(&block)) out.push_back(chart);
    }
  }
  return out;
}

namespace {

using human::bytes;
using human::count;
using human::days;
using human::percent;
using human::seconds;
using human::usd;


// "2048 x h800-sxm", for tables.
std::string chips_short(const TrainingJob& job) {
  std::string text = fmt::format("{} x {}", job.cluster.chips, job.cluster.chip.id);
  for (const auto& group : job.cluster.stage_chips) text += " + " + group.chip.id;
  return text;
}

std::string chips_text(const TrainingJob& job) {
  if (job.cluster.stage_chips.empty()) return fmt::format("{} x {}", job.cluster.chips, job.cluster.chip.name);
  std::string text = fmt::format("{} chips: {}", job.cluster.chips, job.cluster.chip.name);
  for (const auto& group : job.cluster.stage_chips) text += " + " + group.chip.name;
  return text;
}

// A label short enough for a chart axis.
std::string short_label(const std::string& name) {
  constexpr std::size_t kMax = 78;  // three lines of a chart's wrapped category label
  if (name.size() <= kMax) return name;
  return name.substr(0, kMax - 3) + "...";
}

std::string signed_percent(double ratio) { return fmt::format("{:+.1f} %", 100.0 * (ratio - 1.0)); }

// The parts of a step, in the order the charts stack them.
struct StepPart {
  std::string name;
  double seconds;
};
std::vector<StepPart> step_parts(const StepBreakdown& b) {
  return {{"compute", b.compute_s()}, {"exposed TP", b.tp_s},       {"exposed CP", b.cp_s},
          {"exposed EP", b.ep_s},     {"exposed PP", b.pp_s},       {"exposed DP", b.dp_s},
          {"pipeline bubble", b.bubble_s}, {"optimizer and overheads", b.other_s()}};
}

std::string price_text(const ScenarioResult& r) {
  const auto& costs = r.scenario.job.costs;
  const auto& e = r.result.estimate;
  if (costs.mode == CostMode::rental) {
    const double rate = e.chip_hours > 0 ? e.energy_cost.cost_usd / e.chip_hours : costs.usd_per_chip_hour;
    return fmt::format("renting at ${:.2f} per chip-hour", rate);
  }
  return fmt::format("owning the cluster (capex {} written off over {:g} years)", usd(e.energy_cost.capex_usd),
                     costs.depreciation_years);
}

std::string scenario_paragraph(const ReportData& data, std::size_t index) {
  const auto& r = data.scenarios[index];
  const auto& s = r.scenario;
  const auto& e = r.result.estimate;
  const auto& p = r.intervals;
  const auto& m = e.memory;
  std::string text = fmt::format(
      "{}: training {} on {} tokens with {} takes {} (p10-p90, 80 % likely between {:.1f} and {:.1f} days) and costs "
      "{} (80 % likely between {} and {}), {} per million tokens, {}.",
      s.name, s.job.model.name, count(s.job.training.tokens), chips_text(s.job), days(e.train_days),
      p.train_days.p10, p.train_days.p90, usd(e.energy_cost.cost_usd), usd(p.cost_usd.p10), usd(p.cost_usd.p90),
      usd(e.energy_cost.usd_per_mtok), price_text(r));
  // Where the step goes: the two largest parts.
  auto parts = step_parts(e.breakdown);
  std::stable_sort(parts.begin(), parts.end(), [](const StepPart& a, const StepPart& b) { return a.seconds > b.seconds; });
  const double step = e.step_time_s;
  text += fmt::format(" A step takes {}; {} is the largest part ({} of the step)", seconds(step), parts[0].name,
                      percent(parts[0].seconds / step));
  if (parts.size() > 1 && parts[1].seconds > 0) {
    text += fmt::format(", then {} ({})", parts[1].name, percent(parts[1].seconds / step));
  }
  text += fmt::format(". Model FLOP utilisation is {} (p10-p90: {} to {}), {} tokens/s per chip.", percent(e.mfu),
                      percent(p.mfu.p10), percent(p.mfu.p90), count(e.tokens_per_s_per_chip));
  text += m.fits ? fmt::format(" Each chip holds {} of {} usable, {} to spare.", bytes(m.total_bytes),
                               bytes(m.usable_bytes), bytes(m.margin_bytes))
                 : fmt::format(" It does not fit in memory: each chip would need {} of {} usable, {} short.",
                               bytes(m.total_bytes), bytes(m.usable_bytes), bytes(-m.margin_bytes));
  if (!r.sensitivities.empty()) {
    const auto& top = r.sensitivities.front();
    const bool time_moves = std::fabs(top.days_ratio_low - 1) >= 5e-4 || std::fabs(top.days_ratio_high - 1) >= 5e-4;
    text += fmt::format(" The uncertain input that moves the result most is {}: cost {} to {}{}.", top.input,
                        signed_percent(top.cost_ratio_low), signed_percent(top.cost_ratio_high),
                        time_moves ? fmt::format(", time {} to {}", signed_percent(top.days_ratio_low),
                                                 signed_percent(top.days_ratio_high))
                                   : std::string(", time unchanged"));
  }
  // Ranked only against like: the scenarios that train the same model on the same tokens and fit in memory (a plan
  // that cannot run is never ranked, and a cheaper run of another model says nothing).
  std::vector<const ScenarioResult*> peers;
  for (const auto& x : data.scenarios) {
    if (x.scenario.job.model.id == s.job.model.id && x.scenario.job.training.tokens == s.job.training.tokens &&
        x.result.estimate.memory.fits) {
      peers.push_back(&x);
    }
  }
  if (!m.fits) {
    text += " It is not ranked against the others: its plan does not fit.";
  } else if (peers.size() > 1) {
    const auto best = [&peers](auto key) {
      return *std::min_element(peers.begin(), peers.end(),
                               [&key](const ScenarioResult* a, const ScenarioResult* b) { return key(*a) < key(*b); });
    };
    const auto* cheapest = best([](const ScenarioResult& x) { return x.result.estimate.energy_cost.cost_usd; });
    const auto* fastest = best([](const ScenarioResult& x) { return x.result.estimate.train_days; });
    const auto cost_rank = std::count_if(peers.begin(), peers.end(), [&e](const ScenarioResult* x) {
      return x->result.estimate.energy_cost.cost_usd < e.energy_cost.cost_usd;
    });
    const std::string like = fmt::format("the {} scenarios of this model on {} tokens that fit", peers.size(),
                                         count(s.job.training.tokens));
    if (cheapest == &r) {
      text += fmt::format(" It is the cheapest of {}.", like);
    } else {
      text += fmt::format(" By cost it ranks {} of {}, {:.2f} times the cheapest ({}).", cost_rank + 1, like,
                          e.energy_cost.cost_usd / cheapest->result.estimate.energy_cost.cost_usd,
                          cheapest->scenario.name);
    }
    if (fastest == &r) {
      text += " It is the fastest of them.";
    } else {
      text += fmt::format(" It takes {:.2f} times as long as the fastest ({}).",
                          e.train_days / fastest->result.estimate.train_days, fastest->scenario.name);
    }
  }
  const auto export_class = classify_export(s.job.cluster.chip);
  text += fmt::format(" Under the October 2023 US export rule the {} is {} (TPP {:.0f}).", s.job.cluster.chip.name,
                      to_string(export_class.rule_2023), export_class.tpp);
  return text;
}

ChartSpec interval_chart(const std::vector<const ScenarioResult*>& rows, std::string id, std::string title,
                         std::string x_title, std::string unit, double scale,
                         const std::function<double(const ScenarioResult&)>& central,
                         const std::function<Interval(const ScenarioResult&)>& interval, std::string caption);

// The scenarios that train the same model on the same tokens, in the order of their first; like is only ranked
// against like.
std::vector<std::vector<const ScenarioResult*>> like_groups(const ReportData& data) {
  std::vector<std::vector<const ScenarioResult*>> groups;
  for (const auto& r : data.scenarios) {
    const auto same = [&r](const std::vector<const ScenarioResult*>& g) {
      return g.front()->scenario.job.model.id == r.scenario.job.model.id &&
             g.front()->scenario.job.training.tokens == r.scenario.job.training.tokens;
    };
    if (auto it = std::find_if(groups.begin(), groups.end(), same); it != groups.end()) {
      it->push_back(&r);
    } else {
      groups.push_back({&r});
    }
  }
  return groups;
}

// "The cheapest is A: cost (80 % likely ...), days. It costs x % less than the next, B (cost); the odds ...".
std::string cheapest_sentence(const ScenarioResult& best, const ScenarioResult* next) {
  const auto& e = best.result.estimate;
  std::string text = fmt::format("The cheapest is {}: {} for the run (80 % likely between {} and {}), {} of training.",
                                 best.scenario.name, usd(e.energy_cost.cost_usd), usd(best.intervals.cost_usd.p10),
                                 usd(best.intervals.cost_usd.p90), days(e.train_days));
  if (next == nullptr) return text;
  const double next_cost = next->result.estimate.energy_cost.cost_usd;
  text += fmt::format(" It costs {:.1f} % less than the next, {} ({}); the odds that it stays the cheaper of the two "
                      "once both are measured: {}.",
                      100.0 * (1.0 - e.energy_cost.cost_usd / next_cost), next->scenario.name, usd(next_cost),
                      odds_text(probability_below(e.energy_cost.cost_usd, best.intervals.cost_usd, next_cost,
                                                  next->intervals.cost_usd)));
  if (next->scenario.job.costs.mode == CostMode::rental && next->result.estimate.chip_hours > 0) {
    // Rental cost is chip-hours x price: the next costs as much at the price that makes its chip-hours cost this.
    text += fmt::format(" The next would cost as much at {} per chip-hour (it rents at {}).",
                        usd(e.energy_cost.cost_usd / next->result.estimate.chip_hours),
                        usd(next_cost / next->result.estimate.chip_hours));
  }
  return text;
}

std::string fastest_sentence(const ScenarioResult& best, const ScenarioResult* next) {
  const auto& e = best.result.estimate;
  std::string text = fmt::format("The fastest is {}: {} (80 % likely between {:.1f} and {:.1f} days).",
                                 best.scenario.name, days(e.train_days), best.intervals.train_days.p10,
                                 best.intervals.train_days.p90);
  if (next == nullptr) return text;
  const double next_days = next->result.estimate.train_days;
  return text + fmt::format(" It finishes {:.1f} % sooner than the next, {} ({}); the odds that it stays the faster: "
                            "{}.",
                            100.0 * (1.0 - e.train_days / next_days), next->scenario.name, days(next_days),
                            odds_text(probability_below(e.train_days, best.intervals.train_days, next_days,
                                                        next->intervals.train_days)));
}

// The answer first: for each model and token budget, which scenario is cheapest and which fastest, by how much, how
// sure, and at what price the next would catch up; a plan that does not fit is named and never ranked.
Section answer_section(const ReportData& data) {
  Section section{.title = "The answer", .blocks = {}};
  std::string alone;  // the scenarios with nothing like them to rank against, in one paragraph
  for (const auto& group : like_groups(data)) {
    std::vector<const ScenarioResult*> fit;
    std::copy_if(group.begin(), group.end(), std::back_inserter(fit),
                 [](const ScenarioResult* r) { return r->result.estimate.memory.fits; });
    std::string not_ranked;
    for (const auto* r : group) {
      if (!r->result.estimate.memory.fits) {
        not_ranked += fmt::format(" {} is not ranked: its plan does not fit in memory ({} of {} usable per chip).",
                                  r->scenario.name, bytes(r->result.estimate.memory.total_bytes),
                                  bytes(r->result.estimate.memory.usable_bytes));
      }
    }
    if (fit.size() == 1 && group.size() == 1) {
      const auto& r = *fit.front();
      alone += fmt::format("{}{}: {} (80 % likely between {} and {}), {} (80 % likely between {:.1f} and {:.1f} days)",
                           alone.empty() ? "" : "; ", r.scenario.name, usd(r.result.estimate.energy_cost.cost_usd),
                           usd(r.intervals.cost_usd.p10), usd(r.intervals.cost_usd.p90),
                           days(r.result.estimate.train_days), r.intervals.train_days.p10, r.intervals.train_days.p90);
      continue;
    }
    const auto& job = group.front()->scenario.job;
    std::string text = fmt::format("{} on {} tokens, {} scenario{}{}.", job.model.name, count(job.training.tokens),
                                   group.size(), group.size() == 1 ? "" : "s",
                                   fit.size() == group.size() ? "" : fmt::format(", {} of which fit", fit.size()));
    const auto by = [&fit](auto key) {
      auto sorted = fit;
      std::stable_sort(sorted.begin(), sorted.end(),
                       [&key](const ScenarioResult* a, const ScenarioResult* b) { return key(*a) < key(*b); });
      return sorted;
    };
    const auto by_cost = by([](const ScenarioResult& r) { return r.result.estimate.energy_cost.cost_usd; });
    const auto by_days = by([](const ScenarioResult& r) { return r.result.estimate.train_days; });
    if (!fit.empty()) {
      text += " " + cheapest_sentence(*by_cost[0], fit.size() > 1 ? by_cost[1] : nullptr);
      if (fit.size() > 1) text += " " + fastest_sentence(*by_days[0], by_days[1]);
    }
    section.blocks.push_back(Paragraph{text + not_ranked});
    if (fit.size() > 1) {  // the ones ranked, side by side
      section.blocks.push_back(interval_chart(
          fit, fmt::format("answer-cost-{}", section.blocks.size()),
          fmt::format("Cost of training {} on {} tokens", job.model.name, count(job.training.tokens)),
          "cost (million USD)", "million USD", 1e-6,
          [](const ScenarioResult& r) { return r.result.estimate.energy_cost.cost_usd; },
          [](const ScenarioResult& r) { return r.intervals.cost_usd; },
          "The dot is the central prediction, the bar its p10-p90 range (80 % likely between). Scenarios whose "
          "plan does not fit are not shown."));
    }
  }
  if (!alone.empty()) {
    section.blocks.push_back(Paragraph{"Each alone with its model and token budget, nothing like it to rank "
                                       "against: " + alone + "."});
  }
  section.blocks.push_back(Paragraph{
      "How sure: every range is p10-p90, 80 % likely between the two, from the model's cross-validated error on "
      "published runs of that chip family combined with the catalog's uncertain inputs (peak rates, prices); families "
      "with fewer published runs (Ascend, Blackwell) get wider ranges. The odds take two predictions' errors as "
      "independent; chips of one family share some of theirs, so the order within a family is surer than stated. A "
      "rental price is a catalog figure, not a quote: \"What moves the result\" shows each input that would change "
      "a ranking, and `flopcast compare` gives each chip its own best plan."});
  return section;
}

Section summary_section(const ReportData& data) {
  Section section{.title = "Summary", .blocks = {}};
  section.blocks.push_back(Paragraph{fmt::format(
      "{} scenarios at {}. Each value is the central prediction with its p10-p90 range in brackets (80 % likely "
      "between the two): the model's own "
      "cross-validated error combined with every catalog input given as a range (Monte Carlo; see Assumptions).",
      data.scenarios.size(), tier_text(data.tier))});
  Table table{.caption = "Scenarios side by side",
              .header = {"scenario", "chips", "training time", "cost", "$ per million tokens", "MFU",
                         "memory per chip"},
              .rows = {}};
  for (const auto& r : data.scenarios) {
    const auto& e = r.result.estimate;
    const auto& p = r.intervals;
    table.rows.push_back(
        {text_cell(r.scenario.name), number_cell(chips_short(r.scenario.job), r.scenario.job.cluster.chips, "chips"),
         interval_cell(e.train_days, p.train_days, [](double v) { return days(v); }, 1.0, "days"),
         interval_cell(e.energy_cost.cost_usd, p.cost_usd, [](double v) { return usd(v); }, 1.0, "USD"),
         interval_cell(e.energy_cost.usd_per_mtok, p.usd_per_mtok, [](double v) { return usd(v); }, 1.0,
                       "USD per million tokens"),
         interval_cell(e.mfu, p.mfu, [](double v) { return percent(v); }, 100.0, "%"),
         number_cell(fmt::format("{} ({})", bytes(e.memory.total_bytes), e.memory.fits ? "fits" : "does not fit"),
                     e.memory.total_bytes / kBytesPerGiB, "GiB")});
  }
  section.blocks.push_back(std::move(table));
  return section;
}

Section words_section(const ReportData& data) {
  Section section{.title = "Each scenario in words", .blocks = {}};
  for (std::size_t i = 0; i < data.scenarios.size(); ++i) section.blocks.push_back(Paragraph{scenario_paragraph(data, i)});
  return section;
}

ChartSpec interval_chart(const std::vector<const ScenarioResult*>& rows, std::string id, std::string title,
                         std::string x_title, std::string unit, double scale,
                         const std::function<double(const ScenarioResult&)>& central,
                         const std::function<Interval(const ScenarioResult&)>& interval, std::string caption) {
  ChartSpec chart{.id = std::move(id), .title = std::move(title), .kind = ChartKind::intervals,
                  .x_title = std::move(x_title), .y_title = "", .x_unit = "", .y_unit = std::move(unit),
                  .categories = {}, .series = {}, .log_x = false, .log_y = false, .caption = std::move(caption),
                  .height_px = 0};
  ChartSeries series{.name = "central (p10-p90)", .x = {}, .y = {}, .low = {}, .high = {}, .colour = {}};
  for (const auto* r : rows) {
    chart.categories.push_back(short_label(r->scenario.name));
    series.y.push_back(central(*r) * scale);
    series.low.push_back(interval(*r).p10 * scale);
    series.high.push_back(interval(*r).p90 * scale);
  }
  chart.series.push_back(std::move(series));
  return chart;
}

Section charts_section(const ReportData& data) {
  Section section{.title = "Cost, time, step and memory", .blocks = {}};
  if (data.scenarios.empty()) return section;
  const std::string band = "The dot is the central prediction, the bar its p10-p90 range.";
  std::vector<const ScenarioResult*> all;
  for (const auto& r : data.scenarios) all.push_back(&r);
  section.blocks.push_back(interval_chart(
      all, "cost", "Cost of the training run", "cost (million USD)", "million USD", 1e-6,
      [](const ScenarioResult& r) { return r.result.estimate.energy_cost.cost_usd; },
      [](const ScenarioResult& r) { return r.intervals.cost_usd; }, band));
  section.blocks.push_back(interval_chart(
      all, "days", "Training time", "training time (days)", "days", 1.0,
      [](const ScenarioResult& r) { return r.result.estimate.train_days; },
      [](const ScenarioResult& r) { return r.intervals.train_days; }, band));
  section.blocks.push_back(interval_chart(
      all, "usd-per-mtok", "Training cost per million tokens", "USD per million tokens trained",
      "USD per million tokens", 1.0, [](const ScenarioResult& r) { return r.result.estimate.energy_cost.usd_per_mtok; },
      [](const ScenarioResult& r) { return r.intervals.usd_per_mtok; },
      band + " Serving (scenarios with a serving section) has its own section."));

  // Step-time breakdown, stacked, in seconds.
  ChartSpec steps{.id = "step-breakdown", .title = "Where a training step goes", .kind = ChartKind::stacked_bars,
                  .x_title = "time per step (s)", .y_title = "", .x_unit = "", .y_unit = "s", .categories = {},
                  .series = {}, .log_x = false, .log_y = false,
                  .caption = "The slowest pipeline stage's step: compute (GEMMs, attention, memory-bound kernels), "
                             "communication the compute stream waits for, by kind, the pipeline bubble, and the "
                             "optimizer step with fixed overheads.",
                  .height_px = 0};
  for (const auto& part : step_parts(StepBreakdown{})) {
    steps.series.push_back(ChartSeries{.name = part.name, .x = {}, .y = {}, .low = {}, .high = {}, .colour = {}});
  }
  for (const auto& r : data.scenarios) {
    steps.categories.push_back(short_label(r.scenario.name));
    const auto parts = step_parts(r.result.estimate.breakdown);
    for (std::size_t k = 0; k < parts.size(); ++k) steps.series[k].y.push_back(parts[k].seconds);
  }
  // Kinds no scenario waits for are left out of the legend.
  std::erase_if(steps.series, [](const ChartSeries& s) {
    return std::all_of(s.y.begin(), s.y.end(), [](double v) { return v <= 0; });
  });
  section.blocks.push_back(std::move(steps));

  ChartSpec memory{.id = "memory", .title = "Memory per chip (fullest pipeline stage)", .kind = ChartKind::stacked_bars,
                   .x_title = "memory per chip (GiB)", .y_title = "", .x_unit = "", .y_unit = "GiB", .categories = {},
                   .series = {}, .log_x = false, .log_y = false,
                   .caption = "The dashed mark is the usable memory (HBM less the share the runtime cannot use): a "
                              "bar that ends with \"free\" fits under it, a bar that runs past it does not fit.",
                   .height_px = 0};
  for (const char* name : {"weights", "gradients", "optimizer states", "activations", "reserved", "free"}) {
    memory.series.push_back(ChartSeries{.name = name, .x = {}, .y = {}, .low = {}, .high = {}, .colour = {}});
  }
  memory.series.back().colour = "#dddddd";  // free memory: no colour of its own
  memory.series.push_back(
      ChartSeries{.name = "usable memory", .x = {}, .y = {}, .low = {}, .high = {}, .colour = "#000000", .limit = true});
  for (const auto& r : data.scenarios) {
    const auto& m = r.result.estimate.memory;
    memory.categories.push_back(short_label(r.scenario.name));
    const double parts[] = {m.weights_bytes + m.gathered_weights_bytes, m.gradients_bytes, m.optimizer_bytes,
                            m.activations_bytes, m.reserved_bytes,  std::max(0.0, m.margin_bytes), m.usable_bytes};
    for (std::size_t k = 0; k < std::size(parts); ++k) memory.series[k].y.push_back(parts[k] / kBytesPerGiB);
  }
  section.blocks.push_back(std::move(memory));

  ChartSpec deadline{.id = "chips-for-deadline", .title = "Chips needed to finish by a deadline", .kind = ChartKind::lines,
                     .x_title = "deadline (days)", .y_title = "chips needed", .x_unit = "days", .y_unit = "chips",
                     .categories = {}, .series = {}, .log_x = false, .log_y = true,
                     .caption = "Each scenario's tokens at its throughput per chip, in whole nodes: chips x training "
                                "days / deadline. It assumes throughput per chip holds as the cluster grows (the "
                                "global batch grows with it); `flopcast plan --deadline-days` searches the plans.",
                     .height_px = 460};
  for (const auto& r : data.scenarios) {
    ChartSeries series{.name = short_label(r.scenario.name), .x = {}, .y = {}, .low = {}, .high = {}, .colour = {}};
    for (double d : data.deadlines_days) {
      series.x.push_back(d);
      series.y.push_back(chips_for_deadline(r, d));
    }
    deadline.series.push_back(std::move(series));
  }
  section.blocks.push_back(std::move(deadline));
  return section;
}

Section sensitivity_section(const ReportData& data) {
  Section section{.title = "What moves the result", .blocks = {}};
  section.blocks.push_back(Paragraph{fmt::format(
      "Tier 1 with one input at a time at the low and at the high end of its range, the others central: every "
      "catalog figure the scenario uses that is given as a range (disputed peak FLOP/s, estimated bandwidths and "
      "latencies, catalog prices), a price the scenario gives itself {:g} % either way, and the chip family's kernel "
      "efficiencies scaled by the model's cross-validated spread. Changes are against the tier-1 central prediction.",
      100 * data.price_swing)});
  constexpr std::size_t kShown = 6;
  for (const auto& r : data.scenarios) {
    const std::size_t shown = std::min(kShown, r.sensitivities.size());
    if (shown == 0) continue;
    ChartSpec chart{.id = fmt::format("sensitivity-{}", &r - data.scenarios.data() + 1),
                    .title = fmt::format("Sensitivity of cost: {}", short_label(r.scenario.name)),
                    .kind = ChartKind::tornado, .x_title = "change in cost (%)", .y_title = "", .x_unit = "",
                    .y_unit = "%", .categories = {}, .series = {}, .log_x = false, .log_y = false, .caption = "",
                    .height_px = 0};
    ChartSeries low{.name = "input at its low end", .x = {}, .y = {}, .low = {}, .high = {}, .colour = {}};
    ChartSeries high{.name = "input at its high end", .x = {}, .y = {}, .low = {}, .high = {}, .colour = {}};
    Table table{.caption = fmt::format("Sensitivity: {}", r.scenario.name),
                .header = {"input", "time, low end", "time, high end", "cost, low end", "cost, high end"},
                .rows = {}};
    for (std::size_t k = 0; k < shown; ++k) {
      const auto& s = r.sensitivities[k];
      chart.categories.push_back(short_label(s.input));
      low.y.push_back(100 * (s.cost_ratio_low - 1));
      high.y.push_back(100 * (s.cost_ratio_high - 1));
      const auto pct = [](double ratio) { return number_cell(signed_percent(ratio), 100 * (ratio - 1), "% change"); };
      table.rows.push_back({text_cell(s.input), pct(s.days_ratio_low), pct(s.days_ratio_high), pct(s.cost_ratio_low),
                            pct(s.cost_ratio_high)});
    }
    chart.series = {std::move(low), std::move(high)};
    section.blocks.push_back(std::move(chart));
    section.blocks.push_back(std::move(table));
  }
  return section;
}

bool all_numbers(const SweepAxis& axis) {
  return std::all_of(axis.values.begin(), axis.values.end(), [](const nlohmann::json& v) { return v.is_number(); });
}

std::string value_text(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// The last key of a JSON pointer: "/costs/usd_per_chip_hour" -> "usd_per_chip_hour".
std::string axis_name(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// The unit of a swept value, for the axis title (scenarios/SCHEMA.md); none for keys without one.
std::string axis_unit(const std::string& path) {
  static const std::map<std::string, std::string> kUnits{
      {"usd_per_chip_hour", "USD per chip-hour"}, {"electricity_usd_per_kwh", "USD per kWh"},
      {"chip_capex_usd", "USD"},                  {"node_capex_usd", "USD"},
      {"depreciation_years", "years"},            {"chips", "chips"},
      {"tokens", "tokens"},                       {"seq_len", "tokens"},
      {"global_batch", "sequences"},              {"micro_batch", "sequences"}};
  const auto it = kUnits.find(axis_name(path));
  return it == kUnits.end() ? std::string() : it->second;
}

// The values of a point's axes other than `skip_axis`: the value alone for one axis, "key = value, ..." for more.
std::string point_label(const Sweep& sweep, const nlohmann::json& point, std::size_t skip_axis) {
  std::vector<std::size_t> shown;
  for (std::size_t a = 0; a < sweep.axes.size(); ++a) {
    if (a != skip_axis) shown.push_back(a);
  }
  if (shown.size() == 1) return value_text(point.at(sweep.axes[shown.front()].path));
  std::string label;
  for (std::size_t a : shown) {
    if (!label.empty()) label += ", ";
    label += fmt::format("{} = {}", axis_name(sweep.axes[a].path), value_text(point.at(sweep.axes[a].path)));
  }
  return label;
}

// One sweep: lines over its last numeric axis (one per value of the other axes) with p10-p90 bands, or intervals by
// point when no axis is numeric; then every point in a table.
void add_sweep(Section& section, const SweepResult& s, std::size_t sweep_number) {
  const auto& sweep = s.sweep;
  const auto ok = [](const nlohmann::json& row) { return row.at("status") == "ok"; };
  const auto feasible = std::count_if(s.rows.begin(), s.rows.end(), ok);
  std::string axes;
  for (const auto& axis : sweep.axes) axes += fmt::format("{}{} ({} values)", axes.empty() ? "" : ", ", axis.path, axis.values.size());
  section.blocks.push_back(Paragraph{fmt::format(
      "Sweep {} ({}): {} points at tier 1, {} over {}, from the base scenario \"{}\". {} run; {} do not fit "
      "together or in memory and are left out of the charts.",
      sweep_number, sweep.file, sweep.size(), sweep.zip ? "zipped" : "a grid", axes,
      sweep.base.value("name", std::string("")), feasible, static_cast<long>(s.rows.size()) - feasible)});
  std::size_t x_axis = sweep.axes.size();
  for (std::size_t a = sweep.axes.size(); a-- > 0;) {
    if (all_numbers(sweep.axes[a])) {
      x_axis = a;
      break;
    }
  }
  struct Metric {
    std::string key, title, unit;
    double scale;
  };
  const std::vector<Metric> metrics{{"cost_usd", "cost (million USD)", "million USD", 1e-6},
                                    {"train_days", "training time (days)", "days", 1.0}};
  for (const auto& metric : metrics) {
    ChartSpec chart{.id = fmt::format("sweep-{}-{}", sweep_number, metric.key), .title = "", .kind = ChartKind::lines,
                    .x_title = "", .y_title = metric.title, .x_unit = "", .y_unit = metric.unit, .categories = {},
                    .series = {}, .log_x = false, .log_y = false,
                    .caption = "Lines are central predictions, shaded bands their p10-p90 range.", .height_px = 460};
    if (x_axis < sweep.axes.size()) {
      const auto& path = sweep.axes[x_axis].path;
      const auto unit = axis_unit(path);
      chart.title = fmt::format("Sweep {}: {} against {}", sweep_number, metric.title, axis_name(path));
      chart.x_title = unit.empty() ? path : fmt::format("{} ({})", path, unit);
      chart.x_unit = unit;
      std::map<std::string, std::size_t> series_of;
      for (const auto& row : s.rows) {
        if (!ok(row)) continue;
        const auto label = point_label(sweep, row.at("point"), x_axis);
        auto [it, added] = series_of.try_emplace(label, chart.series.size());
        if (added) chart.series.push_back(ChartSeries{.name = label.empty() ? metric.title : label, .x = {}, .y = {}, .low = {}, .high = {}, .colour = {}});
        auto& series = chart.series[it->second];
        series.x.push_back(row.at("point").at(path).get<double>());
        series.y.push_back(row.at(metric.key).get<double>() * metric.scale);
        series.low.push_back(row.at(metric.key + "_p10").get<double>() * metric.scale);
        series.high.push_back(row.at(metric.key + "_p90").get<double>() * metric.scale);
      }
    } else {
      chart.kind = ChartKind::intervals;
      chart.title = fmt::format("Sweep {}: {}", sweep_number, metric.title);
      chart.x_title = metric.title;
      chart.caption = "The dot is the central prediction, the bar its p10-p90 range.";
      ChartSeries series{.name = "central (p10-p90)", .x = {}, .y = {}, .low = {}, .high = {}, .colour = {}};
      for (const auto& row : s.rows) {
        if (!ok(row)) continue;
        chart.categories.push_back(short_label(point_label(sweep, row.at("point"), sweep.axes.size())));
        series.y.push_back(row.at(metric.key).get<double>() * metric.scale);
        series.low.push_back(row.at(metric.key + "_p10").get<double>() * metric.scale);
        series.high.push_back(row.at(metric.key + "_p90").get<double>() * metric.scale);
      }
      chart.series.push_back(std::move(series));
    }
    if (!chart.series.empty()) section.blocks.push_back(std::move(chart));
  }
  Table table{.caption = fmt::format("Sweep {}: every point", sweep_number), .header = {"point"}, .rows = {}};
  for (const auto& axis : sweep.axes) table.header.push_back(axis.path);
  for (const char* h : {"training time", "cost", "$ per million tokens", "MFU", "status"}) table.header.push_back(h);
  for (const auto& row : s.rows) {
    std::vector<Cell> cells{number_cell(fmt::format("{}", row.at("index").get<std::size_t>()),
                                        row.at("index").get<double>(), "index")};
    for (const auto& axis : sweep.axes) {
      const auto& v = row.at("point").at(axis.path);
      const auto unit = axis_unit(axis.path);
      cells.push_back(v.is_number() ? number_cell(unit.empty() ? value_text(v) : value_text(v) + " " + unit,
                                                  v.get<double>(), unit.empty() ? axis.path : unit)
                                    : text_cell(value_text(v)));
    }
    if (row.contains("train_days")) {
      const auto get = [&row](const std::string& key) { return row.at(key).get<double>(); };
      cells.push_back(interval_cell(get("train_days"), {get("train_days_p10"), get("train_days_p90")},
                                    [](double v) { return days(v); }, 1.0, "days"));
      cells.push_back(interval_cell(get("cost_usd"), {get("cost_usd_p10"), get("cost_usd_p90")},
                                    [](double v) { return usd(v); }, 1.0, "USD"));
      cells.push_back(number_cell(usd(get("usd_per_mtok")), get("usd_per_mtok"), "USD per million tokens"));
      cells.push_back(number_cell(percent(get("mfu")), 100 * get("mfu"), "%"));
    } else {
      for (int k = 0; k < 4; ++k) cells.push_back(text_cell(""));
    }
    const auto status = row.at("status").get<std::string>();
    const auto reason = row.value("reason", std::string());
    cells.push_back(text_cell(reason.empty() ? status : status + ": " + reason));
    table.rows.push_back(std::move(cells));
  }
  section.blocks.push_back(std::move(table));
}

std::string claim_unit(ClaimMetric metric, bool ratio) {
  if (ratio) return "ratio";
  switch (metric) {
    case ClaimMetric::step_time_s: return "s";
    case ClaimMetric::train_days: return "days";
    case ClaimMetric::chip_hours: return "chip-hours";
    case ClaimMetric::cost_usd: return "USD";
    case ClaimMetric::usd_per_mtok: return "USD per million tokens";
    case ClaimMetric::yearly_cost_usd: return "USD per year";
    case ClaimMetric::mfu: return "%";
    case ClaimMetric::tokens_per_s_per_chip: return "tokens/s per chip";
    case ClaimMetric::tokens_per_s: return "tokens/s";
    case ClaimMetric::kwh_per_mtok: return "kWh per million tokens";
    case ClaimMetric::output_tokens_per_s_per_chip: return "output tokens/s per chip";
    case ClaimMetric::serving_usd_per_m_tokens: return "USD per million tokens";
    case ClaimMetric::serving_usd_per_m_output: return "USD per million output tokens";
    case ClaimMetric::kv_tokens_per_chip: return "tokens per chip";
    case ClaimMetric::kv_bytes_per_token: return "bytes per token";
    case ClaimMetric::forward_flop_per_token: return "FLOP per token";
    case ClaimMetric::chip_price_usd: return "USD per chip";
    case ClaimMetric::chips_capex_usd: return "USD";
  }
  return "";
}

Section claims_section(const ReportData& data) {
  Section section{.title = "Claims from public debate", .blocks = {}};
  section.blocks.push_back(Paragraph{fmt::format(
      "Each claim checked at {}. Verdicts are computed from the prediction and its p10-p90 range: consistent when "
      "the claimed value lies inside it; holds, plausible or does not hold for at-most and at-least claims.",
      tier_text(data.tier))});
  Table table{.caption = "Claims and verdicts",
              .header = {"claim", "check", "predicted (p10-p90)", "claimed", "verdict"},
              .rows = {}};
  for (const auto& r : data.claims) {
    for (std::size_t k = 0; k < r.checks.size(); ++k) {
      const auto& c = r.checks[k];
      const bool ratio = r.claim.checks[k].combine == CheckCombine::ratio;
      const double scale = !ratio && c.metric == ClaimMetric::mfu ? 100.0 : 1.0;
      const auto text = [&](double v) { return check_value_text(r.claim.checks[k], v); };
      const std::string unit = r.claim.checks[k].scale != 1 ? "count" : claim_unit(c.metric, ratio);
      Cell predicted{.text = c.p10 < c.p90 ? fmt::format("{} ({})", text(c.predicted), human::range(text(c.p10), text(c.p90)))
                                           : text(c.predicted),
                     .value = c.predicted * scale, .unit = unit, .p10 = c.p10 * scale,
                     .p90 = c.p90 * scale};
      const std::string relation = c.relation == ClaimRelation::at_most    ? "at most "
                                   : c.relation == ClaimRelation::at_least ? "at least "
                                                                           : "";
      Cell claimed = c.claimed ? number_cell(relation + text(*c.claimed), *c.claimed * scale, unit)
                               : text_cell("");
      table.rows.push_back({text_cell(k == 0 ? r.claim.claim : ""), text_cell(c.label), std::move(predicted),
                            std::move(claimed),
                            text_cell(c.not_fitting.empty()
                                          ? std::string(to_string(c.verdict))
                                          : fmt::format("{} ({})", to_string(c.verdict), join(c.not_fitting, "; ")))});
    }
  }
  section.blocks.push_back(std::move(table));
  for (const auto& r : data.claims) {
    section.blocks.push_back(Paragraph{fmt::format("\"{}\": overall {}. Source: {}.{}", r.claim.claim,
                                                   to_string(r.verdict), r.claim.source,
                                                   r.claim.note.empty() ? std::string() : fmt::format(" {}", r.claim.note))});
  }
  return section;
}

Section export_section(const ReportData& data) {
  Section section{.title = "Export-control classification", .blocks = {}};
  section.blocks.push_back(Paragraph{
      "Computed from each chip's catalog figures, never typed in. TPP (total processing performance) is the dense "
      "TOP/s times the operand bit length, the largest over data types; performance density is TPP per mm2 of die. "
      "Rules: 15 CFR 774 Supplement 1, ECCN 3A090 (October 2022 rule, 87 FR 62186: TPP >= 4800 and chip-to-chip I/O "
      ">= 600 GB/s; October 2023 rule, 88 FR 73458: 3A090.a for TPP >= 4800, or TPP >= 1600 with density >= 5.92; "
      "3A090.b, the notified gray band, below that)."});
  Table table{.caption = "Chips used",
              .header = {"chip", "TPP", "performance density", "chip-to-chip I/O (both ways)", "October 2022 rule",
                         "October 2023 rule", "why"},
              .rows = {}};
  for (const auto& chip : data.chips_used) {
    const auto c = classify_export(chip);
    const bool range = c.tpp_low != c.tpp_high;
    Cell tpp = number_cell(range ? fmt::format("{:.0f} ({:.0f} to {:.0f}) bit-TOP/s, {}", c.tpp, c.tpp_low, c.tpp_high,
                                               to_string(c.tpp_data_type))
                                 : fmt::format("{:.0f} bit-TOP/s, {}", c.tpp, to_string(c.tpp_data_type)),
                           c.tpp, "bit-TOP/s");
    if (range) {
      tpp.p10 = c.tpp_low;  // the catalog's low and high ends, in the interval columns of the CSV
      tpp.p90 = c.tpp_high;
    }
    table.rows.push_back({text_cell(fmt::format("{} ({})", chip.name, chip.id)), std::move(tpp),
                          number_cell(fmt::format("{:.2f} per mm2", c.performance_density), c.performance_density,
                                      "bit-TOP/s per mm2"),
                          number_cell(fmt::format("{:.0f} GB/s", c.io_bidirectional_bytes_per_s / kBytesPerGB),
                                      c.io_bidirectional_bytes_per_s / kBytesPerGB, "GB/s"),
                          text_cell(std::string(to_string(c.rule_2022))), text_cell(std::string(to_string(c.rule_2023))),
                          text_cell(c.reason_2023)});
  }
  section.blocks.push_back(std::move(table));
  return section;
}

// A catalog figure in the unit its file states it in.
std::string figure_text(const nlohmann::json& q, double& value_in_unit, std::string& unit) {
  unit = q.value("unit_in_file", std::string());
  double to_internal = 1.0;
  if (const auto info = find_unit(unit)) to_internal = info->to_internal;
  value_in_unit = q.at("value").get<double>() / to_internal;
  std::string text = fmt::format("{:.4g} {}", value_in_unit, unit);
  if (q.contains("low") && q.contains("high")) {
    text += fmt::format(" ({:.4g} to {:.4g})", q.at("low").get<double>() / to_internal,
                        q.at("high").get<double>() / to_internal);
  }
  return text;
}

Section assumptions_section(const ReportData& data) {
  Section section{.title = "Assumptions and sources", .blocks = {}};
  section.blocks.push_back(Paragraph{
      "Every catalog figure and modelling assumption the scenarios rest on, with its source, or its reasoning where "
      "it is an estimate. Figures given as a range carry it into the p10-p90 intervals. Chips used only by sweeps "
      "or claims list the figures the summary rests on."});
  Table table{.caption = "Figures used", .header = {"figure", "value", "source or estimate"}, .rows = {}};
  std::set<std::string> seen;
  const auto add = [&](const std::string& name, const nlohmann::json& q) {
    if (!seen.insert(name).second) return;
    double value = 0;
    std::string unit;
    const auto text = figure_text(q, value, unit);
    std::string source = q.value("source", std::string());
    if (q.contains("estimate")) {
      source += fmt::format("{}estimate: {}", source.empty() ? "" : "; ", q.at("estimate").get<std::string>());
    }
    table.rows.push_back({text_cell(name), number_cell(text, value, unit.empty() ? "as stated" : unit), text_cell(source)});
  };
  for (const auto& r : data.scenarios) {
    const auto& cluster = r.scenario.job.cluster;
    for (const auto& q : r.assumptions) {
      auto name = q.at("name").get<std::string>();
      if (name.rfind("serving.", 0) == 0) continue;  // a training run uses none of serving's assumptions
      // Catalog figures are named by the part they belong to.
      if (name.rfind("chip.", 0) == 0) name = cluster.chip.id + name.substr(4);
      if (name.rfind("node.", 0) == 0) name = cluster.node.id + name.substr(4);
      if (name.rfind("fabric.", 0) == 0) name = cluster.fabric.id + name.substr(6);
      add(name, q);
    }
  }
  for (const auto& chip : data.chips_used) {
    for (auto type : {DataType::bf16, DataType::fp8}) {
      if (chip.peak(type)) add(fmt::format("{}.peak_dense.{}_flop_per_s", chip.id, to_string(type)), quantity_to_json(*chip.peak(type)));
    }
    add(chip.id + ".hbm_capacity_bytes", quantity_to_json(chip.hbm_capacity));
    add(chip.id + ".hbm_bandwidth_bytes_per_s", quantity_to_json(chip.hbm_bandwidth));
    add(chip.id + ".tdp_w", quantity_to_json(chip.tdp));
    add(chip.id + ".die_area_mm2", quantity_to_json(chip.die_area));
    add(chip.id + ".scaleup_bandwidth_per_direction_bytes_per_s", quantity_to_json(chip.scaleup_bandwidth_per_direction));
    if (chip.rental_price) add(chip.id + ".rental_price_usd_per_hour", quantity_to_json(*chip.rental_price));
  }
  section.blocks.push_back(std::move(table));
  return section;
}

Section versions_section(const ReportData& data) {
  Section section{.title = "Versions and resolved scenarios", .blocks = {}};
  const std::string revision = source_revision();
  Table table{.caption = "Versions", .header = {"what", "version"}, .rows = {}};
  table.rows.push_back({text_cell("flopcast"), text_cell(tool_version())});
  table.rows.push_back({text_cell("source (git describe at build time)"), text_cell(revision.empty() ? "unknown" : revision)});
  table.rows.push_back({text_cell("hardware catalog"), text_cell(data.catalog_version)});
  table.rows.push_back({text_cell("scenario tier"), text_cell(std::string(tier_text(data.tier)))});
  if (!data.scenarios.empty()) {
    table.rows.push_back({text_cell("model error spread"), text_cell(data.scenarios.front().intervals.spread_source)});
  }
  section.blocks.push_back(std::move(table));
  if (data.scenarios.empty()) return section;  // a claims or sweep report: nothing more to list
  section.blocks.push_back(Paragraph{
      "Each scenario as the model ran it, every default filled in (scenarios/SCHEMA.md describes the keys)."});
  for (const auto& r : data.scenarios) {
    section.blocks.push_back(Code{.title = fmt::format("{} ({})", r.scenario.name, r.scenario.file),
                                  .text = r.scenario.resolved.dump(1)});
  }
  return section;
}

// Scenarios with a failures section: the whole run, simulated (sim/whole_run), beside the failure-free figure.
Section whole_run_section(const ReportData& data) {
  Section section{.title = "The whole run: failures, checkpoints and restarts", .blocks = {}};
  section.blocks.push_back(Paragraph{
      "A step time is not a training time: for the scenarios with a failures section, component failures (rates "
      "from the Llama 3 report's interruption table), checkpoint writes and loads, restarts, repairs, hot spares and "
      "stragglers are simulated over the whole run, many times with a fixed seed. Their days, chip-hours and cost "
      "above are the median run's, and their p10-p90 ranges hold the runs' spread as well as the model's."});
  Table table{.caption = "Whole runs (days of wall-clock time; intervals in hours of computing between checkpoints)",
              .header = {"scenario", "failure-free", "p10 / p50 / p90 run", "goodput", "chip-hours lost",
                         "failures per run", "job MTBF", "checkpoint every", "best simulated", "Young/Daly"},
              .rows = {}};
  const auto hours_cell = [](double s) {
    return std::isfinite(s) ? number_cell(fmt::format("{:.2f} h", s / kSecondsPerHour), s / kSecondsPerHour, "h") : text_cell("none");
  };
  for (const auto& r : data.scenarios) {
    if (!r.result.whole_run) continue;
    const auto& w = *r.result.whole_run;
    const auto& runs = w.runs;
    table.rows.push_back(
        {text_cell(r.scenario.name),
         number_cell(days(w.setup.work_s / kSecondsPerDay), w.setup.work_s / kSecondsPerDay, "days"),
         Cell{.text = fmt::format("{:.1f} / {:.1f} / {:.1f} days", runs.p10_wall_s / kSecondsPerDay,
                                  runs.p50_wall_s / kSecondsPerDay, runs.p90_wall_s / kSecondsPerDay),
              .value = runs.p50_wall_s / kSecondsPerDay,
              .unit = "days",
              .p10 = runs.p10_wall_s / kSecondsPerDay,
              .p90 = runs.p90_wall_s / kSecondsPerDay},
         number_cell(percent(w.goodput), 100.0 * w.goodput, "%"),
         number_cell(count(w.lost_chip_hours), w.lost_chip_hours, "chip-hours"),
         number_cell(fmt::format("{:.0f}", runs.mean.failures), runs.mean.failures, "failures"),
         hours_cell(w.mtbf_s), hours_cell(w.interval_used_s), hours_cell(w.best_interval_s),
         hours_cell(w.young_daly_interval_s)});
    if (w.search.size() < 2) continue;
    // The search: time lost by the mean run (over the failure-free days) against the checkpoint interval, with
    // Young/Daly's first-order optimum marked.
    constexpr double kSecondsPerMinute = 60.0;
    ChartSeries simulated{.name = "simulated mean run", .x = {}, .y = {}, .low = {}, .high = {}, .colour = {}};
    double high = 0;
    for (const auto& p : w.search) {
      const double lost_days = (p.mean_wall_s - w.setup.work_s) / kSecondsPerDay;
      simulated.x.push_back(p.interval_s / kSecondsPerMinute);
      simulated.y.push_back(lost_days);
      high = std::max(high, lost_days);
    }
    ChartSpec chart{.id = fmt::format("whole-run-interval-{}", table.rows.size()),
                    .title = fmt::format("Checkpoint interval: {}", short_label(r.scenario.name)),
                    .kind = ChartKind::lines, .x_title = "computing between checkpoints (minutes)",
                    .y_title = "time lost to failures and checkpoints (days)", .x_unit = "minutes", .y_unit = "days",
                    .categories = {}, .series = {std::move(simulated)}, .log_x = false, .log_y = false,
                    .caption = fmt::format("Each point is the mean of {} simulated runs that meet the same failures, "
                                           "less the failure-free {}; the vertical line is Young/Daly's "
                                           "sqrt(2 x write x MTBF).",
                                           w.setup.draws, days(w.setup.work_s / kSecondsPerDay)),
                    .height_px = 0};
    if (std::isfinite(w.young_daly_interval_s)) {
      chart.series.push_back(ChartSeries{.name = "Young/Daly",
                                         .x = {w.young_daly_interval_s / kSecondsPerMinute,
                                               w.young_daly_interval_s / kSecondsPerMinute},
                                         .y = {0.0, high}, .low = {}, .high = {}, .colour = {}});
    }
    section.blocks.push_back(std::move(chart));
  }
  section.blocks.insert(section.blocks.begin() + 1, std::move(table));
  return section;
}

// The curve serving benchmarks publish: output tokens/s per chip against tokens/s per user, one line per chip type.
ChartSpec serving_curve_chart(const ServingCurve& curve) {
  ChartSpec chart{.id = "serving-curve-" + curve.model,
                  .title = fmt::format("Throughput against interactivity: {}", curve.model),
                  .kind = ChartKind::lines,
                  .x_title = "output tokens/s per user (1 / TPOT)",
                  .y_title = "output tokens/s per chip",
                  .x_unit = "tokens/s per user",
                  .y_unit = "tokens/s per chip",
                  .categories = {},
                  .series = {},
                  .log_x = true,
                  .log_y = false,
                  .caption = fmt::format(
                      "The Pareto front of every plan and batch size the serving search tries on each chip type "
                      "(tier 1, steady state, the SLO not applied), for the workload of \"{}\": the most output "
                      "tokens/s per chip at each interactivity. `flopcast serve --curve` prints it as a table.",
                      curve.scenario),
                  .height_px = 460};
  for (std::size_t i = 0; i < curve.chips.size() && i < curve.fronts.size(); ++i) {
    ChartSeries series{.name = curve.chips[i], .x = {}, .y = {}, .low = {}, .high = {}, .colour = {}};
    // The front runs by falling tokens/s per user; a line is drawn left to right.
    for (auto it = curve.fronts[i].rbegin(); it != curve.fronts[i].rend(); ++it) {
      series.x.push_back(tokens_per_s_per_user(*it));
      series.y.push_back(it->estimate.output_tokens_per_s_per_chip);
    }
    if (!series.x.empty()) chart.series.push_back(std::move(series));
  }
  return chart;
}

Section serving_section(const ReportData& data) {
  Section section{.title = "Serving", .blocks = {}};
  section.blocks.push_back(Paragraph{fmt::format(
      "{} deployments served ({}): throughput, latency and what a million tokens costs. The prefill share of the cost "
      "is charged to input tokens, the decode share to output tokens. Ranges are p10-p90 (80 % likely between): "
      "the serving model's cross-validated error on published serving runs of dense or MoE models (flopcast serve "
      "--validate --cv).",
      data.serving.size(), data.tier == Tier::analytical ? "tier 1, steady state" : "request-level simulation")});
  Table table{.caption = "Deployments side by side",
              .header = {"scenario", "chips", "output tokens/s per chip", "TTFT p90", "TPOT p90", "goodput",
                         "$ per million input tokens", "$ per million output tokens", "$ per million tokens"},
              .rows = {}};
  ChartSpec chart{.id = "serving-usd-per-mtok", .title = "Serving cost per million tokens", .kind = ChartKind::bars,
                  .x_title = "USD per million tokens", .y_title = "", .x_unit = "", .y_unit = "USD per million tokens",
                  .categories = {}, .series = {}, .log_x = false, .log_y = false,
                  .caption = "Input tokens carry the prefill share of the cost, output tokens the decode share.",
                  .height_px = 0};
  ChartSeries input{.name = "input tokens", .x = {}, .y = {}, .low = {}, .high = {}, .colour = {}};
  ChartSeries output{.name = "output tokens", .x = {}, .y = {}, .low = {}, .high = {}, .colour = {}};
  ChartSeries all{.name = "all tokens", .x = {}, .y = {}, .low = {}, .high = {}, .colour = {}};
  for (const auto& r : data.serving) {
    const auto& x = r.result;
    const auto ranged = [&](double value, const std::function<std::string(double)>& text, std::string unit) {
      const auto [low, high] = serving_range(x, value);
      return interval_cell(value, Interval{.p10 = low, .p90 = high}, text, 1.0, std::move(unit));
    };
    const auto money = [](double v) { return usd(v); };
    table.rows.push_back(
        {text_cell(r.scenario.name), number_cell(chips_short(r.scenario.job), r.scenario.job.cluster.chips, "chips"),
         ranged(x.output_tokens_per_s_per_chip, [](double v) { return count(v); }, "tokens/s per chip"),
         ranged(x.ttft.p90_s, [](double v) { return seconds(v); }, "s"),
         ranged(x.tpot.p90_s, [](double v) { return seconds(v); }, "s"),
         number_cell(percent(x.goodput_fraction), 100 * x.goodput_fraction, "% of requests within both SLOs"),
         ranged(x.usd_per_m_input, money, "USD per million tokens"),
         ranged(x.usd_per_m_output, money, "USD per million tokens"),
         ranged(x.usd_per_m_tokens, money, "USD per million tokens")});
    chart.categories.push_back(short_label(r.scenario.name));
    input.y.push_back(x.usd_per_m_input);
    output.y.push_back(x.usd_per_m_output);
    all.y.push_back(x.usd_per_m_tokens);
  }
  chart.series = {std::move(input), std::move(output), std::move(all)};
  section.blocks.push_back(std::move(table));
  section.blocks.push_back(std::move(chart));
  for (const auto& curve : data.serving_curves) section.blocks.push_back(serving_curve_chart(curve));
  return section;
}

}  // namespace

Document build_document(const ReportData& data) {
  Document document;
  document.title = data.title;
  std::vector<std::string> parts;
  if (!data.scenarios.empty()) parts.push_back(fmt::format("{} scenarios at {}", data.scenarios.size(), tier_text(data.tier)));
  if (!data.sweeps.empty()) parts.push_back(fmt::format("{} sweeps at tier 1", data.sweeps.size()));
  if (!data.serving.empty()) parts.push_back(fmt::format("{} serving deployments", data.serving.size()));
  if (!data.claims.empty()) parts.push_back(fmt::format("{} claims at {}", data.claims.size(), tier_text(data.tier)));
  for (const auto& part : parts) document.subtitle += fmt::format("{}{}", document.subtitle.empty() ? "" : "; ", part);
  if (!data.scenarios.empty()) {
    document.sections.push_back(answer_section(data));
    document.sections.push_back(summary_section(data));
    document.sections.push_back(words_section(data));
    document.sections.push_back(charts_section(data));
    document.sections.push_back(sensitivity_section(data));
    const bool any_whole_run = std::any_of(data.scenarios.begin(), data.scenarios.end(),
                                           [](const ScenarioResult& r) { return r.result.whole_run.has_value(); });
    if (any_whole_run) document.sections.push_back(whole_run_section(data));
  }
  if (!data.sweeps.empty()) {
    Section sweeps{.title = "Sweeps", .blocks = {}};
    for (std::size_t k = 0; k < data.sweeps.size(); ++k) add_sweep(sweeps, data.sweeps[k], k + 1);
    document.sections.push_back(std::move(sweeps));
  }
  if (!data.serving.empty()) document.sections.push_back(serving_section(data));
  if (!data.claims.empty()) document.sections.push_back(claims_section(data));
  if (!data.chips_used.empty()) document.sections.push_back(export_section(data));
  document.sections.push_back(assumptions_section(data));
  document.sections.push_back(versions_section(data));
  return document;
}

std::string tool_version() { return FLOPCAST_VERSION; }
std::string source_revision() { return FLOPCAST_GIT_DESCRIBE; }

}  // namespace flopcast::report
