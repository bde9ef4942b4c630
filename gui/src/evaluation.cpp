#include "evaluation.hpp"

#include <chrono>

#include "flopcast/models/serving.hpp"
#include "flopcast/studies/serving_search.hpp"
#include "flopcast/sim/serve_sim.hpp"

namespace flopcast::gui {

Evaluation evaluate_scenario(const nlohmann::json& json, const std::string& label,
                             const std::filesystem::path& base_dir, const Catalogs& catalogs, Tier tier,
                             const std::atomic<bool>* cancel, bool whole_run,
                             const std::function<void(double)>& progress) {
  const auto start = std::chrono::steady_clock::now();
  Scenario scenario = parse_scenario(json, label, base_dir, catalogs);
  Evaluation evaluation;
  evaluation.tier = tier;
  if (scenario.serving) {
    auto serving = std::make_shared<report::ServingReport>();
    try {
      const ServingJob job = serving_job(scenario);
      serving->result = tier == Tier::analytical
                            ? estimate_serving(job, build_topology(topology_spec(job.cluster)), catalogs.assumptions)
                            : simulate_serving(job, catalogs.assumptions, cancel, progress);
    } catch (const ModelError& error) {
      throw InputError(label, "", error.what());
    }
    // The curve is a tier-1 search: made with the tier-1 evaluation of every edit, not again when simulated.
    if (tier == Tier::analytical) {
      auto curve = std::make_shared<report::ServingCurve>();
      curve->model = scenario.model_ref;
      curve->scenario = scenario.name;
      curve->chips = {scenario.job.cluster.chip.id};
      try {
        curve->fronts = search_serving(scenario, {}, catalogs).fronts;
      } catch (const ModelError&) {
        curve->fronts.clear();  // no plan of the search fits: the deployment's own figures still show
      }
      evaluation.serving_curve = std::move(curve);
    }
    evaluation.result.scenario = scenario;  // its name and inputs, for the list and the input diff
    serving->scenario = std::move(scenario);
    evaluation.serving = std::move(serving);
    evaluation.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return evaluation;
  }
  SimOptions options;
  options.tier = tier;
  options.record_trace = tier != Tier::analytical;
  options.cancel = cancel;
  options.whole_run = whole_run;
  options.progress = progress;
  try {
    SimResult result = simulate_scenario(scenario, catalogs, options);
    evaluation.result =
        report::scenario_result(std::move(scenario), std::move(result), catalogs, report::ReportOptions{}.price_swing);
  } catch (const ModelError& error) {
    // The scenario is valid JSON but the model cannot evaluate it (an indivisible plan): shown for the whole file.
    throw InputError(label, "", error.what());
  }
  evaluation.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return evaluation;
}

report::ReportData report_data(const std::vector<report::ScenarioResult>& results, const Catalogs& catalogs,
                               bool all_catalog_chips, std::vector<report::ServingReport> serving, Tier serving_tier) {
  report::ReportData data;
  const report::ReportOptions defaults;
  data.scenarios = results;
  data.serving = std::move(serving);
  data.tier = results.empty() ? serving_tier : results.front().result.tier;
  for (const auto& r : results) {
    if (r.result.tier != Tier::analytical) data.tier = r.result.tier;
  }
  data.price_swing = defaults.price_swing;
  data.deadlines_days = defaults.deadlines_days;
  data.title = defaults.title;
  data.catalog_version = catalogs.hardware.version;
  data.chips_used = all_catalog_chips ? catalogs.hardware.chips : report::chips_used(results);
  return data;
}

}  // namespace flopcast::gui
