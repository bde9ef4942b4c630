#include "chip_compare_view.hpp"

#include <fmt/format.h>

#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "document_view.hpp"
#include "flopcast/core/errors.hpp"
#include "flopcast/reports/charts.hpp"
#include "flopcast/reports/compare_report.hpp"
#include "flopcast/studies/compare.hpp"
#include "qt_text.hpp"

namespace flopcast::gui {

namespace {

// Thrown from the comparison's progress callback when the user cancels: the search stops at its next step.
struct Cancelled {};

}  // namespace

ChipCompareView::ChipCompareView(const Catalogs& catalogs, QWidget* parent) : QWidget(parent), catalogs_(catalogs) {
  auto* layout = new QVBoxLayout(this);
  scenario_label_ = new QLabel("Select a training scenario: its model and token budget are compared on each chip.");
  scenario_label_->setWordWrap(true);
  layout->addWidget(scenario_label_);
  auto* bar = new QHBoxLayout;
  chips_ = new QLineEdit("h800-sxm,h20,ascend-910c,ascend-910b");
  chips_->setToolTip("Chip ids, separated by commas (flopcast catalog chips lists them)");
  compare_button_ = new QPushButton("Compare (tier 2)");
  compare_button_->setEnabled(false);
  cancel_button_ = new QPushButton("Cancel");
  cancel_button_->setEnabled(false);
  export_button_ = new QPushButton("Export report...");
  export_button_->setEnabled(false);
  bar->addWidget(new QLabel("chips"));
  bar->addWidget(chips_, 1);
  bar->addWidget(compare_button_);
  bar->addWidget(cancel_button_);
  bar->addWidget(export_button_);
  layout->addLayout(bar);
  status_ = new QLabel("Each chip gets the best plan that fits on it (the planner's best three re-ranked at tier 2, "
                       "or the scenario's own where it is as fast); a chip on which none fits is not ranked.");
  status_->setWordWrap(true);
  layout->addWidget(status_);
  view_ = new DocumentView;
  layout->addWidget(view_, 1);

  connect(compare_button_, &QPushButton::clicked, this, [this] { compare(chips_->text(), Tier::replica); });
  connect(chips_, &QLineEdit::returnPressed, this, [this] {
    if (compare_button_->isEnabled()) compare(chips_->text(), Tier::replica);
  });
  connect(cancel_button_, &QPushButton::clicked, this, &ChipCompareView::cancel);
  connect(export_button_, &QPushButton::clicked, this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, "Export the comparison report into");
    if (dir.isEmpty()) return;
    try {
      export_report(dir);
      emit finished(QString("comparison report written to %1 (report.html, report.pdf, report.md, report.csv)")
                        .arg(dir));
    } catch (const std::exception& error) {
      QMessageBox::warning(this, "flopcast", error.what());
    }
  });
  connect(&watcher_, &QFutureWatcher<CompareOutcome>::finished, this, [this] {
    running_ = false;
    cancel_button_->setEnabled(false);
    compare_button_->setEnabled(!scenario_name_.empty());
    const CompareOutcome outcome = watcher_.result();
    if (outcome.cancelled) {
      status_->setText("cancelled");
      emit finished("chip comparison cancelled");
    } else if (!outcome.document) {
      status_->setText("<b>Cannot compare:</b><br>" + outcome.error.toHtmlEscaped().replace("\n", "<br>"));
      emit finished(outcome.error.section('\n', 0, 0));
    } else {
      document_ = outcome.document;
      view_->show_document(*document_);
      export_button_->setEnabled(true);
      status_->setText(q(document_->title));
      emit finished(q(document_->title));
    }
  });
}

ChipCompareView::~ChipCompareView() {
  // The worker reads the catalogs and posts progress to this widget: stop it and wait.
  if (cancel_) cancel_->store(true);
  watcher_.waitForFinished();
}

void ChipCompareView::set_scenario(const nlohmann::json& json, const std::string& name,
                                   const std::filesystem::path& base_dir) {
  scenario_ = json;
  scenario_name_ = name;
  base_dir_ = base_dir;
  scenario_label_->setText(name.empty() ? "Select a training scenario: its model and token budget are compared on "
                                          "each chip."
                                        : q(fmt::format("{}: its model, token budget and cluster size on each chip "
                                                        "below.", name)));
  compare_button_->setEnabled(!name.empty() && !running_);
}

void ChipCompareView::cancel() {
  if (cancel_) cancel_->store(true);
}

QString ChipCompareView::status_text() const {
  return status_->text();
}

void ChipCompareView::compare(const QString& chips, Tier tier) {
  if (running_ || scenario_name_.empty()) return;
  running_ = true;
  cancel_ = std::make_shared<std::atomic<bool>>(false);
  compare_button_->setEnabled(false);
  cancel_button_->setEnabled(true);
  status_->setText("comparing...");
  CompareOptions options;
  for (const auto& id : chips.split(',', Qt::SkipEmptyParts)) options.chips.push_back(id.trimmed().toStdString());
  options.tier = tier;
  auto cancel = cancel_;
  options.progress = [this, cancel](const std::string& line) {
    if (cancel->load()) throw Cancelled{};
    // Posted to the GUI thread; dropped if the view is gone by then.
    QMetaObject::invokeMethod(this, [this, text = q(line)] { status_->setText(text); }, Qt::QueuedConnection);
  };
  watcher_.setFuture(QtConcurrent::run(
      [json = scenario_, label = scenario_name_, base_dir = base_dir_, options, cancel, catalogs = &catalogs_] {
        CompareOutcome outcome;
        try {
          const Scenario scenario = parse_scenario(json, label, base_dir, *catalogs);
          if (scenario.serving) throw InputError(label, "", "a serving deployment: the chip comparison is of training");
          const auto comparison = compare_chips(scenario, options, *catalogs);
          outcome.document =
              std::make_shared<const report::Document>(report::build_comparison_document(comparison, scenario));
        } catch (const Cancelled&) {
          outcome.cancelled = true;
        } catch (const InputError& error) {
          QStringList lines;
          for (const auto& problem : error.problems()) lines << q(to_string(problem));
          outcome.error = lines.join("\n");
        } catch (const std::exception& error) {
          outcome.error = error.what();  // ModelError, IoError, or a bug: shown, never fatal to the window
        }
        return outcome;
      }));
}

void ChipCompareView::export_report(const QString& dir) const {
  if (!document_) throw IoError("no comparison has been made yet");
  report::write_report_folder(*document_, dir.toStdString());
}

}  // namespace flopcast::gui
