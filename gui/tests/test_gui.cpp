// The desktop app under QtTest: a shipped scenario loaded, its chip changed, the result model checked; every item
// model under QAbstractItemModelTester; validation messages at their field; duplicate and change; atomic save;
// tier 2 on a worker with cancel; a sweep; a fleet file in the Fleet view; and (under Xvfb) screenshots of a
// comparison and of a fleet.

#include <algorithm>

#include <QAbstractItemModelTester>
#include <QApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QLineEdit>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QtTest>

#include "chart_box.hpp"
#include "chip_compare_view.hpp"
#include "document_view.hpp"
#include "document.hpp"
#include "flopcast/core/files.hpp"
#include "flopcast/models/serving.hpp"
#include "flopcast/reports/charts.hpp"
#include "flopcast/reports/fleet_report.hpp"
#include "flopcast/studies/fleet.hpp"
#include "fleet_view.hpp"
#include "gantt_view.hpp"
#include "main_window.hpp"
#include "models.hpp"
#include "schema_form.hpp"

using flopcast::gui::ComparisonModel;
using flopcast::gui::MainWindow;
namespace report = flopcast::report;

namespace {

QString shipped(const char* name) {
  return QString(FLOPCAST_SOURCE_ROOT "/scenarios/shipped/") + name;
}

QString cell(const ComparisonModel& model, const std::string& key, int column, int role = Qt::DisplayRole) {
  const int row = model.row_of(key);
  if (row < 0) return "(no row " + QString::fromStdString(key) + ")";
  return model.data(model.index(row, column), role).toString();
}

double value(const ComparisonModel& model, const std::string& key, int column) {
  return model.data(model.index(model.row_of(key), column), flopcast::gui::kValueRole).toDouble();
}

// The longest wait for the window to fall idle: a tier-2 run of the 2,048-chip DeepSeek-V3 scenario takes under a
// second in a release build but 60-90 s under CI's sanitizers (SimGrid on thread contexts) on a loaded 2-core
// machine. A wait ends as soon as the window is idle, so the bound costs nothing when the app keeps up.
constexpr int kWaitMs = 240000;

}  // namespace

class GuiTest : public QObject {
  Q_OBJECT

 private:
  flopcast::Catalogs catalogs_;

 private slots:
  void initTestCase() { catalogs_ = flopcast::load_catalogs(); }

  void form_is_generated_from_the_schema() {
    // Training and serving sections both come from the schema.
    flopcast::gui::SchemaForm form(flopcast::gui::load_scenario_schema(), catalogs_);
    for (const char* pointer : {"/name", "/model", "/cluster/chip", "/cluster/chips", "/cluster/network/fabric",
                                "/parallelism/tp", "/training/seq_len", "/training/tokens", "/costs/usd_per_chip_hour",
                                "/failures/checkpoint_interval_s", "/failures/stragglers/slow_fraction"}) {
      QVERIFY2(form.field_widget(pointer) != nullptr, pointer);
    }
    // Units and help text from the schema's annotations.
    QVERIFY(form.field_widget("/training/seq_len")->toolTip().contains("unit: tokens"));
    QVERIFY(form.field_widget("/cluster/chips")->toolTip().contains("allowed: >= 1"));
    QVERIFY(form.field_widget("/costs/usd_per_chip_hour")->toolTip().contains("USD per chip-hour"));
    // Published measurements are for validation scenarios, not what-ifs.
    QVERIFY(form.field_widget("/published/value") == nullptr);
    QVERIFY(form.field_widget("/serving/published") == nullptr);
    QVERIFY(form.field_widget("/serving/workload/arrival") != nullptr);
    QVERIFY(form.field_widget("/serving/slo/ttft_s")->toolTip().contains("unit: s"));
    // An optional catalog pick left empty says "default", as the other fields do; a required one does not.
    for (const char* pointer : {"/cluster/node", "/cluster/network/fabric"}) {
      const auto* box = form.field_widget(pointer)->findChild<QLineEdit*>();
      QVERIFY2(box != nullptr && box->placeholderText() == "default", pointer);
    }
    QVERIFY(form.field_widget("/cluster/chip")->findChild<QLineEdit*>()->placeholderText().isEmpty());
  }

