#pragma once
// Qt item models over results the libraries computed. They format (every number with its unit, through
// core/human_units) and never compute.
//   ComparisonModel: one column per scenario, one row per figure (time, cost, MFU, energy, $ per M tokens, memory,
//                    the whole run's days, goodput and checkpoint interval when a scenario simulates failures).
//   InputDiffModel:  the resolved inputs of several scenarios, only the fields that differ, one row each.
//   TableModel:      a report table (report::Table), e.g. the export-control classification of the chips.

#include <QAbstractTableModel>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flopcast/reports/document.hpp"
#include "flopcast/reports/report.hpp"

namespace flopcast::gui {

// Qt::UserRole of a ComparisonModel cell: the figure in SI units (a double), or invalid for text rows.
inline constexpr int kValueRole = Qt::UserRole;
// Qt::UserRole + 1 of a ComparisonModel row header: the row's key ("step_time_s", "chip", ...).
inline constexpr int kKeyRole = Qt::UserRole + 1;

class ComparisonModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  using QAbstractTableModel::QAbstractTableModel;

  // The scenarios in column order (shared, immutable results).
  void set_results(std::vector<std::shared_ptr<const report::ScenarioResult>> results);
  const std::vector<std::shared_ptr<const report::ScenarioResult>>& results() const { return results_; }
  // The row of a key, or -1.
  int row_of(const std::string& key) const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

  struct Row;

 private:
  std::vector<std::shared_ptr<const report::ScenarioResult>> results_;
  std::vector<const Row*> rows_;  // the rows shown: whole-run rows only when a scenario has a whole run
};

class InputDiffModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  using QAbstractTableModel::QAbstractTableModel;

  // Each scenario's resolved JSON (every default filled in) and its name. Fields are JSON pointers to leaves.
  void set_inputs(std::vector<nlohmann::json> inputs, std::vector<std::string> names);
  const std::vector<std::string>& fields() const { return fields_; }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  std::vector<std::string> names_;
  std::vector<std::string> fields_;               // rows: the leaves whose values differ
  std::vector<std::vector<std::string>> values_;  // [row][scenario], "" where a scenario lacks the field
};

class TableModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  using QAbstractTableModel::QAbstractTableModel;

  void set_table(report::Table table);
  const report::Table& table() const { return table_; }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  report::Table table_;
};

// Every leaf of `json` as (JSON pointer, compact text), in document order.
std::vector<std::pair<std::string, std::string>> json_leaves(const nlohmann::json& json);

}  // namespace flopcast::gui
