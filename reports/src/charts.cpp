// ChartSpec -> QChart, and a chart as SVG text; pdf.cpp lays out the whole document as PDF.

#include "flopcast/reports/charts.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <QApplication>
#include <QBuffer>
#include <QFontMetrics>
#include <QGraphicsScene>
#include <QPainter>
#include <QSvgGenerator>
#include <QtCharts/QAreaSeries>
#include <QtCharts/QBarCategoryAxis>
#include <QtCharts/QBarSet>
#include <QtCharts/QCategoryAxis>
#include <QtCharts/QChart>
#include <QtCharts/QHorizontalBarSeries>
#include <QtCharts/QHorizontalStackedBarSeries>
#include <QtCharts/QLegendMarker>
#include <QtCharts/QLineSeries>
#include <QtCharts/QLogValueAxis>
#include <QtCharts/QScatterSeries>
#include <QtCharts/QValueAxis>

#include "flopcast/core/errors.hpp"
#include "flopcast/core/files.hpp"
#include "flopcast/core/text.hpp"
#include "flopcast/reports/writers.hpp"
#include "chart_scene.hpp"

namespace flopcast::report {

namespace {

// Colours that stay apart in print and for the common colour-vision deficiencies (Okabe and Ito, 2008, "Color
// Universal Design"), then five of Paul Tol's "muted" scheme (2021) for charts of more than eight series (the chips
// for a deadline of eleven scenarios).
const QColor kPalette[] = {QColor(0, 114, 178),  QColor(230, 159, 0),   QColor(0, 158, 115),  QColor(213, 94, 0),
                           QColor(86, 180, 233), QColor(204, 121, 167), QColor(240, 228, 66), QColor(0, 0, 0),
                           QColor(136, 34, 85),  QColor(68, 170, 153),  QColor(153, 153, 51), QColor(51, 34, 136),
                           QColor(204, 102, 119)};
QColor colour(std::size_t index) { return kPalette[index % std::size(kPalette)]; }

QFont font_px(int pixels, bool bold = false) {
  QFont font("DejaVu Sans");
  font.setPixelSize(pixels);
  font.setBold(bold);
  return font;
}

void style_axis(QAbstractAxis* axis, const std::string& title) {
  axis->setLabelsFont(font_px(12));
  axis->setTitleFont(font_px(13, true));
  if (!title.empty()) axis->setTitleText(q(title));
}

QValueAxis* value_axis(const std::string& title, double min, double max) {
  auto* axis = new QValueAxis;
  style_axis(axis, title);
  if (!(max > min)) max = min + 1;
  axis->setRange(min, max);
  axis->applyNiceNumbers();
  axis->setLabelFormat("%g");
  return axis;
}

// A category's label on lines of at most `line_chars` characters. Qt Charts lays axis labels out as rich text and
// cuts a label wider than its share of the chart with an ellipsis: wrapped, a long scenario name stays whole
// ("DeepSeek-V3 on 2048 H800" and "... H20" told apart).
QString category_label(const std::string& text, std::size_t line_chars) {
  const std::string wrapped = wrap_lines(text, line_chars, 0);
  if (wrapped.find('\n') == std::string::npos) return q(text);  // one line: plain text, as given
  std::string html;
  std::size_t start = 0;
  while (start <= wrapped.size()) {
    const std::size_t end = std::min(wrapped.find('\n', start), wrapped.size());
    html += (start == 0 ? "" : "<br>") + xml_escape(wrapped.substr(start, end - start));
    start = end + 1;
  }
  return q(html);
}

// The most lines a category label of `spec` takes.
int label_lines(const ChartSpec& spec, std::size_t line_chars) {
  int most = 1;
  for (const auto& c : spec.categories) {
    const std::string wrapped = wrap_lines(c, line_chars, 0);
    most = std::max(most, 1 + static_cast<int>(std::count(wrapped.begin(), wrapped.end(), '\n')));
  }
  return most;
}

// One row per category, the first at the top: row k of n sits at y = n - 1 - k, labelled in its middle.
QCategoryAxis* row_axis(const ChartSpec& spec, std::size_t line_chars) {
  const std::size_t n = spec.categories.size();
  auto* rows = new QCategoryAxis;
  style_axis(rows, spec.y_title);
  rows->setRange(-0.5, static_cast<double>(n) - 0.5);
  rows->setStartValue(-0.5);
  for (std::size_t k = n; k-- > 0;) {
    rows->append(category_label(spec.categories[k], line_chars), static_cast<double>(n - 1 - k) + 0.5);
  }
  rows->setLabelsPosition(QCategoryAxis::AxisLabelsPositionCenter);
  rows->setGridLineVisible(false);
  return rows;
}

QLogValueAxis* log_axis(const std::string& title, double min, double max) {
  auto* axis = new QLogValueAxis;
  style_axis(axis, title);
  axis->setBase(10);
  axis->setLabelFormat("%.0f");
  axis->setMinorTickCount(8);
  axis->setMinorGridLineColor(QColor(235, 235, 235));
  axis->setRange(std::pow(10, std::floor(std::log10(min))), std::pow(10, std::ceil(std::log10(max))));
  return axis;
}

// Horizontal bars, categories top to bottom in the spec's order (Qt puts the first category at the bottom).
void add_bars(QChart& chart, const ChartSpec& spec, std::size_t line_chars) {
  QAbstractBarSeries* series = nullptr;
  if (spec.kind == ChartKind::stacked_bars) {
    series = new QHorizontalStackedBarSeries;
  } else {
    series = new QHorizontalBarSeries;
  }
  double min = 0;
  double max = 0;
  for (std::size_t s = 0; s < spec.series.size(); ++s) {
    if (spec.series[s].limit) continue;
    auto* set = new QBarSet(q(spec.series[s].name));
    const QColor c = spec.series[s].colour.empty() ? colour(s) : QColor(q(spec.series[s].colour));
    set->setColor(c);
    set->setBorderColor(c);
    const auto& y = spec.series[s].y;
    for (std::size_t k = y.size(); k-- > 0;) *set << y[k];
    series->append(set);
  }
  // The value range: stacked bars add up their positive and their negative parts.
  for (std::size_t k = 0; k < spec.categories.size(); ++k) {
    double positive = 0;
    double negative = 0;
    for (const auto& s : spec.series) {
      const double v = k < s.y.size() && !s.limit ? s.y[k] : 0.0;
      if (spec.kind == ChartKind::stacked_bars) {
        (v > 0 ? positive : negative) += v;
      } else {
        positive = std::max(positive, v);
        negative = std::min(negative, v);
      }
    }
    max = std::max(max, positive);
    min = std::min(min, negative);
  }
  for (const auto& s : spec.series) {
    if (!s.limit) continue;
    for (double v : s.y) max = std::max(max, v);
  }
  series->setBarWidth(spec.kind == ChartKind::stacked_bars ? 0.6 : 0.75);
  chart.addSeries(series);
  auto* categories = new QBarCategoryAxis;
  style_axis(categories, spec.y_title);
  QStringList labels;
  for (std::size_t k = spec.categories.size(); k-- > 0;) labels << category_label(spec.categories[k], line_chars);
  categories->append(labels);
  chart.addAxis(categories, Qt::AlignLeft);
  series->attachAxis(categories);
  const double pad = 0.05 * (max - min);
  auto* values = value_axis(spec.x_title, min < 0 ? min - pad : 0.0, max + pad);
  chart.addAxis(values, Qt::AlignBottom);
  series->attachAxis(values);
  // Limits: a dashed mark across each row's bar, one legend entry per limit series.
  const std::size_t n = spec.categories.size();
  for (std::size_t s = 0; s < spec.series.size(); ++s) {
    const auto& data = spec.series[s];
    if (!data.limit) continue;
    QPen pen(data.colour.empty() ? colour(s) : QColor(q(data.colour)));
    pen.setWidth(3);
    pen.setStyle(Qt::DashLine);
    for (std::size_t k = 0; k < data.y.size() && k < n; ++k) {
      const double row = static_cast<double>(n - 1 - k);  // Qt's first category is the bottom row
      auto* mark = new QLineSeries;
      mark->setName(q(data.name));
      mark->setPen(pen);
      mark->append(data.y[k], row - 0.45);
      mark->append(data.y[k], row + 0.45);
      chart.addSeries(mark);
      mark->attachAxis(values);
      mark->attachAxis(categories);
      if (k > 0) chart.legend()->markers(mark).front()->setVisible(false);
    }
  }
}

// A dot at the central value and a bar from p10 to p90 for each category, top to bottom.
void add_intervals(QChart& chart, const ChartSpec& spec, std::size_t line_chars) {
  const auto& data = spec.series.front();
  const std::size_t n = spec.categories.size();
  double max = 0;
  for (double v : data.high) max = std::max(max, v);
  for (double v : data.y) max = std::max(max, v);
  auto* values = value_axis(spec.x_title, 0.0, max * 1.05);
  auto* rows = row_axis(spec, line_chars);
  chart.addAxis(values, Qt::AlignBottom);
  chart.addAxis(rows, Qt::AlignLeft);
  QPen range_pen(colour(4));
  range_pen.setWidth(7);
  range_pen.setCapStyle(Qt::FlatCap);
  auto* dots = new QScatterSeries;
  dots->setName("central prediction");
  dots->setColor(colour(0));
  dots->setBorderColor(colour(0));
  dots->setMarkerSize(11);
  for (std::size_t k = 0; k < n; ++k) {
    const double y = static_cast<double>(n - 1 - k);
    auto* range = new QLineSeries;
    range->setName("p10 to p90");
    range->setPen(range_pen);
    range->append(data.low[k], y);
    range->append(data.high[k], y);
    chart.addSeries(range);
    range->attachAxis(values);
    range->attachAxis(rows);
    if (k > 0) chart.legend()->markers(range).front()->setVisible(false);
    dots->append(data.y[k], y);
  }
  chart.addSeries(dots);
  dots->attachAxis(values);
  dots->attachAxis(rows);
}

// A bar from low to high on row x for each point, rows top to bottom, one colour and legend entry per series.
void add_timeline(QChart& chart, const ChartSpec& spec, std::size_t line_chars) {
  const std::size_t n = spec.categories.size();
  double max = 0;
  for (const auto& s : spec.series) {
    for (double v : s.high) max = std::max(max, v);
  }
  auto* values = value_axis(spec.x_title, 0.0, max * 1.02 + 1e-9);
  auto* rows = row_axis(spec, line_chars);
  chart.addAxis(values, Qt::AlignBottom);
  chart.addAxis(rows, Qt::AlignLeft);
  for (std::size_t s = 0; s < spec.series.size(); ++s) {
    const auto& data = spec.series[s];
    QPen pen(data.colour.empty() ? colour(s) : QColor(q(data.colour)));
    pen.setWidth(8);
    pen.setCapStyle(Qt::FlatCap);
    for (std::size_t k = 0; k < data.x.size() && k < data.low.size() && k < data.high.size(); ++k) {
      const double y = static_cast<double>(n) - 1.0 - data.x[k];
      auto* bar = new QLineSeries;
      bar->setName(q(data.name));
      bar->setPen(pen);
      bar->append(data.low[k], y);
      bar->append(data.high[k], y);
      chart.addSeries(bar);
      bar->attachAxis(values);
      bar->attachAxis(rows);
      if (k > 0) chart.legend()->markers(bar).front()->setVisible(false);
    }
  }
}

// The widest a lines chart's legend beside the plot gets: 40 % of the chart, a scenario's name of about 45
// characters (Qt Charts gives the legend no more, whatever its minimum width).
constexpr int kLegendWidthPx = kChartWidthPx * 2 / 5;

// Lines over x, each with its p10-p90 band when it has one.
void add_lines(QChart& chart, const ChartSpec& spec) {
  double x_min = std::numeric_limits<double>::max();
  double x_max = std::numeric_limits<double>::lowest();
  double y_min = std::numeric_limits<double>::max();
  double y_max = std::numeric_limits<double>::lowest();
  for (const auto& s : spec.series) {
    for (std::size_t k = 0; k < s.x.size(); ++k) {
      x_min = std::min(x_min, s.x[k]);
      x_max = std::max(x_max, s.x[k]);
      y_min = std::min({y_min, s.y[k], k < s.low.size() ? s.low[k] : s.y[k]});
      y_max = std::max({y_max, s.y[k], k < s.high.size() ? s.high[k] : s.y[k]});
    }
  }
  if (x_min > x_max) return;
  QAbstractAxis* x_axis = spec.log_x ? static_cast<QAbstractAxis*>(log_axis(spec.x_title, x_min, x_max))
                                     : value_axis(spec.x_title, x_min, x_max);
  QAbstractAxis* y_axis = spec.log_y ? static_cast<QAbstractAxis*>(log_axis(spec.y_title, y_min, y_max))
                                     : value_axis(spec.y_title, std::min(0.0, y_min), y_max * 1.05);
  chart.addAxis(x_axis, Qt::AlignBottom);
  chart.addAxis(y_axis, Qt::AlignLeft);
  for (std::size_t s = 0; s < spec.series.size(); ++s) {
    const auto& data = spec.series[s];
    if (data.low.size() == data.x.size() && data.high.size() == data.x.size() && !data.x.empty()) {
      auto* lower = new QLineSeries;
      auto* upper = new QLineSeries;
      for (std::size_t k = 0; k < data.x.size(); ++k) {
        lower->append(data.x[k], data.low[k]);
        upper->append(data.x[k], data.high[k]);
      }
      auto* band = new QAreaSeries(upper, lower);
      upper->setParent(band);  // an area series does not own its boundary lines (LeakSanitizer found them)
      lower->setParent(band);
      QColor fill = colour(s);
      fill.setAlpha(45);
      band->setBrush(fill);
      band->setPen(Qt::NoPen);
      chart.addSeries(band);
      band->attachAxis(x_axis);
      band->attachAxis(y_axis);
      chart.legend()->markers(band).front()->setVisible(false);
    }
    auto* line = new QLineSeries;
    // Names beside the plot are cut to the legend's width (kLegendWidthPx), with an ellipsis.
    line->setName(QFontMetrics(font_px(12)).elidedText(q(data.name), Qt::ElideRight, kLegendWidthPx - 60));
    QPen pen(colour(s));
    pen.setWidth(2);
    line->setPen(pen);
    line->setPointsVisible(true);
    for (std::size_t k = 0; k < data.x.size(); ++k) line->append(data.x[k], data.y[k]);
    chart.addSeries(line);
    line->attachAxis(x_axis);
    line->attachAxis(y_axis);
  }
  // Series names are long: one per line beside the plot.
  chart.legend()->setAlignment(Qt::AlignRight);
  int widest = 0;
  for (auto* marker : chart.legend()->markers()) {
    widest = std::max(widest, QFontMetrics(font_px(12)).horizontalAdvance(marker->label()));
  }
  chart.legend()->setMinimumWidth(std::min(kLegendWidthPx, widest + 60));
}

int qt_argc = 1;
char qt_program_name[] = "flopcast";
char* qt_argv[] = {qt_program_name, nullptr};

void qt_message(QtMsgType type, const QMessageLogContext&, const QString& message) {
  if (type == QtDebugMsg || type == QtInfoMsg) return;
  // The offscreen platform has no display and no runtime folder: nothing a report needs.
  if (message.contains("XDG_RUNTIME_DIR") || message.contains("propagateSizeHints")) return;
  fmt::print(stderr, "flopcast: Qt: {}\n", message.toStdString());
}

}  // namespace

OffscreenQt::OffscreenQt() {
  if (QCoreApplication::instance() != nullptr) return;
  if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  qInstallMessageHandler(qt_message);
  app_ = std::make_unique<QApplication>(qt_argc, qt_argv);
}

OffscreenQt::~OffscreenQt() = default;

std::size_t label_line_chars(int width_px) {
  return static_cast<std::size_t>(std::clamp(width_px * 3 / 80, 12, 40));
}

int chart_height_px(const ChartSpec& spec, int width_px) {
  if (spec.height_px > 0) return spec.height_px;
  const int n = static_cast<int>(spec.categories.size());
  // A row is at least as tall as its wrapped label: 15 px a line and some room.
  const int label_px = 15 * label_lines(spec, label_line_chars(width_px)) + 8;
  switch (spec.kind) {
    case ChartKind::stacked_bars: return 160 + std::max(34, label_px) * n;
    case ChartKind::intervals: return 130 + std::max(30, label_px) * n;
    case ChartKind::timeline: return 130 + std::max(28, label_px) * n;
    case ChartKind::bars:
    case ChartKind::tornado: return 150 + n * std::max(12 + 14 * static_cast<int>(spec.series.size()), label_px);
    case ChartKind::lines: return 460;
  }
  return 400;
}

std::unique_ptr<QChart> make_chart(const ChartSpec& spec, int width_px) {
  const std::size_t line_chars = label_line_chars(width_px);
  auto chart = std::make_unique<QChart>();
  chart->setTheme(QChart::ChartThemeLight);
  chart->setAnimationOptions(QChart::NoAnimation);
  chart->setBackgroundRoundness(0);
  chart->setTitle(q(spec.title));
  chart->setTitleFont(font_px(16, true));
  chart->legend()->setFont(font_px(12));
  chart->legend()->setAlignment(Qt::AlignBottom);
  chart->setMargins(QMargins(6, 6, 24, 6));
  if (spec.series.empty()) return chart;
  switch (spec.kind) {
    case ChartKind::bars:
    case ChartKind::stacked_bars:
    case ChartKind::tornado: add_bars(*chart, spec, line_chars); break;
    case ChartKind::intervals: add_intervals(*chart, spec, line_chars); break;
    case ChartKind::lines: add_lines(*chart, spec); break;
    case ChartKind::timeline: add_timeline(*chart, spec, line_chars); break;
  }
  return chart;
}

std::string chart_svg(const ChartSpec& spec) {
  ChartScene scene(spec);
  QBuffer buffer;
  buffer.open(QIODevice::WriteOnly);
  QSvgGenerator generator;
  generator.setOutputDevice(&buffer);
  generator.setSize(QSize(scene.width(), scene.height()));
  generator.setViewBox(QRect(0, 0, scene.width(), scene.height()));
  // QSvgGenerator writes its title and description into <title> and <desc> as they are: escape them here.
  generator.setTitle(q(xml_escape(spec.title)));
  generator.setDescription(q(xml_escape(spec.caption)));
  {
    QPainter painter(&generator);
    painter.setRenderHint(QPainter::Antialiasing);
    scene.render(painter, QRectF(0, 0, scene.width(), scene.height()));
  }
  return buffer.data().toStdString();
}

}  // namespace flopcast::report
