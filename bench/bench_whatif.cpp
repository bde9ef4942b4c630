// The desktop app's what-if: what one edit costs, per step, for each shipped training scenario. The GUI runs it on a
// worker thread (gui/src/runner.hpp), so the window never waits; the target is 50 ms from the edit to the result.
//   parse      parse_scenario (the scenario JSON as edited)
//   tier 1     simulate_scenario at Tier::analytical, without the whole run (the GUI's first pass)
//   intervals  report::scenario_result: p10-p90 (Monte Carlo), sensitivities, assumptions
//   total      the three: what an edit waits for
//   whole run  tier 1 with a failures section's whole-run Monte Carlo (the GUI's second pass; "-" without one)
// Prints milliseconds; the best of five runs of each.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <string>

#include "flopcast/core/files.hpp"
#include "flopcast/reports/report.hpp"

using Clock = std::chrono::steady_clock;

namespace {
double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}
}  // namespace

int main() {
  using namespace flopcast;
  const auto catalogs = load_catalogs();
  const auto files = json_files_in(FLOPCAST_SOURCE_ROOT "/scenarios/shipped", "shipped scenarios");
  std::printf("%-36s %9s %9s %12s %9s %13s\n", "scenario", "parse ms", "tier1 ms", "intervals ms", "total ms",
              "whole run ms");
  for (const auto& file : files) {
    const auto json = read_json_file(file);
    constexpr double kNone = std::numeric_limits<double>::infinity();
    double best[4] = {kNone, kNone, kNone, kNone};
    for (int run = 0; run < 5; ++run) {
      auto start = Clock::now();
      Scenario scenario = parse_scenario(json, file.filename().string(), file.parent_path(), catalogs);
      best[0] = std::min(best[0], ms_since(start));
      start = Clock::now();
      SimOptions options;
      options.tier = Tier::analytical;
      options.whole_run = false;
      SimResult result = simulate_scenario(scenario, catalogs, options);
      best[1] = std::min(best[1], ms_since(start));
      if (scenario.failures) {
        start = Clock::now();
        options.whole_run = true;
        simulate_scenario(scenario, catalogs, options);
        best[3] = std::min(best[3], ms_since(start));
      }
      start = Clock::now();
      const auto r = report::scenario_result(std::move(scenario), std::move(result), catalogs, 0.25);
      best[2] = std::min(best[2], ms_since(start));
    }
    const std::string whole_run = best[3] < kNone ? std::to_string(static_cast<long>(best[3])) : "-";
    std::printf("%-36s %9.2f %9.2f %12.2f %9.2f %13s\n", file.filename().string().c_str(), best[0], best[1], best[2],
                best[0] + best[1] + best[2], whole_run.c_str());
  }
  return 0;
}
