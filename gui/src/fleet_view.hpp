#pragma once
// The Fleet tab: a fleet file (scenarios/SCHEMA.md, "Fleet files") simulated over its horizon on a worker thread,
// with a line of progress per job sized and a cancel button, then shown as the fleet report's document (the same
// report::build_fleet_document as `flopcast report --fleet`): the question and totals, sites, pools, the jobs'
// timeline per pool and power per site against capacity, and every job's dates. A thin view: simulate_fleet computes,
// this widget lays out what the document says.

#include <QFutureWatcher>
#include <QString>
#include <QWidget>
#include <atomic>
#include <memory>
#include <vector>

#include "flopcast/reports/document.hpp"
#include "flopcast/scenarios/scenario.hpp"

class QLabel;
class QPushButton;
class QVBoxLayout;

namespace flopcast::gui {

class ChartBox;
class DocumentView;
class TableModel;

struct FleetOutcome {
  std::shared_ptr<const report::Document> document;  // null unless it finished
  QString summary;                                   // one line: jobs, runs finished, FLOP, peak power, time taken
  QString error;                                     // the file's problems, one per line, or what went wrong
  bool cancelled = false;
};

class FleetView : public QWidget {
  Q_OBJECT
 public:
  explicit FleetView(const Catalogs& catalogs, QWidget* parent = nullptr);
  ~FleetView() override;

  // Loads and simulates a fleet file on a worker thread (a simulation already running is cancelled first); the view
  // fills in when it finishes and `finished` is emitted.
  void open_fleet(const QString& path);
  void cancel();
  bool idle() const { return !running_; }
  // The last fleet shown (null before one finished), its tables and charts as laid out.
  const report::Document* document() const { return document_.get(); }
  const std::vector<TableModel*>& tables() const;
  const std::vector<ChartBox*>& charts() const;
  QString status_text() const;
  // Writes the shown fleet's report (HTML, PDF, Markdown, CSV, charts) into `dir`; throws IoError.
  void export_report(const QString& dir) const;

 signals:
  // A line for the status bar: the summary, the error or "cancelled".
  void finished(const QString& message);

 private:
  void start(const QString& path);
  void show_outcome(const FleetOutcome& outcome);

  const Catalogs& catalogs_;
  QFutureWatcher<FleetOutcome> watcher_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  bool running_ = false;
  QString queued_path_;  // opened while another was running: started when that one stops
  std::shared_ptr<const report::Document> document_;

  QLabel* file_label_ = nullptr;
  QLabel* status_ = nullptr;
  QPushButton* cancel_button_ = nullptr;
  QPushButton* export_button_ = nullptr;
  DocumentView* view_ = nullptr;  // the document's widgets, rebuilt per fleet
};

// Whether a JSON document is a fleet file rather than a scenario: it has "pools" (a scenario never does).
bool is_fleet_json(const nlohmann::json& json);

}  // namespace flopcast::gui
