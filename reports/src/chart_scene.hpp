#pragma once
// What the chart and the PDF renderings (charts.cpp, pdf.cpp) share: a chart laid out in its own scene at its pixel
// size, and the libraries' UTF-8 text as Qt's.

#include <QCoreApplication>
#include <QGraphicsScene>
#include <QPainter>
#include <QString>
#include <QtCharts/QChart>

#include "flopcast/reports/charts.hpp"

namespace flopcast::report {

inline QString q(const std::string& text) { return QString::fromStdString(text); }

// A chart laid out in its own scene at its pixel size, for rendering.
class ChartScene {
 public:
  explicit ChartScene(const ChartSpec& spec)
      : chart_(make_chart(spec).release()), width_(kChartWidthPx), height_(chart_height_px(spec)) {
    scene_.addItem(chart_);  // the scene owns the chart from here
    scene_.setSceneRect(0, 0, width_, height_);
    chart_->setGeometry(0, 0, width_, height_);
    QCoreApplication::processEvents();  // lets the chart lay out its axes and legend
  }
  void render(QPainter& painter, const QRectF& target) {
    scene_.render(&painter, target, QRectF(0, 0, width_, height_));
  }
  int width() const { return width_; }
  int height() const { return height_; }

 private:
  QGraphicsScene scene_;
  QChart* chart_;
  int width_;
  int height_;
};

}  // namespace flopcast::report
