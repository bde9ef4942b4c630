#pragma once
// A table view sized to its rows, so the page around it scrolls rather than the table; headers wrap.

class QAbstractItemModel;
class QTableView;

namespace flopcast::gui {

// A QTableView of `model` whose height follows its rows after every reset of the model; `stretch`: its columns share
// the width.
QTableView* fitted_table(QAbstractItemModel* model, bool stretch = false);

}  // namespace flopcast::gui
