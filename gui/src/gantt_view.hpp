#pragma once
// The simulated step as a Gantt chart: one row per device and stream of a tier-2 or tier-3 trace
// (SimResult::trace), time on the x axis in milliseconds. Qt Charts has no Gantt series: this widget paints it.

#include <QWidget>
#include <string>
#include <vector>

#include "flopcast/sim/simulate.hpp"

namespace flopcast::gui {

class GanttView : public QWidget {
  Q_OBJECT
 public:
  explicit GanttView(QWidget* parent = nullptr);

  // The events to draw (copied) and the step time they span, in seconds; an empty trace shows `empty_text`.
  void set_trace(std::vector<TraceEvent> trace, double step_time_s, QString empty_text);
  int row_count() const { return static_cast<int>(rows_.size()); }
  QSize sizeHint() const override;

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  struct Row {
    int device = 0;
    std::string stream;
  };
  std::vector<TraceEvent> events_;
  std::vector<Row> rows_;        // device, then stream in kStreams order
  std::vector<int> event_rows_;  // the row of each event
  double step_time_s_ = 0;
  QString empty_text_;
};

}  // namespace flopcast::gui
