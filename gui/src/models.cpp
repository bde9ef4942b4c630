#include "models.hpp"

#include <fmt/format.h>

#include <QBrush>
#include <QColor>
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>

#include "flopcast/core/human_units.hpp"
#include "flopcast/core/units.hpp"
#include "flopcast/hardware/export_control.hpp"
#include "qt_text.hpp"

namespace flopcast::gui {

namespace {

std::string with_range(const std::string& central, const Interval& range,
                       const std::function<std::string(double)>& text) {
  return fmt::format("{}  ({} to {})", central, text(range.p10), text(range.p90));
}

std::string plan_text(const ParallelPlan& p) {
  std::string text = fmt::format("tp {} pp {} dp {}", p.tp, p.pp, p.dp);
  if (p.ep > 1) text += fmt::format(" ep {}", p.ep);
  if (p.cp > 1) text += fmt::format(" cp {}", p.cp);
  return text;
}

std::string chips_text(const Scenario& s) {
  std::string ids = s.job.cluster.chip.id;
  for (const auto& group : s.job.cluster.stage_chips) ids += " + " + group.chip.id;
  return ids;
}

std::string interval_text(double s) {
  return std::isfinite(s) ? human::seconds(s) : "none (no failures)";
}

}  // namespace

struct ComparisonModel::Row {
  std::string key;
  std::string label;
  std::function<std::string(const report::ScenarioResult&)> text;
  std::function<std::optional<double>(const report::ScenarioResult&)> value;  // SI, for tests and sorting
  bool whole_run = false;  // shown only when a scenario simulates its whole run
};

namespace {

using R = report::ScenarioResult;
using ComparisonRow = ComparisonModel::Row;

const TrainingEstimate& est(const R& r) {
  return r.result.estimate;
}

const std::vector<ComparisonRow>& all_rows() {
  static const std::vector<ComparisonRow> rows = {
      {"tier", "tier",
       [](const R& r) {
         return std::string(r.result.tier == Tier::analytical ? "1, analytical"
                            : r.result.tier == Tier::replica  ? "2, discrete-event (replica)"
                                                              : "3, discrete-event (every chip)");
       },
       nullptr, false},
      {"model", "model", [](const R& r) { return r.scenario.model_ref; }, nullptr, false},
      {"chip", "chip", [](const R& r) { return chips_text(r.scenario); }, nullptr, false},
      {"chips", "chips", [](const R& r) { return fmt::format("{} chips", r.scenario.job.cluster.chips); },
       [](const R& r) -> std::optional<double> { return r.scenario.job.cluster.chips; }, false},
      {"plan", "parallel plan", [](const R& r) { return plan_text(r.scenario.job.plan); }, nullptr, false},
      {"export_control", "export control, Oct 2022 / Oct 2023 rule",
       [](const R& r) {
         const auto c = classify_export(r.scenario.job.cluster.chip);
         return fmt::format("{} / {}", to_string(c.rule_2022), to_string(c.rule_2023));
       },
       nullptr, false},
      {"precision", "precision", [](const R& r) { return std::string(to_string(r.scenario.job.training.precision)); },
       nullptr, false},
      {"step_time_s", "step time (p10 to p90)",
       [](const R& r) {
         const auto& range = r.intervals.step_time_s;
         return fmt::format("{}  ({})", human::seconds(est(r).step_time_s), human::seconds_range(range.p10, range.p90));
       },
       [](const R& r) -> std::optional<double> { return est(r).step_time_s; }, false},
      {"tokens_per_s_per_chip", "throughput per chip",
       [](const R& r) { return human::count(est(r).tokens_per_s_per_chip) + " tokens/s"; },
       [](const R& r) -> std::optional<double> { return est(r).tokens_per_s_per_chip; }, false},
      {"mfu", "MFU, bf16 peak (p10 to p90)",
       [](const R& r) { return with_range(human::percent(est(r).mfu), r.intervals.mfu, human::percent); },
       [](const R& r) -> std::optional<double> { return est(r).mfu; }, false},
      {"memory_per_chip_bytes", "memory per chip",
       [](const R& r) {
         const auto& m = est(r).memory;
         return fmt::format("{} of {} ({})", human::bytes(m.total_bytes), human::bytes(m.usable_bytes),
                            m.fits ? "fits" : "DOES NOT FIT");
       },
       [](const R& r) -> std::optional<double> { return est(r).memory.total_bytes; }, false},
      {"train_days", "training time (p10 to p90)",
       [](const R& r) {
         const auto& range = r.intervals.train_days;
         return fmt::format("{}  ({})", human::days(est(r).train_days), human::days_range(range.p10, range.p90));
       },
       [](const R& r) -> std::optional<double> { return est(r).train_days; }, false},
      {"chip_hours", "chip-hours", [](const R& r) { return human::count(est(r).chip_hours) + " chip-hours"; },
       [](const R& r) -> std::optional<double> { return est(r).chip_hours; }, false},
      {"energy_kwh", "energy", [](const R& r) { return human::energy_kwh(est(r).energy_cost.energy_kwh); },
       [](const R& r) -> std::optional<double> { return est(r).energy_cost.energy_kwh; }, false},
      {"cost_usd", "cost (p10 to p90)",
       [](const R& r) { return with_range(human::usd(est(r).energy_cost.cost_usd), r.intervals.cost_usd, human::usd); },
       [](const R& r) -> std::optional<double> { return est(r).energy_cost.cost_usd; }, false},
      {"usd_per_mtok", "$ per million tokens (p10 to p90)",
       [](const R& r) {
         return with_range(human::usd(est(r).energy_cost.usd_per_mtok), r.intervals.usd_per_mtok, human::usd);
       },
       [](const R& r) -> std::optional<double> { return est(r).energy_cost.usd_per_mtok; }, false},
      {"whole_run_days", "whole run, p10 / p50 / p90",
       [](const R& r) {
         if (!r.result.whole_run) {
           return std::string(r.scenario.failures ? "simulating the whole run..." : "step-based (no failures section)");
         }
         const auto& w = r.result.whole_run->runs;
         return fmt::format("{} / {} / {}", human::days(w.p10_wall_s / kSecondsPerDay),
                            human::days(w.p50_wall_s / kSecondsPerDay), human::days(w.p90_wall_s / kSecondsPerDay));
       },
       [](const R& r) -> std::optional<double> {
         if (!r.result.whole_run) return std::nullopt;
         return r.result.whole_run->runs.p50_wall_s;
       },
       true},
      {"goodput", "goodput",
       [](const R& r) { return r.result.whole_run ? human::percent(r.result.whole_run->goodput) : std::string("-"); },
       [](const R& r) -> std::optional<double> {
         if (!r.result.whole_run) return std::nullopt;
         return r.result.whole_run->goodput;
       },
       true},
      {"best_interval_s", "best checkpoint interval (Young/Daly)",
       [](const R& r) {
         if (!r.result.whole_run) return std::string("-");
         return fmt::format("{} ({})", interval_text(r.result.whole_run->best_interval_s),
                            interval_text(r.result.whole_run->young_daly_interval_s));
       },
       [](const R& r) -> std::optional<double> {
         if (!r.result.whole_run) return std::nullopt;
         return r.result.whole_run->best_interval_s;
       },
       true},
  };
  return rows;
}

}  // namespace

void ComparisonModel::set_results(std::vector<std::shared_ptr<const report::ScenarioResult>> results) {
  beginResetModel();
  results_ = std::move(results);
  rows_.clear();
  const bool any_whole_run = std::any_of(results_.begin(), results_.end(), [](const auto& r) {
    return r && (r->result.whole_run.has_value() || r->scenario.failures.has_value());
  });
  for (const auto& row : all_rows()) {
    if (!row.whole_run || any_whole_run) rows_.push_back(&row);
  }
  endResetModel();
}

int ComparisonModel::row_of(const std::string& key) const {
  for (std::size_t i = 0; i < rows_.size(); ++i) {
    if (rows_[i]->key == key) return static_cast<int>(i);
  }
  return -1;
}

int ComparisonModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

int ComparisonModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(results_.size());
}

