// flopcast report: scenarios, sweeps and claims as HTML, PDF, Markdown and CSV with charts.

#include <chrono>

#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ostream.h>

#include "commands.hpp"
#include "flopcast/core/files.hpp"
#include "flopcast/reports/charts.hpp"
#include "flopcast/reports/report.hpp"
#include "flopcast/reports/writers.hpp"

namespace flopcast::cli {

int write_report(const ReportCommandOptions& options, const Catalogs& catalogs, std::ostream& out) {
  const auto start = std::chrono::steady_clock::now();
  report::ReportOptions report_options;
  report_options.tier = options.tier;
  report_options.price_swing = options.price_swing;
  if (!options.title.empty()) report_options.title = options.title;
  if (!options.quiet && ::isatty(STDERR_FILENO)) {
    report_options.progress = [](const std::string& line) { fmt::print(stderr, "{}\n", line); };
  }
  // Everything is computed and rendered before the first file is written: a report that fails leaves the last
  // good one in place.
  const auto data = report::compute_report(options.files, options.claims_dir, catalogs, report_options);
  const auto document = report::build_document(data);
  const report::OffscreenQt qt;
  std::vector<std::string> svgs;
  for (const auto* chart : document.charts()) svgs.push_back(report::chart_svg(*chart));
  const std::string chart_dir = "charts";
  const auto markdown = report::to_markdown(document, chart_dir);
  const auto csv = report::to_csv(document);
  const auto html = report::to_html(document, svgs);

  const std::filesystem::path dir(options.out_dir);
  create_output_folder(dir / chart_dir);
  const auto charts = document.charts();
  for (std::size_t k = 0; k < charts.size(); ++k) write_file_atomic(dir / chart_dir / (charts[k]->id + ".svg"), svgs[k]);
  write_file_atomic(dir / "report.md", markdown);
  write_file_atomic(dir / "report.csv", csv);
  report::write_pdf(document, dir / "report.pdf");
  write_file_atomic(dir / "report.html", html);
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print(out, "Report of {} training scenarios, {} serving scenarios, {} sweeps and {} claims ({} charts) in {:.1f} s:\n",
             data.scenarios.size(), data.serving.size(), data.sweeps.size(), data.claims.size(), charts.size(), wall_s);
  for (const char* name : {"report.html", "report.pdf", "report.md", "report.csv"}) {
    fmt::print(out, "  {}\n", (dir / name).string());
  }
  return 0;
}

}  // namespace flopcast::cli
