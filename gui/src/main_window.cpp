// The main window's documents (open, add, copy on a chip, save, select), their evaluation on the runner (tier 1 on
// each edit, the simulation on demand), its messages and its exports.

#include "main_window.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QListWidget>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QStatusBar>
#include <QTimer>
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

bool MainWindow::open_file(const QString& path) {
  try {
    nlohmann::json json = read_json_file(path.toStdString());
    if (!json.is_object()) throw InputError(path.toStdString(), "", "expected a JSON object (a scenario)");
    if (is_fleet_json(json)) {
      fleet_view_->open_fleet(path);
      show_view("Fleet");
      return true;
    }
    add_scenario(std::move(json), path, QFileInfo(path).absolutePath(), false);
    return true;
  } catch (const InputError& error) {
    QStringList lines;
    for (const auto& problem : error.problems()) lines << q(to_string(problem));
    message(lines.join("\n"));
  }
  return false;
}

int MainWindow::add_scenario(nlohmann::json json, const QString& path, const QString& base_dir, bool dirty) {
  Doc doc;
  doc.id = next_id_++;
  doc.path = path;
  doc.base_dir = base_dir;
  doc.json = std::move(json);
  doc.dirty = dirty;
  docs_.push_back(std::move(doc));
  request_tier1(docs_.back());
  refresh_list();
  select(scenario_count() - 1);
  return scenario_count() - 1;
}

int MainWindow::duplicate_current(const std::string& chip_id) {
  if (current_ < 0) return -1;
  const Doc& source = docs_[static_cast<std::size_t>(current_)];
  std::vector<std::string> changed;
  nlohmann::json json =
      duplicate(source.json, QFileInfo(source.path).baseName().toStdString(), chip_id, catalogs_, &changed);
  // An unsaved copy whose relative paths resolve where the original's do; saving asks for a name.
  const int index = add_scenario(std::move(json), QString(), source.base_dir, true);
  if (!changed.empty()) {
    message(q(fmt::format("copied onto {}; changed for this chip: {}", chip_id, fmt::join(changed, ", "))));
  }
  return index;
}

bool MainWindow::save_current(const QString& path) {
  if (current_ < 0) return false;
  Doc& doc = docs_[static_cast<std::size_t>(current_)];
  try {
    write_file_atomic(path.toStdString(), doc.json.dump(2) + "\n");
  } catch (const std::exception& error) {
    message(q(error.what()));
    return false;
  }
  doc.path = path;
  doc.base_dir = QFileInfo(path).absolutePath();
  doc.dirty = false;
  refresh_list();
  message(QString("saved %1").arg(path));
  return true;
}

void MainWindow::share_with_chip_compare(const Doc& doc) {
  const std::filesystem::path base_dir =
      doc.base_dir.isEmpty() ? std::filesystem::current_path() : std::filesystem::path(doc.base_dir.toStdString());
  chip_compare_->set_scenario(doc.json, display_name(doc.json, QFileInfo(doc.path).fileName().toStdString()),
                              base_dir);
}

void MainWindow::select(int index) {
  if (index < 0 || index >= scenario_count()) return;
  if (index != current_) statusBar()->clearMessage();  // a message about the scenario shown before
  current_ = index;
  const Doc& doc = docs_[static_cast<std::size_t>(index)];
  form_->setEnabled(true);
  form_->set_document(doc.json);
  form_->set_problems(doc.problems);
  share_with_chip_compare(doc);
  if (list_->currentRow() != index) list_->setCurrentRow(index);
  // The sweep's fields: the numbers this scenario sets.
  const QString previous = sweep_field_->currentText();
  sweep_field_->blockSignals(true);
  sweep_field_->clear();
  for (const auto& pointer : form_->numeric_fields()) {
    const nlohmann::json::json_pointer ptr(pointer);
    if (doc.json.contains(ptr) && doc.json.at(ptr).is_number()) sweep_field_->addItem(q(pointer));
  }
  sweep_field_->blockSignals(false);
  const int keep = sweep_field_->findText(previous.isEmpty() ? "/cluster/chips" : previous);
  sweep_field_->setCurrentIndex(-1);
  sweep_field_->setCurrentIndex(keep >= 0 ? keep : 0);
  refresh_current_views();
}

const nlohmann::json& MainWindow::document(int index) const {
  return docs_.at(static_cast<std::size_t>(index)).json;
}

bool MainWindow::idle() const {
  return runner_->idle() && fleet_view_->idle();
}

MainWindow::Doc* MainWindow::doc_by_id(int id) {
  for (auto& doc : docs_) {
    if (doc.id == id) return &doc;
  }
  return nullptr;
}

void MainWindow::request_tier1(Doc& doc) {
  Request request;
  request.id = doc.id;
  request.json = doc.json;
  request.label = doc.path.isEmpty() ? "(unsaved)" : QFileInfo(doc.path).fileName().toStdString();
  request.base_dir =
      doc.base_dir.isEmpty() ? std::filesystem::current_path() : std::filesystem::path(doc.base_dir.toStdString());
  doc.requested_ms = clock_.elapsed();
  runner_->request_tier1(std::move(request));
}

void MainWindow::on_edited(const QString& pointer) {
  if (current_ < 0) return;
  Doc& doc = docs_[static_cast<std::size_t>(current_)];
  const std::string path = pointer.toStdString();
  set_field(doc.json, path, form_->value(path));
  if (path == "/cluster/chip") {
    const auto changed = follow_chip(doc.json, catalogs_);
    if (!changed.empty()) {
      form_->set_document(doc.json);
      message(q(fmt::format("changed for this chip: {}", fmt::join(changed, ", "))));
    }
  }
  doc.dirty = true;
  doc.simulated.reset();  // the inputs changed: the simulation no longer describes them
  share_with_chip_compare(doc);
  request_tier1(doc);
  refresh_list();
}

