#pragma once
// The Which chip tab: the selected scenario's model and token budget on several chip types, each with the best plan
// that fits (studies/compare.hpp, as `flopcast compare` and `flopcast report --chips`), computed on a worker
// thread with a line of progress and a Cancel button, then shown as the comparison report's document: the answer
// first (cheapest, fastest, by how much, how sure, chips that fit no plan), then each chip's figures and plan.

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include <QFutureWatcher>
#include <QString>
#include <QWidget>
#include <nlohmann/json.hpp>

#include "flopcast/reports/document.hpp"
#include "flopcast/scenarios/scenario.hpp"

class QLabel;
class QLineEdit;
class QPushButton;

namespace flopcast::gui {

class DocumentView;

struct CompareOutcome {
  std::shared_ptr<const report::Document> document;  // null unless it finished
  QString error;                                     // what was wrong with the input, or what went wrong
  bool cancelled = false;
};

class ChipCompareView : public QWidget {
  Q_OBJECT
 public:
  explicit ChipCompareView(const Catalogs& catalogs, QWidget* parent = nullptr);
  ~ChipCompareView() override;

  // The scenario the next comparison starts from (the selected one); an empty name: none.
  void set_scenario(const nlohmann::json& json, const std::string& name, const std::filesystem::path& base_dir);
  // Compares the scenario on `chips` (comma-separated ids) at `tier` on a worker; the view fills in when it ends.
  void compare(const QString& chips, Tier tier);
  void cancel();
  bool idle() const { return !running_; }
  const report::Document* document() const { return document_.get(); }
  DocumentView* view() const { return view_; }
  QString status_text() const;
  // Writes the comparison's report (HTML, PDF, Markdown, CSV, charts) into `dir`; throws IoError.
  void export_report(const QString& dir) const;

 signals:
  void finished(const QString& message);  // a line for the status bar

 private:
  const Catalogs& catalogs_;
  nlohmann::json scenario_;
  std::string scenario_name_;
  std::filesystem::path base_dir_;
  QFutureWatcher<CompareOutcome> watcher_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  bool running_ = false;
  std::shared_ptr<const report::Document> document_;

  QLabel* scenario_label_ = nullptr;
  QLineEdit* chips_ = nullptr;
  QPushButton* compare_button_ = nullptr;
  QPushButton* cancel_button_ = nullptr;
  QPushButton* export_button_ = nullptr;
  QLabel* status_ = nullptr;
  DocumentView* view_ = nullptr;
};

}  // namespace flopcast::gui
