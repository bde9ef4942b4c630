#include "flopcast/scenarios/claims.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "flopcast/core/errors.hpp"
#include "flopcast/core/human_units.hpp"
#include "flopcast/core/files.hpp"
#include "flopcast/core/json_reader.hpp"
#include "flopcast/scenarios/uncertainty.hpp"
#include "flopcast/scenarios/validation.hpp"

namespace flopcast {

namespace fs = std::filesystem;

namespace {

constexpr std::array kMetrics{ClaimMetric::step_time_s,  ClaimMetric::train_days,      ClaimMetric::chip_hours,
                              ClaimMetric::cost_usd,     ClaimMetric::usd_per_mtok,    ClaimMetric::yearly_cost_usd,
                              ClaimMetric::mfu,          ClaimMetric::tokens_per_s_per_chip};


struct Predicted {
  double value = 0;
  double p10 = 0;
  double p90 = 0;
};

// A metric's central value in an estimate; the yearly cost is the cost per hour of running times a year.
double value_of(ClaimMetric metric, const TrainingEstimate& e) {
  switch (metric) {
    case ClaimMetric::step_time_s: return e.step_time_s;
    case ClaimMetric::train_days: return e.train_days;
    case ClaimMetric::chip_hours: return e.chip_hours;
    case ClaimMetric::cost_usd: return e.energy_cost.cost_usd;
    case ClaimMetric::usd_per_mtok: return e.energy_cost.usd_per_mtok;
    case ClaimMetric::yearly_cost_usd: {
      const double hours = e.train_s / kSecondsPerHour;
      return hours > 0 ? e.energy_cost.cost_usd / hours * kHoursPerYear : 0.0;
    }
    case ClaimMetric::mfu: return e.mfu;
    case ClaimMetric::tokens_per_s_per_chip: return e.tokens_per_s_per_chip;
  }
  return 0.0;
}

// A metric of one estimate with its p10-p90 interval.
Predicted metric_of(ClaimMetric metric, const TrainingEstimate& e, const PredictionIntervals& p) {
  const auto with = [&](const Interval& i) { return Predicted{value_of(metric, e), i.p10, i.p90}; };
  switch (metric) {
    case ClaimMetric::step_time_s: return with(p.step_time_s);
    case ClaimMetric::train_days: return with(p.train_days);
    case ClaimMetric::chip_hours: return with(p.chip_hours);
    case ClaimMetric::cost_usd: return with(p.cost_usd);
    case ClaimMetric::usd_per_mtok: return with(p.usd_per_mtok);
    case ClaimMetric::yearly_cost_usd: return with({p.usd_per_hour.p10 * kHoursPerYear, p.usd_per_hour.p90 * kHoursPerYear});
    case ClaimMetric::mfu: return with(p.mfu);
    case ClaimMetric::tokens_per_s_per_chip: return with(p.tokens_per_s_per_chip);
  }
  return {};
}

// The metric in tier 1 for a job (the kernel-efficiency solve).
double tier1_metric(ClaimMetric metric, const TrainingJob& job, const Assumptions& a) {
  return value_of(metric, estimate_training(job, a));
}

// Every kernel efficiency of `family` times k, each capped at 1.
Assumptions scaled_kernels(const Assumptions& a, const std::string& family, double k) {
  Assumptions out = a;
  auto kernel = a.kernel(family);
  for (double* f : {&kernel.gemm_bf16, &kernel.gemm_fp8, &kernel.attention_forward, &kernel.attention_backward,
                    &kernel.memory_bound}) {
    *f = std::min(1.0, *f * k);
  }
  out.kernels[family] = kernel;
  return out;
}

// Solves for the kernel factor that makes the tier-1 metric equal `target` (bisection on log k: the metric moves
// monotonically with the kernels), and the ceiling with every kernel at 100 %.
void solve_kernels(CheckResult& r, const Scenario& s, const Assumptions& a, double target) {
  const auto& family = s.job.cluster.chip.family;
  const auto& kernel = a.kernel(family);
  const double k_max = 1.0 / std::min({kernel.gemm_bf16, kernel.gemm_fp8, kernel.attention_forward,
                                       kernel.attention_backward, kernel.memory_bound});
  const auto at = [&](double k) { return tier1_metric(r.metric, s.job, scaled_kernels(a, family, k)); };
  r.at_full_kernel_efficiency = at(k_max);
  const bool increasing = r.at_full_kernel_efficiency > at(1.0);  // MFU and throughput rise; times and costs fall
  const auto reached = [&](double k) { return increasing ? at(k) >= target : at(k) <= target; };
  constexpr double k_min = 0.05;
  if (!reached(k_max) || reached(k_min)) return;  // out of reach, or reached whatever the kernels do
  double lo = std::log(k_min), hi = std::log(k_max);
  for (int i = 0; i < 50; ++i) {
    const double mid = 0.5 * (lo + hi);
    (reached(std::exp(mid)) ? hi : lo) = mid;
  }
  r.kernel_factor = std::exp(hi);
  r.gemm_efficiency_needed =
      std::min(1.0, (s.job.training.precision == Precision::bf16    ? kernel.gemm_bf16
                     : s.job.training.precision == Precision::nvfp4 ? kernel.gemm_fp4
                                                                    : kernel.gemm_fp8) *
                        *r.kernel_factor);
}

Verdict verdict_of(const CheckResult& r) {
  if (!r.claimed) return Verdict::none;
  const double c = *r.claimed;
  switch (r.relation) {
    case ClaimRelation::about: return c > r.p90 ? Verdict::above_range : c < r.p10 ? Verdict::below_range : Verdict::consistent;
    case ClaimRelation::at_most: return r.p90 <= c ? Verdict::holds : r.p10 <= c ? Verdict::plausible : Verdict::fails;
    case ClaimRelation::at_least: return r.p10 >= c ? Verdict::holds : r.p90 >= c ? Verdict::plausible : Verdict::fails;
  }
  return Verdict::none;
}

// How well a verdict supports a claim, for the claim's overall verdict (the weakest of its checks).
int support(Verdict v) {
  switch (v) {
    case Verdict::none: return 4;
    case Verdict::holds: return 3;
    case Verdict::consistent: return 2;
    case Verdict::plausible: return 1;
    case Verdict::above_range:
    case Verdict::below_range:
    case Verdict::fails: return 0;
  }
  return 0;
}

}  // namespace

std::string_view to_string(ClaimMetric metric) {
  switch (metric) {
    case ClaimMetric::step_time_s: return "step_time_s";
    case ClaimMetric::train_days: return "train_days";
    case ClaimMetric::chip_hours: return "chip_hours";
    case ClaimMetric::cost_usd: return "cost_usd";
    case ClaimMetric::usd_per_mtok: return "usd_per_mtok";
    case ClaimMetric::yearly_cost_usd: return "yearly_cost_usd";
    case ClaimMetric::mfu: return "mfu";
    case ClaimMetric::tokens_per_s_per_chip: return "tokens_per_s_per_chip";
  }
  return "?";
}

std::string claim_value_text(ClaimMetric metric, bool ratio, double v) {
  using namespace human;
  if (ratio) return fmt::format("{:.2f}x", v);
  switch (metric) {
    case ClaimMetric::step_time_s: return seconds(v);
    case ClaimMetric::train_days: return days(v);
    case ClaimMetric::chip_hours: return count(v) + " chip-hours";
    case ClaimMetric::cost_usd: return usd(v);
    case ClaimMetric::usd_per_mtok: return usd(v) + " per M tokens";
    case ClaimMetric::yearly_cost_usd: return usd(v) + " per year";
    case ClaimMetric::mfu: return percent(v);
    case ClaimMetric::tokens_per_s_per_chip: return count(v) + " tokens/s per chip";
  }
  return fmt::format("{:g}", v);
}

std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::none: return "no claimed value";
    case Verdict::consistent: return "consistent";
    case Verdict::holds: return "holds";
    case Verdict::plausible: return "plausible";
    case Verdict::above_range: return "above the predicted range";
    case Verdict::below_range: return "below the predicted range";
    case Verdict::fails: return "does not hold";
  }
  return "?";
}

