// The report's sections on what was asked beyond the scenarios' own results (sweeps, serving, claims, export control)
// and its record (assumptions, versions), each written from the computed numbers as document.cpp's are.

#include "sections.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <set>

#include <fmt/format.h>

#include "flopcast/core/human_units.hpp"
#include "flopcast/core/text.hpp"
#include "flopcast/core/units.hpp"
#include "cells.hpp"

namespace flopcast::report {

namespace {

using human::bytes;
using human::count;
using human::days;
using human::percent;
using human::seconds;
using human::usd;

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

}  // namespace

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

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

Section sweeps_section(const ReportData& data) {
  Section sweeps{.title = "Sweeps", .blocks = {}};
  for (std::size_t k = 0; k < data.sweeps.size(); ++k) add_sweep(sweeps, data.sweeps[k], k + 1);
  return sweeps;
}

}  // namespace flopcast::report
