#pragma once
// A table view sized to its rows, so the page around it scrolls rather than the table; headers wrap.

class QAbstractItemModel;
class QTableView;

namespace flopcast::gui {

// A QTableView of `model` whose height follows its rows after every reset of the model.
QTableView* fitted_table(QAbstractItemModel* model);

}  // namespace flopcast::gui
