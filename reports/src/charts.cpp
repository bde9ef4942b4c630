// ChartSpec -> QChart, and the renderings the reports need: SVG text and the whole document as PDF.

#include "flopcast/reports/charts.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <QAbstractTextDocumentLayout>
#include <QApplication>
#include <QBuffer>
#include <QFontMetrics>
#include <QGraphicsScene>
#include <QPainter>
#include <QPdfWriter>
#include <QTextFrame>
#include <QSvgGenerator>
#include <QTextBlock>
#include <QTextCursor>
#include <QTextLayout>
#include <QTextTable>
#include <QTextDocument>
#include <QTextObjectInterface>
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

QString q(const std::string& text) { return QString::fromStdString(text); }

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

namespace {

constexpr int kChartObjectType = QTextFormat::UserObject + 1;
constexpr int kChartIndexProperty = QTextFormat::UserProperty + 1;

// Draws a chart where the PDF's text flow holds its placeholder, as vector graphics, the text width wide.
class ChartTextObject : public QObject, public QTextObjectInterface {
  Q_OBJECT
  Q_INTERFACES(QTextObjectInterface)

 public:
  explicit ChartTextObject(std::vector<std::unique_ptr<ChartScene>>& scenes) : scenes_(scenes) {}

  QSizeF intrinsicSize(QTextDocument* document, int, const QTextFormat& format) override {
    const auto& scene = *scenes_.at(static_cast<std::size_t>(format.property(kChartIndexProperty).toInt()));
    // The text width less the root frame's margins: paginate lays the document out on the page with 2 cm margins
    // of its own, inside the text width.
    const QTextFrameFormat frame = document->rootFrame()->frameFormat();
    const double inset = frame.leftMargin() + frame.rightMargin() + 2.0 * (frame.padding() + frame.border());
    const double width = document->textWidth() > 0 ? document->textWidth() - inset - 4 : scene.width();
    return {width, width * scene.height() / scene.width()};
  }
  void drawObject(QPainter* painter, const QRectF& rect, QTextDocument*, int, const QTextFormat& format) override {
    auto& scene = *scenes_.at(static_cast<std::size_t>(format.property(kChartIndexProperty).toInt()));
    painter->save();
    painter->setRenderHint(QPainter::Antialiasing);
    scene.render(*painter, rect);
    painter->restore();
  }