  void load_a_shipped_scenario_and_change_the_chip() {
    MainWindow window(catalogs_);
    QVERIFY(window.open_file(shipped("deepseek-v3-h800.json")));
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    const auto& results = *window.results_model();
    QCOMPARE(results.columnCount(), 1);
    QCOMPARE(cell(results, "chip", 0), QString("h800-sxm"));
    QCOMPARE(cell(results, "tier", 0), QString("1, analytical"));
    const double h800_step_s = value(results, "step_time_s", 0);
    QVERIFY(h800_step_s > 0);
    QVERIFY(cell(results, "step_time_s", 0).contains(" s"));
    QVERIFY(cell(results, "cost_usd", 0).contains("$"));
    QVERIFY(cell(results, "mfu", 0).contains("%"));
    qInfo("what-if tier 1 (DeepSeek-V3 on 2048 H800): %.1f ms in the library, %.0f ms from request to result",
          window.last_tier1_ms(), window.last_round_trip_ms());

    // The chip picker, as a user would: the node follows the chip, tier 1 re-runs, the model shows H20.
    window.form()->set_value("/cluster/chip", "h20");
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    QCOMPARE(QString::fromStdString(window.document(0).at("cluster").at("node").get<std::string>()),
             QString("hgx-h20"));
    QCOMPARE(cell(results, "chip", 0), QString("h20"));
    const double h20_step_s = value(results, "step_time_s", 0);
    // The H20 has about 15 % of the H800's dense FLOP/s: the same plan is much slower.
    QVERIFY2(h20_step_s > 2 * h800_step_s, qPrintable(QString("%1 s vs %2 s").arg(h20_step_s).arg(h800_step_s)));
    qInfo("what-if tier 1 after the chip change: %.1f ms in the library, %.0f ms from the edit to the result",
          window.last_tier1_ms(), window.last_round_trip_ms());
  }

  void a_validation_error_shows_at_its_field() {
    MainWindow window(catalogs_);
    QVERIFY(window.open_file(shipped("llama3-405b-h100.json")));
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    QCOMPARE(window.results_model()->columnCount(), 1);
    window.form()->set_value("/cluster/chips", 0);
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    QVERIFY2(window.form()->field_error("/cluster/chips").contains("expected an integer from 1"),
             qPrintable(window.form()->field_error("/cluster/chips")));
    // The results of the inputs before are gone, not left on screen as if they were these inputs'.
    QCOMPARE(window.results_model()->columnCount(), 0);
    // Text where a number belongs reaches the parser and comes back at the field.
    window.form()->set_value("/cluster/chips", 16384);
    window.form()->set_value("/training/seq_len", "lots");
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    QVERIFY(window.form()->field_error("/cluster/chips").isEmpty());
    QVERIFY2(!window.form()->field_error("/training/seq_len").isEmpty(), "no message at /training/seq_len");
    // An unknown chip id: the parser's message, with its suggestion, at the chip picker.
    window.form()->set_value("/training/seq_len", 8192);
    window.form()->set_value("/cluster/chip", "h100-sxn");
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    QVERIFY2(window.form()->field_error("/cluster/chip").contains("h100-sxm"),
             qPrintable(window.form()->field_error("/cluster/chip")));
  }

  void a_bad_file_is_refused_and_the_app_goes_on() {
    // Issue 25, item 8: a name that is not a string aborted the app; 100,000 nested arrays overflowed its stack.
    MainWindow window(catalogs_);
    QVERIFY(window.open_file(shipped("llama3-405b-h100.json")));
    QTemporaryDir dir;
    auto json = flopcast::read_json_file(shipped("llama3-405b-h100.json").toStdString());
    json["name"] = nlohmann::json::array({1});
    const QString bad_name = dir.filePath("bad-name.json");
    flopcast::write_file_atomic(bad_name.toStdString(), json.dump());
    QVERIFY(window.open_file(bad_name));  // listed, as invalid
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    QCOMPARE(window.scenario_count(), 2);
    const QString deep = dir.filePath("deep.json");
    flopcast::write_file_atomic(deep.toStdString(),
                      "{\"x\": " + std::string(100000, '[') + std::string(100000, ']') + "}");
    QVERIFY(!window.open_file(deep));
    QVERIFY2(window.last_message().contains("nests deeper than 64 levels"), qPrintable(window.last_message()));
    QCOMPARE(window.scenario_count(), 2);
  }

  void document_edits_never_throw_on_a_malformed_file() {
    // The form's edits and "duplicate on chip" on a document whose sections are not objects: `"cluster": 5` made
    // json["cluster"]["chip"] throw nlohmann's type_error out of a slot (found by fuzz_gui_document).
    using flopcast::gui::set_field;
    nlohmann::json doc = {{"name", "x"}, {"cluster", 5}, {"parallelism", {{"tp", 8}}}, {"stages", {1, 2}}};
    set_field(doc, "/cluster/chip", "h100-sxm");  // the 5 the parser rejected becomes the object the form edits
    QCOMPARE(QString::fromStdString(doc["cluster"].dump()), QString(R"({"chip":"h100-sxm"})"));
    set_field(doc, "/parallelism/tp", nullptr);  // cleared: the default applies
    QCOMPARE(QString::fromStdString(doc["parallelism"].dump()), QString("{}"));
    set_field(doc, "/stages/x", 1);              // through an array: left alone
    set_field(doc, "/name/first", nullptr);      // nothing to remove under a string
    QCOMPARE(QString::fromStdString(doc["stages"].dump()), QString("[1,2]"));
    QCOMPARE(QString::fromStdString(doc["name"].dump()), QString(R"("x")"));
    nlohmann::json bad = {{"name", {1}}, {"cluster", "h100"}};
    const auto copy = flopcast::gui::duplicate(bad, "file", "h20", catalogs_);
    QCOMPARE(QString::fromStdString(copy["name"].get<std::string>()), QString("file, on h20"));
    QCOMPARE(QString::fromStdString(copy["cluster"]["chip"].get<std::string>()), QString("h20"));
    QCOMPARE(QString::fromStdString(flopcast::gui::display_name(nlohmann::json::array(), "f")), QString("f"));
  }

