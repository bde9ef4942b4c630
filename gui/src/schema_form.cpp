#include "schema_form.hpp"

#include <fmt/format.h>

#include <QComboBox>
#include <QFontDatabase>
#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QLineEdit>
#include <QVBoxLayout>
#include <algorithm>
#include <set>

#include "flopcast/core/files.hpp"
#include "flopcast/hardware/catalog.hpp"
#include "qt_text.hpp"

namespace flopcast::gui {

namespace {

const char* kDefaultChoice = "(default)";
const char* kErrorStyle = "border: 1px solid #c00000; background: #fff0f0;";

// A JSON pointer's parent ("" for a top-level key).
std::string parent_of(const std::string& pointer) {
  const auto slash = pointer.rfind('/');
  return slash == std::string::npos || slash == 0 ? "" : pointer.substr(0, slash);
}

// The schema node's bounds as words, for the tooltip.
std::string bounds_text(const nlohmann::ordered_json& node) {
  std::string text;
  if (node.contains("minimum")) text += fmt::format(">= {}", node["minimum"].dump());
  if (node.contains("exclusiveMinimum")) text += fmt::format("> {}", node["exclusiveMinimum"].dump());
  if (node.contains("maximum")) text += fmt::format("{}<= {}", text.empty() ? "" : ", ", node["maximum"].dump());
  return text;
}

bool allows_type(const nlohmann::ordered_json& node, const std::string& type) {
  if (node.value("type", "") == type) return true;
  for (const char* combinator : {"oneOf", "anyOf"}) {
    if (!node.contains(combinator)) continue;
    for (const auto& variant : node[combinator]) {
      if (variant.value("type", "") == type) return true;
    }
  }
  return false;
}

}  // namespace

nlohmann::ordered_json load_scenario_schema() {
  const auto path = data_root() / "scenarios" / "schema" / "scenario.schema.json";
  const std::string text = read_text_file(path);
  auto schema = nlohmann::ordered_json::parse(text, nullptr, false);
  if (schema.is_discarded()) {
    // The same text through the reader that reports where the syntax breaks.
    parse_json_text(text, path.string());
    throw InputError(path.string(), "", "not valid JSON");
  }
  return schema;
}

SchemaForm::SchemaForm(const nlohmann::ordered_json& schema, const Catalogs& catalogs, QWidget* parent)
    : QWidget(parent), catalogs_(catalogs) {
  auto* layout = new QVBoxLayout(this);
  file_errors_ = new QLabel(this);
  file_errors_->setWordWrap(true);
  file_errors_->setStyleSheet("color: #c00000;");
  file_errors_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  file_errors_->hide();
  layout->addWidget(file_errors_);
  auto* top = new QFormLayout;
  layout->addLayout(top);
  add_object(schema, "", top, 0);
  layout->addStretch(1);
}

void SchemaForm::add_object(const nlohmann::ordered_json& node, const std::string& pointer, QFormLayout* layout,
                            int depth) {
  if (!node.contains("properties")) return;
  std::set<std::string> required;
  if (node.contains("required")) {
    for (const auto& key : node["required"]) required.insert(key.get<std::string>());
  }
  for (const auto& [key, child] : node["properties"].items()) {
    // A published measurement belongs to validation scenarios; the form edits what a what-if changes.
    if (key == "published") continue;
    const std::string child_pointer = pointer + "/" + key;
    const bool is_object = child.value("type", "") == "object" && child.contains("properties");
    if (is_object) {
      auto* box = new QGroupBox(q(key), this);
      box->setToolTip(q(child.value("description", "")));
      auto* box_layout = new QFormLayout(box);
      box_layout->setFieldGrowthPolicy(QFormLayout::ExpandingFieldsGrow);
      auto* error = new QLabel(box);
      error->setWordWrap(true);
      error->setStyleSheet("color: #c00000;");
      error->hide();
      box_layout->addRow(error);
      group_errors_[child_pointer] = error;
      add_object(child, child_pointer, box_layout, depth + 1);
      layout->addRow(box);
      if (depth == 0) sections_[child_pointer] = box;
    } else {
      add_field(key, child, child_pointer, required.count(key) > 0, layout);
    }
  }
}

void SchemaForm::add_field(const std::string& key, const nlohmann::ordered_json& node, const std::string& pointer,
                           bool required, QFormLayout* layout) {
  Field field;
  field.pointer = pointer;
  const std::string unit = node.value("x-unit", "");
  field.unit = unit;
  QString label = q(key);
  if (!unit.empty()) label += q(fmt::format(" [{}]", unit));
  std::string help = node.value("description", "");
  const std::string bounds = bounds_text(node);
  if (!bounds.empty()) help += fmt::format("\nallowed: {}", bounds);
  if (!unit.empty()) help += fmt::format("\nunit: {}", unit);
  field.editor = make_editor(field, node, key);
  field.editor->setToolTip(q(help));
  field.editor->setWhatsThis(q(help));
  field.editor->setObjectName(q(pointer));
  if (auto* line = qobject_cast<QLineEdit*>(field.editor)) line->setPlaceholderText(required ? "required" : "default");
  field.error = new QLabel(this);
  field.error->setWordWrap(true);
  field.error->setStyleSheet("color: #c00000;");
  field.error->hide();
  auto* cell = new QWidget(this);
  auto* cell_layout = new QVBoxLayout(cell);
  cell_layout->setContentsMargins(0, 0, 0, 0);
  cell_layout->setSpacing(1);
  cell_layout->addWidget(field.editor);
  cell_layout->addWidget(field.error);
  auto* label_widget = new QLabel(label, this);
  label_widget->setToolTip(q(help));
  layout->addRow(label_widget, cell);
  fields_[pointer] = field;
}

QWidget* SchemaForm::make_editor(Field& field, const nlohmann::ordered_json& node, const std::string& key) {
  const std::string pointer = field.pointer;
  const auto notify = [this, pointer] {
    if (!loading_) emit edited(q(pointer));
  };
  // Catalog pickers: the ids the catalogs hold, editable so that a typo reaches the parser (and its suggestion).
  std::vector<std::string> ids;
  bool catalog = true;
  if (pointer == "/model") {
    ids = catalogs_.models.ids();
  } else if (pointer == "/cluster/chip" || key == "chip") {
    ids = catalogs_.hardware.chip_ids();
  } else if (pointer == "/cluster/node" || key == "node") {
    ids = catalogs_.hardware.node_ids();
  } else if (pointer == "/cluster/network/fabric") {
    ids = catalogs_.hardware.fabric_ids();
  } else {
    catalog = false;
  }
  if (catalog) {
    field.kind = Kind::catalog;
    auto* box = new QComboBox(this);
    box->setEditable(true);
    box->setInsertPolicy(QComboBox::NoInsert);
    box->addItem("");
    // Left empty, a node is the chip's own and a fabric the node's: said as the other fields say it.
    if (key == "node" || key == "fabric") box->lineEdit()->setPlaceholderText("default");
    for (const auto& id : ids) {
      box->addItem(q(id));
      std::string name;
      if (const auto* chip = catalogs_.hardware.find_chip(id)) name = chip->name;
      if (const auto* node_entry = catalogs_.hardware.find_node(id)) name = node_entry->name;
      if (const auto* model = catalogs_.models.find(id)) name = model->name;
      if (!name.empty()) box->setItemData(box->count() - 1, q(name), Qt::ToolTipRole);
    }
    connect(box, &QComboBox::currentTextChanged, this, notify);
    return box;
  }
  if (node.contains("enum") || node.value("type", "") == "boolean") {
    field.kind = node.contains("enum") ? Kind::choice : Kind::boolean;
    auto* box = new QComboBox(this);
    box->addItem(kDefaultChoice);
    if (node.contains("enum")) {
      for (const auto& option : node["enum"])
        box->addItem(q(option.is_string() ? option.get<std::string>() : option.dump()));
    } else {
      box->addItem("true");
      box->addItem("false");
    }
    connect(box, &QComboBox::currentTextChanged, this, notify);
    return box;
  }
  if (node.value("type", "") == "array" || (node.value("type", "") == "object" && !node.contains("properties"))) {
    // A list (a mixed fleet's stage groups) as one line of JSON; what does not parse goes to the parser as text, and
    // its problem shows here.
    field.kind = Kind::json;
    auto* line = new QLineEdit(this);
    line->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    connect(line, &QLineEdit::textEdited, this, notify);
    return line;
  }
  field.kind = allows_type(node, "integer") ? Kind::integer : allows_type(node, "number") ? Kind::number : Kind::text;
  auto* line = new QLineEdit(this);
  connect(line, &QLineEdit::textEdited, this, notify);
  return line;
}

void SchemaForm::show_value(const Field& field, const nlohmann::json& value) {
  const QString text = value.is_null() ? QString() : value.is_string() ? q(value.get<std::string>()) : q(value.dump());
  if (auto* line = qobject_cast<QLineEdit*>(field.editor)) {
    line->setText(text);
    line->setCursorPosition(0);
  } else if (auto* box = qobject_cast<QComboBox*>(field.editor)) {
    if (field.kind == Kind::catalog) {
      box->setEditText(text);  // an inline model or a Hugging Face config: its JSON, edited in place
    } else {
      const int found = box->findText(text);
      box->setCurrentIndex(text.isEmpty() || found < 0 ? 0 : found);
    }
  }
}

nlohmann::json SchemaForm::read_value(const Field& field) const {
  QString text;
  if (auto* line = qobject_cast<QLineEdit*>(field.editor)) text = line->text().trimmed();
  if (auto* box = qobject_cast<QComboBox*>(field.editor)) {
    text = box->currentText().trimmed();
    if (text == kDefaultChoice) text.clear();
  }
  if (text.isEmpty()) return nullptr;
  const std::string raw = text.toStdString();
  switch (field.kind) {
    case Kind::boolean:
      return raw == "true";
    case Kind::integer:
    case Kind::number: {
      // A number as typed (1e12, 2048); anything else goes through as text for the parser to reject at this field.
      const auto parsed = nlohmann::json::parse(raw, nullptr, false);
      if (!parsed.is_discarded() && parsed.is_number()) return parsed;
      return raw;
    }
    case Kind::json:
    case Kind::catalog: {
      // A list, or an inline model in a catalog field ("{...}"): JSON when it parses, else text for the parser.
      if (field.kind == Kind::catalog && raw.front() != '{') return raw;
      const auto parsed = nlohmann::json::parse(raw, nullptr, false);
      return parsed.is_discarded() ? nlohmann::json(raw) : parsed;
    }
    default:
      return raw;
  }
}

void SchemaForm::set_document(const nlohmann::json& document) {
  // A scenario is a training run or a serving deployment (the schema's anyOf): only its own sections are shown.
  const bool serving = document.is_object() && document.contains("serving");
  for (auto& [pointer, box] : sections_) {
    const bool training_only = pointer == "/parallelism" || pointer == "/training" || pointer == "/failures";
    box->setVisible(serving ? !training_only : pointer != "/serving");
  }
  loading_ = true;
  for (auto& [pointer, field] : fields_) {
    const nlohmann::json::json_pointer ptr(pointer);
    show_value(field, document.contains(ptr) ? document.at(ptr) : nlohmann::json());
  }
  loading_ = false;
}

void SchemaForm::set_problems(const std::vector<Problem>& problems) {
  for (auto& [pointer, field] : fields_) {
    field.error->clear();
    field.error->hide();
    field.editor->setStyleSheet("");
  }
  for (auto& [pointer, label] : group_errors_) {
    label->clear();
    label->hide();
  }
  QStringList general;
  for (const auto& problem : problems) {
    // The deepest field or group on the problem's path: "/cluster/stage_chips/0/chip" has no field of its own.
    std::string path = problem.path;
    bool shown = false;
    while (!path.empty() && !shown) {
      if (auto it = fields_.find(path); it != fields_.end()) {
        const QString message = q(path == problem.path ? problem.message : problem.path + ": " + problem.message);
        it->second.error->setText(it->second.error->text().isEmpty() ? message
                                                                     : it->second.error->text() + "\n" + message);
        it->second.error->show();
        it->second.editor->setStyleSheet(kErrorStyle);
        shown = true;
      } else if (auto group = group_errors_.find(path); group != group_errors_.end()) {
        const QString message = q(problem.path + ": " + problem.message);
        group->second->setText(group->second->text().isEmpty() ? message : group->second->text() + "\n" + message);
        group->second->show();
        shown = true;
      } else {
        path = parent_of(path);
      }
    }
    if (!shown) general << q(problem.path.empty() ? problem.message : problem.path + ": " + problem.message);
  }
  file_errors_->setText(general.join("\n"));
  file_errors_->setVisible(!general.isEmpty());
}

nlohmann::json SchemaForm::value(const std::string& pointer) const {
  const auto it = fields_.find(pointer);
  return it == fields_.end() ? nlohmann::json() : read_value(it->second);
}

void SchemaForm::set_value(const std::string& pointer, const nlohmann::json& value) {
  const auto it = fields_.find(pointer);
  if (it == fields_.end()) return;
  loading_ = true;  // one edit, one signal: not the editor's own as well
  show_value(it->second, value);
  loading_ = false;
  emit edited(q(pointer));
}

QWidget* SchemaForm::field_widget(const std::string& pointer) const {
  const auto it = fields_.find(pointer);
  return it == fields_.end() ? nullptr : it->second.editor;
}

std::string SchemaForm::unit(const std::string& pointer) const {
  const auto it = fields_.find(pointer);
  return it == fields_.end() ? std::string() : it->second.unit;
}

QString SchemaForm::field_error(const std::string& pointer) const {
  const auto it = fields_.find(pointer);
  return it == fields_.end() ? QString() : it->second.error->text();
}

std::vector<std::string> SchemaForm::fields() const {
  std::vector<std::string> out;
  for (const auto& [pointer, field] : fields_) out.push_back(pointer);
  return out;
}

std::vector<std::string> SchemaForm::numeric_fields() const {
  std::vector<std::string> out;
  for (const auto& [pointer, field] : fields_) {
    if (field.kind == Kind::integer || field.kind == Kind::number) out.push_back(pointer);
  }
  return out;
}

}  // namespace flopcast::gui