QVariant ComparisonModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
  const auto& row = *rows_[static_cast<std::size_t>(index.row())];
  const auto& result = results_[static_cast<std::size_t>(index.column())];
  if (!result) return {};
  switch (role) {
    case Qt::DisplayRole:
      return q(row.text(*result));
    case Qt::TextAlignmentRole:
      return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
    case Qt::ForegroundRole:
      if (row.key == "memory_per_chip_bytes" && !result->result.estimate.memory.fits) return QBrush(QColor(180, 0, 0));
      return {};
    case kValueRole: {
      if (!row.value) return {};
      const auto value = row.value(*result);
      return value ? QVariant(*value) : QVariant();
    }
    default:
      return {};
  }
}

QVariant ComparisonModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (section < 0) return {};
  if (orientation == Qt::Vertical) {
    if (section >= static_cast<int>(rows_.size())) return {};
    const auto& row = *rows_[static_cast<std::size_t>(section)];
    if (role == Qt::DisplayRole) return q(row.label);
    if (role == kKeyRole) return q(row.key);
    return {};
  }
  if (section >= static_cast<int>(results_.size()) || !results_[static_cast<std::size_t>(section)]) return {};
  const auto& s = results_[static_cast<std::size_t>(section)]->scenario;
  if (role == Qt::DisplayRole) return q(s.name);
  if (role == Qt::ToolTipRole) return q(s.file);
  return {};
}

