// The document as PDF: its text flow with the charts drawn in as vector graphics, tables split between rows only,
// charts kept with their captions; and the report folder with every rendering (SVG, Markdown, CSV, HTML, PDF).

#include "flopcast/reports/charts.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <QAbstractTextDocumentLayout>
#include <QBuffer>
#include <QPainter>
#include <QPdfWriter>
#include <QTextBlock>
#include <QTextCursor>
#include <QTextLayout>
#include <QTextTable>
#include <QTextDocument>
#include <QTextObjectInterface>

#include "flopcast/core/errors.hpp"
#include "flopcast/core/files.hpp"
#include "flopcast/core/text.hpp"
#include "flopcast/reports/writers.hpp"
#include "chart_scene.hpp"

namespace flopcast::report {

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

#include "pdf.moc"
