#include "evaluation.hpp"

#include <chrono>

namespace flopcast::gui {

Evaluation evaluate_scenario(const nlohmann::json& json, const std::string& label,
                             const std::filesystem::path& base_dir, const Catalogs& catalogs, Tier tier,
                             const std::atomic<bool>* cancel, bool whole_run) {
  const auto start = std::chrono::steady_clock::now();
  Scenario scenario = parse_scenario(json, label, base_dir, catalogs);
  if (scenario.serving) {
    throw InputError(label, "/serving",
                     "a serving deployment: the desktop app shows training scenarios (use flopcast serve)");
  }
  SimOptions options;
  options.tier = tier;
  options.record_trace = tier != Tier::analytical;
  options.cancel = cancel;
  options.whole_run = whole_run;
  Evaluation evaluation;
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
                               bool all_catalog_chips) {
  report::ReportData data;
  const report::ReportOptions defaults;
  data.scenarios = results;
  data.tier = results.empty() ? Tier::analytical : results.front().result.tier;
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
