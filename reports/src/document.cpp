// build_document: the report's sections from the computed numbers, and the sections on the scenarios themselves (the
// answer, summary, words, charts, sensitivity, whole run); sections.cpp writes the others. Every sentence about a
// scenario is written from its numbers; nothing is typed in per scenario.

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
#include "flopcast/studies/compare.hpp"
#include "cells.hpp"
#include "sections.hpp"

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

const ChartSpec* Document::chart(const std::string& id) const {
  for (const auto* chart : charts()) {
    if (chart->id == id) return chart;
  }
  return nullptr;
}

const Table* Document::table(const std::string& section_title) const {
  for (const auto& section : sections) {
    if (section.title != section_title) continue;
    for (const auto& block : section.blocks) {
      if (const auto* table = std::get_if<Table>(&block)) return table;
    }
  }
  return nullptr;
}

// "2048 x h800-sxm", for tables.
std::string chips_short(const TrainingJob& job) {
  std::string text = fmt::format("{} x {}", job.cluster.chips, job.cluster.chip.id);
  for (const auto& group : job.cluster.stage_chips) text += " + " + group.chip.id;
  return text;
}

// A label short enough for a chart axis.
std::string short_label(const std::string& name) {
  constexpr std::size_t kMax = 78;  // three lines of a chart's wrapped category label
  if (name.size() <= kMax) return name;
  return name.substr(0, kMax - 3) + "...";
}

namespace {

using human::bytes;
using human::count;
using human::days;
using human::percent;
using human::seconds;
using human::usd;


std::string chips_text(const TrainingJob& job) {
  if (job.cluster.stage_chips.empty()) return fmt::format("{} x {}", job.cluster.chips, job.cluster.chip.name);
  std::string text = fmt::format("{} chips: {}", job.cluster.chips, job.cluster.chip.name);
  for (const auto& group : job.cluster.stage_chips) text += " + " + group.chip.name;
  return text;
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
  if (!data.sweeps.empty()) document.sections.push_back(sweeps_section(data));
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
