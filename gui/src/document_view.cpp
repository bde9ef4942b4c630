#include "document_view.hpp"

#include <QHeaderView>
#include <QLabel>
#include <QPlainTextEdit>
#include <QTableView>
#include <QVBoxLayout>

#include "chart_box.hpp"
#include "models.hpp"
#include "table_view.hpp"
#include "qt_text.hpp"

namespace flopcast::gui {

namespace {

QLabel* wrapped_label(const QString& text) {
  auto* label = new QLabel(text);
  label->setWordWrap(true);
  return label;
}

}  // namespace

DocumentView::DocumentView(QWidget* parent) : QScrollArea(parent) {
  setWidgetResizable(true);
  content_ = new QWidget;
  layout_ = new QVBoxLayout(content_);
  layout_->addStretch(1);
  setWidget(content_);
}

void DocumentView::show_document(const report::Document& document) {
  // Replace the previous document's widgets (and their models) with this one's.
  while (QLayoutItem* item = layout_->takeAt(0)) {
    if (QWidget* widget = item->widget()) widget->deleteLater();
    delete item;
  }
  for (auto* model : tables_) model->deleteLater();
  tables_.clear();
  charts_.clear();

  layout_->addWidget(wrapped_label(
      QString("<h2>%1</h2>%2").arg(q(document.title).toHtmlEscaped(), q(document.subtitle).toHtmlEscaped())));
  for (const auto& section : document.sections) {
    layout_->addWidget(new QLabel(QString("<h3>%1</h3>").arg(q(section.title).toHtmlEscaped())));
    for (const auto& block : section.blocks) {
      if (const auto* paragraph = std::get_if<report::Paragraph>(&block)) {
        auto* label = new QLabel(q(paragraph->text));
        label->setTextFormat(Qt::PlainText);
        label->setWordWrap(true);
        label->setTextInteractionFlags(Qt::TextSelectableByMouse);
        layout_->addWidget(label);
      } else if (const auto* table = std::get_if<report::Table>(&block)) {
        if (!table->caption.empty()) layout_->addWidget(wrapped_label("<i>" + q(table->caption).toHtmlEscaped() + "</i>"));
        auto* model = new TableModel(this);
        model->set_table(*table);
        tables_.push_back(model);
        auto* view = fitted_table(model);
        view->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
        view->horizontalHeader()->setStretchLastSection(true);
        layout_->addWidget(view);
      } else if (const auto* chart = std::get_if<report::ChartSpec>(&block)) {
        auto* box = new ChartBox;
        box->set_spec(*chart, /*full_height=*/true);
        charts_.push_back(box);
        layout_->addWidget(box);
        if (!chart->caption.empty()) layout_->addWidget(wrapped_label("<i>" + q(chart->caption).toHtmlEscaped() + "</i>"));
      } else if (const auto* code = std::get_if<report::Code>(&block)) {
        layout_->addWidget(new QLabel("<i>" + q(code->title).toHtmlEscaped() + "</i>"));
        auto* text = new QPlainTextEdit(q(code->text));
        text->setReadOnly(true);
        text->setMinimumHeight(160);
        layout_->addWidget(text);
      }
    }
  }
  layout_->addStretch(1);
}

}  // namespace flopcast::gui