void MainWindow::on_tier1(const Outcome& outcome) {
  Doc* doc = doc_by_id(outcome.id);
  if (doc == nullptr) return;
  doc->problems = outcome.problems;
  doc->error = outcome.error;
  if (outcome.evaluation) {
    doc->tier1 = outcome.evaluation;
    const QString name = q(outcome.evaluation->result.scenario.name);
    if (outcome.evaluation->result.result.whole_run) {
      // The second pass of a scenario with failures: the whole run's Monte Carlo.
      tier1_label_->setText(
          QString("%1: whole run simulated in %2").arg(name, q(human::seconds(outcome.evaluation->wall_s))));
    } else {
      last_tier1_ms_ = outcome.evaluation->wall_s * 1e3;
      last_round_trip_ms_ = static_cast<double>(clock_.elapsed() - doc->requested_ms);
      tier1_label_->setText(QString("%1: tier 1 in %2 ms (library), %3 ms from the edit to the result%4")
                                .arg(name)
                                .arg(last_tier1_ms_, 0, 'f', 1)
                                .arg(last_round_trip_ms_, 0, 'f', 0)
                                .arg(outcome.whole_run_follows ? "; simulating the whole run..." : ""));
    }
  } else {
    // The inputs have problems: the last result no longer describes them, and the views say so instead.
    doc->tier1.reset();
    if (!outcome.error.empty()) message(q(outcome.error));
  }
  if (!docs_.empty() && &docs_[static_cast<std::size_t>(std::max(current_, 0))] == doc) {
    form_->set_problems(doc->problems.empty() && !doc->error.empty() ? std::vector<Problem>{{"", "", doc->error}}
                                                                     : doc->problems);
  }
  refresh_list();
  refresh_views();
}

void MainWindow::simulate_current() {
  if (current_ < 0) return;
  Doc& doc = docs_[static_cast<std::size_t>(current_)];
  Request request;
  request.id = doc.id;
  request.json = doc.json;
  request.label = doc.path.isEmpty() ? "(unsaved)" : QFileInfo(doc.path).fileName().toStdString();
  request.base_dir =
      doc.base_dir.isEmpty() ? std::filesystem::current_path() : std::filesystem::path(doc.base_dir.toStdString());
  request.tier = Tier::replica;
  if (!runner_->simulate(std::move(request))) {
    message("a simulation is running: cancel it first");
    return;
  }
  sim_progress_->setValue(0);
  sim_progress_->show();
  cancel_button_->show();
  sim_label_->setText("simulating (tier 2)...");
  sim_timer_->start();
}

void MainWindow::cancel_simulation() {
  runner_->cancel_simulation();
}

void MainWindow::on_simulated(const Outcome& outcome) {
  sim_timer_->stop();
  sim_progress_->hide();
  cancel_button_->hide();
  Doc* doc = doc_by_id(outcome.id);
  if (outcome.cancelled) {
    sim_label_->setText("simulation cancelled");
  } else if (!outcome.evaluation) {
    QStringList lines;
    for (const auto& p : outcome.problems) lines << q(to_string(p));
    if (!outcome.error.empty()) lines << q(outcome.error);
    sim_label_->setText("simulation failed");
    message(lines.join("\n"));
  } else if (doc != nullptr) {
    doc->simulated = outcome.evaluation;
    sim_label_->setText(QString("tier 2 simulated in %1").arg(q(human::seconds(outcome.evaluation->wall_s))));
  }
  refresh_views();
}

void MainWindow::show_view(const QString& tab_title) {
  for (int k = 0; k < tabs_->count(); ++k) {
    if (tabs_->tabText(k) == tab_title) tabs_->setCurrentIndex(k);
  }
}

void MainWindow::message(const QString& text) {
  last_message_ = text;
  statusBar()->showMessage(text.section('\n', 0, 0), 10000);
}

void MainWindow::export_report() {
  const auto data = shown_data();
  if (data.scenarios.empty() && data.serving.empty()) return;
  const QString dir = QFileDialog::getExistingDirectory(this, "Export the report into");
  if (dir.isEmpty()) return;
  try {
    const auto document = report::build_document(data);
    report::write_report_folder(document, dir.toStdString());
    message(QString("report written to %1 (report.html, report.pdf, report.md, report.csv)").arg(dir));
  } catch (const std::exception& error) {
    QMessageBox::warning(this, "flopcast", error.what());
  }
}

void MainWindow::export_csv() {
  const auto data = shown_data();
  if (data.scenarios.empty() && data.serving.empty()) return;
  const QString path = QFileDialog::getSaveFileName(this, "Export CSV", "flopcast.csv", "CSV (*.csv)");
  if (path.isEmpty()) return;
  try {
    write_file_atomic(path.toStdString(), report::to_csv(report::build_document(data)));
    message(QString("CSV written to %1").arg(path));
  } catch (const std::exception& error) {
    QMessageBox::warning(this, "flopcast", error.what());
  }
}

void MainWindow::export_pngs() {
  const QString dir = QFileDialog::getExistingDirectory(this, "Save every chart as PNG into");
  if (dir.isEmpty()) return;
  int written = 0;
  try {
    for (auto* chart : charts_) {
      if (!chart->has_chart()) continue;
      chart->save_png(dir + "/" + q(chart->spec().id) + ".png");
      ++written;
    }
    message(QString("%1 charts written to %2").arg(written).arg(dir));
  } catch (const std::exception& error) {
    QMessageBox::warning(this, "flopcast", error.what());
  }
}

}  // namespace flopcast::gui