std::vector<std::pair<std::string, std::string>> json_leaves(const nlohmann::json& json) {
  std::vector<std::pair<std::string, std::string>> out;
  const std::function<void(const nlohmann::json&, const std::string&)> walk = [&](const nlohmann::json& node,
                                                                                  const std::string& path) {
    if (node.is_object() && !node.empty()) {
      for (const auto& [key, value] : node.items()) {
        std::string escaped;
        for (char c : key) escaped += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
        walk(value, path + "/" + escaped);
      }
    } else if (node.is_array() && !node.empty()) {
      for (std::size_t i = 0; i < node.size(); ++i) walk(node[i], path + "/" + std::to_string(i));
    } else {
      out.emplace_back(path, node.is_string() ? node.get<std::string>() : node.dump());
    }
  };
  walk(json, "");
  return out;
}

void InputDiffModel::set_inputs(std::vector<nlohmann::json> inputs, std::vector<std::string> names) {
  beginResetModel();
  names_ = std::move(names);
  fields_.clear();
  values_.clear();
  // Field -> value per scenario, fields in the order they first appear.
  std::vector<std::string> order;
  std::map<std::string, std::vector<std::optional<std::string>>> table;
  for (std::size_t s = 0; s < inputs.size(); ++s) {
    for (auto& [path, text] : json_leaves(inputs[s])) {
      // The description is prose, not an input.
      if (path == "/description") continue;
      auto [it, added] = table.try_emplace(path, std::vector<std::optional<std::string>>(inputs.size()));
      if (added) order.push_back(path);
      it->second[s] = text;
    }
  }
  for (const auto& path : order) {
    const auto& values = table.at(path);
    const bool differ = std::any_of(values.begin(), values.end(), [&](const auto& v) { return v != values.front(); });
    if (!differ || inputs.size() < 2) continue;
    fields_.push_back(path);
    std::vector<std::string> row;
    for (const auto& v : values) row.push_back(v.value_or(""));
    values_.push_back(std::move(row));
  }
  endResetModel();
}

int InputDiffModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(fields_.size());
}

int InputDiffModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(names_.size());
}

QVariant InputDiffModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
  const auto& row = values_[static_cast<std::size_t>(index.row())];
  const auto& value = row[static_cast<std::size_t>(index.column())];
  switch (role) {
    case Qt::DisplayRole:
      return value.empty() ? QString("(not set)") : q(value);
    case Qt::BackgroundRole:
      // Highlight the values that differ from the first scenario's.
      if (index.column() > 0 && value != row.front()) return QBrush(QColor(255, 236, 179));
      return {};
    default:
      return {};
  }
}

QVariant InputDiffModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (role != Qt::DisplayRole || section < 0) return {};
  if (orientation == Qt::Vertical) {
    return section < static_cast<int>(fields_.size()) ? q(fields_[static_cast<std::size_t>(section)]) : QVariant();
  }
  return section < static_cast<int>(names_.size()) ? q(names_[static_cast<std::size_t>(section)]) : QVariant();
}

void TableModel::set_table(report::Table table) {
  beginResetModel();
  table_ = std::move(table);
  endResetModel();
}

int TableModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(table_.rows.size());
}

int TableModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(table_.header.size());
}

QVariant TableModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
  const auto& row = table_.rows[static_cast<std::size_t>(index.row())];
  if (static_cast<std::size_t>(index.column()) >= row.size()) return {};
  const auto& cell = row[static_cast<std::size_t>(index.column())];
  if (role == Qt::DisplayRole || role == Qt::ToolTipRole) return q(cell.text);
  if (role == kValueRole && cell.value) return *cell.value;
  return {};
}

QVariant TableModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (role != Qt::DisplayRole || orientation != Qt::Horizontal || section < 0 ||
      section >= static_cast<int>(table_.header.size())) {
    return {};
  }
  return q(table_.header[static_cast<std::size_t>(section)]);
}

}  // namespace flopcast::gui
