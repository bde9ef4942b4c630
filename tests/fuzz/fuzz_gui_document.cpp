// libFuzzer target: the desktop app's document model, on whatever a user opens. A file that is a JSON object is
// listed by name, shown in the schema-generated form with the parser's problems marked at their fields, compared
// field by field with a shipped scenario, edited through the form (every field set, then cleared; the chip changed)
// and copied onto another chip, as the app's actions do. None of it may throw anything but InputError or ModelError
// (a slot that throws loses the user's other open work). Seeds: tests/fuzz/corpus/scenario and the shipped scenarios.
#include <QApplication>
#include <QString>
#include <filesystem>

#include "document.hpp"
#include "flopcast/core/files.hpp"
#include "fuzz_common.hpp"
#include "models.hpp"
#include "schema_form.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  qputenv("QT_QPA_PLATFORM", "offscreen");
  static int argc = 1;
  static char name[] = "fuzz_gui_document";
  static char* argv[] = {name, nullptr};
  static QApplication app(argc, argv);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace flopcast;
  const auto& catalogs = fuzz::catalogs();
  static gui::SchemaForm form(gui::load_scenario_schema(), catalogs);
  static const nlohmann::json shipped =
      read_json_file(std::filesystem::path(FLOPCAST_FUZZ_SCENARIO_DIR) / "llama3-70b-h800-h20-mixed.json");
  return fuzz::expect_clean_outcome([&] {
    nlohmann::json json = parse_json_text(fuzz::as_text(data, size), "fuzz.json");
    if (!json.is_object()) return;  // MainWindow::open_file refuses it with a message
    (void)gui::display_name(json, "fuzz.json");
    form.set_document(json);
    try {
      (void)parse_scenario(json, "fuzz.json", FLOPCAST_FUZZ_HF_DIR, catalogs);
      form.set_problems({});
    } catch (const InputError& error) {
      form.set_problems(error.problems());
    }
    gui::InputDiffModel diff;
    diff.set_inputs({json, shipped}, {"fuzz", "shipped"});
    for (int row = 0; row < diff.rowCount(); ++row) {
      (void)diff.headerData(row, Qt::Vertical);
      for (int column = 0; column < diff.columnCount(); ++column) (void)diff.data(diff.index(row, column));
    }
    // The form's edits: a value typed into every field the form has, one at a time, then cleared.
    for (const auto& pointer : form.fields()) {
      nlohmann::json edited = json;
      gui::set_field(edited, pointer, form.value(pointer).is_null() ? nlohmann::json(1) : form.value(pointer));
      gui::set_field(edited, pointer, nullptr);
    }
    gui::set_field(json, "/cluster/chip", "h20");
    gui::follow_chip(json, catalogs);
    (void)gui::duplicate(json, "fuzz", "ascend-910c", catalogs);
    (void)gui::duplicate(json, "fuzz", "", catalogs);
  });
}
