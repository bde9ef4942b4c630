#pragma once
// A report's document (report::Document) laid out as widgets in a scrolling page: its title, each section's
// paragraphs, tables (with their captions), charts (ChartBox, full height, with their captions) and code. The Fleet
// and Which chip tabs show the documents `flopcast report` writes this way; nothing is computed here.

#include <vector>

#include <QScrollArea>

#include "flopcast/reports/document.hpp"

class QVBoxLayout;

namespace flopcast::gui {

class ChartBox;
class TableModel;

class DocumentView : public QScrollArea {
  Q_OBJECT
 public:
  explicit DocumentView(QWidget* parent = nullptr);

  // Replaces what is shown with `document` (the view keeps no reference to it).
  void show_document(const report::Document& document);
  // The tables' models and the charts as laid out, in the document's order.
  const std::vector<TableModel*>& tables() const { return tables_; }
  const std::vector<ChartBox*>& charts() const { return charts_; }

 private:
  QWidget* content_ = nullptr;
  QVBoxLayout* layout_ = nullptr;
  std::vector<TableModel*> tables_;
  std::vector<ChartBox*> charts_;
};

}  // namespace flopcast::gui
