// What the main window's views show: the scenario list, the selected scenario's results, the comparison of all,
// and the sweep of one input.

#include "main_window.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <QComboBox>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QSpinBox>
#include <QTableView>
#include <QtConcurrent/QtConcurrentRun>
#include <algorithm>
#include <functional>
#include <cmath>

#include "chart_box.hpp"
#include "document.hpp"
#include "flopcast/core/files.hpp"
#include "flopcast/core/human_units.hpp"
#include "flopcast/reports/charts.hpp"
#include "flopcast/reports/writers.hpp"
#include "flopcast/studies/sweep.hpp"
#include "chip_compare_view.hpp"
#include "fleet_view.hpp"
#include "gantt_view.hpp"
#include "models.hpp"
#include "schema_form.hpp"
#include "table_view.hpp"
#include "qt_text.hpp"

namespace flopcast::gui {

namespace {

// A chart spec with one category per scenario: a bar (or a dot with its p10-p90 bar) per scenario.
report::ChartSpec per_scenario_chart(const std::vector<report::ScenarioResult>& results, std::string id,
                                     std::string title, std::string axis, std::string unit,
                                     const std::function<double(const report::ScenarioResult&)>& value,
                                     const std::function<Interval(const report::ScenarioResult&)>& range) {
  report::ChartSpec chart;
  chart.id = std::move(id);
  chart.title = std::move(title);
  chart.kind = range ? report::ChartKind::intervals : report::ChartKind::bars;
  chart.x_title = std::move(axis);
  chart.y_unit = std::move(unit);
  report::ChartSeries series;
  series.name = range ? "central (p10-p90)" : chart.x_title;
  for (const auto& r : results) {
    chart.categories.push_back(r.scenario.name);
    series.y.push_back(value(r));
    if (range) {
      series.low.push_back(range(r).p10);
      series.high.push_back(range(r).p90);
    }
  }
  chart.series.push_back(std::move(series));
  return chart;
}

// A copy for the report's document, without the simulated step's trace (which can hold many thousands of events
// and no chart of the document uses).
report::ScenarioResult for_document(const report::ScenarioResult& result) {
  report::ScenarioResult copy = result;
  copy.result.trace.clear();
  return copy;
}

}  // namespace

void MainWindow::refresh_list() {
  list_->blockSignals(true);
  list_->clear();
  for (const auto& doc : docs_) {
    const std::string name = display_name(doc.json, QFileInfo(doc.path).fileName().toStdString());
    QString text = q(name);
    if (doc.dirty) text += " *";
    if (!doc.problems.empty() || !doc.error.empty()) text += "  (invalid)";
    auto* item = new QListWidgetItem(text, list_);
    item->setToolTip(doc.path);
    if (!doc.problems.empty() || !doc.error.empty()) item->setForeground(QColor(180, 0, 0));
  }
  list_->setCurrentRow(current_);
  list_->blockSignals(false);
}

std::shared_ptr<const report::ScenarioResult> MainWindow::shown_result(const Doc& doc) const {
  const auto& evaluation = doc.simulated ? doc.simulated : doc.tier1;
  if (!evaluation || evaluation->serving) return nullptr;
  return {evaluation, &evaluation->result};
}

std::shared_ptr<const report::ServingReport> MainWindow::shown_serving(const Doc& doc) const {
  const auto& evaluation = doc.simulated ? doc.simulated : doc.tier1;
  return evaluation ? evaluation->serving : nullptr;
}

report::ReportData MainWindow::shown_data() const {
  std::vector<report::ScenarioResult> results;
  std::vector<report::ServingReport> serving;
  Tier serving_tier = Tier::analytical;
  for (const auto& doc : docs_) {
    if (auto r = shown_result(doc)) results.push_back(for_document(*r));
    if (auto r = shown_serving(doc)) {
      serving.push_back(*r);
      if (doc.simulated) serving_tier = doc.simulated->tier;
    }
  }
  return report_data(results, catalogs_, false, std::move(serving), serving_tier);
}

void MainWindow::refresh_views() {
  refresh_current_views();
  refresh_comparison();
}

void MainWindow::refresh_current_views() {
  if (current_ < 0) {
    results_model_->set_results({});
    return;
  }
  const Doc& doc = docs_[static_cast<std::size_t>(current_)];
  const auto shown = shown_result(doc);
  results_model_->set_results(shown ? std::vector{shown}
                                    : std::vector<std::shared_ptr<const report::ScenarioResult>>{});
  const auto serving = shown_serving(doc);
  results_table_->setVisible(!serving);
  serving_table_->setVisible(serving != nullptr);
  if (serving) {
    // A deployment: the report's serving table, cost chart and throughput-interactivity curve for it alone (its
    // memory is in `flopcast serve`'s pools, not charted here).
    auto data = report_data({}, catalogs_, false, {*serving}, doc.simulated ? doc.simulated->tier : Tier::analytical);
    if (doc.tier1 && doc.tier1->serving_curve) data.serving_curves = {*doc.tier1->serving_curve};
    const auto document = report::build_document(data);
    if (const auto* table = document.table("Serving")) serving_model_->set_table(*table);
    if (const auto* chart = document.chart("serving-usd-per-mtok")) step_chart_->set_spec(*chart);
    if (const auto* chart = document.chart("serving-curve-" + serving->scenario.model_ref)) {
      memory_chart_->set_spec(*chart);
    } else {
      memory_chart_->clear("no plan of the serving search fits this chip");
    }
  } else if (!shown) {
    step_chart_->clear(doc.problems.empty() ? "evaluating..." : "the scenario has problems: see the form");
    memory_chart_->clear("");
  } else {
    const auto document = report::build_document(report_data({for_document(*shown)}, catalogs_));
    if (const auto* chart = document.chart("step-breakdown")) step_chart_->set_spec(*chart);
    if (const auto* chart = document.chart("memory")) memory_chart_->set_spec(*chart);
  }
  // The timeline and the per-device utilisation of the simulated step.
  if (serving) {
    gantt_->set_trace({}, 0, "A serving deployment has no training step to show.");
    timeline_note_->setText(q(fmt::format("{}: served {}.", serving->scenario.name,
                                          doc.simulated ? "request by request (tier 2)" : "in steady state (tier 1)")));
    devices_chart_->clear("per-device utilisation: training scenarios only");
  } else if (doc.simulated) {
    const auto& result = doc.simulated->result.result;
    gantt_->set_trace(result.trace, result.estimate.step_time_s, "");
    timeline_note_->setText(q(fmt::format("{}: one training step at tier 2, {} ({} activities simulated)",
                                          doc.simulated->result.scenario.name,
                                          human::seconds(result.estimate.step_time_s), result.simulated_activities)));
    report::ChartSpec devices;
    devices.id = "device-utilisation";
    devices.title = "Where each simulated device's step goes";
    devices.kind = report::ChartKind::stacked_bars;
    devices.x_title = "time per step (s)";
    devices.y_unit = "s";
    const std::vector<std::pair<std::string, double DeviceActivity::*>> parts = {
        {"compute", &DeviceActivity::compute_s},
        {"exposed TP", &DeviceActivity::exposed_tp_s},
        {"exposed CP", &DeviceActivity::exposed_cp_s},
        {"exposed EP", &DeviceActivity::exposed_ep_s},
        {"exposed PP", &DeviceActivity::exposed_pp_s},
        {"exposed DP", &DeviceActivity::exposed_dp_s},
        {"bubble", &DeviceActivity::bubble_s},
        {"optimizer", &DeviceActivity::optimizer_s},
        {"idle", &DeviceActivity::idle_s}};
    for (const auto& [name, member] : parts) {
      report::ChartSeries series;
      series.name = name;
      for (const auto& d : result.devices) series.y.push_back(d.*member);
      if (std::any_of(series.y.begin(), series.y.end(), [](double v) { return v > 0; })) {
        devices.series.push_back(std::move(series));
      }
    }
    for (const auto& d : result.devices) devices.categories.push_back(d.name);
    devices.caption = "The compute stream's time split per device: kernels, communication it waits for, bubble, idle.";
    devices_chart_->set_spec(devices);
  } else {
    gantt_->set_trace({}, 0, "Press Simulate (Ctrl+R) to run tier 2 and see the step's timeline.");
    timeline_note_->setText(doc.tier1 ? q(fmt::format("{}: shown at tier 1. Simulate to see the step event by event.",
                                                      doc.tier1->result.scenario.name))
                                      : QString("No result yet."));
    devices_chart_->clear("per-device utilisation: simulate first");
  }
}

void MainWindow::refresh_comparison() {
  std::vector<std::shared_ptr<const report::ScenarioResult>> shown;
  std::vector<report::ScenarioResult> results;
  std::vector<nlohmann::json> inputs;
  std::vector<std::string> names;
  std::vector<Tier> tiers;
  for (const auto& doc : docs_) {
    auto r = shown_result(doc);
    if (!r) continue;
    shown.push_back(r);
    results.push_back(for_document(*r));
    inputs.push_back(r->scenario.resolved);
    names.push_back(r->scenario.name);
    tiers.push_back(doc.simulated ? doc.simulated->tier : Tier::analytical);
  }
  // Figures of different tiers side by side: each chart row says its tier (the table has a row for it).
  if (std::adjacent_find(tiers.begin(), tiers.end(), std::not_equal_to<>()) != tiers.end()) {
    for (std::size_t k = 0; k < results.size(); ++k) {
      results[k].scenario.name += fmt::format(" [tier {}]", static_cast<int>(tiers[k]) + 1);  // analytical is 1
    }
  }
  comparison_model_->set_results(shown);
  const auto data = shown_data();
  for (const auto& r : data.serving) {
    inputs.push_back(r.scenario.resolved);
    names.push_back(r.scenario.name);
  }
  diff_model_->set_inputs(std::move(inputs), std::move(names));
  serving_compare_label_->setVisible(!data.serving.empty());
  serving_compare_table_->setVisible(!data.serving.empty());
  if (!data.serving.empty()) {
    const auto document = report::build_document(data);
    if (const auto* table = document.table("Serving")) serving_compare_model_->set_table(*table);
  } else {
    serving_compare_model_->set_table({});
  }
  if (results.empty()) {
    for (auto* chart : compare_charts_) chart->clear("open scenarios to compare them");
    return;
  }
  const auto document = report::build_document(report_data(results, catalogs_));
  const char* ids[] = {"days", "cost", "usd-per-mtok"};
  for (std::size_t k = 0; k < std::size(ids); ++k) {
    if (const auto* chart = document.chart(ids[k])) compare_charts_[k]->set_spec(*chart);
  }
  compare_charts_[3]->set_spec(per_scenario_chart(
      results, "mfu", "Model FLOPs utilisation (bf16 peak)", "MFU (%)", "%",
      [](const report::ScenarioResult& r) { return 100 * r.result.estimate.mfu; },
      [](const report::ScenarioResult& r) {
        return Interval{100 * r.intervals.mfu.p10, 100 * r.intervals.mfu.p90};
      }));
  compare_charts_[4]->set_spec(per_scenario_chart(
      results, "energy", "Energy of the training run (facility)", "energy (MWh)", "MWh",
      [](const report::ScenarioResult& r) { return r.result.estimate.energy_cost.energy_kwh / 1e3; }, nullptr));
  if (const auto* chart = document.chart("memory")) compare_charts_[5]->set_spec(*chart);
}

void MainWindow::run_sweep(const std::string& pointer, double from, double to, int points) {
  if (current_ < 0 || pointer.empty() || points < 2) return;
  const Doc& doc = docs_[static_cast<std::size_t>(current_)];
  Sweep sweep;
  sweep.file = "(sweep of " + pointer + ")";
  sweep.base = doc.json;
  sweep.base_dir =
      doc.base_dir.isEmpty() ? std::filesystem::current_path() : std::filesystem::path(doc.base_dir.toStdString());
  sweep.tier = Tier::analytical;
  const nlohmann::json::json_pointer ptr(pointer);
  const bool integer = doc.json.contains(ptr) && doc.json.at(ptr).is_number_integer();
  SweepAxis axis{pointer, {}};
  for (int k = 0; k < points; ++k) {
    // Evenly spaced values from `from` to `to`, as the sweep file's {"from", "to", "count"} gives them.
    const double value = from + (to - from) * k / (points - 1);
    if (integer) {
      const long rounded = std::lround(value);
      if (axis.values.empty() || axis.values.back() != nlohmann::json(rounded)) axis.values.emplace_back(rounded);
    } else {
      axis.values.emplace_back(value);
    }
  }
  sweep.axes.push_back(std::move(axis));
  // The controls show what runs (a test or a script may call this directly).
  sweep_field_->blockSignals(true);
  if (sweep_field_->findText(q(pointer)) < 0) sweep_field_->addItem(q(pointer));
  sweep_field_->setCurrentText(q(pointer));
  sweep_field_->blockSignals(false);
  sweep_from_->setText(QString::number(from, 'g', 8));
  sweep_to_->setText(QString::number(to, 'g', 8));
  sweep_points_->setValue(points);
  const std::string unit = form_->unit(pointer);
  const std::string x_title = unit.empty() ? pointer : fmt::format("{} ({})", pointer, unit);
  sweep_done_ = false;
  sweep_days_chart_->clear("sweeping...");
  sweep_cost_chart_->clear("");
  auto* watcher = new QFutureWatcher<std::vector<nlohmann::json>>(this);
  const Catalogs* catalogs = &catalogs_;
  // The scenario swept names the lines: the charts stay when another scenario is selected.
  const std::string swept = display_name(doc.json, QFileInfo(doc.path).fileName().toStdString());
  connect(watcher, &QFutureWatcher<std::vector<nlohmann::json>>::finished, this,
          [this, watcher, pointer, x_title, swept] {
    const auto rows = watcher->result();
    watcher->deleteLater();
    report::ChartSpec days;
    days.id = "sweep-days";
    days.title = "Training time against " + pointer;
    days.kind = report::ChartKind::lines;
    days.x_title = x_title;
    days.x_unit = form_->unit(pointer);
    days.y_title = "training time (days)";
    days.y_unit = "days";
    days.caption = "Tier 1 at each value, with the p10-p90 band.";
    report::ChartSpec cost = days;
    cost.id = "sweep-cost";
    cost.title = "Cost against " + pointer;
    cost.y_title = "cost (million USD)";
    cost.y_unit = "million USD";
    report::ChartSeries days_series{.name = swept, .x = {}, .y = {}, .low = {}, .high = {}, .colour = {}};
    report::ChartSeries cost_series{.name = swept, .x = {}, .y = {}, .low = {}, .high = {}, .colour = {}};
    // Points that do not fit in memory keep their numbers (flagged in the caption); points that do not fit together
    // (an indivisible plan) have none.
    int left_out = 0;
    int over_memory = 0;
    std::string first_reason;  // why the first point left out was: a dead end says what to change
    for (const auto& row : rows) {
      if (!row.contains("train_days")) {
        ++left_out;
        if (first_reason.empty()) first_reason = row.value("reason", "");
        continue;
      }
      if (row.value("status", "") != "ok") ++over_memory;
      const double x = row.at("point").at(pointer).get<double>();
      days_series.x.push_back(x);
      days_series.y.push_back(row.at("train_days").get<double>());
      days_series.low.push_back(row.at("train_days_p10").get<double>());
      days_series.high.push_back(row.at("train_days_p90").get<double>());
      cost_series.x.push_back(x);
      cost_series.y.push_back(row.at("cost_usd").get<double>() / 1e6);
      cost_series.low.push_back(row.at("cost_usd_p10").get<double>() / 1e6);
      cost_series.high.push_back(row.at("cost_usd_p90").get<double>() / 1e6);
    }
    if (days_series.x.empty()) {
      sweep_days_chart_->clear(q(fmt::format("no point of the sweep is feasible ({} left out){}", left_out,
                                             first_reason.empty() ? "" : ": the first because " + first_reason)));
    } else {
      days.series.push_back(std::move(days_series));
      cost.series.push_back(std::move(cost_series));
      if (left_out > 0) {
        days.caption += fmt::format(" {} of {} points left out (the first because {}).", left_out, rows.size(),
                                    first_reason.empty() ? "of an unknown reason" : first_reason);
      }
      if (over_memory > 0) {
        days.caption += fmt::format(" {} of {} points do not fit in memory.", over_memory, rows.size());
      }
      cost.caption = days.caption;
      sweep_days_chart_->set_spec(days);
      sweep_cost_chart_->set_spec(cost);
    }
    sweep_done_ = true;
  });
  watcher->setFuture(QtConcurrent::run([sweep, catalogs] {
    std::vector<nlohmann::json> rows;
    for (std::size_t index = 0; index < sweep.size(); ++index)
      rows.push_back(evaluate_sweep_point(sweep, index, *catalogs));
    return rows;
  }));
}

}  // namespace flopcast::gui
