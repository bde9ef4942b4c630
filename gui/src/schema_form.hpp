#pragma once
// A form generated from the scenario's JSON Schema (scenarios/schema/scenario.schema.json): one field per leaf the
// schema declares, with its type, bounds, unit ("x-unit") and help text ("description", copied from SCHEMA.md by
// tools/annotate_schema.py) as label, placeholder and tooltip. Catalog ids (model, chip, node, fabric) get pickers.
// The form holds no rules of its own: values go into the scenario JSON as typed, and the scenario parser's problems
// (each with its JSON path) are shown at the field they name.

#include <QWidget>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flopcast/core/errors.hpp"
#include "flopcast/scenarios/scenario.hpp"

class QLabel;
class QFormLayout;
class QVBoxLayout;

namespace flopcast::gui {

class SchemaForm : public QWidget {
  Q_OBJECT
 public:
  SchemaForm(const nlohmann::ordered_json& schema, const Catalogs& catalogs, QWidget* parent = nullptr);

  // Shows `document`'s values (signals off). Fields it does not set show their default as a placeholder.
  void set_document(const nlohmann::json& document);
  // Marks the fields the problems name (the deepest field on each problem's path); problems of the whole file, or
  // of a part of it without a field, are listed at the top. Clears the previous marks.
  void set_problems(const std::vector<Problem>& problems);

  // The field's value as JSON (null: not set, the default applies).
  nlohmann::json value(const std::string& pointer) const;
  // Sets a field as if the user had (emits edited).
  void set_value(const std::string& pointer, const nlohmann::json& value);
  // The editing widget of a field, or null.
  QWidget* field_widget(const std::string& pointer) const;
  // The unit of a field's value ("" when it has none or the field does not exist).
  std::string unit(const std::string& pointer) const;
  // The message shown at a field ("" when none).
  QString field_error(const std::string& pointer) const;
  // Every field, and those holding numbers (a sweep's axes).
  std::vector<std::string> fields() const;
  std::vector<std::string> numeric_fields() const;

 signals:
  // A field changed: its pointer and new value (null: cleared).
  void edited(const QString& pointer);

 private:
  enum class Kind { text, integer, number, choice, boolean, catalog, json };
  struct Field {
    std::string pointer;
    std::string unit;  // the schema's x-unit, "" when none
    Kind kind = Kind::text;
    QWidget* editor = nullptr;
    QLabel* error = nullptr;
  };

  void add_object(const nlohmann::ordered_json& node, const std::string& pointer, QFormLayout* layout, int depth);
  void add_field(const std::string& key, const nlohmann::ordered_json& node, const std::string& pointer, bool required,
                 QFormLayout* layout);
  QWidget* make_editor(Field& field, const nlohmann::ordered_json& node, const std::string& key);
  void show_value(const Field& field, const nlohmann::json& value);
  nlohmann::json read_value(const Field& field) const;

  const Catalogs& catalogs_;
  std::map<std::string, Field> fields_;
  std::map<std::string, QLabel*> group_errors_;  // object pointer -> its error label
  std::map<std::string, QWidget*> sections_;     // top-level objects ("/training", "/serving", ...) -> their box
  QLabel* file_errors_ = nullptr;
  bool loading_ = false;
};

// The schema as shipped (data_root()/scenarios/schema/scenario.schema.json), keys in file order (the form's order).
// Throws InputError.
nlohmann::ordered_json load_scenario_schema();

}  // namespace flopcast::gui
