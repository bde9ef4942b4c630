// The Document as Markdown, CSV and a self-contained HTML page.

#include "flopcast/reports/writers.hpp"

#include <fmt/format.h>

#include "flopcast/core/text.hpp"

namespace flopcast::report {

namespace {

std::string markdown_cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

std::string number(double value) { return fmt::format("{:.10g}", value); }

void csv_line(std::string& out, const std::string& section, const std::string& item, const std::string& row,
              const std::string& column, double value, const std::string& unit) {
  out += fmt::format("{},{},{},{},{},{}\n", csv_field(section), csv_field(item), csv_field(row), csv_field(column),
                     number(value), csv_field(unit));
}

// The place of point k of a series: its category or its x value.
std::string point_name(const ChartSpec& chart, const ChartSeries& series, std::size_t k) {
  if (chart.kind == ChartKind::lines) return fmt::format("{} = {:g}", chart.x_title, series.x[k]);
  if (chart.kind == ChartKind::timeline && k < series.x.size()) {
    const auto row = static_cast<std::size_t>(series.x[k]);
    return row < chart.categories.size() ? chart.categories[row] : fmt::format("{}", row);
  }
  return k < chart.categories.size() ? chart.categories[k] : fmt::format("{}", k);
}

}  // namespace

std::string to_markdown(const Document& document, const std::string& chart_dir) {
  std::string out = fmt::format("# {}\n\n{}\n", document.title, document.subtitle);
  for (const auto& section : document.sections) {
    out += fmt::format("\n## {}\n", section.title);
    for (const auto& block : section.blocks) {
      out += '\n';
      if (const auto* p = std::get_if<Paragraph>(&block)) {
        out += p->text + "\n";
      } else if (const auto* t = std::get_if<Table>(&block)) {
        out += fmt::format("**{}**\n\n|", t->caption);
        for (const auto& h : t->header) out += fmt::format(" {} |", markdown_cell(h));
        out += "\n|";
        for (std::size_t c = 0; c < t->header.size(); ++c) out += c == 0 ? "---|" : "---:|";
        out += '\n';
        for (const auto& row : t->rows) {
          out += '|';
          for (const auto& cell : row) out += fmt::format(" {} |", markdown_cell(cell.text));
          out += '\n';
        }
      } else if (const auto* chart = std::get_if<ChartSpec>(&block)) {
        out += fmt::format("![{}]({}/{}.svg)\n", chart->title, chart_dir, chart->id);
        if (!chart->caption.empty()) out += fmt::format("\n*{}*\n", chart->caption);
      } else if (const auto* code = std::get_if<Code>(&block)) {
        out += fmt::format("**{}**\n\n```json\n{}\n```\n", code->title, code->text);
      }
    }
  }
  return out;
}

std::string to_csv(const Document& document) {
  std::string out = "section,item,row,column,value,unit\n";
  for (const auto& section : document.sections) {
    for (const auto& block : section.blocks) {
      if (const auto* t = std::get_if<Table>(&block)) {
        for (const auto& row : t->rows) {
          const std::string& row_name = row.empty() ? std::string() : row.front().text;
          for (std::size_t c = 0; c < row.size() && c < t->header.size(); ++c) {
            const auto& cell = row[c];
            if (!cell.value) continue;
            csv_line(out, section.title, t->caption, row_name, t->header[c], *cell.value, cell.unit);
            if (cell.p10) csv_line(out, section.title, t->caption, row_name, t->header[c] + " p10", *cell.p10, cell.unit);
            if (cell.p90) csv_line(out, section.title, t->caption, row_name, t->header[c] + " p90", *cell.p90, cell.unit);
          }
        }
      } else if (const auto* chart = std::get_if<ChartSpec>(&block)) {
        for (const auto& series : chart->series) {
          for (std::size_t k = 0; k < series.y.size(); ++k) {
            const auto where = point_name(*chart, series, k);
            if (chart->kind == ChartKind::timeline) {  // a bar from low to high, in x units
              if (k < series.low.size()) csv_line(out, section.title, chart->title, series.name, where + " start", series.low[k], chart->x_unit);
              if (k < series.high.size()) csv_line(out, section.title, chart->title, series.name, where + " finish", series.high[k], chart->x_unit);
              continue;
            }
            csv_line(out, section.title, chart->title, series.name, where, series.y[k], chart->y_unit);
            if (k < series.low.size()) csv_line(out, section.title, chart->title, series.name, where + " p10", series.low[k], chart->y_unit);
            if (k < series.high.size()) csv_line(out, section.title, chart->title, series.name, where + " p90", series.high[k], chart->y_unit);
          }
        }
      }
    }
  }
  return out;
}

std::string html_cell_text(const Cell& cell) {
  std::string text = xml_escape(cell.text);
  const auto bracket = text.find(" (");
  if (cell.value && bracket != std::string::npos) text.replace(bracket, 2, "<br>(");
  return text;
}

std::string to_html(const Document& document, const std::vector<std::string>& svgs) {
  std::string out = fmt::format(R"(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{0}</title>
<style>
body {{ font-family: "DejaVu Sans", Arial, sans-serif; font-size: 15px; line-height: 1.45; color: #1d1d1d;
       max-width: 1000px; margin: 24px auto; padding: 0 16px; }}
h1 {{ font-size: 26px; margin-bottom: 4px; }}
h2 {{ font-size: 20px; margin-top: 36px; border-bottom: 1px solid #ccc; padding-bottom: 4px; }}
.subtitle {{ color: #555; margin-top: 0; }}
table {{ border-collapse: collapse; margin: 8px 0 18px 0; font-size: 13px; }}
caption {{ text-align: left; font-weight: bold; padding: 4px 0; }}
th, td {{ border: 1px solid #ccc; padding: 3px 7px; vertical-align: top; }}
th {{ background: #f0f0f0; text-align: left; }}
td.n {{ text-align: right; white-space: nowrap; }}
figure {{ margin: 18px 0; }}
figure svg {{ max-width: 100%; height: auto; display: block; }}
figcaption {{ font-size: 13px; color: #444; }}
pre {{ background: #f7f7f7; padding: 8px; font-size: 12px; overflow-x: auto; }}
nav ol {{ columns: 2; }}
</style>
</head>
<body>
<h1>{0}</h1>
<p class="subtitle">{1}</p>
<nav><ol>
)",
                                xml_escape(document.title), xml_escape(document.subtitle));
  for (std::size_t s = 0; s < document.sections.size(); ++s) {
    out += fmt::format("<li><a href=\"#s{}\">{}</a></li>\n", s + 1, xml_escape(document.sections[s].title));
  }
  out += "</ol></nav>\n";
  std::size_t chart_index = 0;
  for (std::size_t s = 0; s < document.sections.size(); ++s) {
    const auto& section = document.sections[s];
    out += fmt::format("<h2 id=\"s{}\">{}</h2>\n", s + 1, xml_escape(section.title));
    for (const auto& block : section.blocks) {
      if (const auto* p = std::get_if<Paragraph>(&block)) {
        out += fmt::format("<p>{}</p>\n", xml_escape(p->text));
      } else if (const auto* t = std::get_if<Table>(&block)) {
        out += fmt::format("<table>\n<caption>{}</caption>\n<tr>", xml_escape(t->caption));
        for (const auto& h : t->header) out += fmt::format("<th>{}</th>", xml_escape(h));
        out += "</tr>\n";
        for (const auto& row : t->rows) {
          out += "<tr>";
          for (const auto& cell : row) {
            out += fmt::format("<td{}>{}</td>", cell.value ? " class=\"n\"" : "", html_cell_text(cell));
          }
          out += "</tr>\n";
        }
        out += "</table>\n";
      } else if (const auto* chart = std::get_if<ChartSpec>(&block)) {
        std::string svg = chart_index < svgs.size() ? svgs[chart_index] : std::string();
        ++chart_index;
        // Inline SVG starts at its element: no XML declaration or doctype inside HTML.
        const auto start = svg.find("<svg");
        svg = start == std::string::npos ? std::string() : svg.substr(start);
        out += fmt::format("<figure id=\"{}\" aria-label=\"{}\">\n{}\n", chart->id, xml_escape(chart->title), svg);
        if (!chart->caption.empty()) out += fmt::format("<figcaption>{}</figcaption>\n", xml_escape(chart->caption));
        out += "</figure>\n";
      } else if (const auto* code = std::get_if<Code>(&block)) {
        out += fmt::format("<details><summary>{}</summary>\n<pre>{}</pre>\n</details>\n", xml_escape(code->title),
                           xml_escape(code->text));
      }
    }
  }
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace flopcast::report
