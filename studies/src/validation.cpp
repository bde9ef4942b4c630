#include "flopcast/studies/validation.hpp"

#include <algorithm>
#include <utility>
#include <cmath>

#include <fmt/format.h>

#include "flopcast/core/errors.hpp"
#include "flopcast/core/files.hpp"
#include "flopcast/core/units.hpp"

namespace flopcast {
namespace fs = std::filesystem;

std::vector<Scenario> load_validation_scenarios(const fs::path& dir, const Catalogs& catalogs,
                                                std::vector<Problem>* unreadable) {
  const auto files = json_files_in(dir, "validation scenarios");
  std::vector<Scenario> out;
  for (const auto& file : files) {
    try {
      auto scenario = load_scenario(file, catalogs);
      if (scenario.published) out.push_back(std::move(scenario));
    } catch (const InputError& error) {
      if (unreadable == nullptr) throw;
      unreadable->insert(unreadable->end(), error.problems().begin(), error.problems().end());
    }
  }
  if (out.empty()) {
    if (unreadable != nullptr && !unreadable->empty()) throw InputError(*unreadable);
    throw IoError(fmt::format("{}: no scenario with a \"published\" block (see scenarios/SCHEMA.md)", dir.string()));
  }
  return out;
}

ValidationRow validate_scenario(const Scenario& scenario, const Assumptions& assumptions) {
  const auto& published = *scenario.published;
  ValidationRow row;
  row.run = published.run;
  row.file = scenario.file;
  row.chip = scenario.job.cluster.chip.id;
  row.family = scenario.job.cluster.chip.family;
  row.moe = scenario.job.model.is_moe();
  row.metric = published.metric;
  row.published = published.value;
  row.assumed = published.assumed;
  row.fitted = published.validate_only.empty();
  row.published_memory_gib = published.peak_memory_gib;
  for (std::size_t t = 0; t < kValidationTiers.size(); ++t) {
    row.log_sigma[t] = assumptions.model_log_sigma(t, row.family, row.moe);
  }
  for (std::size_t t = 0; t < kValidationTiers.size(); ++t) {
    SimOptions options;
    options.tier = kValidationTiers[t];
    const auto result = simulate_training(scenario.job, assumptions, options);
    row.predicted[t] = predicted_metric(published.metric, result.estimate);
    row.error_pct[t] = (row.predicted[t] - row.published) / row.published * 100.0;
    if (t == 0) {  // the same memory model in every tier
      const auto& memory = result.estimate.memory;
      row.fits_memory = memory.fits;
      row.memory_gib = memory.total_bytes / kBytesPerGiB;
      row.usable_gib = memory.usable_bytes / kBytesPerGiB;
    }
  }
  return row;
}

double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

ErrorStats error_stats(const std::vector<double>& errors_pct) {
  std::vector<double> magnitudes;
  for (double e : errors_pct) magnitudes.push_back(std::fabs(e));
  ErrorStats out;
  out.median_abs_pct = median(magnitudes);
  if (!magnitudes.empty()) out.max_abs_pct = *std::max_element(magnitudes.begin(), magnitudes.end());
  return out;
}

double percentile_90(std::vector<double> values) { return percentile(std::move(values), 0.9); }

double percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const double rank = fraction * static_cast<double>(values.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(rank));
  const std::size_t above = std::min(below + 1, values.size() - 1);
  return values[below] + (rank - static_cast<double>(below)) * (values[above] - values[below]);
}

bool inside_p10_p90(double error_pct, double log_sigma) {
  return std::fabs(std::log1p(error_pct / 100.0)) <= kNormalZ90 * log_sigma;
}

std::string_view speed_reading(PublishedMetric metric, double error_pct) {
  if (std::fabs(error_pct) < 0.5) return "on target";
  const bool higher = error_pct > 0;
  return higher == (metric == PublishedMetric::step_time_s) ? "too slow" : "too fast";
}

bool tiers_agree(const ValidationRow& row) {
  if (!(row.log_sigma[0] > 0) || !(row.log_sigma[1] > 0) || !(row.predicted[0] > 0) || !(row.predicted[1] > 0)) {
    return false;
  }
  return std::fabs(std::log(row.predicted[1] / row.predicted[0])) <= kNormalZ90 * (row.log_sigma[0] + row.log_sigma[1]);
}

