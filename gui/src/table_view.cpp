#include "table_view.hpp"

#include <QHeaderView>
#include <QTableView>
#include <QTimer>
#include <algorithm>

namespace flopcast::gui {

namespace {

// Rows as tall as their wrapped cells, the header as tall as its longest wrapped title, and the table as tall as all
// of them (it scrolls with its page, not on its own).
void fit_rows(QTableView* table) {
  table->resizeRowsToContents();
  auto* header = table->horizontalHeader();
  int title_height = 2 * table->fontMetrics().height();
  for (int column = 0; column < table->model()->columnCount(); ++column) {
    const QString title = table->model()->headerData(column, Qt::Horizontal).toString();
    const QRect room(0, 0, std::max(header->sectionSize(column) - 8, 20), 10000);
    title_height = std::max(title_height, table->fontMetrics().boundingRect(room, Qt::TextWordWrap, title).height());
  }
  header->setMinimumHeight(title_height + 10);
  int height = std::max(header->sizeHint().height(), header->minimumHeight()) + 2 * table->frameWidth() + 2;
  for (int row = 0; row < table->model()->rowCount(); ++row) height += table->rowHeight(row);
  table->setFixedHeight(std::max(height, 80));
}

}  // namespace

QTableView* fitted_table(QAbstractItemModel* model, bool stretch) {
  auto* table = new QTableView;
  table->setModel(model);
  table->setWordWrap(true);
  table->horizontalHeader()->setDefaultAlignment(Qt::Alignment(Qt::AlignCenter | Qt::TextWordWrap));
  // Room for a scenario name on two lines.
  table->horizontalHeader()->setMinimumHeight(2 * table->fontMetrics().height() + 10);
  table->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  if (stretch) table->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
  QObject::connect(model, &QAbstractItemModel::modelReset, table, [table] { fit_rows(table); });
  // Wider or narrower columns wrap their cells onto fewer or more lines: fitted again once the resizing is done.
  QObject::connect(table->horizontalHeader(), &QHeaderView::sectionResized, table, [table] {
    QTimer::singleShot(0, table, [table] { fit_rows(table); });
  });
  fit_rows(table);
  return table;
}

}  // namespace flopcast::gui
