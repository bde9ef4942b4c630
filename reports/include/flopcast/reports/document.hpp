#pragma once
// A report as data: sections of paragraphs, tables, charts and code, written out as Markdown, CSV, HTML and PDF by
// the writers (writers.hpp, and charts.hpp for the Qt renderings). Nothing here is formatted for one output only:
// every number in a table cell keeps its value and unit beside its text, so the CSV carries every number shown.

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace flopcast::report {

// One table cell: the text shown and, for a number, its value in `unit` (what the CSV gets). An interval cell
// ("54.2 days (48.0-61.3)") also carries its p10 and p90.
struct Cell {
  std::string text;
  std::optional<double> value;
  std::string unit;
  std::optional<double> p10;
  std::optional<double> p90;
};

struct Table {
  std::string caption;
  std::vector<std::string> header;
  std::vector<std::vector<Cell>> rows;  // each as long as the header; the first cell names the row
};

// A series of a chart. By kind (ChartSpec::kind):
//   bars, stacked_bars: y[i] is the value for category i;
//   intervals: y[i] central, low[i] and high[i] the p10 and p90 for category i;
//   lines: points (x[i], y[i]), with a band low[i]..high[i] when both are given;
//   tornado: low[i] and high[i] are the changes (in y units) at the low and high end of input i (categories);
//   timeline: a bar from low[i] to high[i] (x units) on row x[i], an index into the categories (top to bottom); each
//   series is a group with its own colour and legend entry (a Gantt chart: jobs as rows, one series per pool).
// A limit series of a bars or stacked_bars chart is not a bar: y[i] is drawn as a mark across category i's row (the
// usable memory of a chip, which a stack of parts must stay under).
struct ChartSeries {
  std::string name;
  std::vector<double> x;
  std::vector<double> y;
  std::vector<double> low;
  std::vector<double> high;
  std::string colour;  // "#rrggbb"; empty: the chart's palette
  bool limit = false;
};

enum class ChartKind { bars, stacked_bars, intervals, lines, tornado, timeline };

struct ChartSpec {
  std::string id;  // file-name safe, unique in a report
  std::string title;
  ChartKind kind = ChartKind::bars;
  std::string x_title;  // with its unit, e.g. "deadline (days)"
  std::string y_title;  // with its unit
  std::string x_unit;   // the units of the values, for the CSV
  std::string y_unit;
  std::vector<std::string> categories;  // bar, interval and tornado charts
  std::vector<ChartSeries> series;
  bool log_x = false;
  bool log_y = false;
  std::string caption;  // a sentence under the chart: what it shows and how it was computed
  int height_px = 0;    // 0: chosen from the number of categories
};

struct Paragraph {
  std::string text;  // plain text
};

struct Code {
  std::string title;
  std::string text;
};

using Block = std::variant<Paragraph, Table, ChartSpec, Code>;

struct Section {
  std::string title;
  std::vector<Block> blocks;
};

struct Document {
  std::string title;
  std::string subtitle;
  std::vector<Section> sections;

  // The charts in order of appearance.
  std::vector<const ChartSpec*> charts() const;
  // The chart of this id, or the first table of the section of this title; null when there is none.
  const ChartSpec* chart(const std::string& id) const;
  const Table* table(const std::string& section_title) const;
};

}  // namespace flopcast::report
