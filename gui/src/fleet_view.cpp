#include "fleet_view.hpp"

#include <fmt/format.h>

#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>
#include <chrono>
#include <utility>

#include "document_view.hpp"
#include "flopcast/core/errors.hpp"
#include "flopcast/reports/charts.hpp"
#include "flopcast/reports/fleet_report.hpp"
#include "flopcast/studies/fleet.hpp"
#include "qt_text.hpp"

namespace flopcast::gui {

namespace {

double peak_mw(const FleetResult& result) {
  double peak = 0;
  for (const auto& site : result.sites) peak = std::max(peak, site.peak_mw);
  return peak;
}

}  // namespace

bool is_fleet_json(const nlohmann::json& json) {
  return json.is_object() && json.contains("pools");
}

FleetView::FleetView(const Catalogs& catalogs, QWidget* parent) : QWidget(parent), catalogs_(catalogs) {
  auto* layout = new QVBoxLayout(this);
  auto* bar = new QHBoxLayout;
  auto* open_button = new QPushButton("Open fleet...");
  file_label_ = new QLabel("No fleet open. A fleet file (scenarios/fleet/) lists chip pools at power-limited sites "
                           "and a portfolio of training runs and serving demand; it is simulated over its horizon.");
  file_label_->setWordWrap(true);
  cancel_button_ = new QPushButton("Cancel");
  cancel_button_->setEnabled(false);
  export_button_ = new QPushButton("Export fleet report...");
  export_button_->setEnabled(false);
  bar->addWidget(open_button);
  bar->addWidget(file_label_, 1);
  bar->addWidget(cancel_button_);
  bar->addWidget(export_button_);
  layout->addLayout(bar);
  status_ = new QLabel;
  status_->setWordWrap(true);
  layout->addWidget(status_);

  view_ = new DocumentView;
  layout->addWidget(view_, 1);

  connect(open_button, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, "Open a fleet file", QString(), "Fleet files (*.json)");
    if (!path.isEmpty()) open_fleet(path);
  });
  connect(cancel_button_, &QPushButton::clicked, this, &FleetView::cancel);
  connect(export_button_, &QPushButton::clicked, this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, "Export the fleet report into");
    if (dir.isEmpty()) return;
    try {
      export_report(dir);
      emit finished(QString("fleet report written to %1 (report.html, report.pdf, report.md, report.csv)").arg(dir));
    } catch (const std::exception& error) {
      QMessageBox::warning(this, "flopcast", error.what());
    }
  });
  connect(&watcher_, &QFutureWatcher<FleetOutcome>::finished, this, [this] {
    running_ = false;
    cancel_button_->setEnabled(false);
    const FleetOutcome outcome = watcher_.result();
    if (!queued_path_.isEmpty()) {  // a newer file was opened meanwhile: this one is not shown
      start(std::exchange(queued_path_, QString()));
      return;
    }
    show_outcome(outcome);
  });
}

FleetView::~FleetView() {
  // The worker reads the catalogs and posts progress to this widget: stop it and wait.
  if (cancel_) cancel_->store(true);
  watcher_.waitForFinished();
}

void FleetView::open_fleet(const QString& path) {
  if (running_) {
    queued_path_ = path;
    cancel();
    return;
  }
  start(path);
}

void FleetView::cancel() {
  if (cancel_) cancel_->store(true);
}

const std::vector<TableModel*>& FleetView::tables() const {
  return view_->tables();
}

const std::vector<ChartBox*>& FleetView::charts() const {
  return view_->charts();
}

QString FleetView::status_text() const {
  return status_->text();
}

void FleetView::start(const QString& path) {
  running_ = true;
  cancel_ = std::make_shared<std::atomic<bool>>(false);
  cancel_button_->setEnabled(true);
  file_label_->setText(QFileInfo(path).fileName());
  status_->setText("sizing the jobs on each pool...");
  auto cancel = cancel_;
  const std::string file = path.toStdString();
  const Catalogs* catalogs = &catalogs_;
  watcher_.setFuture(QtConcurrent::run([this, file, cancel, catalogs] {
    FleetOutcome outcome;
    const auto started = std::chrono::steady_clock::now();
    try {
      const auto spec = load_fleet(file, *catalogs);
      FleetOptions options;
      options.cancel = cancel.get();
      std::size_t sized = 0;
      const std::size_t jobs = spec.jobs.size();
      options.progress = [this, &sized, jobs](const std::string& line) {
        ++sized;
        const QString text = QString("sized %1 of %2 jobs: %3").arg(sized).arg(jobs).arg(q(line));
        // Posted to the GUI thread; dropped if the view is gone by then.
        QMetaObject::invokeMethod(this, [this, text] { status_->setText(text); }, Qt::QueuedConnection);
      };
      const auto result = simulate_fleet(spec, *catalogs, options);
      const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      auto document = report::build_fleet_document(result, spec.question, spec.description);
      outcome.document = std::make_shared<const report::Document>(std::move(document));
      outcome.summary = q(fmt::format("{}: {} jobs, {} training runs finished, {:.3g} model FLOP, peak {:.1f} MW; "
                                      "simulated in {:.2f} s",
                                      result.name, result.jobs.size(), result.jobs_finished, result.flop,
                                      peak_mw(result), wall_s));
    } catch (const InputError& error) {
      QStringList lines;
      for (const auto& problem : error.problems()) lines << q(to_string(problem));
      outcome.error = lines.join("\n");
    } catch (const std::exception& error) {
      if (cancel->load()) {
        outcome.cancelled = true;
      } else {
        outcome.error = error.what();  // ModelError, IoError, or a bug: shown, never fatal to the window
      }
    }
    return outcome;
  }));
}

void FleetView::show_outcome(const FleetOutcome& outcome) {
  if (outcome.cancelled) {
    status_->setText("cancelled");
    emit finished("fleet simulation cancelled");
    return;
  }
  if (!outcome.document) {
    status_->setText("<b>Cannot simulate this fleet:</b><br>" + outcome.error.toHtmlEscaped().replace("\n", "<br>"));
    emit finished(outcome.error.section('\n', 0, 0));
    return;
  }
  document_ = outcome.document;
  status_->setText(outcome.summary);
  view_->show_document(*document_);
  export_button_->setEnabled(true);
  emit finished(outcome.summary);
}

void FleetView::export_report(const QString& dir) const {
  if (!document_) throw IoError("no fleet has been simulated yet");
  report::write_report_folder(*document_, dir.toStdString());
}

}  // namespace flopcast::gui
