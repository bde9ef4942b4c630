#include "chart_box.hpp"

#include <algorithm>

#include <QBuffer>
#include <QFileDialog>
#include <QMenu>
#include <QMessageBox>
#include <QResizeEvent>
#include <QVBoxLayout>
#include <QtCharts/QChart>
#include <QtCharts/QChartView>

#include "flopcast/core/errors.hpp"
#include "flopcast/core/files.hpp"
#include "flopcast/reports/charts.hpp"

namespace flopcast::gui {

ChartBox::ChartBox(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  view_ = new QChartView(this);
  view_->setRenderHint(QPainter::Antialiasing);
  view_->setMinimumHeight(260);
  layout->addWidget(view_);
  setContextMenuPolicy(Qt::CustomContextMenu);
  connect(this, &QWidget::customContextMenuRequested, this, [this](const QPoint& at) {
    if (!has_chart_) return;
    QMenu menu(this);
    menu.addAction("Save chart as PNG...", this, [this] {
      const QString path = QFileDialog::getSaveFileName(this, "Save chart as PNG",
                                                        QString::fromStdString(spec_.id) + ".png", "PNG (*.png)");
      if (path.isEmpty()) return;
      try {
        save_png(path);
      } catch (const std::exception& error) {
        QMessageBox::warning(this, "flopcast", error.what());
      }
    });
    menu.exec(mapToGlobal(at));
  });
  clear("no results yet");
}

void ChartBox::set_spec(const report::ChartSpec& spec, bool full_height) {
  spec_ = spec;
  full_height_ = full_height;
  has_chart_ = true;
  draw();
}

void ChartBox::draw() {
  const int width = std::max(view_->width(), 200);
  auto chart = report::make_chart(spec_, width);
  QChart* old = view_->chart();
  view_->setChart(chart.release());
  delete old;
  drawn_line_chars_ = report::label_line_chars(width);
  const int height = report::chart_height_px(spec_, width);
  view_->setMinimumHeight(full_height_ ? height : std::min(height, 560));
}

void ChartBox::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  if (has_chart_ && report::label_line_chars(std::max(view_->width(), 200)) != drawn_line_chars_) draw();
}

void ChartBox::clear(const QString& message) {
  auto* chart = new QChart;
  chart->setTitle(message);
  QChart* old = view_->chart();
  view_->setChart(chart);
  delete old;
  has_chart_ = false;
}

void ChartBox::save_png(const QString& path) {
  const QPixmap pixmap = view_->grab();
  QByteArray bytes;
  QBuffer buffer(&bytes);
  buffer.open(QIODevice::WriteOnly);
  if (!pixmap.save(&buffer, "PNG")) throw IoError("cannot encode the chart as PNG");
  write_file_atomic(path.toStdString(), bytes.toStdString());
}

}  // namespace flopcast::gui
