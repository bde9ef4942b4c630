// The main window's construction: its panes, tabs, charts, tables, menus and toolbar, and what each control calls.

#include "main_window.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <QComboBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
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
    if (const auto* table = document.table("Export-control classification")) export_model_->set_table(*table);
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

}  // namespace flopcast::gui