std::string run_source(const std::string& run) { return run.substr(0, run.find('-')); }

std::vector<ErrorSummary> summarise(const std::vector<ValidationRow>& rows) {
  std::vector<std::pair<std::string, std::function<bool(const ValidationRow&)>>> groups = {
      {"all", [](const ValidationRow&) { return true; }}};
  std::vector<std::string> families;
  for (const auto& row : rows) {
    if (std::find(families.begin(), families.end(), row.family) == families.end()) families.push_back(row.family);
  }
  for (const auto& family : families) {
    groups.emplace_back(family, [family](const ValidationRow& r) { return r.family == family; });
  }
  groups.emplace_back("dense", [](const ValidationRow& r) { return !r.moe; });
  groups.emplace_back("MoE", [](const ValidationRow& r) { return r.moe; });
  // By source: a publication or benchmark table, named by its runs' id prefix ("mbridge2606", "torchtitan", ...).
  std::vector<std::string> sources;
  for (const auto& row : rows) {
    const auto source = run_source(row.run);
    if (std::find(sources.begin(), sources.end(), source) == sources.end()) sources.push_back(source);
  }
  std::sort(sources.begin(), sources.end());
  for (const auto& source : sources) {
    groups.emplace_back("source " + source, [source](const ValidationRow& r) { return run_source(r.run) == source; });
  }
  std::vector<ErrorSummary> out;
  for (const auto& [name, member] : groups) {
    ErrorSummary s;
    s.group = name;
    for (std::size_t t = 0; t < kValidationTiers.size(); ++t) {
      std::vector<double> errors;
      int inside = 0;
      bool spread_known = true;
      for (const auto& row : rows) {
        if (!member(row)) continue;
        const double e = std::fabs(row.error_pct[t]);
        errors.push_back(e);
        spread_known = spread_known && row.log_sigma[t] > 0;
        if (inside_p10_p90(row.error_pct[t], row.log_sigma[t])) ++inside;
        if (e >= s.max_abs_pct[t]) {
          s.max_abs_pct[t] = e;
          s.worst_run[t] = row.run;
        }
      }
      s.runs = static_cast<int>(errors.size());
      s.median_abs_pct[t] = median(errors);
      s.p90_abs_pct[t] = percentile_90(errors);
      if (spread_known && s.runs > 0) s.coverage[t] = static_cast<double>(inside) / s.runs;
    }
    if (s.runs > 0) out.push_back(s);
  }
  return out;
}

ValidationReport validate(const std::vector<Scenario>& scenarios, const Assumptions& assumptions,
                          const std::function<void(int, int, const std::string&)>& progress) {
  ValidationReport report;
  const int n = static_cast<int>(scenarios.size());
  for (int i = 0; i < n; ++i) {
    if (progress) progress(i, n, scenarios[i].published->run);
    report.rows.push_back(validate_scenario(scenarios[i], assumptions));
  }
  report.summaries = summarise(report.rows);
  return report;
}

namespace {

std::string value_text(double v) {
  if (std::fabs(v) < 1) return fmt::format("{:.3f}", v);
  if (std::fabs(v) < 100) return fmt::format("{:.2f}", v);
  return fmt::format("{:.0f}", v);
}

}  // namespace

std::string coverage_text(double coverage) {
  return coverage < 0 ? std::string("-") : fmt::format("{:.0f} %", 100.0 * coverage);
}

std::string summaries_markdown(const std::vector<ErrorSummary>& summaries) {
  std::string out = "| group | runs | tier 1 median \\|error\\| | tier 1 max | tier 2 median \\|error\\| | tier 2 p90 | "
                    "tier 2 max | tier 2 inside p10-p90 |\n"
                    "|---|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& s : summaries) {
    out += fmt::format("| {} | {} | {:.1f} % | {:.1f} % ({}) | {:.1f} % | {:.1f} % | {:.1f} % ({}) | {} |\n", s.group,
                       s.runs, s.median_abs_pct[0], s.max_abs_pct[0], s.worst_run[0], s.median_abs_pct[1],
                       s.p90_abs_pct[1], s.max_abs_pct[1], s.worst_run[1], coverage_text(s.coverage[1]));
  }
  return out;
}

double memory_error_pct(const ValidationRow& row) {
  return (row.memory_gib - row.published_memory_gib) / row.published_memory_gib * 100.0;
}

