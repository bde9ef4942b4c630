#include "flopcast/studies/claims.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "flopcast/core/errors.hpp"
#include "flopcast/core/human_units.hpp"
#include "flopcast/core/files.hpp"
#include "flopcast/core/json_reader.hpp"
#include "flopcast/models/accounting.hpp"
#include "flopcast/models/serving.hpp"
#include "flopcast/scenarios/uncertainty.hpp"
#include "flopcast/studies/validation.hpp"
#include "flopcast/sim/serve_sim.hpp"

namespace flopcast {

namespace fs = std::filesystem;

namespace {

constexpr std::array kMetrics{ClaimMetric::step_time_s,
                              ClaimMetric::train_days,
                              ClaimMetric::chip_hours,
                              ClaimMetric::cost_usd,
                              ClaimMetric::usd_per_mtok,
                              ClaimMetric::yearly_cost_usd,
                              ClaimMetric::mfu,
                              ClaimMetric::tokens_per_s_per_chip,
                              ClaimMetric::tokens_per_s,
                              ClaimMetric::kwh_per_mtok,
                              ClaimMetric::output_tokens_per_s_per_chip,
                              ClaimMetric::serving_usd_per_m_tokens,
                              ClaimMetric::serving_usd_per_m_output,
                              ClaimMetric::kv_tokens_per_chip,
                              ClaimMetric::kv_bytes_per_token,
                              ClaimMetric::forward_flop_per_token,
                              ClaimMetric::chip_price_usd,
                              ClaimMetric::chips_capex_usd};


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
    case ClaimMetric::tokens_per_s: return e.tokens_per_s;
    case ClaimMetric::kwh_per_mtok: {
      const double tokens = e.steps * e.tokens_per_step;
      return tokens > 0 ? e.energy_cost.energy_kwh / (tokens / 1e6) : 0.0;
    }
    default: return 0.0;  // not a training run's prediction (checked on loading)
  }
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
    case ClaimMetric::tokens_per_s: {
      const double chips = e.tokens_per_s_per_chip > 0 ? e.tokens_per_s / e.tokens_per_s_per_chip : 0.0;
      return with({p.tokens_per_s_per_chip.p10 * chips, p.tokens_per_s_per_chip.p90 * chips});
    }
    case ClaimMetric::kwh_per_mtok: {
      // The energy of a run is its facility power times its length: per token it moves with the days.
      const double v = value_of(metric, e);
      const double days = e.train_days > 0 ? e.train_days : 1.0;
      return {v, v * p.train_days.p10 / days, v * p.train_days.p90 / days};
    }
    default: return {};  // not a training run's prediction (checked on loading)
  }
}

// A deployment's figure with its p10-p90 range (the serving model's spread).
Predicted serving_metric_of(ClaimMetric metric, const ServingResult& r) {
  double value = 0;
  switch (metric) {
    case ClaimMetric::output_tokens_per_s_per_chip: value = r.output_tokens_per_s_per_chip; break;
    case ClaimMetric::serving_usd_per_m_tokens: value = r.usd_per_m_tokens; break;
    case ClaimMetric::serving_usd_per_m_output: value = r.usd_per_m_output; break;
    case ClaimMetric::kv_tokens_per_chip: {
      // Each attention rank of each instance of the pools that decode holds its own cache.
      double chips = 0;
      for (const auto& pool : r.pools) {
        chips += pool.chips;
        if (pool.role == PoolRole::prefill) continue;
        value += static_cast<double>(pool.memory.kv_capacity_tokens) * pool.plan.dp_attention * pool.instances;
      }
      value = chips > 0 ? value / chips : 0.0;
      return {value, value, value};  // the memory arithmetic has no model error
    }
    default: return {};
  }
  const auto [low, high] = serving_range(r, value);
  return {value, low, high};
}

// The model's and the catalog's own figures: exact, apart from the catalog's price range.
Predicted exact_metric_of(ClaimMetric metric, const Scenario& s) {
  const auto& model = s.job.model;
  const auto exact = [](double v) { return Predicted{v, v, v}; };
  const auto& price = s.job.cluster.chip.price;
  const double price_usd = price ? price->value : 0.0;
  const double low = price && price->low ? *price->low : price_usd;
  const double high = price && price->high ? *price->high : price_usd;
  switch (metric) {
    case ClaimMetric::kv_bytes_per_token:
      return exact(kv_cache_bytes_per_token(model, bytes_per_element(s.serving ? s.serving->setup.kv_type : DataType::bf16)));
    case ClaimMetric::forward_flop_per_token: {
      const auto params = count_params(model);
      return exact(2.0 * params.active_without_input_embedding);
    }
    case ClaimMetric::chip_price_usd: return {price_usd, low, high};
    case ClaimMetric::chips_capex_usd: {
      // Stage by stage: a mixed fleet's stages run on other chips.
      const auto& c = s.job.cluster;
      const int pp = std::max(1, s.job.plan.pp);
      Predicted out;
      for (int stage = 0; stage < pp; ++stage) {
        const auto* group = c.stage_group(stage);
        const auto& p = (group ? group->chip : c.chip).price;
        const double chips = static_cast<double>(c.chips) / pp, v = p ? p->value : 0.0;
        out.value += chips * v;
        out.p10 += chips * (p && p->low ? *p->low : v);
        out.p90 += chips * (p && p->high ? *p->high : v);
      }
      return out;
    }
    default: return {};
  }
}