  void serving_deployments_show_their_results() {
    MainWindow window(catalogs_);
    const QString file = FLOPCAST_SOURCE_ROOT "/scenarios/serving/deepseek-v3-h800.json";
    QVERIFY(window.open_file(file));
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    QCOMPARE(window.results_model()->columnCount(), 0);  // no training figures
    auto* model = window.serving_model();
    QAbstractItemModelTester tester(model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(model->rowCount(), 1);
    // The steady-state figures of `flopcast serve --tier analytical`, with their units.
    const auto scenario = flopcast::load_scenario(file.toStdString(), catalogs_);
    const auto job = flopcast::serving_job(scenario);
    const auto expected = flopcast::estimate_serving(
        job, flopcast::build_topology(flopcast::topology_spec(job.cluster)), catalogs_.assumptions);
    QCOMPARE(model->headerData(2, Qt::Horizontal).toString(), QString("output tokens/s per chip"));
    QCOMPARE(model->data(model->index(0, 2), flopcast::gui::kValueRole).toDouble(),
             expected.output_tokens_per_s_per_chip);
    QVERIFY(model->data(model->index(0, 8)).toString().contains("$"));
    // Every figure with its 80 % range, and the deployment's throughput-interactivity curve on its chip (the serving
    // search's front, `flopcast serve --curve`), a line of several points.
    const QString per_chip_text = model->data(model->index(0, 2)).toString();  // "822 (541 to 1.25 k)"
    QVERIFY2(per_chip_text.contains(QRegularExpression(R"(^\S+( k)? \(.+( to |-).+\)$)")), qPrintable(per_chip_text));
    const auto charts = window.charts();
    const auto curve = std::find_if(charts.begin(), charts.end(), [](const flopcast::gui::ChartBox* c) {
      return c->spec().id == "serving-curve-deepseek-v3";
    });
    QVERIFY(curve != charts.end());
    QCOMPARE((*curve)->spec().series.size(), std::size_t{1});
    QCOMPARE((*curve)->spec().series.front().name, std::string("h800-sxm"));
    QVERIFY((*curve)->spec().series.front().x.size() > 3);
    // The form shows the serving section, not the training ones, and an edit there re-runs tier 1.
    auto* form = window.form();
    QVERIFY(form->field_widget("/serving/workload/concurrency") != nullptr);
    QVERIFY(form->field_widget("/serving/workload/concurrency")->isVisibleTo(form));
    QVERIFY(!form->field_widget("/training/seq_len")->isVisibleTo(form));
    QCOMPARE(form->value("/serving/batching/max_running"), nlohmann::json(64));
    const double per_chip = model->data(model->index(0, 2), flopcast::gui::kValueRole).toDouble();
    form->set_value("/serving/batching/max_running", 8);  // 8 sequences per attention rank instead of 64
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    QVERIFY(model->data(model->index(0, 2), flopcast::gui::kValueRole).toDouble() < per_chip);
    form->set_value("/serving/batching/max_running", 64);
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    // Request by request (tier 2), then side by side with a second deployment.
    window.simulate_current();
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    QVERIFY(model->data(model->index(0, 2), flopcast::gui::kValueRole).toDouble() > 0);
    QVERIFY(window.open_file(FLOPCAST_SOURCE_ROOT "/scenarios/serving/deepseek-v3-h20.json"));
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    QCOMPARE(window.serving_comparison_model()->rowCount(), 2);
    QVERIFY(window.diff_model()->rowCount() > 0);  // the chip differs, at least
  }

  void lists_and_inline_models_edit_as_json() {
    MainWindow window(catalogs_);
    QVERIFY(window.open_file(shipped("llama3-70b-h800-h20-mixed.json")));
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    auto* form = window.form();
    QCOMPARE(form->value("/cluster/stage_chips"), nlohmann::json::parse(R"([{"stages": [2, 3], "chip": "h20"}])"));
    const double with_h20_s = value(*window.results_model(), "step_time_s", 0);
    // The same stages on H100 instead of H20: the slow stages were pacing the pipeline, so the step is shorter.
    form->set_value("/cluster/stage_chips", nlohmann::json::parse(R"([{"stages": [2, 3], "chip": "h100-sxm"}])"));
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    QVERIFY(form->field_error("/cluster/stage_chips").isEmpty());
    QVERIFY(value(*window.results_model(), "step_time_s", 0) < with_h20_s);
    // Text that is not JSON reaches the parser as text, and its problem shows at the list.
    qobject_cast<QLineEdit*>(form->field_widget("/cluster/stage_chips"))->setText("[{\"stages\": [2, 3]");
    form->set_value("/cluster/stage_chips", form->value("/cluster/stage_chips"));
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    QVERIFY2(!form->field_error("/cluster/stage_chips").isEmpty(), "no message at /cluster/stage_chips");
    // An inline model (a JSON object in the model picker) is shown and edited as JSON.
    QVERIFY(window.open_file(shipped("dense-360b-910b.json")));
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    auto model = form->value("/model");
    QCOMPARE(model.value("layers", 0), 112);
    const double layers_112_s = value(*window.results_model(), "step_time_s", 0);
    model["layers"] = 224;  // twice as deep: 2 layers per virtual stage (pp 16 x vpp 7) instead of 1
    form->set_value("/model", model);
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    QVERIFY2(form->field_error("/model").isEmpty(), qPrintable(form->field_error("/model")));
    QCOMPARE(window.document(window.current()).at("model").at("layers").get<int>(), 224);
    QVERIFY(value(*window.results_model(), "step_time_s", 0) > 1.5 * layers_112_s);
  }

  void every_model_passes_the_model_tester() {
    MainWindow window(catalogs_);
    QAbstractItemModelTester results(window.results_model(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    QAbstractItemModelTester comparison(window.comparison_model(),
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
    QAbstractItemModelTester diff(window.diff_model(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    QAbstractItemModelTester exports(window.export_model(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    QVERIFY(window.open_file(shipped("deepseek-v3-h800.json")));
    QVERIFY(window.open_file(shipped("deepseek-v3-ascend-910b.json")));
    QVERIFY(window.open_file(shipped("llama3-405b-h100-failures.json")));
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    QCOMPARE(window.comparison_model()->columnCount(), 3);
    QVERIFY(window.diff_model()->rowCount() > 0);
    // Every catalog chip in the export-control panel.
    QCOMPARE(window.export_model()->rowCount(), static_cast<int>(catalogs_.hardware.chips.size()));
    window.select(0);
    window.duplicate_current("h20");
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    QCOMPARE(window.comparison_model()->columnCount(), 4);
  }

  void comparison_shows_the_whole_run_and_the_inputs_that_differ() {
    MainWindow window(catalogs_);
    QVERIFY(window.open_file(shipped("llama3-405b-h100.json")));
    QVERIFY(window.open_file(shipped("llama3-405b-h100-failures.json")));
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    const auto& compare = *window.comparison_model();
    QCOMPARE(compare.columnCount(), 2);
    // The failures scenario's whole run: days p10 / p50 / p90, goodput, best checkpoint interval.
    QVERIFY(compare.row_of("whole_run_days") >= 0);
    QVERIFY(cell(compare, "whole_run_days", 1).count("days") == 3);
    QVERIFY(cell(compare, "goodput", 1).contains("%"));
    QVERIFY(cell(compare, "best_interval_s", 1).contains("min") || cell(compare, "best_interval_s", 1).contains(" s"));
    QVERIFY(cell(compare, "whole_run_days", 0).contains("no failures"));
    const auto fields = window.diff_model()->fields();
    QVERIFY(std::find(fields.begin(), fields.end(), "/failures/enabled") != fields.end());
    QVERIFY(std::find(fields.begin(), fields.end(), "/cluster/chip") == fields.end());
    QVERIFY(std::find(fields.begin(), fields.end(), "/name") != fields.end());
  }

  void duplicate_and_change_then_save_atomically() {
    MainWindow window(catalogs_);
    QVERIFY(window.open_file(shipped("deepseek-v3-h800.json")));
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    const int copy = window.duplicate_current("h20");
    QCOMPARE(copy, 1);
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    QCOMPARE(window.current(), 1);
    QCOMPARE(QString::fromStdString(window.document(1).at("cluster").at("chip").get<std::string>()), QString("h20"));
    QVERIFY(QString::fromStdString(window.document(1).at("name").get<std::string>()).endsWith("on h20"));
    QCOMPARE(cell(*window.comparison_model(), "chip", 1), QString("h20"));
    QTemporaryDir dir;
    const QString path = dir.filePath("h20.json");
    QVERIFY(window.save_current(path));
    QCOMPARE(flopcast::read_json_file(path.toStdString()), window.document(1));
    // Only the file itself: the temporary file was renamed into place.
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files), QStringList{"h20.json"});
    QVERIFY(!window.save_current(dir.filePath("missing-folder/x.json")));
    // A file that is not JSON is refused with its line, never a crash.
    flopcast::write_file_atomic(dir.filePath("broken.json").toStdString(), "{\"name\": ");
    QVERIFY(!window.open_file(dir.filePath("broken.json")));
    QVERIFY(window.last_message().contains("broken.json"));
  }

  void duplicate_on_a_chip_adapts_node_fabric_and_precision() {
    // DeepSeek-V3 on H800 (FP8, InfiniBand) copied onto Ascend 910C: its CloudMatrix node, that node's RoCE fabric,
    // and bf16 (the 910C has no FP8 peak); the app says what it changed, and the copy is a valid scenario.
    MainWindow window(catalogs_);
    QVERIFY(window.open_file(shipped("deepseek-v3-h800.json")));
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    const int copy = window.duplicate_current("ascend-910c");
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    const auto& json = window.document(copy);
    const auto& node = *catalogs_.hardware.find_node(catalogs_.hardware.find_chip("ascend-910c")->default_node);
    QCOMPARE(QString::fromStdString(json.at("cluster").at("node").get<std::string>()), QString::fromStdString(node.id));
    QCOMPARE(QString::fromStdString(json.at("cluster").at("network").at("fabric").get<std::string>()),
             QString::fromStdString(node.default_fabric));
    QCOMPARE(QString::fromStdString(json.at("training").at("precision").get<std::string>()), QString("bf16"));
    QVERIFY(window.last_message().contains("precision bf16 (the chip has no fp8 peak)"));
    QVERIFY(window.last_message().contains("fabric " + QString::fromStdString(node.default_fabric)));
  }

  void simulate_on_a_worker_and_cancel() {
    MainWindow window(catalogs_);
    QVERIFY(window.open_file(shipped("deepseek-v3-h800.json")));
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    // Cancelled at once: the engine process is killed and the tier-1 result stays.
    window.simulate_current();
    QVERIFY(!window.idle());
    window.cancel_simulation();
    QElapsedTimer clock;
    clock.start();
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    qInfo("simulation cancelled after %lld ms", static_cast<long long>(clock.elapsed()));
    QCOMPARE(cell(*window.results_model(), "tier", 0), QString("1, analytical"));
    QCOMPARE(window.gantt()->row_count(), 0);
    // Run to the end: tier 2 with its trace on the timeline.
    window.simulate_current();
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    QCOMPARE(cell(*window.results_model(), "tier", 0), QString("2, discrete-event (replica)"));
    QVERIFY(window.gantt()->row_count() >= 16);  // 16 pipeline stages, a compute stream each at least
    // Beside a scenario at tier 1, the comparison's charts say which tier each row is.
    QVERIFY(window.open_file(shipped("deepseek-v3-h20.json")));
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    window.select(0);
    bool compared = false;
    for (const auto* chart : window.charts()) {
      if (!chart->has_chart() || chart->spec().id != "cost") continue;
      compared = true;
      QCOMPARE(chart->spec().categories.size(), std::size_t{2});
      QVERIFY(chart->spec().categories[0].ends_with("[tier 2]"));
      QVERIFY(chart->spec().categories[1].ends_with("[tier 1]"));
    }
    QVERIFY(compared);
    // An edit makes the simulation stale: back to tier 1.
    window.select(0);
    window.form()->set_value("/training/tokens", 1e13);
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    QCOMPARE(cell(*window.results_model(), "tier", 0), QString("1, analytical"));
  }

  void sweep_plots_a_field() {
    MainWindow window(catalogs_);
    QVERIFY(window.open_file(shipped("deepseek-v3-h800.json")));
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    window.run_sweep("/training/tokens", 5e12, 20e12, 4);
    QTRY_VERIFY_WITH_TIMEOUT(window.sweep_done(), kWaitMs);
    int sweep_charts = 0;
    for (auto* chart : window.charts()) {
      if (chart->has_chart() && chart->spec().id.rfind("sweep-", 0) == 0) {
        ++sweep_charts;
        QCOMPARE(chart->spec().series.front().x.size(), std::size_t{4});
        // The lines name the scenario swept: the charts stay when another scenario is selected.
        QCOMPARE(chart->spec().series.front().name, std::string("DeepSeek-V3 on 2048 H800 (published plan)"));
      }
    }
    QCOMPARE(sweep_charts, 2);
  }

  // The Which chip tab: the selected scenario's job on each chip with its best plan that fits, the answer first (at
  // tier 1 here, for speed); a mistyped chip is named with a suggestion; a comparison can be cancelled.
  void which_chip_compares_the_selected_scenario() {
    MainWindow window(catalogs_);
    QVERIFY(window.open_file(QString(FLOPCAST_SOURCE_ROOT "/scenarios/claims/scenarios/llama3-70b-h100-1024.json")));
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    auto* view = window.chip_compare();
    view->compare("h100-sxm,h20", flopcast::Tier::analytical);
    QTRY_VERIFY_WITH_TIMEOUT(view->idle(), kWaitMs);
    QVERIFY2(view->document() != nullptr, qPrintable(view->status_text()));
    QCOMPARE(view->document()->sections.front().title, std::string("The answer"));
    QVERIFY(!view->view()->charts().empty());
    QVERIFY(!view->view()->tables().empty());
    view->compare("h100-sxn", flopcast::Tier::analytical);
    QTRY_VERIFY_WITH_TIMEOUT(view->idle(), kWaitMs);
    QVERIFY2(view->status_text().contains("did you mean") && view->status_text().contains("h100-sxm"),
             qPrintable(view->status_text()));
    QVERIFY(view->document() != nullptr);  // the last comparison stays
    view->compare("h100-sxm,h20", flopcast::Tier::replica);
    view->cancel();
    QTRY_VERIFY_WITH_TIMEOUT(view->idle(), kWaitMs);
    QCOMPARE(view->status_text(), QString("cancelled"));
  }

  // A message about the scenario shown before goes when another is selected: the status bar never names the wrong one.
  void selecting_another_scenario_clears_the_last_message() {
    MainWindow window(catalogs_);
    QVERIFY(window.open_file(shipped("deepseek-v3-h800.json")));
    QVERIFY(window.open_file(shipped("deepseek-v3-h20.json")));
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    window.select(1);
    window.statusBar()->showMessage("DeepSeek-V3 on 2048 H20 (same plan): something about it");
    window.select(0);
    QVERIFY(window.statusBar()->currentMessage().isEmpty());
  }

  // The Sweep tab's default sweep (the cluster size, half to twice the scenario's, 12 points) has points to show: dp
  // follows the chips (it gave "no point is feasible (12 left out)" before), and the points left out say why (evenly
  // spaced sizes such as 1303 chips divide no plan).
  void the_default_sweep_has_points() {
    MainWindow window(catalogs_);
    QVERIFY(window.open_file(shipped("deepseek-v3-h800.json")));
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    window.run_sweep("/cluster/chips", 1024, 4096, 12);
    QTRY_VERIFY_WITH_TIMEOUT(window.sweep_done(), kWaitMs);
    bool drawn = false;
    for (const auto* chart : window.charts()) {
      if (!chart->has_chart() || chart->spec().id != "sweep-days") continue;
      drawn = true;
      const auto& points = chart->spec().series.front().x;
      QVERIFY2(!points.empty(), qPrintable(QString::fromStdString(chart->spec().caption)));
      if (points.size() < 12) QVERIFY(chart->spec().caption.find("left out (the first because") != std::string::npos);
    }
    QVERIFY(drawn);
  }

  // Every tab scrolls its content: the window fits a laptop's 1366x768 screen.
  void the_window_fits_a_laptop_screen() {
    MainWindow window(catalogs_);
    QVERIFY(window.open_file(shipped("deepseek-v3-h800.json")));
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    window.run_sweep("/training/tokens", 5e12, 20e12, 3);
    QTRY_VERIFY_WITH_TIMEOUT(window.sweep_done(), kWaitMs);
    const QSize least = window.minimumSizeHint().expandedTo(window.minimumSize());
    QVERIFY2(least.width() <= 1366 && least.height() <= 740,
             qPrintable(QString("the window needs at least %1 x %2").arg(least.width()).arg(least.height())));
  }

  // A long scenario name is wrapped beside its row, not cut: the chart's row grows to hold its lines, and a narrower
  // chart wraps it onto more.
  void chart_labels_wrap_instead_of_being_cut() {
    report::ChartSpec spec;
    spec.kind = report::ChartKind::intervals;
    spec.categories = {"DeepSeek-V3 on 2048 H800 (published plan)", "DeepSeek-V3 on 2048 H20 (same plan)"};
    spec.series.push_back(report::ChartSeries{.name = "x", .x = {}, .y = {1, 2}, .low = {0.5, 1.5}, .high = {2, 3},
                                              .colour = {}});
    // 900 px: 900 x 3 / 80 = 33 characters a line, the longer name on two lines: rows of 15 x 2 + 8 = 38 px.
    QCOMPARE(report::label_line_chars(900), std::size_t{33});
    QCOMPARE(report::chart_height_px(spec, 900), 130 + 2 * 38);
    // 480 px: 18 characters a line, "DeepSeek-V3 on | 2048 H800 | (published plan)": rows of 15 x 3 + 8 = 53 px.
    QCOMPARE(report::label_line_chars(480), std::size_t{18});
    QCOMPARE(report::chart_height_px(spec, 480), 130 + 2 * 53);
    // Short names keep the rows' own height (30 px for an interval).
    spec.categories = {"H800", "H20"};
    QCOMPARE(report::chart_height_px(spec, 480), 130 + 2 * 30);
  }

  // The PDF never splits a table row across two pages (Qt breaks a row cell by cell, leaving its short cells on one
  // page and its long ones on the next): a long table of rows of one to three lines goes on under its header again.
  void pdf_table_rows_stay_whole() {
    report::Document document;
    document.title = "A long table";
    report::Table table;
    table.caption = "rows";
    table.header = {"name", "value"};
    for (int k = 0; k < 160; ++k) {  // rows of one to about eight lines
      std::string name = "row " + std::to_string(k);
      for (int more = 0; more < k % 7; ++more) name += " with words enough to wrap its cell onto another line or two";
      table.rows.push_back({report::Cell{.text = name, .value = {}, .unit = {}, .p10 = {}, .p90 = {}},
                            report::Cell{.text = "1", .value = 1.0, .unit = "s", .p10 = {}, .p90 = {}}});
    }
    document.sections.push_back(report::Section{.title = "Rows", .blocks = {table}});
    const auto pieces = report::pdf_table_row_pages(document);
    QVERIFY2(pieces.size() >= 2, "a row that would have straddled a page break starts a new piece of the table");
    std::size_t rows = 0;
    for (const auto& piece : pieces) {
      for (const auto& [first, last] : piece) QCOMPARE(last, first);
      rows += piece.size();
    }
    QCOMPARE(rows, std::size_t{160});
  }

  void a_fleet_file_is_shown_in_the_fleet_view() {
    const QString file = FLOPCAST_SOURCE_ROOT "/tests/data/fleet/small-fleet.json";
    MainWindow window(catalogs_);
    QVERIFY(window.open_file(file));
    QCOMPARE(window.scenario_count(), 0);  // a fleet is not a scenario: the Fleet view has it
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    const auto* view = window.fleet_view();
    QVERIFY2(view->document() != nullptr, qPrintable(view->status_text()));
    // The view lays out what the library computed, table for table: the same document the CLI's report writes.
    const auto spec = flopcast::load_fleet(file.toStdString(), catalogs_);
    const auto result = flopcast::simulate_fleet(spec, catalogs_);
    const auto expected = flopcast::report::build_fleet_document(result, spec.question, spec.description);
    std::vector<const flopcast::report::Table*> tables;
    for (const auto& section : expected.sections) {
      for (const auto& block : section.blocks) {
        if (const auto* table = std::get_if<flopcast::report::Table>(&block)) tables.push_back(table);
      }
    }
    QCOMPARE(view->tables().size(), tables.size());
    for (std::size_t t = 0; t < tables.size(); ++t) {
      auto* model = view->tables()[t];
      QAbstractItemModelTester tester(model, QAbstractItemModelTester::FailureReportingMode::QtTest);
      QCOMPARE(model->rowCount(), static_cast<int>(tables[t]->rows.size()));
      for (std::size_t r = 0; r < tables[t]->rows.size(); ++r) {
        for (std::size_t c = 0; c < tables[t]->rows[r].size(); ++c) {
          QCOMPARE(model->data(model->index(static_cast<int>(r), static_cast<int>(c))).toString().toStdString(),
                   tables[t]->rows[r][c].text);
        }
      }
    }
    QCOMPARE(view->charts().size(), expected.charts().size());
    for (const auto* chart : view->charts()) QVERIFY(chart->has_chart());
    QVERIFY(view->status_text().contains("jobs"));
    // A bad fleet file: its problem shown, the last good fleet kept.
    QTemporaryDir dir;
    const QString bad = dir.filePath("bad-fleet.json");
    flopcast::write_file_atomic(bad.toStdString(), R"({"pools": [], "sites": [], "horizon_days": -1})");
    QVERIFY(window.open_file(bad));
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    QVERIFY2(view->status_text().contains("bad-fleet.json"), qPrintable(view->status_text()));
    QVERIFY(view->document() != nullptr);
    // Cancelled at once: nothing new shown, the last fleet kept.
    const auto* shown = view->document();
    QVERIFY(window.open_file(FLOPCAST_SOURCE_ROOT "/scenarios/fleet/hopper-50k.json"));
    window.fleet_view()->cancel();
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    QCOMPARE(view->status_text(), QString("cancelled"));
    QCOMPARE(view->document(), shown);
    // Export: the report folder the CLI writes.
    view->export_report(dir.path());
    QVERIFY(QFileInfo::exists(dir.filePath("report.html")));
    QVERIFY(QFileInfo::exists(dir.filePath("report.csv")));
  }

  // Run alone under Xvfb (ctest gui_screenshot): the window as a user sees it, with three scenarios compared.
  void screenshot_compare() {
    if (QGuiApplication::platformName() != "xcb") QSKIP("needs an X server: ctest runs it under xvfb-run");
    MainWindow window(catalogs_);
    QVERIFY(window.open_file(shipped("deepseek-v3-h800.json")));
    QVERIFY(window.open_file(shipped("deepseek-v3-h20.json")));
    QVERIFY(window.open_file(shipped("llama3-405b-h100-failures.json")));
    window.show_view("Compare");
    window.resize(1800, 1150);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    QTest::qWait(300);
    QDir().mkpath(FLOPCAST_SCREENSHOT_DIR);
    const QString compare = QString(FLOPCAST_SCREENSHOT_DIR) + "/main-window-compare.png";
    QVERIFY(window.grab().save(compare));
    window.select(0);
    window.show_view("Results");
    QTest::qWait(200);
    QVERIFY(window.grab().save(QString(FLOPCAST_SCREENSHOT_DIR) + "/main-window-results.png"));
    // The first scenario simulated at tier 2: its step on the timeline.
    window.simulate_current();
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    window.show_view("Timeline");
    QTest::qWait(200);
    QVERIFY(window.gantt()->row_count() > 0);
    QVERIFY(window.grab().save(QString(FLOPCAST_SCREENSHOT_DIR) + "/main-window-timeline.png"));
    // A sweep of the token count, and the export-control panel.
    window.select(1);
    window.run_sweep("/training/tokens", 5e12, 20e12, 7);
    window.show_view("Sweep");
    QTRY_VERIFY_WITH_TIMEOUT(window.sweep_done(), kWaitMs);
    QTest::qWait(200);
    QVERIFY(window.grab().save(QString(FLOPCAST_SCREENSHOT_DIR) + "/main-window-sweep.png"));
    // The four main views on a laptop's 1366x768 screen and at 1600x1000: nothing off screen or cut.
    for (const QSize size : {QSize(1366, 768), QSize(1600, 1000)}) {
      window.resize(size);
      for (const char* view : {"Compare", "Results", "Timeline", "Sweep", "Export control"}) {
        if (QString(view) == "Results") window.select(0);  // the scenario simulated at tier 2
        window.show_view(view);
        QTest::qWait(200);
        QVERIFY(window.grab().save(QString("%1/%2-%3x%4.png")
                                       .arg(FLOPCAST_SCREENSHOT_DIR, QString(view).toLower().replace(' ', '-'))
                                       .arg(size.width())
                                       .arg(size.height())));
      }
    }
    // Which chip: DeepSeek-V3's job on four chip types (tier 1 here, for speed), at the laptop's size.
    window.select(0);
    window.chip_compare()->compare("h800-sxm,h20,ascend-910c,ascend-910b", flopcast::Tier::analytical);
    QTRY_VERIFY_WITH_TIMEOUT(window.chip_compare()->idle(), kWaitMs);
    window.resize(1366, 768);
    window.show_view("Which chip");
    QTest::qWait(300);
    QVERIFY(window.grab().save(QString(FLOPCAST_SCREENSHOT_DIR) + "/which-chip-1366x768.png"));
    window.resize(1800, 1150);
    window.show_view("Export control");
    QTest::qWait(100);
    QVERIFY(window.grab().save(QString(FLOPCAST_SCREENSHOT_DIR) + "/main-window-export-control.png"));
    // A serving deployment's results.
    QVERIFY(window.open_file(FLOPCAST_SOURCE_ROOT "/scenarios/serving/deepseek-v3-h20.json"));
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    window.show_view("Results");
    QTest::qWait(200);
    QVERIFY(window.grab().save(QString(FLOPCAST_SCREENSHOT_DIR) + "/main-window-serving.png"));
    // A fleet (the small test fleet: the shipped 50,000-chip ones take a minute to size under the sanitizers).
    QVERIFY(window.open_file(FLOPCAST_SOURCE_ROOT "/tests/data/fleet/small-fleet.json"));
    QTRY_VERIFY_WITH_TIMEOUT(window.idle(), kWaitMs);
    QVERIFY2(window.fleet_view()->document() != nullptr, qPrintable(window.fleet_view()->status_text()));
    QTest::qWait(300);
    QVERIFY(window.grab().save(QString(FLOPCAST_SCREENSHOT_DIR) + "/main-window-fleet.png"));
    qInfo("screenshots written to %s", FLOPCAST_SCREENSHOT_DIR);
  }
};

QTEST_MAIN(GuiTest)
#include "test_gui.moc"