MemoryCheck memory_check(const ValidationReport& report) {
  MemoryCheck out;
  std::vector<double> errors;
  for (const auto& r : report.rows) {
    if (r.published_memory_gib <= 0) continue;
    out.rows.push_back(&r);
    errors.push_back(memory_error_pct(r));
  }
  const auto stats = error_stats(errors);
  out.median_abs_pct = stats.median_abs_pct;
  out.max_abs_pct = stats.max_abs_pct;
  return out;
}

std::string memory_markdown(const ValidationReport& report) {
  const auto check = memory_check(report);
  const auto not_fitting =
      std::count_if(report.rows.begin(), report.rows.end(), [](const ValidationRow& r) { return !r.fits_memory; });
  std::string out = fmt::format(
      "{} of {} runs are predicted not to fit in memory, although every one of them ran: errors of the memory "
      "model.\n",
      not_fitting, report.rows.size());
  if (check.rows.empty()) return out;
  out += fmt::format(
      "\nMemory per chip against the {} published peaks (median |error| {:.1f} %, max {:.1f} %):\n\n"
      "| run | chip | published GiB | flopcast GiB | error % | usable GiB |\n|---|---|---:|---:|---:|---:|\n",
      check.rows.size(), check.median_abs_pct, check.max_abs_pct);
  for (const auto* r : check.rows) {
    out += fmt::format("| {} | {} | {:.1f} | {:.1f} | {:+.1f} | {:.1f} |\n", r->run, r->chip, r->published_memory_gib,
                       r->memory_gib, memory_error_pct(*r), r->usable_gib);
  }
  return out;
}

std::string validation_csv(const ValidationReport& report) {
  std::string out =
      "run,chip,family,moe,metric,published,tier1_predicted,tier1_error_pct,tier2_predicted,tier2_error_pct,"
      "fits_memory,assumed,fitted,memory_gib,usable_gib,published_memory_gib,memory_error_pct\n";
  for (const auto& r : report.rows) {
    std::string assumed;
    for (const auto& a : r.assumed) assumed += (assumed.empty() ? "" : "; ") + a;
    const bool published_memory = r.published_memory_gib > 0;
    out += fmt::format("{},{},{},{},{},{:.6g},{:.6g},{:.2f},{:.6g},{:.2f},{},{},{},{:.2f},{:.2f},{},{}\n",
                       csv_field(r.run), r.chip, r.family, r.moe ? "yes" : "no", to_string(r.metric), r.published,
                       r.predicted[0], r.error_pct[0], r.predicted[1], r.error_pct[1], r.fits_memory ? "yes" : "no",
                       csv_field(assumed), r.fitted ? "yes" : "no", r.memory_gib, r.usable_gib,
                       published_memory ? fmt::format("{:.2f}", r.published_memory_gib) : std::string(),
                       published_memory ? fmt::format("{:.1f}", memory_error_pct(r)) : std::string());
  }
  return out;
}

std::string validation_markdown(const ValidationReport& report) {
  std::string out =
      "| run | chip | metric | published | tier 1 | error % | tier 2 | error % | tier 2 is | fits memory |\n"
      "|---|---|---|---:|---:|---:|---:|---:|---|---|\n";
  for (const auto& r : report.rows) {
    out += fmt::format("| {}{}{} | {} | {} | {} | {} | {:+.1f} | {} | {:+.1f} | {} | {} |\n", r.run,
                       r.assumed.empty() ? "" : " *", r.fitted ? "" : " \u2020", r.chip, to_string(r.metric), value_text(r.published),
                       value_text(r.predicted[0]), r.error_pct[0], value_text(r.predicted[1]), r.error_pct[1],
                       speed_reading(r.metric, r.error_pct[1]), r.fits_memory ? "yes" : "NO");
  }
  out += '\n';
  out += summaries_markdown(report.summaries);
  out += '\n';
  out += memory_markdown(report);
  out += "\n* the publication left something out that the scenario assumes (its \"published.assumed\" list).\n";
  if (std::any_of(report.rows.begin(), report.rows.end(), [](const ValidationRow& r) { return !r.fitted; })) {
    out += "\n\u2020 validated, not fitted: flopcast calibrate leaves the run out (its \"published.validate_only\" "
           "reason).\n";
  }
  return out;
}

}  // namespace flopcast
