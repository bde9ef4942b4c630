#include "table_view.hpp"

#include <QHeaderView>
#include <QTableView>
#include <algorithm>

namespace flopcast::gui {

namespace {

void fit_rows(QTableView* table) {
  table->resizeRowsToContents();
  const auto* header = table->horizontalHeader();
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
  fit_rows(table);
  return table;
}

}  // namespace flopcast::gui
