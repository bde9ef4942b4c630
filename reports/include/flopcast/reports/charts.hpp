#pragma once
// Charts with Qt Charts, one code path for the reports and the desktop app: a ChartSpec (document.hpp) becomes a
// QChart; the reports export it as SVG (QSvgGenerator) and lay the whole Document out as a PDF (QPdfWriter). Fonts
// are sized in pixels, so a chart looks the same on screen, in SVG and in PDF.
// A QApplication must exist (QT_QPA_PLATFORM=offscreen without a display).

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "flopcast/reports/document.hpp"

class QApplication;
class QChart;

namespace flopcast::report {

inline constexpr int kChartWidthPx = 900;

// Qt for rendering without a display, for as long as it lives: a QApplication on the offscreen platform (unless
// QT_QPA_PLATFORM says otherwise), or none when the process has one already. Qt's warnings about the missing display
// are dropped; others go to standard error.
class OffscreenQt {
 public:
  OffscreenQt();
  ~OffscreenQt();
  OffscreenQt(const OffscreenQt&) = delete;
  OffscreenQt& operator=(const OffscreenQt&) = delete;

 private:
  std::unique_ptr<QApplication> app_;
};

// Characters per line of a category label on a chart `width_px` wide: Qt Charts gives the labels about 30 % of the
// width, at about 7.5 pixels a character; longer labels are wrapped onto more lines.
std::size_t label_line_chars(int width_px);

// The chart's pixel height at `width_px` wide: the spec's, or one that gives each category (and its wrapped label)
// room.
int chart_height_px(const ChartSpec& spec, int width_px = kChartWidthPx);

// A new chart laid out for `width_px` wide (the caller owns it; a QChartView may take it).
std::unique_ptr<QChart> make_chart(const ChartSpec& spec, int width_px = kChartWidthPx);

// The chart as SVG text, kChartWidthPx wide.
std::string chart_svg(const ChartSpec& spec);

// The document as a PDF (A4, charts as vector graphics): the file's bytes, for the caller to write. A table row never
// spans two pages: the table goes on, under its header again, on the next.
std::string pdf_bytes(const Document& document);

// The pages (first, last; from 0) that each table row of the document's PDF spans, header rows left out, one list per
// table piece in order (a table continued on a new page is two pieces): what pdf_bytes lays out, for checks.
std::vector<std::vector<std::pair<int, int>>> pdf_table_row_pages(const Document& document);

// The report in `dir`: report.html, report.pdf, report.md, report.csv and charts/*.svg. Everything is rendered
// first, then every file is written in full beside its place before any is renamed into it, so a failure (a full
// disk, a read-only folder) throws IoError and leaves the previous report whole. Needs a QApplication
// (OffscreenQt).
void write_report_folder(const Document& document, const std::filesystem::path& dir);

}  // namespace flopcast::report