 private:
  std::vector<std::unique_ptr<ChartScene>>& scenes_;
};

// JSON on few lines for print: compact, with a space after each comma and colon so that lines can wrap.
std::string spaced_json(const nlohmann::json& j) {
  if (j.is_object()) {
    std::string out = "{";
    bool first = true;
    for (const auto& [key, value] : j.items()) {
      out += fmt::format("{}{}: {}", first ? "" : ", ", nlohmann::json(key).dump(), spaced_json(value));
      first = false;
    }
    return out + "}";
  }
  if (j.is_array()) {
    std::string out = "[";
    for (std::size_t k = 0; k < j.size(); ++k) out += fmt::format("{}{}", k == 0 ? "" : ", ", spaced_json(j[k]));
    return out + "]";
  }
  return j.dump();
}

// A table's rows as the PDF lays them out: in pieces, each a table of its own with the header, the second and later
// starting on a new page. Qt breaks a table row across pages cell by cell (a row's short cells stay on one page, its
// long ones go on to the next), so a row found straddling a page break starts the next piece.
struct TablePieces {
  bool new_page = false;            // the whole table, caption and all, starts on a new page
  std::vector<std::size_t> starts;  // the first row of each piece after the first, ascending
};

// A cell's HTML with a place to break after the dash of its range ("($0.2866-0.3948)"): a narrow column wraps the
// range there rather than inside a number (Unicode's line breaking keeps a hyphen with the digit after it).
std::string breakable_range(const Cell& cell) {
  std::string html = html_cell_text(cell);
  if (!cell.p10 || !cell.p90) return html;
  for (std::size_t at = 1; at + 1 < html.size(); ++at) {
    if (html[at] == '-' && std::isdigit(static_cast<unsigned char>(html[at - 1])) != 0) {
      html.insert(at + 1, "&#8203;");  // a zero-width space
      break;
    }
  }
  return html;
}

// The page's text area, as QTextDocument::print lays it out: 2 cm inside the device's page margins. The layout
// takes lengths in the document's own pixels (96 per inch) and scales them to the device.
constexpr double kDocumentDpi = 96.0;
constexpr double kPrintMarginDocumentPixels = 2.0 / 2.54 * kDocumentDpi;
constexpr double kPageMarginMm = 14.0;  // the PDF's own page margins, inside which the 2 cm lie

// Each column's share of a table's width, in percent, laid out as a browser's automatic table layout does: every
// column at least as wide as its longest word, and what is left of the line shared in proportion to how much more
// its longest text would take (widths measured in the table's font, 7.5 pt DejaVu Sans, bold in the header). Fixed
// for the whole table, so that its pieces keep one set of columns: Qt sizes a table's columns from its content, and
// a piece with other content would wrap its rows otherwise.
std::vector<int> column_percents(const Table& table) {
  // The PDF's text width, A4 (210 mm) less the page's margins and the root frame's, in the document's pixels; each
  // cell's padding and border take about 6 of them.
  constexpr double kLinePx = (210.0 - 2 * kPageMarginMm) / 25.4 * kDocumentDpi - 2 * kPrintMarginDocumentPixels;
  constexpr double kCellPx = 6.0;
  QFont font("DejaVu Sans");
  font.setPixelSize(10);  // 7.5 pt at 96 pixels per inch
  const QFontMetricsF cell(font);
  font.setBold(true);
  const QFontMetricsF head(font);
  const std::size_t n = table.header.size();
  std::vector<double> least(n, kCellPx);
  std::vector<double> most(n, kCellPx);
  const auto measure = [&](std::size_t c, const std::string& text, const QFontMetricsF& metrics) {
    if (c >= n) return;
    for (const auto& word : q(text).split(' ', Qt::SkipEmptyParts)) {
      least[c] = std::max(least[c], metrics.horizontalAdvance(word) + kCellPx);
    }
    most[c] = std::max(most[c], metrics.horizontalAdvance(q(text)) + kCellPx);
  };
  for (std::size_t c = 0; c < n; ++c) measure(c, table.header[c], head);
  for (const auto& row : table.rows) {
    for (std::size_t c = 0; c < row.size(); ++c) measure(c, row[c].text, cell);
  }
  double least_total = 0;
  double room_total = 0;
  for (std::size_t c = 0; c < n; ++c) {
    least_total += least[c];
    room_total += most[c] - least[c];
  }
  const double share = room_total > 0 ? std::clamp((kLinePx - least_total) / room_total, 0.0, 1.0) : 0.0;
  std::vector<double> width(n);
  double total = 0;
  for (std::size_t c = 0; c < n; ++c) total += width[c] = least[c] + share * (most[c] - least[c]);
  std::vector<int> percents;
  for (double w : width) percents.push_back(std::max(1, static_cast<int>(std::lround(100.0 * w / total))));
  return percents;
}

// The Qt rich-text subset of the document's HTML for one block (charts aside); a table in its pieces.
std::string rich_text(const Block& block, const TablePieces& pieces = {}) {
  if (const auto* p = std::get_if<Paragraph>(&block)) return fmt::format("<p>{}</p>", xml_escape(p->text));
  if (const auto* t = std::get_if<Table>(&block)) {
    const auto& piece_starts = pieces.starts;
    std::string out = fmt::format("<p{}><b>{}</b></p>", pieces.new_page ? " style=\"page-break-before: always\"" : "",
                                  xml_escape(t->caption));
    std::string header = "<thead><tr>";  // a table Qt continues on a new page repeats its head there
    const auto widths = column_percents(*t);
    for (std::size_t c = 0; c < t->header.size(); ++c) {
      header += fmt::format("<th bgcolor=\"#eeeeee\" align=\"left\" width=\"{}%\">{}</th>", widths[c],
                            xml_escape(t->header[c]));
    }
    header += "</tr></thead>";
    const auto open_table = [&](bool new_page) {
      return fmt::format("<table border=\"1\" cellspacing=\"0\" cellpadding=\"2\" width=\"100%\" "
                         "style=\"border-color: #999; font-size: 7.5pt{}\">{}",
                         new_page ? "; page-break-before: always" : "", header);
    };
    out += open_table(false);
    for (std::size_t r = 0; r < t->rows.size(); ++r) {
      if (std::find(piece_starts.begin(), piece_starts.end(), r) != piece_starts.end()) {
        out += "</table>" + open_table(true);
      }
      out += "<tr>";
      for (const auto& cell : t->rows[r]) {
        out += std::string(cell.value ? "<td align=\"right\">" : "<td>") + breakable_range(cell) + "</td>";
      }
      out += "</tr>";
    }
    return out + "</table>";
  }
  if (const auto* code = std::get_if<Code>(&block)) {
    std::string text = code->text;
    try {
      text = spaced_json(nlohmann::json::parse(code->text));
    } catch (const nlohmann::json::exception&) {
      // Not JSON: as it is.
    }
    return fmt::format("<p><b>{}</b></p><p style=\"font-family: 'DejaVu Sans Mono'; font-size: 7pt\">{}</p>",
                       xml_escape(code->title), xml_escape(text));
  }
  return "";
}

// A heading, or a paragraph that starts in bold (a table's caption, a scenario's title).
bool is_title(const QTextBlock& block) {
  if (block.blockFormat().headingLevel() > 0) return true;
  const auto fragment = block.begin();
  return !fragment.atEnd() && fragment.fragment().charFormat().fontWeight() >= QFont::Bold;
}

// A paragraph that holds a chart (its object alone).
bool is_chart(const QTextBlock& block) {
  return block.text() == QString(QChar::ObjectReplacementCharacter);
}

// Starts `block` on a new page; false if it already does.
bool break_before(const QTextBlock& block) {
  QTextCursor cursor(block);
  QTextBlockFormat format = cursor.blockFormat();
  if (format.pageBreakPolicy() & QTextFormat::PageBreak_AlwaysBefore) return false;
  format.setPageBreakPolicy(QTextFormat::PageBreak_AlwaysBefore);
  cursor.setBlockFormat(format);
  return true;
}

// Lays `text` out on the device's pages. Qt's rich-text pagination has no widow control: a paragraph whose last line
// or two spill onto the next page can leave that page all but empty (the report's appendix ends with long JSON
// paragraphs), and a heading or title can end a page whose next page starts with what it introduces. Such a
// paragraph moves to the next page, with the title before it, and such a title with it, as does a chart whose
// caption would start the next page; again until none is left.
void paginate(QTextDocument& text, QPagedPaintDevice& device) {
  constexpr int kMinLinesOnANewPage = 3;
  text.documentLayout()->setPaintDevice(&device);
  QTextFrameFormat frame = text.rootFrame()->frameFormat();
  frame.setMargin(kPrintMarginDocumentPixels);
  text.rootFrame()->setFrameFormat(frame);
  text.setPageSize(QSizeF(device.width(), device.height()));
  const double page = text.pageSize().height();
  for (int pass = 0; pass < 64; ++pass) {
    const auto* layout = text.documentLayout();
    (void)layout->documentSize();  // lays the whole document out
    bool moved = false;
    for (QTextBlock block = text.begin(); block.isValid() && !moved; block = block.next()) {
      const QTextLayout* lines = block.layout();
      if (lines == nullptr || lines->lineCount() == 0) continue;
      if (QTextCursor(block).currentTable() != nullptr) continue;  // table rows: split_straddling_row
      const double top = layout->blockBoundingRect(block).top();
      const auto page_of = [&](const QTextLayout* l, double y, int line) {
        return static_cast<int>((y + l->lineAt(line).y()) / page);
      };
      const int first = page_of(lines, top, 0);
      const int last = page_of(lines, top, lines->lineCount() - 1);
      const QTextBlock next = block.next();
      const bool next_on_a_later_page = next.isValid() && next.layout() != nullptr &&
                                        next.layout()->lineCount() > 0 &&
                                        page_of(next.layout(), layout->blockBoundingRect(next).top(), 0) > last;
      QTextBlock target;
      if (is_chart(block)) {
        // A chart keeps with its caption, the italic paragraph after it.
        const auto caption = next.isValid() ? next.begin() : QTextBlock::iterator();
        if (next_on_a_later_page && !caption.atEnd() && caption.fragment().charFormat().fontItalic()) target = block;
      } else if (is_title(block) && lines->lineCount() <= 2) {
        if (next_on_a_later_page) target = block;  // a title or heading keeps with what follows it
      } else if (last == first + 1) {  // across one page break
        int tail = 0;
        for (int line = 0; line < lines->lineCount(); ++line) tail += page_of(lines, top, line) == last ? 1 : 0;
        if (tail < kMinLinesOnANewPage) {
          target = block;
          const QTextBlock before = block.previous();  // a title, or the chart this captions, goes with it
          if (before.isValid() && (is_title(before) || is_chart(before))) target = before;
        }
      }
      if (!target.isValid()) continue;
      moved = break_before(target);
    }
    if (!moved) return;
  }
}

// Draws the paginated `text` page by page, each page's number at the foot of its right margin.
void print_pages(const QTextDocument& text, QPagedPaintDevice& device) {
  QPainter painter(&device);
  const QSizeF page = text.pageSize();
  const double scale = device.logicalDpiY() / kDocumentDpi;
  const double margin = kPrintMarginDocumentPixels * scale;
  const QFontMetricsF metrics(text.defaultFont(), &device);
  for (int index = 0; index < text.pageCount(); ++index) {
    if (index > 0) device.newPage();
    const QRectF view(0, index * page.height(), page.width(), page.height());
    painter.save();
    painter.translate(0, -view.top());
    painter.setClipRect(view);
    QAbstractTextDocumentLayout::PaintContext context;
    context.clip = view;
    context.palette.setColor(QPalette::Text, Qt::black);
    text.documentLayout()->draw(&painter, context);
    painter.setClipping(false);
    painter.setFont(text.defaultFont());
    const QString number = QString::number(index + 1);
    painter.drawText(QPointF(page.width() - margin - metrics.horizontalAdvance(number),
                             view.bottom() - margin + metrics.ascent() + 5.0 * scale),
                     number);
    painter.restore();
  }
}

// The pages (first, last) that each row of each table of the laid-out `text` spans, header rows left out, tables
// in the text's order.
std::vector<std::vector<std::pair<int, int>>> row_pages(const QTextDocument& text) {
  const auto* layout = text.documentLayout();
  const double page = text.pageSize().height();
  std::vector<std::vector<std::pair<int, int>>> tables;
  for (auto* frame : text.rootFrame()->childFrames()) {
    const auto* table = qobject_cast<QTextTable*>(frame);
    if (table == nullptr) continue;
    auto& rows = tables.emplace_back();
    for (int row = 1; row < table->rows(); ++row) {
      std::pair<int, int> pages{std::numeric_limits<int>::max(), -1};
      for (int column = 0; column < table->columns(); ++column) {
        const QTextTableCell cell = table->cellAt(row, column);
        for (QTextBlock block = cell.firstCursorPosition().block();
             block.isValid() && block.position() <= cell.lastCursorPosition().position(); block = block.next()) {
          const QTextLayout* lines = block.layout();
          const double top = layout->blockBoundingRect(block).top();
          for (int line = 0; lines != nullptr && line < lines->lineCount(); ++line) {
            const int at = static_cast<int>((top + lines->lineAt(line).y()) / page);
            pages = {std::min(pages.first, at), std::max(pages.second, at)};
          }
        }
      }
      rows.push_back(pages);
    }
  }
  return tables;
}

// Starts a new piece of a table at its first row (after a piece's first) that straddles a page break in the
// laid-out `text`; false if there is none. `tables` holds the document's tables in order, and the text's tables are
// their pieces in the same order.
bool split_straddling_row(const QTextDocument& text, std::vector<TablePieces>& tables) {
  std::size_t table = 0;
  std::size_t piece = 0;
  for (const auto& rows : row_pages(text)) {
    if (table >= tables.size()) break;
    auto& starts = tables[table].starts;
    const std::size_t first_row = piece == 0 ? 0 : starts[piece - 1];
    for (std::size_t row = 0; row < rows.size(); ++row) {
      if (rows[row].second <= rows[row].first) continue;
      if (row > 0) {
        starts.insert(std::upper_bound(starts.begin(), starts.end(), first_row), first_row + row);
        return true;
      }
      if (piece == 0 && !tables[table].new_page) {  // the first row: the table goes to the next page whole
        tables[table].new_page = true;
        return true;
      }
      // Else a piece's first row taller than what is left of a page that the piece starts: nothing to gain.
    }
    if (++piece > starts.size()) {
      ++table;
      piece = 0;
    }
  }
  return false;
}

// The whole text as one rich-text document (Qt keeps the spacing of paragraphs and headings), each chart a
// placeholder paragraph that then becomes the chart object, each table in its pieces.
void set_text(QTextDocument& text, const Document& document, const std::vector<TablePieces>& tables) {
  std::string html = fmt::format("<h1>{}</h1><p>{}</p>", xml_escape(document.title), xml_escape(document.subtitle));
  int chart_count = 0;
  std::size_t table = 0;
  for (const auto& section : document.sections) {
    html += fmt::format("<h2>{}</h2>", xml_escape(section.title));
    for (const auto& block : section.blocks) {
      if (const auto* chart = std::get_if<ChartSpec>(&block)) {
        html += fmt::format("<p align=\"center\">@@chart-{}@@</p>", chart_count++);
        if (!chart->caption.empty()) html += fmt::format("<p><i>{}</i></p>", xml_escape(chart->caption));
      } else {
        html += rich_text(block, std::holds_alternative<Table>(block) ? tables[table++] : TablePieces{});
      }
    }
  }
  text.setHtml(q(html));
  for (int index = 0; index < chart_count; ++index) {
    QTextCursor cursor = text.find(q(fmt::format("@@chart-{}@@", index)));
    if (cursor.isNull()) continue;
    QTextCharFormat format;
    format.setObjectType(kChartObjectType);
    format.setProperty(kChartIndexProperty, index);
    cursor.insertText(QString(QChar::ObjectReplacementCharacter), format);
  }
}

// The document laid out on `pdf`'s pages, again from the HTML until no table row straddles a page break (each pass
// splits one more table). `charts` draws the chart objects and must outlive the text.
std::unique_ptr<QTextDocument> laid_out(const Document& document, ChartTextObject& charts, QPdfWriter& pdf) {
  std::vector<TablePieces> tables;
  for (const auto& section : document.sections) {
    for (const auto& block : section.blocks) {
      if (std::holds_alternative<Table>(block)) tables.emplace_back();
    }
  }
  std::unique_ptr<QTextDocument> text;
  for (std::size_t pass = 0; pass <= 16 * tables.size() + 1; ++pass) {
    text = std::make_unique<QTextDocument>();
    QFont base("DejaVu Sans");
    base.setPointSizeF(9);
    text->setDefaultFont(base);
    text->setDocumentMargin(0);
    text->documentLayout()->registerHandler(kChartObjectType, &charts);
    set_text(*text, document, tables);
    paginate(*text, pdf);
    if (!split_straddling_row(*text, tables)) break;
  }
  return text;
}

void set_up_pdf(QPdfWriter& pdf, const Document& document) {
  pdf.setPageSize(QPageSize(QPageSize::A4));
  pdf.setPageMargins(QMarginsF(kPageMarginMm, kPageMarginMm, kPageMarginMm, kPageMarginMm), QPageLayout::Millimeter);
  pdf.setTitle(q(document.title));
  pdf.setCreator("flopcast");
  pdf.setResolution(300);
}

// Lays `document` out on a PDF writer into `buffer` and hands the laid-out text and the writer to `use`; the PDF is
// complete in `buffer` once this returns.
template <typename Use>
auto with_pdf_layout(const Document& document, QBuffer& buffer, Use use) {
  std::vector<std::unique_ptr<ChartScene>> scenes;
  for (const auto* chart : document.charts()) scenes.push_back(std::make_unique<ChartScene>(*chart));
  ChartTextObject charts(scenes);  // outlives the text that draws with it
  QPdfWriter pdf(&buffer);
  set_up_pdf(pdf, document);
  const auto text = laid_out(document, charts, pdf);
  return use(*text, pdf);
}

}  // namespace

