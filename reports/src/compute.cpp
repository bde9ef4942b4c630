// compute_report: every number a report shows, computed once through the library calls the CLI uses.

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "flopcast/core/errors.hpp"
#include "flopcast/core/files.hpp"
#include "flopcast/models/estimator.hpp"
#include "flopcast/models/serving.hpp"
#include "flopcast/sim/serve_sim.hpp"
#include "flopcast/reports/report.hpp"

namespace flopcast::report {

namespace {

void say(const ReportOptions& options, const std::string& line) {
  if (options.progress) options.progress(line);
}

// Tier 1 of `job` with `assumptions`, on the topology the central estimate built.
TrainingEstimate tier1_of(const TrainingJob& job, const Assumptions& assumptions, const TrainingEstimate& central) {
  EstimateOptions estimate_options;
  estimate_options.topology = &central.topology;
  return estimate_training(job, assumptions, estimate_options);
}

Sensitivity ratios(std::string input, const TrainingEstimate& central, const TrainingEstimate& low,
                   const TrainingEstimate& high) {
  Sensitivity s;
  s.input = std::move(input);
  s.days_ratio_low = low.train_days / central.train_days;
  s.days_ratio_high = high.train_days / central.train_days;
  s.cost_ratio_low = low.energy_cost.cost_usd / central.energy_cost.cost_usd;
  s.cost_ratio_high = high.energy_cost.cost_usd / central.energy_cost.cost_usd;
  return s;
}

// The job with every price it gives itself (not taken from the catalog) times `factor`.
TrainingJob with_own_prices_scaled(const Scenario& scenario, double factor) {
  TrainingJob job = scenario.job;
  const bool rental = job.costs.mode == CostMode::rental;
  if (!scenario.catalog_prices.chip) (rental ? job.costs.usd_per_chip_hour : job.costs.chip_capex_usd) *= factor;
  for (std::size_t g = 0; g < job.cluster.stage_chips.size(); ++g) {
    const bool from_catalog = g < scenario.catalog_prices.stage_groups.size() && scenario.catalog_prices.stage_groups[g];
    auto& group = job.cluster.stage_chips[g];
    if (!from_catalog) (rental ? group.usd_per_chip_hour : group.chip_capex_usd) *= factor;
  }
  return job;
}

bool gives_own_price(const Scenario& scenario) {
  if (!scenario.catalog_prices.chip) return true;
  const auto& groups = scenario.catalog_prices.stage_groups;
  return std::any_of(groups.begin(), groups.end(), [](bool from_catalog) { return !from_catalog; });
}

// The assumptions with every kernel efficiency of the chip families in `job` times `factor` (at most 1).
Assumptions kernels_scaled(const Assumptions& base, const TrainingJob& job, double factor) {
  Assumptions a = base;
  std::set<std::string> families{job.cluster.chip.family};
  for (const auto& group : job.cluster.stage_chips) families.insert(group.chip.family);
  for (const auto& family : families) {
    KernelEfficiency k = base.kernel(family);
    for (double* efficiency : {&k.gemm_bf16, &k.gemm_fp8, &k.attention_forward, &k.attention_backward, &k.memory_bound}) {
      *efficiency = std::min(1.0, *efficiency * factor);
    }
    a.kernels[family] = k;
  }
  return a;
}

}  // namespace

double Sensitivity::swing() const {
  return std::max({std::fabs(days_ratio_low - 1), std::fabs(days_ratio_high - 1), std::fabs(cost_ratio_low - 1),
                   std::fabs(cost_ratio_high - 1)});
}

bool is_sweep_file(const std::filesystem::path& file) {
  const auto json = read_json_file(file);
  return json.is_object() && json.contains("base") && json.contains("axes");
}

std::vector<Sensitivity> sensitivities(const Scenario& scenario, const TrainingEstimate& tier1,
                                       const PredictionIntervals& intervals, double price_swing,
                                       const Catalogs& catalogs) {
  std::vector<Sensitivity> out;
  // The catalog ranges: prediction_intervals has run tier 1 at both ends of each already.
  for (const auto& i : intervals.inputs) {
    Sensitivity s;
    s.input = fmt::format("{} ({:g} to {:g} {})", i.name, i.low, i.high, i.unit);
    s.days_ratio_low = i.step_ratio_low;  // the run's days are its steps times the step time
    s.days_ratio_high = i.step_ratio_high;
    s.cost_ratio_low = i.cost_ratio_low;
    s.cost_ratio_high = i.cost_ratio_high;
    out.push_back(s);
  }
  if (gives_own_price(scenario) && price_swing > 0) {
    const auto low = tier1_of(with_own_prices_scaled(scenario, 1 - price_swing), catalogs.assumptions, tier1);
    const auto high = tier1_of(with_own_prices_scaled(scenario, 1 + price_swing), catalogs.assumptions, tier1);
    const bool rental = scenario.job.costs.mode == CostMode::rental;
    out.push_back(ratios(fmt::format("{} (-{:g} % to +{:g} %)", rental ? "price per chip-hour" : "chip price",
                                     100 * price_swing, 100 * price_swing),
                         tier1, low, high));
  }
  if (intervals.model_log_sigma > 0) {
    // The model's own spread, put on the kernels: how far the efficiencies would have to move to explain an error of
    // one sigma.
    const double factor = std::exp(intervals.model_log_sigma);
    const auto low = tier1_of(scenario.job, kernels_scaled(catalogs.assumptions, scenario.job, 1 / factor), tier1);
    const auto high = tier1_of(scenario.job, kernels_scaled(catalogs.assumptions, scenario.job, factor), tier1);
    out.push_back(ratios(fmt::format("kernel efficiency (x{:.2f} to x{:.2f})", 1 / factor, factor),
                         tier1, low, high));
  }
  std::stable_sort(out.begin(), out.end(), [](const Sensitivity& a, const Sensitivity& b) { return a.swing() > b.swing(); });
  return out;
}

double chips_for_deadline(const ScenarioResult& result, double deadline_days) {
  const auto& cluster = result.scenario.job.cluster;
  const double per_node = std::max(1, cluster.node.chip_count());
  const double chips = cluster.chips * result.result.estimate.train_days / deadline_days;
  return std::ceil(chips / per_node) * per_node;
}

ScenarioResult scenario_result(Scenario scenario, SimResult result, const Catalogs& catalogs, double price_swing) {
  ScenarioResult r;
  r.tier1 = result.tier == Tier::analytical ? result.estimate : run_scenario(scenario, catalogs);
  r.intervals = prediction_intervals(scenario, result.estimate, result.tier, catalogs, whole_run_of(result));
  r.sensitivities = sensitivities(scenario, r.tier1, r.intervals, price_swing, catalogs);
  r.assumptions = result_to_json(scenario, r.tier1, catalogs).at("assumptions");
  r.result = std::move(result);
  r.scenario = std::move(scenario);
  return r;
}

std::vector<Chip> chips_used(const std::vector<ScenarioResult>& scenarios) {
  std::vector<Chip> chips;
  const auto use = [&chips](const Chip& chip) {
    const bool seen = std::any_of(chips.begin(), chips.end(), [&chip](const Chip& c) { return c.id == chip.id; });
    if (!seen) chips.push_back(chip);
  };
  for (const auto& r : scenarios) {
    use(r.scenario.job.cluster.chip);
    for (const auto& group : r.scenario.job.cluster.stage_chips) use(group.chip);
  }
  return chips;
}

ReportData compute_report(const std::vector<std::string>& files, const std::string& claims_dir,
                          const Catalogs& catalogs, const ReportOptions& options) {
  ReportData data;
  data.tier = options.tier;
  data.price_swing = options.price_swing;
  data.deadlines_days = options.deadlines_days;
  data.title = options.title;
  data.catalog_version = catalogs.hardware.version;
  // Every file is read and checked before anything runs.
  std::vector<Problem> problems;
  std::vector<Scenario> scenarios;
  std::vector<Sweep> sweeps;
  for (const auto& file : files) {
    try {
      if (is_sweep_file(file)) {
        sweeps.push_back(load_sweep(file, catalogs));
      } else {
        scenarios.push_back(load_scenario(file, catalogs));
      }
    } catch (const InputError& error) {
      problems.insert(problems.end(), error.problems().begin(), error.problems().end());
    }
  }
  std::vector<Claim> claims;
  if (!claims_dir.empty()) {
    try {
      claims = load_claims(claims_dir, catalogs);
    } catch (const InputError& error) {
      problems.insert(problems.end(), error.problems().begin(), error.problems().end());
    }
  }
  throw_if_any(problems);

  SimOptions sim;
  sim.tier = options.tier;
  for (auto& scenario : scenarios) {
    if (scenario.serving) {
      // A deployment: served at tier 1 (steady state) or request by request (the discrete-event tiers).
      say(options, fmt::format("serving {} ({})", scenario.name, to_string(options.tier)));
      const ServingJob job = serving_job(scenario);
      ServingReport serving;
      try {
        serving.result = options.tier == Tier::analytical
                             ? estimate_serving(job, build_topology(topology_spec(job.cluster)), catalogs.assumptions)
                             : simulate_serving(job, catalogs.assumptions);
      } catch (const ModelError& error) {
        throw InputError(scenario.file, "", error.what());
      }
      serving.scenario = std::move(scenario);
      data.serving.push_back(std::move(serving));
      continue;
    }
    say(options, fmt::format("simulating {} ({})", scenario.name, to_string(options.tier)));
    const std::string file = scenario.file;  // the scenario moves into its result
    try {
      auto result = simulate_scenario(scenario, catalogs, sim);
      data.scenarios.push_back(scenario_result(std::move(scenario), std::move(result), catalogs, options.price_swing));
    } catch (const ModelError& error) {
      throw InputError(file, "", error.what());
    }
  }
  // Each served model's throughput-interactivity curve on the chip types its deployments use (tier 1).
  for (const auto& served : data.serving) {
    const auto& model = served.scenario.model_ref;
    auto curve = std::find_if(data.serving_curves.begin(), data.serving_curves.end(),
                              [&](const ServingCurve& c) { return c.model == model; });
    if (curve == data.serving_curves.end()) {
      data.serving_curves.push_back(ServingCurve{.model = model, .scenario = served.scenario.name, .chips = {}, .fronts = {}});
      curve = std::prev(data.serving_curves.end());
    }
    const auto& chip = served.scenario.job.cluster.chip.id;
    if (std::find(curve->chips.begin(), curve->chips.end(), chip) == curve->chips.end()) curve->chips.push_back(chip);
  }
  for (auto& curve : data.serving_curves) {
    const auto& first = *std::find_if(data.serving.begin(), data.serving.end(),
                                      [&](const ServingReport& r) { return r.scenario.model_ref == curve.model; });
    say(options, fmt::format("serving curve of {} on {}", curve.model, fmt::join(curve.chips, ", ")));
    try {
      curve.fronts = search_serving(first.scenario, curve.chips, catalogs).fronts;
    } catch (const ModelError& error) {
      throw InputError(first.scenario.file, "", error.what());
    }
  }
  for (auto& sweep : sweeps) {
    // Sweeps run at tier 1 whatever their file says: a report shows many points, and tier 1 takes microseconds.
    sweep.tier = Tier::analytical;
    say(options, fmt::format("sweeping {} ({} points, tier 1)", sweep.file, sweep.size()));
    SweepResult s;
    for (std::size_t index = 0; index < sweep.size(); ++index) s.rows.push_back(evaluate_sweep_point(sweep, index, catalogs));
    s.sweep = std::move(sweep);
    data.sweeps.push_back(std::move(s));
  }
  for (const auto& claim : claims) {
    say(options, fmt::format("checking claim: {}", claim.claim));
    data.claims.push_back(evaluate_claim(claim, catalogs, options.tier));
  }
  const auto use = [&data](const Chip& chip) {
    const bool seen = std::any_of(data.chips_used.begin(), data.chips_used.end(),
                                  [&chip](const Chip& c) { return c.id == chip.id; });
    if (!seen) data.chips_used.push_back(chip);
  };
  const auto use_job = [&use](const TrainingJob& job) {
    use(job.cluster.chip);
    for (const auto& group : job.cluster.stage_chips) use(group.chip);
  };
  for (const auto& r : data.scenarios) use_job(r.scenario.job);
  for (const auto& r : data.serving) use_job(r.scenario.job);
  for (const auto& s : data.sweeps) {
    for (std::size_t index = 0; index < s.sweep.size(); ++index) {
      const auto point = s.sweep.point_json(index);
      const nlohmann::json::json_pointer chip_path("/cluster/chip");
      if (!point.contains(chip_path) || !point.at(chip_path).is_string()) continue;
      if (const auto* found = catalogs.hardware.find_chip(point.at(chip_path).get<std::string>())) use(*found);
    }
  }
  for (const auto& claim : data.claims) {
    for (const auto& check : claim.claim.checks) {
      for (const auto& scenario : check.scenarios) use_job(scenario.job);
    }
  }
  return data;
}

}  // namespace flopcast::report
