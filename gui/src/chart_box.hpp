#pragma once
// A chart of the reports' kind (report::ChartSpec) drawn by the same code path (report::make_chart), with
// "Save as PNG..." in its context menu. Drawn again when a change of width changes how its labels wrap.

#include <cstddef>

#include <QWidget>

#include "flopcast/reports/document.hpp"

class QChartView;

namespace flopcast::gui {

class ChartBox : public QWidget {
  Q_OBJECT
 public:
  explicit ChartBox(QWidget* parent = nullptr);

  // Draws `spec`, at most 560 px tall unless `full_height` (a timeline with many rows needs its own height).
  void set_spec(const report::ChartSpec& spec, bool full_height = false);
  void clear(const QString& message);
  const report::ChartSpec& spec() const { return spec_; }
  bool has_chart() const { return has_chart_; }
  // The chart as a PNG file, written atomically. Throws IoError.
  void save_png(const QString& path);

 protected:
  void resizeEvent(QResizeEvent* event) override;

 private:
  void draw();

  QChartView* view_ = nullptr;
  report::ChartSpec spec_;
  bool has_chart_ = false;
  bool full_height_ = false;
  std::size_t drawn_line_chars_ = 0;  // the label width the chart was drawn for
};

}  // namespace flopcast::gui