Claim load_claim(const fs::path& file, const Catalogs& catalogs) {
  const auto json = read_json_file(file);
  std::vector<Problem> problems;
  JsonReader top(json, file.string(), "", problems);
  Claim claim;
  claim.file = file.string();
  claim.claim = top.string("claim", Need::required).value_or("");
  claim.source = top.string("source", Need::required).value_or("");
  claim.note = top.string("note", Need::optional).value_or("");
  std::vector<std::string> metric_names;
  for (auto m : kMetrics) metric_names.emplace_back(to_string(m));
  const std::vector<std::string> relations{"about", "at_most", "at_least"};
  if (auto checks = top.objects("checks", Need::required)) {
    if (checks->empty()) top.problem("checks", "expected at least one check");
    for (auto& c : *checks) {
      ClaimCheck check;
      check.label = c.string("label", Need::required).value_or("");
      if (const auto m = c.choice("metric", Need::required, metric_names)) {
        check.metric = kMetrics[static_cast<std::size_t>(
            std::find(metric_names.begin(), metric_names.end(), *m) - metric_names.begin())];
      }
      check.claimed = c.number("claimed", Need::optional, {.min = 0, .min_exclusive = true});
      if (const auto r = c.choice("relation", Need::optional, relations)) {
        check.relation = *r == "at_most" ? ClaimRelation::at_most
                         : *r == "at_least" ? ClaimRelation::at_least
                                            : ClaimRelation::about;
      }
      check.solve_kernel_efficiency = c.boolean("solve_kernel_efficiency", Need::optional).value_or(false);
      // Exactly one of scenario, sum_of, ratio_of.
      std::vector<std::string> paths;
      std::string paths_key;  // where the files are named: "scenario", or the list's key (an index follows)
      int given = 0;
      if (auto one = c.string("scenario", Need::optional)) {
        paths = {*one};
        paths_key = "scenario";
        ++given;
      }
      if (auto sum = c.strings("sum_of", Need::optional)) {
        paths = *sum;
        paths_key = "sum_of";
        check.combine = CheckCombine::sum;
        ++given;
        if (sum->empty()) c.problem("sum_of", "expected at least one scenario file");
      }
      if (auto ratio = c.strings("ratio_of", Need::optional)) {
        paths = *ratio;
        paths_key = "ratio_of";
        check.combine = CheckCombine::ratio;
        ++given;
        if (ratio->size() != 2) c.problem("ratio_of", "expected two scenario files: numerator and denominator");
      }
      if (given != 1) c.problem_here("expected exactly one of \"scenario\", \"sum_of\" or \"ratio_of\"");
      if (check.solve_kernel_efficiency && (check.combine != CheckCombine::single || !check.claimed)) {
        c.problem("solve_kernel_efficiency", "needs a single \"scenario\" and a \"claimed\" value");
      }
      c.finish();
      for (std::size_t i = 0; i < paths.size(); ++i) {
        try {
          check.scenarios.push_back(load_scenario(file.parent_path() / paths[i], catalogs));
        } catch (const InputError& error) {
          const std::string at = c.path() + "/" + paths_key + (paths_key == "scenario" ? "" : fmt::format("/{}", i));
          append_referenced(problems, error.problems(), file.string(), at);
        }
      }
      claim.checks.push_back(std::move(check));
    }
  }
  top.finish();
  throw_if_any(problems);
  return claim;
}

