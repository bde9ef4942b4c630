// flopcast validate: the published runs of scenarios/validation/, predicted at tiers 1 and 2, with the errors.

#include <cmath>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ostream.h>

#include "commands.hpp"
#include "flopcast/core/files.hpp"
#include "flopcast/scenarios/validation.hpp"

namespace flopcast::cli {

namespace {

std::string value_text(PublishedMetric metric, double v) {
  switch (metric) {
    case PublishedMetric::step_time_s: return fmt::format("{:.2f} s", v);
    case PublishedMetric::tokens_per_s_per_chip: return fmt::format("{:.0f} tok/s", v);
    case PublishedMetric::model_tflops_per_chip:
    case PublishedMetric::hardware_tflops_per_chip: return fmt::format("{:.0f} TFLOP/s", v);
    case PublishedMetric::mfu:
    case PublishedMetric::hfu: return fmt::format("{:.1f} %", 100.0 * v);
  }
  return fmt::format("{:g}", v);
}

std::string metric_label(PublishedMetric metric) {
  switch (metric) {
    case PublishedMetric::step_time_s: return "step time";
    case PublishedMetric::tokens_per_s_per_chip: return "tokens/s per chip";
    case PublishedMetric::model_tflops_per_chip: return "model TFLOP/s";
    case PublishedMetric::hardware_tflops_per_chip: return "hardware TFLOP/s";
    case PublishedMetric::mfu: return "MFU";
    case PublishedMetric::hfu: return "HFU";
  }
  return "?";
}

}  // namespace

std::filesystem::path default_validation_dir() { return data_root() / "scenarios" / "validation"; }

int validate_runs(const ValidateOptions& options, const Catalogs& catalogs, std::ostream& out) {
  const auto dir = options.dir.empty() ? default_validation_dir() : std::filesystem::path(options.dir);
  const auto scenarios = load_validation_scenarios(dir, catalogs);
  const bool progress = !options.quiet && ::isatty(STDERR_FILENO);
  const auto report = validate(scenarios, catalogs.assumptions, [&](int i, int n, const std::string& run) {
    if (progress) fmt::print(stderr, "\r[{}/{}] {:<48}", i + 1, n, run);
  });
  if (progress) fmt::print(stderr, "\r{:60}\r", "");

  fmt::print(out, "Validation against {} published training runs ({})\n\n", report.rows.size(), dir.string());
  fmt::print(out, "  {:<42} {:<17} {:>15} {:>15} {:>8} {:>15} {:>8}\n", "run", "metric", "published", "tier 1",
             "error", "tier 2", "error");
  for (const auto& r : report.rows) {
    fmt::print(out, "  {:<42} {:<17} {:>15} {:>15} {:>+7.1f}% {:>15} {:>+7.1f}%{}{}\n",
               r.run + (r.assumed.empty() ? "" : " *"), metric_label(r.metric), value_text(r.metric, r.published),
               value_text(r.metric, r.predicted[0]), r.error_pct[0], value_text(r.metric, r.predicted[1]),
               r.error_pct[1], r.fits_memory ? "" : "  (predicted not to fit memory)", "");
  }
  fmt::print(out, "\n  |error|, %            runs   tier 1 median    max   tier 2 median    max\n");
  for (const auto& s : report.summaries) {
    fmt::print(out, "  {:<20} {:>6} {:>15.1f} {:>6.1f} {:>15.1f} {:>6.1f}\n", s.group, s.runs, s.median_abs_pct[0],
               s.max_abs_pct[0], s.median_abs_pct[1], s.max_abs_pct[1]);
  }
  fmt::print(out, "\n  * the publication left something out that the scenario assumes (its published.assumed list)\n");
  fmt::print(out, "  error = (predicted - published) / published; tier 1 analytical, tier 2 discrete-event\n");

  if (!options.out_dir.empty()) {
    const std::filesystem::path folder(options.out_dir);
    write_file_atomic(folder / "validation.csv", validation_csv(report));
    write_file_atomic(folder / "validation.md", validation_markdown(report));
    fmt::print(out, "\n  written: {}, {}\n", (folder / "validation.csv").string(), (folder / "validation.md").string());
  }
  return 0;
}

}  // namespace flopcast::cli