bool is_exact_metric(ClaimMetric metric) {
  return metric == ClaimMetric::kv_bytes_per_token || metric == ClaimMetric::forward_flop_per_token ||
         metric == ClaimMetric::chip_price_usd || metric == ClaimMetric::chips_capex_usd;
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
    case Verdict::does_not_fit: return -1;
  }
  return 0;
}

// One scenario file's prediction: a training run's estimate and intervals, or a deployment's result; and why it
// cannot run, when it does not fit in memory.
struct Evaluated {
  TrainingEstimate training;
  PredictionIntervals intervals;
  std::optional<ServingResult> serving;
  std::string not_fitting;
};

Evaluated evaluate_scenario(const Scenario& s, const Catalogs& catalogs, Tier tier) {
  Evaluated out;
  if (s.serving) {
    const ServingJob job = serving_job(s);
    try {
      out.serving = tier == Tier::analytical
                        ? estimate_serving(job, build_topology(topology_spec(job.cluster)), catalogs.assumptions)
                        : simulate_serving(job, catalogs.assumptions);
      // A mean request's whole context must fit one attention rank's cache (the simulation rejects those that do
      // not, tier 1 serves none): a deployment that cannot hold it does not run this workload.
      const auto& w = job.serving.workload;
      for (const auto& pool : out.serving->pools) {
        if (pool.role == PoolRole::prefill) continue;
        const auto context = static_cast<long>(std::ceil(w.input_tokens + w.output_tokens)) + pool.memory.kv_window_tokens;
        if (pool.memory.kv_capacity_tokens < context) {
          out.not_fitting = fmt::format("one attention rank's KV cache holds {} tokens, less than a mean request's {}",
                                        pool.memory.kv_capacity_tokens, context);
        }
      }
    } catch (const ModelError& error) {
      out.not_fitting = error.what();
    }
    return out;
  }
  SimOptions options;
  options.tier = tier;
  auto result = simulate_scenario(s, catalogs, options);
  out.intervals = prediction_intervals(s, result.estimate, result.tier, catalogs, whole_run_of(result));
  out.training = std::move(result.estimate);
  const auto& m = out.training.memory;
  if (!m.fits) {
    out.not_fitting = fmt::format("needs {:.1f} GiB per chip of {:.1f} GiB usable", m.total_bytes / kBytesPerGiB,
                                  m.usable_bytes / kBytesPerGiB);
  }
  return out;
}

}  // namespace

bool is_serving_metric(ClaimMetric metric) {
  return metric == ClaimMetric::output_tokens_per_s_per_chip || metric == ClaimMetric::serving_usd_per_m_tokens ||
         metric == ClaimMetric::serving_usd_per_m_output || metric == ClaimMetric::kv_tokens_per_chip;
}

bool is_training_metric(ClaimMetric metric) { return !is_serving_metric(metric) && !is_exact_metric(metric); }

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
    case ClaimMetric::tokens_per_s: return "tokens_per_s";
    case ClaimMetric::kwh_per_mtok: return "kwh_per_mtok";
    case ClaimMetric::output_tokens_per_s_per_chip: return "output_tokens_per_s_per_chip";
    case ClaimMetric::serving_usd_per_m_tokens: return "serving_usd_per_m_tokens";
    case ClaimMetric::serving_usd_per_m_output: return "serving_usd_per_m_output";
    case ClaimMetric::kv_tokens_per_chip: return "kv_tokens_per_chip";
    case ClaimMetric::kv_bytes_per_token: return "kv_bytes_per_token";
    case ClaimMetric::forward_flop_per_token: return "forward_flop_per_token";
    case ClaimMetric::chip_price_usd: return "chip_price_usd";
    case ClaimMetric::chips_capex_usd: return "chips_capex_usd";
  }
  return "?";
}