std::vector<Claim> load_claims(const fs::path& dir, const Catalogs& catalogs) {
  const auto files = json_files_in(dir, "claim files");
  std::vector<Claim> out;
  std::vector<Problem> problems;
  for (const auto& file : files) {
    // A claim file holds "claims"; scenario files beside it (which the claims name) are skipped.
    const auto json = read_json_file(file);
    if (!json.is_object() || !json.contains("claim")) continue;
    try {
      out.push_back(load_claim(file, catalogs));
    } catch (const InputError& error) {
      problems.insert(problems.end(), error.problems().begin(), error.problems().end());
    }
  }
  throw_if_any(problems);
  if (out.empty()) throw IoError(fmt::format("{}: no claim file (a JSON object with \"claim\")", dir.string()));
  return out;
}

ClaimResult evaluate_claim(const Claim& claim, const Catalogs& catalogs, Tier tier) {
  ClaimResult out;
  out.claim = claim;
  SimOptions options;
  options.tier = tier;
  std::map<std::string, std::pair<TrainingEstimate, PredictionIntervals>> simulated;  // by scenario file
  for (const auto& check : claim.checks) {
    CheckResult r;
    r.label = check.label;
    r.metric = check.metric;
    r.claimed = check.claimed;
    r.relation = check.relation;
    std::vector<Predicted> parts;
    for (const auto& s : check.scenarios) {
      // Checks of one claim often name the same scenario: each file is simulated once.
      auto it = simulated.find(s.file);
      if (it == simulated.end()) {
        auto result = simulate_scenario(s, catalogs, options);
        auto intervals = prediction_intervals(s, result.estimate, result.tier, catalogs, whole_run_of(result));
        it = simulated.emplace(s.file, std::make_pair(std::move(result.estimate), std::move(intervals))).first;
      }
      parts.push_back(metric_of(check.metric, it->second.first, it->second.second));
      r.scenario_names.push_back(s.name);
    }
    switch (check.combine) {
      case CheckCombine::single: {
        r.predicted = parts[0].value;
        r.p10 = parts[0].p10;
        r.p90 = parts[0].p90;
        break;
      }
      case CheckCombine::sum: {
        // The parts' errors are taken as fully correlated (one model, one set of prices): bounds add.
        for (const auto& p : parts) {
          r.predicted += p.value;
          r.p10 += p.p10;
          r.p90 += p.p90;
        }
        break;
      }
      case CheckCombine::ratio: {
        // Log-normal parts taken as independent: sigma^2 adds (conservative where both share the model's error).
        const auto sigma = [](const Predicted& p) { return std::log(p.p90 / p.p10) / (2.0 * kNormalZ90); };
        const double s = std::hypot(sigma(parts[0]), sigma(parts[1]));
        r.predicted = parts[0].value / parts[1].value;
        r.p10 = r.predicted * std::exp(-kNormalZ90 * s);
        r.p90 = r.predicted * std::exp(kNormalZ90 * s);
        break;
      }
    }
    r.verdict = verdict_of(r);
    if (check.solve_kernel_efficiency) solve_kernels(r, check.scenarios[0], catalogs.assumptions, *check.claimed);
    out.checks.push_back(std::move(r));
  }
  int weakest = support(Verdict::none);
  for (const auto& r : out.checks) {
    if (support(r.verdict) < weakest) {
      weakest = support(r.verdict);
      out.verdict = r.verdict;
    }
  }
  return out;
}

