#pragma once
// The desktop app's window: the open scenarios (left), the schema-generated form of the current one (middle), and
// its views (right): results, comparison of every open scenario, the simulated step's timeline, a sweep, the
// export-control panel. A thin view: every number comes from the libraries through Runner (runner.hpp).

#include <QMainWindow>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "evaluation.hpp"
#include "runner.hpp"

class QLabel;
class QListWidget;
class QProgressBar;
class QPushButton;
class QTabWidget;
class QTableView;
class QComboBox;
class QLineEdit;
class QSpinBox;

namespace flopcast::gui {

class ChartBox;
class ComparisonModel;
class ChipCompareView;
class FleetView;
class GanttView;
class InputDiffModel;
class SchemaForm;
class TableModel;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(const Catalogs& catalogs, QWidget* parent = nullptr);
  ~MainWindow() override;

  // Opens a scenario file and evaluates it at tier 1, or a fleet file (it has "pools") and simulates it in the Fleet
  // view. A file that cannot be read or parsed as JSON is not opened: false, and the message goes to last_message().
  bool open_file(const QString& path);
  // Opens `json` as a new, unsaved scenario (the path is only where relative paths resolve and where it would save).
  int add_scenario(nlohmann::json json, const QString& path, const QString& base_dir, bool dirty);
  // A copy of the current scenario, with its chip set to `chip_id` when given ("duplicate and change").
  int duplicate_current(const std::string& chip_id = "");
  // Writes the current scenario atomically; false (and last_message()) on failure.
  bool save_current(const QString& path);
  void select(int index);
  void simulate_current();
  void cancel_simulation();
  void show_view(const QString& tab_title);
  // Sweeps a numeric field of the current scenario at tier 1 and plots days and cost against it.
  void run_sweep(const std::string& pointer, double from, double to, int points);

  int scenario_count() const { return static_cast<int>(docs_.size()); }
  int current() const { return current_; }
  const nlohmann::json& document(int index) const;
  // Whether every requested evaluation has finished (tests wait for it).
  bool idle() const;
  bool sweep_done() const { return sweep_done_; }
  double last_tier1_ms() const { return last_tier1_ms_; }
  double last_round_trip_ms() const { return last_round_trip_ms_; }
  QString last_message() const { return last_message_; }

  SchemaForm* form() const { return form_; }
  ComparisonModel* results_model() const { return results_model_; }
  ComparisonModel* comparison_model() const { return comparison_model_; }
  InputDiffModel* diff_model() const { return diff_model_; }
  TableModel* export_model() const { return export_model_; }
  TableModel* serving_model() const { return serving_model_; }
  TableModel* serving_comparison_model() const { return serving_compare_model_; }
  GanttView* gantt() const { return gantt_; }
  FleetView* fleet_view() const { return fleet_view_; }
  ChipCompareView* chip_compare() const { return chip_compare_; }
  std::vector<ChartBox*> charts() const { return charts_; }

 private:
  struct Doc {
    int id = 0;
    QString path;      // empty until saved
    QString base_dir;  // where relative paths (hf_config) resolve: the file's folder, or its original's
    nlohmann::json json;
    bool dirty = false;
    std::shared_ptr<const Evaluation> tier1;
    std::shared_ptr<const Evaluation> simulated;  // tier 2, while the inputs have not changed since
    std::vector<Problem> problems;
    std::string error;
    qint64 requested_ms = 0;  // when the last tier-1 request left, on clock_
  };

  void build_ui();
  void share_with_chip_compare(const Doc& doc);  // the Which chip tab starts from the selected scenario
  void build_actions();
  Doc* doc_by_id(int id);
  void request_tier1(Doc& doc);
  void on_edited(const QString& pointer);
  void on_tier1(const Outcome& outcome);
  void on_simulated(const Outcome& outcome);
  void refresh_list();
  void refresh_views();
  void refresh_current_views();
  void refresh_comparison();
  void message(const QString& text);
  std::shared_ptr<const report::ScenarioResult> shown_result(const Doc& doc) const;  // null for serving
  std::shared_ptr<const report::ServingReport> shown_serving(const Doc& doc) const;  // null for training
  // What the open scenarios show, as a report's data: the training results (without their traces) and the serving
  // deployments.
  report::ReportData shown_data() const;
  void export_report();
  void export_csv();
  void export_pngs();

  const Catalogs& catalogs_;
  Runner* runner_ = nullptr;
  std::vector<Doc> docs_;
  int current_ = -1;
  int next_id_ = 1;
  QElapsedTimer clock_;
  double last_tier1_ms_ = 0;
  double last_round_trip_ms_ = 0;
  QString last_message_;
  bool sweep_done_ = false;

  QListWidget* list_ = nullptr;
  SchemaForm* form_ = nullptr;
  QTabWidget* tabs_ = nullptr;
  ComparisonModel* results_model_ = nullptr;
  QTableView* results_table_ = nullptr;
  TableModel* serving_model_ = nullptr;  // a serving deployment's results (the report's serving table)
  QTableView* serving_table_ = nullptr;
  TableModel* serving_compare_model_ = nullptr;  // every open serving deployment
  QTableView* serving_compare_table_ = nullptr;
  QLabel* serving_compare_label_ = nullptr;
  ComparisonModel* comparison_model_ = nullptr;
  InputDiffModel* diff_model_ = nullptr;
  TableModel* export_model_ = nullptr;
  GanttView* gantt_ = nullptr;
  FleetView* fleet_view_ = nullptr;
  ChipCompareView* chip_compare_ = nullptr;
  QLabel* timeline_note_ = nullptr;
  ChartBox* step_chart_ = nullptr;
  ChartBox* memory_chart_ = nullptr;
  ChartBox* devices_chart_ = nullptr;
  std::vector<ChartBox*> compare_charts_;
  ChartBox* sweep_days_chart_ = nullptr;
  ChartBox* sweep_cost_chart_ = nullptr;
  std::vector<ChartBox*> charts_;
  QComboBox* sweep_field_ = nullptr;
  QLineEdit* sweep_from_ = nullptr;
  QLineEdit* sweep_to_ = nullptr;
  QSpinBox* sweep_points_ = nullptr;
  QLabel* tier1_label_ = nullptr;
  QLabel* sim_label_ = nullptr;
  QProgressBar* sim_progress_ = nullptr;
  QPushButton* cancel_button_ = nullptr;
  QTimer* sim_timer_ = nullptr;
};

}  // namespace flopcast::gui
