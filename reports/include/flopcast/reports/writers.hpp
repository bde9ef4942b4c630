#pragma once
// The Document as Markdown, CSV and a self-contained HTML page. The charts are rendered elsewhere (charts.hpp, Qt):
// the HTML writer takes their SVG text, the Markdown writer links their SVG files.

#include <string>
#include <vector>

#include "flopcast/reports/document.hpp"

namespace flopcast::report {

// Markdown; each chart as an image link to `chart_dir`/ID.svg followed by its caption.
std::string to_markdown(const Document& document, const std::string& chart_dir);

// Every number of the document, one per line: section,item,row,column,value,unit (RFC 4180 quoting). Table cells
// give their value (and p10/p90 as columns of their own); chart points give x or category and y, low, high.
std::string to_csv(const Document& document);

// One HTML page with no external resource: CSS inline, each chart's SVG inline (`svgs`, one per
// Document::charts(), in order).
std::string to_html(const Document& document, const std::vector<std::string>& svgs);

// A table cell as HTML: escaped; a number with its range in brackets on two lines, so that columns stay narrow.
std::string html_cell_text(const Cell& cell);

}  // namespace flopcast::report