nlohmann::json claim_result_to_json(const ClaimResult& result) {
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& r : result.checks) {
    nlohmann::json c = {{"label", r.label},
                        {"metric", std::string(to_string(r.metric))},
                        {"predicted", r.predicted},
                        {"p10", r.p10},
                        {"p90", r.p90},
                        {"scenarios", r.scenario_names},
                        {"verdict", std::string(to_string(r.verdict))}};
    if (r.claimed) {
      c["claimed"] = *r.claimed;
      c["relation"] = r.relation == ClaimRelation::about ? "about" : r.relation == ClaimRelation::at_most ? "at_most" : "at_least";
    }
    if (r.at_full_kernel_efficiency > 0) {
      c["what_would_have_to_be_true"] = {{"kernel_efficiency_factor", r.kernel_factor ? nlohmann::json(*r.kernel_factor) : nlohmann::json()},
                                         {"gemm_efficiency_needed", r.gemm_efficiency_needed ? nlohmann::json(*r.gemm_efficiency_needed) : nlohmann::json()},
                                         {"tier1_with_every_kernel_at_peak", r.at_full_kernel_efficiency}};
    }
    checks.push_back(std::move(c));
  }
  return {{"file", result.claim.file},
          {"claim", result.claim.claim},
          {"source", result.claim.source},
          {"note", result.claim.note},
          {"verdict", std::string(to_string(result.verdict))},
          {"checks", std::move(checks)}};
}

}  // namespace flopcast
