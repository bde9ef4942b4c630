#include "main_window.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <QAction>
#include <QApplication>
#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QTimer>
#include <QToolBar>
#include <QVBoxLayout>
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
#include "flopcast/scenarios/sweep.hpp"
#include "chip_compare_view.hpp"
#include "fleet_view.hpp"
#include "gantt_view.hpp"
#include "models.hpp"
#include "schema_form.hpp"
#include "table_view.hpp"

namespace flopcast::gui {

namespace {

// A tab whose page scrolls; its content goes into the returned layout.
QVBoxLayout* add_scrolling_tab(QTabWidget* tabs, const QString& title) {
  auto* page = new QScrollArea;
  page->setWidgetResizable(true);
  auto* inner = new QWidget;
  auto* layout = new QVBoxLayout(inner);
  page->setWidget(inner);
  tabs->addTab(page, title);
  return layout;
}

QString q(const std::string& text) {
  return QString::fromStdString(text);
}

const report::ChartSpec* find_chart(const report::Document& document, const std::string& id) {
  for (const auto* chart : document.charts()) {
    if (chart->id == id) return chart;
  }
  return nullptr;
}

const report::Table* find_table(const report::Document& document, const std::string& section_title) {
  for (const auto& section : document.sections) {
    if (section.title != section_title) continue;
    for (const auto& block : section.blocks) {
      if (const auto* table = std::get_if<report::Table>(&block)) return table;
    }
  }
  return nullptr;
}

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

MainWindow::MainWindow(const Catalogs& catalogs, QWidget* parent) : QMainWindow(parent), catalogs_(catalogs) {
  clock_.start();
  runner_ = new Runner(catalogs_, this);
  connect(runner_, &Runner::tier1_finished, this, &MainWindow::on_tier1);
  connect(runner_, &Runner::simulation_finished, this, &MainWindow::on_simulated);
  build_ui();
  build_actions();
  setWindowTitle("flopcast");
  resize(1600, 1000);
  refresh_views();
}

MainWindow::~MainWindow() = default;

void MainWindow::build_ui() {
  auto* splitter = new QSplitter(this);
  list_ = new QListWidget(splitter);
  list_->setMaximumWidth(280);
  list_->setWordWrap(true);
  connect(list_, &QListWidget::currentRowChanged, this, [this](int row) {
    if (row >= 0 && row != current_) select(row);
  });

  auto* form_scroll = new QScrollArea(splitter);
  form_scroll->setWidgetResizable(true);
  form_ = new SchemaForm(load_scenario_schema(), catalogs_, form_scroll);
  form_scroll->setWidget(form_);
  form_scroll->setMinimumWidth(380);
  form_->setEnabled(false);
  connect(form_, &SchemaForm::edited, this, &MainWindow::on_edited);

  tabs_ = new QTabWidget(splitter);

  // Results of the current scenario.
  auto* results_layout = add_scrolling_tab(tabs_, "Results");
  results_model_ = new ComparisonModel(this);
  results_table_ = fitted_table(results_model_, /*stretch=*/true);
  results_layout->addWidget(results_table_);
  serving_model_ = new TableModel(this);
  serving_table_ = fitted_table(serving_model_, /*stretch=*/true);
  serving_table_->hide();
  results_layout->addWidget(serving_table_);
  step_chart_ = new ChartBox;
  memory_chart_ = new ChartBox;
  results_layout->addWidget(step_chart_);
  results_layout->addWidget(memory_chart_);

  // Comparison of every open scenario.
  auto* compare_layout = add_scrolling_tab(tabs_, "Compare");
  comparison_model_ = new ComparisonModel(this);
  auto* compare_table = fitted_table(comparison_model_, /*stretch=*/true);
  compare_layout->addWidget(compare_table);
  // One chart under the other, each the tab's full width: room for the scenarios' names beside the rows.
  for (int k = 0; k < 6; ++k) {
    auto* box = new ChartBox;
    compare_charts_.push_back(box);
    compare_layout->addWidget(box);
  }
  compare_layout->addWidget(new QLabel("Inputs that differ (highlighted where they differ from the first scenario)"));
  diff_model_ = new InputDiffModel(this);
  auto* diff_table = fitted_table(diff_model_, /*stretch=*/true);
  compare_layout->addWidget(diff_table);
  serving_compare_label_ = new QLabel("Serving deployments side by side");
  serving_compare_model_ = new TableModel(this);
  serving_compare_table_ = fitted_table(serving_compare_model_, /*stretch=*/true);
  compare_layout->addWidget(serving_compare_label_);
  compare_layout->addWidget(serving_compare_table_);

  // The simulated step.
  auto* timeline_layout = add_scrolling_tab(tabs_, "Timeline");
  timeline_note_ = new QLabel("Simulate (tier 2) to see the step's timeline.");
  timeline_note_->setWordWrap(true);
  timeline_layout->addWidget(timeline_note_);
  gantt_ = new GanttView;
  timeline_layout->addWidget(gantt_);
  devices_chart_ = new ChartBox;
  timeline_layout->addWidget(devices_chart_);

  // A sweep of one field.
  auto* sweep_layout = add_scrolling_tab(tabs_, "Sweep");
  auto* sweep_form = new QHBoxLayout;
  sweep_field_ = new QComboBox;
  sweep_from_ = new QLineEdit;
  sweep_to_ = new QLineEdit;
  sweep_points_ = new QSpinBox;
  sweep_points_->setRange(2, 60);
  sweep_points_->setValue(12);
  auto* sweep_button = new QPushButton("Run sweep (tier 1)");
  sweep_form->addWidget(new QLabel("field"));
  sweep_form->addWidget(sweep_field_, 2);
  sweep_form->addWidget(new QLabel("from"));
  sweep_form->addWidget(sweep_from_);
  sweep_form->addWidget(new QLabel("to"));
  sweep_form->addWidget(sweep_to_);
  sweep_form->addWidget(new QLabel("points"));
  sweep_form->addWidget(sweep_points_);
  sweep_form->addWidget(sweep_button);
  sweep_layout->addLayout(sweep_form);
  sweep_days_chart_ = new ChartBox;
  sweep_cost_chart_ = new ChartBox;
  sweep_layout->addWidget(sweep_days_chart_);
  sweep_layout->addWidget(sweep_cost_chart_);
  connect(sweep_field_, &QComboBox::currentTextChanged, this, [this](const QString& field) {
    if (current_ < 0 || field.isEmpty()) return;
    const nlohmann::json::json_pointer ptr(field.toStdString());
    const auto& json = docs_[static_cast<std::size_t>(current_)].json;
    if (json.contains(ptr) && json.at(ptr).is_number()) {
      const double value = json.at(ptr).get<double>();
      sweep_from_->setText(QString::number(value / 2, 'g', 8));
      sweep_to_->setText(QString::number(value * 2, 'g', 8));
    }
  });
  connect(sweep_button, &QPushButton::clicked, this, [this] {
    bool from_ok = false;
    bool to_ok = false;
    const double from = sweep_from_->text().toDouble(&from_ok);
    const double to = sweep_to_->text().toDouble(&to_ok);
    if (!from_ok || !to_ok) {
      message("the sweep's from and to must be numbers");
      return;
    }
    run_sweep(sweep_field_->currentText().toStdString(), from, to, sweep_points_->value());
  });

  // Export control of every catalog chip.
  export_model_ = new TableModel(this);
  auto* export_table = new QTableView;
  export_table->setModel(export_model_);
  export_table->setWordWrap(true);
  export_table->horizontalHeader()->setDefaultAlignment(Qt::Alignment(Qt::AlignCenter | Qt::TextWordWrap));
  export_table->horizontalHeader()->setMinimumHeight(2 * export_table->fontMetrics().height() + 10);
  // Every column shares the tab's width and wraps its text, so that no column is off screen on a laptop.
  export_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
  {
    const auto document = report::build_document(report_data({}, catalogs_, true));
    if (const auto* table = find_table(document, "Export-control classification")) export_model_->set_table(*table);
    export_table->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  }
  tabs_->addTab(export_table, "Export control");

  // The selected scenario's job on several chip types, each with its best plan that fits.
  chip_compare_ = new ChipCompareView(catalogs_);
  connect(chip_compare_, &ChipCompareView::finished, this, &MainWindow::message);
  tabs_->addTab(chip_compare_, "Which chip");

  // A fleet file: its jobs over a year, per pool and site.
  fleet_view_ = new FleetView(catalogs_);
  connect(fleet_view_, &FleetView::finished, this, &MainWindow::message);
  tabs_->addTab(fleet_view_, "Fleet");

  splitter->setStretchFactor(0, 0);
  splitter->setStretchFactor(1, 1);
  splitter->setStretchFactor(2, 3);
  setCentralWidget(splitter);

  charts_ = {step_chart_, memory_chart_, devices_chart_, sweep_days_chart_, sweep_cost_chart_};
  charts_.insert(charts_.end(), compare_charts_.begin(), compare_charts_.end());

  tier1_label_ = new QLabel("tier 1: -");
  sim_label_ = new QLabel;
  sim_progress_ = new QProgressBar;
  sim_progress_->setRange(0, 100);  // the engine's fraction done (pipeline operations or requests simulated)
  sim_progress_->setMaximumWidth(160);
  sim_progress_->hide();
  cancel_button_ = new QPushButton("Cancel");
  cancel_button_->hide();
  connect(cancel_button_, &QPushButton::clicked, this, &MainWindow::cancel_simulation);
  statusBar()->addWidget(tier1_label_, 1);
  statusBar()->addPermanentWidget(sim_label_);
  statusBar()->addPermanentWidget(sim_progress_);
  statusBar()->addPermanentWidget(cancel_button_);
  sim_timer_ = new QTimer(this);
  sim_timer_->setInterval(200);
  connect(sim_timer_, &QTimer::timeout, this, [this] {
    const double fraction = runner_->simulation_fraction();
    sim_progress_->setValue(static_cast<int>(100 * fraction));
    sim_label_->setText(QString("simulating (tier 2)... %1 %, %2 s")
                            .arg(100 * fraction, 0, 'f', 0)
                            .arg(runner_->simulation_elapsed_s(), 0, 'f', 1));
  });
}

void MainWindow::build_actions() {
  auto* file = menuBar()->addMenu("&File");
  auto* toolbar = addToolBar("main");
  toolbar->setObjectName("main");
  auto* open = file->addAction("&Open...", this, [this] {
    const auto paths = QFileDialog::getOpenFileNames(this, "Open scenarios", QString(), "Scenarios (*.json)");
    for (const auto& path : paths) {
      if (!open_file(path)) QMessageBox::warning(this, "flopcast", last_message_);
    }
  });
  open->setShortcut(QKeySequence::Open);
  auto* save = file->addAction("&Save", this, [this] {
    if (current_ < 0) return;
    QString path = docs_[static_cast<std::size_t>(current_)].path;
    if (path.isEmpty()) path = QFileDialog::getSaveFileName(this, "Save scenario", QString(), "Scenarios (*.json)");
    if (!path.isEmpty() && !save_current(path)) QMessageBox::warning(this, "flopcast", last_message_);
  });
  save->setShortcut(QKeySequence::Save);
  file->addAction("Save &as...", this, [this] {
    const QString path = QFileDialog::getSaveFileName(this, "Save scenario as", QString(), "Scenarios (*.json)");
    if (!path.isEmpty() && !save_current(path)) QMessageBox::warning(this, "flopcast", last_message_);
  });
  file->addSeparator();
  auto* report_action =
      file->addAction("Export &report (HTML, PDF, Markdown, CSV)...", this, &MainWindow::export_report);
  auto* csv_action = file->addAction("Export &CSV...", this, &MainWindow::export_csv);
  auto* png_action = file->addAction("Export charts as &PNG...", this, &MainWindow::export_pngs);
  file->addSeparator();
  file->addAction("&Quit", this, &QWidget::close)->setShortcut(QKeySequence::Quit);

  auto* scenario = menuBar()->addMenu("&Scenario");
  auto* duplicate = scenario->addAction("&Duplicate", this, [this] { duplicate_current(); });
  auto* on_chip = scenario->addMenu("Duplicate on &chip");
  for (const auto& id : catalogs_.hardware.chip_ids()) {
    on_chip->addAction(q(id), this, [this, id] { duplicate_current(id); });
  }
  auto* simulate = scenario->addAction("Si&mulate (tier 2)", this, &MainWindow::simulate_current);
  simulate->setShortcut(QKeySequence("Ctrl+R"));
  scenario->addAction("Cancel simulation", this, &MainWindow::cancel_simulation);

  toolbar->addAction(open);
  toolbar->addAction(save);
  toolbar->addSeparator();
  toolbar->addAction(duplicate);
  auto* chip_button = new QPushButton("Duplicate on chip");
  chip_button->setMenu(on_chip);
  toolbar->addWidget(chip_button);
  toolbar->addAction(simulate);
  toolbar->addSeparator();
  toolbar->addAction(report_action);
  toolbar->addAction(csv_action);
  toolbar->addAction(png_action);
}

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
    if (const auto* table = find_table(document, "Serving")) serving_model_->set_table(*table);
    if (const auto* chart = find_chart(document, "serving-usd-per-mtok")) step_chart_->set_spec(*chart);
    if (const auto* chart = find_chart(document, "serving-curve-" + serving->scenario.model_ref)) {
      memory_chart_->set_spec(*chart);
    } else {
      memory_chart_->clear("no plan of the serving search fits this chip");
    }
  } else if (!shown) {
    step_chart_->clear(doc.problems.empty() ? "evaluating..." : "the scenario has problems: see the form");
    memory_chart_->clear("");
  } else {
    const auto document = report::build_document(report_data({for_document(*shown)}, catalogs_));
    if (const auto* chart = find_chart(document, "step-breakdown")) step_chart_->set_spec(*chart);
    if (const auto* chart = find_chart(document, "memory")) memory_chart_->set_spec(*chart);
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
    if (const auto* table = find_table(document, "Serving")) serving_compare_model_->set_table(*table);
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
    if (const auto* chart = find_chart(document, ids[k])) compare_charts_[k]->set_spec(*chart);
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
  if (const auto* chart = find_chart(document, "memory")) compare_charts_[5]->set_spec(*chart);
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
