#pragma once
// Validation against published runs: every scenario under scenarios/validation/ carries the measurement it
// reproduces ("published"); this runs each at the tiers asked for and summarises the errors.

#include <array>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "flopcast/core/text.hpp"
#include "flopcast/scenarios/scenario.hpp"
#include "flopcast/scenarios/uncertainty.hpp"

namespace flopcast {

// The tiers a validation compares: analytical (tier 1) and replica (tier 2).
inline constexpr std::array<Tier, 2> kValidationTiers{Tier::analytical, Tier::replica};

struct ValidationRow {
  std::string run;
  std::string file;
  std::string chip;
  std::string family;  // the chip family (ampere, hopper, ...)
  bool moe = false;
  PublishedMetric metric = PublishedMetric::step_time_s;
  double published = 0;
  std::array<double, 2> predicted{};  // per kValidationTiers
  std::array<double, 2> error_pct{};  // (predicted - published) / published x 100
  bool fits_memory = true;
  double memory_gib = 0;            // flopcast's memory per chip (its fullest device), GiB
  double usable_gib = 0;            // of the chip's capacity, after the assumptions' reserve for fragmentation
  double published_memory_gib = 0;  // the run's published peak per chip, GiB (0: not published)
  bool fitted = true;  // false: published.validate_only, left out of flopcast calibrate's fit
  std::vector<std::string> assumed;
  // The model's spread the prediction interval of this run draws on, per tier (log sigma; 0: unknown): the
  // assumptions' cross-validated spread for a calibrated chip family or for the others.
  std::array<double, 2> log_sigma{};
};

// The source of a published run: its id up to the first '-' (the runs of one publication or benchmark table share
// it: "megatron2021", "mbridge2606", "torchtitan").
std::string run_source(const std::string& run);

// Median, 90th percentile and max |error| of a group of rows at each tier, and the share of its runs whose
// published value falls inside the model's p10-p90 interval around the prediction (-1 where the rows carry no spread).
struct ErrorSummary {
  std::string group;  // "all", "ampere", "hopper", "dense", "MoE", "source mcore", ...
  int runs = 0;
  std::array<double, 2> median_abs_pct{};
  std::array<double, 2> p90_abs_pct{};
  std::array<double, 2> max_abs_pct{};
  std::array<std::string, 2> worst_run;
  std::array<double, 2> coverage{-1.0, -1.0};
};

// The `fraction` percentile of `values` (linear between order statistics; 0 when empty), and the 90th.
double percentile(std::vector<double> values, double fraction);
double percentile_90(std::vector<double> values);

// Whether a run's error lies inside a p10-p90 interval of log spread `log_sigma`: |log(1 + e)| <= 1.2816 sigma.
bool inside_p10_p90(double error_pct, double log_sigma);
// Whether a run's tier-1 and tier-2 p10-p90 ranges overlap (each the model's spread at its tier around its
// prediction): |log(tier 2 / tier 1)| <= 1.2816 (sigma 1 + sigma 2). The two tiers then give one answer within what
// each says of its own uncertainty. False where a spread is unknown.
bool tiers_agree(const ValidationRow& row);
// Which way a prediction errs, whatever the metric: "too fast" (a throughput, rate or utilisation above the
// published one, or a step time below it), "too slow", or "on target" (within 0.5 %).
std::string_view speed_reading(PublishedMetric metric, double error_pct);

struct ValidationReport {
  std::vector<ValidationRow> rows;
  std::vector<ErrorSummary> summaries;
};

// The scenarios of `dir` that carry a "published" block, sorted by file name. A file that cannot be loaded (a
// dangling link, a scenario with problems) throws InputError, or, when `unreadable` is given, is left out and its
// problems appended there, so that one bad file does not stop the others from being validated.
std::vector<Scenario> load_validation_scenarios(const std::filesystem::path& dir, const Catalogs& catalogs,
                                                std::vector<Problem>* unreadable = nullptr);

// One row: the scenario at both tiers, with `assumptions` (the catalogs' by default, or a calibration's trial).
ValidationRow validate_scenario(const Scenario& scenario, const Assumptions& assumptions);

// Every scenario, `progress(i, n, run)` before each; then the summaries.
ValidationReport validate(const std::vector<Scenario>& scenarios, const Assumptions& assumptions,
                          const std::function<void(int, int, const std::string&)>& progress = {});
std::vector<ErrorSummary> summarise(const std::vector<ValidationRow>& rows);

// Memory against the runs' published peaks: the rows that have one, with their errors, and their median |error|.
struct MemoryCheck {
  std::vector<const ValidationRow*> rows;
  double median_abs_pct = 0;
  double max_abs_pct = 0;
};
MemoryCheck memory_check(const ValidationReport& report);
double memory_error_pct(const ValidationRow& row);  // (memory - published) / published x 100
std::string memory_markdown(const ValidationReport& report);

std::string validation_csv(const ValidationReport& report);
std::string validation_markdown(const ValidationReport& report);
// The summaries as a Markdown table: median and max |error| per group at both tiers.
std::string summaries_markdown(const std::vector<ErrorSummary>& summaries);
// An ErrorSummary's coverage as "78 %", or "-" where it is unknown.
std::string coverage_text(double coverage);

double median(std::vector<double> values);

// Median and max of the absolute values of signed errors in percent.
struct ErrorStats {
  double median_abs_pct = 0;
  double max_abs_pct = 0;
};
ErrorStats error_stats(const std::vector<double>& errors_pct);

}  // namespace flopcast
