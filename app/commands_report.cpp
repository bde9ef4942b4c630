// flopcast report: scenarios, sweeps and claims as HTML, PDF, Markdown and CSV with charts.

#include <chrono>

#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ostream.h>

#include "commands.hpp"
#include "flopcast/core/files.hpp"
#include "flopcast/reports/charts.hpp"
#include "flopcast/reports/compare_report.hpp"
#include "flopcast/reports/fleet_report.hpp"
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
  report::ReportData data;
  report::Document document;
  std::optional<FleetResult> fleet;
  std::optional<ChipComparison> comparison;
  if (!options.chips.empty()) {
    if (options.files.size() != 1 || !options.claims_dir.empty() || !options.fleet_file.empty()) {
      throw InputError("--chips", "", "a chip comparison takes one scenario file, without --claims or --fleet");
    }
    const auto scenario = load_scenario(options.files.front(), catalogs);
    CompareOptions compare;
    compare.chips = options.chips;
    compare.chip_count = options.chip_count;
    compare.tier = options.tier;
    if (report_options.progress) compare.progress = report_options.progress;
    comparison = compare_chips(scenario, compare, catalogs);
    document = report::build_comparison_document(*comparison, scenario);
    if (!options.title.empty()) document.title = options.title;
  } else if (!options.fleet_file.empty()) {
    const auto spec = load_fleet(options.fleet_file, catalogs);
    fleet = simulate_fleet(spec, catalogs);
    document = report::build_fleet_document(*fleet, spec.question, spec.description);
    if (!options.title.empty()) document.title = options.title;
  } else {
    data = report::compute_report(options.files, options.claims_dir, catalogs, report_options);
    for (const auto& s : data.scenarios) warn_if_it_does_not_fit(s.scenario.file, s.result.estimate.memory);
    document = report::build_document(data);
  }
  const report::OffscreenQt qt;
  report::write_report_folder(document, options.out_dir);
  const auto charts = document.charts();
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (comparison) {
    fmt::print(out, "Report comparing {} chip types ({} charts) in {:.1f} s:\n", comparison->options.size(),
               charts.size(), wall_s);
  } else if (fleet) {
    fmt::print(out, "Report of fleet {} ({} jobs, {} charts) in {:.1f} s:\n", fleet->name, fleet->jobs.size(),
               charts.size(), wall_s);
  } else {
    // Only what the report holds, each with its own number: "1 training scenario and 10 claims (12 charts)".
    std::vector<std::string> parts;
    const auto part = [&](std::size_t n, std::string_view one, std::string_view many) {
      if (n > 0) parts.push_back(fmt::format("{} {}", n, n == 1 ? one : many));
    };
    part(data.scenarios.size(), "training scenario", "training scenarios");
    part(data.serving.size(), "serving deployment", "serving deployments");
    part(data.sweeps.size(), "sweep", "sweeps");
    part(data.claims.size(), "claim", "claims");
    std::string held = parts.empty() ? "nothing" : parts.front();
    for (std::size_t i = 1; i < parts.size(); ++i) held += (i + 1 == parts.size() ? " and " : ", ") + parts[i];
    fmt::print(out, "Report of {} ({} charts) in {:.1f} s:\n", held, charts.size(), wall_s);
  }
  for (const char* name : {"report.html", "report.pdf", "report.md", "report.csv"}) {
    fmt::print(out, "  {}\n", (std::filesystem::path(options.out_dir) / name).string());
  }
  return 0;
}

}  // namespace flopcast::cli