std::string claim_value_text(ClaimMetric metric, bool ratio, double v) {
  using namespace human;
  if (ratio) return v < 0.1 ? fmt::format("{:.3f}x", v) : fmt::format("{:.2f}x", v);
  switch (metric) {
    case ClaimMetric::step_time_s: return seconds(v);
    case ClaimMetric::train_days: return days(v);
    case ClaimMetric::chip_hours: return count(v) + " chip-hours";
    case ClaimMetric::cost_usd: return usd(v);
    case ClaimMetric::usd_per_mtok: return usd(v) + " per M tokens";
    case ClaimMetric::yearly_cost_usd: return usd(v) + " per year";
    case ClaimMetric::mfu: return percent(v);
    case ClaimMetric::tokens_per_s_per_chip: return count(v) + " tokens/s per chip";
    case ClaimMetric::tokens_per_s: return count(v) + " tokens/s";
    case ClaimMetric::kwh_per_mtok: return fmt::format("{:.3g} kWh per M tokens", v);
    case ClaimMetric::output_tokens_per_s_per_chip: return count(v) + " output tokens/s per chip";
    case ClaimMetric::serving_usd_per_m_tokens: return usd(v) + " per M tokens";
    case ClaimMetric::serving_usd_per_m_output: return usd(v) + " per M output tokens";
    case ClaimMetric::kv_tokens_per_chip: return count(v) + " tokens per chip";
    case ClaimMetric::kv_bytes_per_token: return bytes(v) + " per token";
    case ClaimMetric::forward_flop_per_token: return count(v) + " FLOP per token";
    case ClaimMetric::chip_price_usd: return usd(v) + " per chip";
    case ClaimMetric::chips_capex_usd: return usd(v);
  }
  return fmt::format("{:g}", v);
}

std::string check_value_text(const ClaimCheck& check, double value) {
  // A scaled value is no longer in the metric's unit: a ratio of rates times chips, or chip-hours over hours, counts chips.
  if (check.scale != 1) return human::count(value);
  return claim_value_text(check.metric, check.combine == CheckCombine::ratio, value);
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
    case Verdict::does_not_fit: return "cannot run: does not fit in memory";
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
      check.scale = c.number("scale", Need::optional, {.min = 0, .min_exclusive = true}).value_or(1.0);
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
      if (check.solve_kernel_efficiency && (check.combine != CheckCombine::single || !check.claimed || check.scale != 1)) {
        c.problem("solve_kernel_efficiency", "needs a single \"scenario\" and a \"claimed\" value, without \"scale\"");
      }
      c.finish();
      if (check.solve_kernel_efficiency && !is_training_metric(check.metric)) {
        c.problem("solve_kernel_efficiency", "needs a training run's metric");
      }
      for (std::size_t i = 0; i < paths.size(); ++i) {
        const std::string at = c.path() + "/" + paths_key + (paths_key == "scenario" ? "" : fmt::format("/{}", i));
        try {
          auto scenario = load_scenario(file.parent_path() / paths[i], catalogs);
          if (is_serving_metric(check.metric) && !scenario.serving) {
            problems.push_back({file.string(), at, fmt::format("{} is a training scenario; metric {} needs a deployment "
                                                                "(a scenario with a \"serving\" section)",
                                                                paths[i], to_string(check.metric))});
          } else if (is_training_metric(check.metric) && scenario.serving) {
            problems.push_back({file.string(), at, fmt::format("{} is a deployment; metric {} needs a training scenario",
                                                                paths[i], to_string(check.metric))});
          }
          check.scenarios.push_back(std::move(scenario));
        } catch (const InputError& error) {
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
  std::map<std::string, Evaluated> evaluated;  // by scenario file: checks of one claim often name the same one
  for (const auto& check : claim.checks) {
    CheckResult r;
    r.label = check.label;
    r.metric = check.metric;
    r.claimed = check.claimed;
    r.relation = check.relation;
    std::vector<Predicted> parts;
    for (const auto& s : check.scenarios) {
      r.scenario_names.push_back(s.name);
      // The architecture's and the catalog's own figures need no run (and hold whether or not it fits).
      if (is_exact_metric(check.metric)) {
        parts.push_back(exact_metric_of(check.metric, s));
        continue;
      }
      auto it = evaluated.find(s.file);
      if (it == evaluated.end()) it = evaluated.emplace(s.file, evaluate_scenario(s, catalogs, tier)).first;
      const auto& e = it->second;
      if (!e.not_fitting.empty()) r.not_fitting.push_back(fmt::format("{}: {}", s.name, e.not_fitting));
      parts.push_back(e.serving ? serving_metric_of(check.metric, *e.serving)
                                : metric_of(check.metric, e.training, e.intervals));
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
        const auto sigma = [](const Predicted& p) {
          return p.p10 > 0 ? std::log(p.p90 / p.p10) / (2.0 * kNormalZ90) : 0.0;
        };
        const double s = std::hypot(sigma(parts[0]), sigma(parts[1]));
        r.predicted = parts[1].value > 0 ? parts[0].value / parts[1].value : 0.0;  // 0: a part that cannot run
        r.p10 = r.predicted * std::exp(-kNormalZ90 * s);
        r.p90 = r.predicted * std::exp(kNormalZ90 * s);
        break;
      }
    }
    r.predicted *= check.scale;
    r.p10 *= check.scale;
    r.p90 *= check.scale;
    // A figure of a plan that cannot run is no evidence for or against the claim.
    r.verdict = r.not_fitting.empty() ? verdict_of(r) : Verdict::does_not_fit;
    if (check.solve_kernel_efficiency && r.not_fitting.empty()) solve_kernels(r, check.scenarios[0], catalogs.assumptions, *check.claimed);
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
    if (!r.not_fitting.empty()) c["not_fitting"] = r.not_fitting;
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
