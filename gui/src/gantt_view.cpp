#include "gantt_view.hpp"

#include <QPaintEvent>
#include <QPainter>
#include <algorithm>
#include <array>
#include <cmath>
#include <map>

namespace flopcast::gui {

namespace {

// The streams of a device in the order they are drawn, with their colours (Okabe and Ito's palette, as the charts).
struct StreamStyle {
  const char* name;
  QColor colour;
};
const std::array<StreamStyle, 6> kStreams = {{{"compute", QColor(0, 114, 178)},
                                              {"tp", QColor(230, 159, 0)},
                                              {"cp", QColor(204, 121, 167)},
                                              {"ep", QColor(213, 94, 0)},
                                              {"pp", QColor(0, 158, 115)},
                                              {"dp", QColor(86, 180, 233)}}};

int stream_rank(const std::string& stream) {
  for (std::size_t k = 0; k < kStreams.size(); ++k) {
    if (stream == kStreams[k].name) return static_cast<int>(k);
  }
  return static_cast<int>(kStreams.size());
}

QColor stream_colour(const std::string& stream) {
  const int rank = stream_rank(stream);
  return rank < static_cast<int>(kStreams.size()) ? kStreams[static_cast<std::size_t>(rank)].colour
                                                  : QColor(120, 120, 120);
}

constexpr int kRowPx = 18;
constexpr int kLabelPx = 130;
constexpr int kAxisPx = 40;
constexpr int kTopPx = 28;

}  // namespace

GanttView::GanttView(QWidget* parent) : QWidget(parent) {
  setAutoFillBackground(true);
  setBackgroundRole(QPalette::Base);
  setMinimumHeight(160);
}

void GanttView::set_trace(std::vector<TraceEvent> trace, double step_time_s, QString empty_text) {
  events_ = std::move(trace);
  step_time_s_ = step_time_s;
  empty_text_ = std::move(empty_text);
  std::map<std::pair<int, int>, std::string> streams;  // (device, stream rank) -> stream name
  for (const auto& e : events_) streams[{e.device, stream_rank(e.stream)}] = e.stream;
  rows_.clear();
  std::map<std::pair<int, std::string>, int> row_of;
  for (const auto& [key, name] : streams) {
    row_of[{key.first, name}] = static_cast<int>(rows_.size());
    rows_.push_back(Row{key.first, name});
  }
  event_rows_.clear();
  for (const auto& e : events_) {
    event_rows_.push_back(row_of.at({e.device, e.stream}));
    step_time_s_ = std::max(step_time_s_, e.end_s);
  }
  updateGeometry();
  update();
}

QSize GanttView::sizeHint() const {
  return {900, kTopPx + kAxisPx + std::max(4, static_cast<int>(rows_.size())) * kRowPx};
}

void GanttView::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  painter.setRenderHint(QPainter::Antialiasing, false);
  QFont font("DejaVu Sans");
  font.setPixelSize(11);
  painter.setFont(font);
  if (events_.empty() || step_time_s_ <= 0) {
    painter.drawText(rect(), Qt::AlignCenter | Qt::TextWordWrap, empty_text_);
    return;
  }
  const int plot_w = std::max(50, width() - kLabelPx - 20);
  const double px_per_s = plot_w / step_time_s_;
  const auto x_of = [&](double s) { return kLabelPx + static_cast<int>(std::lround(s * px_per_s)); };
  // Legend.
  int legend_x = kLabelPx;
  for (const auto& style : kStreams) {
    painter.fillRect(legend_x, 8, 12, 12, style.colour);
    painter.setPen(palette().color(QPalette::Text));
    painter.drawText(legend_x + 16, 19, style.name);
    legend_x += 70;
  }
  // Rows: labels and alternating bands.
  for (std::size_t r = 0; r < rows_.size(); ++r) {
    const int y = kTopPx + static_cast<int>(r) * kRowPx;
    if (rows_[r].stream == "compute" || r == 0 || rows_[r].device != rows_[r - 1].device) {
      painter.setPen(QColor(200, 200, 200));
      painter.drawLine(0, y, width(), y);
    }
    painter.setPen(palette().color(QPalette::Text));
    painter.drawText(QRect(4, y, kLabelPx - 8, kRowPx), Qt::AlignVCenter | Qt::AlignLeft,
                     QString("device %1 %2").arg(rows_[r].device).arg(QString::fromStdString(rows_[r].stream)));
  }
  // Events: a bar each, at least one pixel wide.
  for (std::size_t k = 0; k < events_.size(); ++k) {
    const auto& e = events_[k];
    const int y = kTopPx + event_rows_[k] * kRowPx + 3;
    const int x0 = x_of(e.start_s);
    const int w = std::max(1, x_of(e.end_s) - x0);
    painter.fillRect(x0, y, w, kRowPx - 6, stream_colour(e.stream));
  }
  // Time axis in milliseconds, about eight ticks at round values.
  const int axis_y = kTopPx + static_cast<int>(rows_.size()) * kRowPx + 4;
  painter.setPen(palette().color(QPalette::Text));
  painter.drawLine(kLabelPx, axis_y, kLabelPx + plot_w, axis_y);
  const double step_ms = step_time_s_ * 1e3;
  const double raw = step_ms / 8;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double tick_ms = raw / magnitude < 2 ? 2 * magnitude : raw / magnitude < 5 ? 5 * magnitude : 10 * magnitude;
  for (double t = 0; t <= step_ms + 1e-9; t += tick_ms) {
    const int x = x_of(t / 1e3);
    painter.drawLine(x, axis_y, x, axis_y + 4);
    painter.drawText(QRect(x - 40, axis_y + 5, 80, 14), Qt::AlignHCenter, QString("%1 ms").arg(t, 0, 'g', 6));
  }
  painter.drawText(QRect(kLabelPx, axis_y + 20, plot_w, 14), Qt::AlignHCenter,
                   QString("time in the step (ms); %1 events").arg(events_.size()));
}

}  // namespace flopcast::gui