std::string pdf_bytes(const Document& document) {
  QBuffer buffer;
  buffer.open(QIODevice::WriteOnly);
  with_pdf_layout(document, buffer, [](const QTextDocument& text, QPdfWriter& pdf) {
    print_pages(text, pdf);
    return 0;
  });
  if (buffer.data().isEmpty()) throw IoError("the PDF could not be rendered");
  return {buffer.data().constData(), static_cast<std::size_t>(buffer.data().size())};
}

std::vector<std::vector<std::pair<int, int>>> pdf_table_row_pages(const Document& document) {
  QBuffer buffer;
  buffer.open(QIODevice::WriteOnly);
  return with_pdf_layout(document, buffer, [](const QTextDocument& text, QPdfWriter&) { return row_pages(text); });
}

void write_report_folder(const Document& document, const std::filesystem::path& dir) {
  std::vector<std::string> svgs;
  for (const auto* chart : document.charts()) svgs.push_back(chart_svg(*chart));
  const std::string chart_dir = "charts";
  const auto markdown = to_markdown(document, chart_dir);
  const auto csv = to_csv(document);
  const auto html = to_html(document, svgs);
  const auto pdf = pdf_bytes(document);

  create_output_folder(dir / chart_dir);
  const auto charts = document.charts();
  StagedFiles files;
  for (std::size_t k = 0; k < charts.size(); ++k) files.add(dir / chart_dir / (charts[k]->id + ".svg"), svgs[k]);
  files.add(dir / "report.md", markdown);
  files.add(dir / "report.csv", csv);
  files.add(dir / "report.pdf", pdf);
  files.add(dir / "report.html", html);
  files.commit();
}

}  // namespace flopcast::report

#include "charts.moc"
