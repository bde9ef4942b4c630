// Times tier 1 (the analytical estimator) on scenarios: the full call, the topology graph it builds inside, the call
// with the topology given, and the p10-p90 interval that every result carries.

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "flopcast/scenarios/scenario.hpp"
#include "flopcast/scenarios/uncertainty.hpp"

#include "bench_main.hpp"

namespace {

template <class F>
double seconds_per_call(F&& call, int min_calls, double min_seconds) {
  using Clock = std::chrono::steady_clock;
  int calls = 0;
  const auto start = Clock::now();
  double elapsed = 0;
  while (calls < min_calls || elapsed < min_seconds) {
    call();
    ++calls;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  return elapsed / calls;
}

int run(int argc, char** argv) {
  using namespace flopcast;
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) files.emplace_back(argv[i]);
  if (files.empty()) {
    for (const auto& entry : std::filesystem::directory_iterator(data_root() / "scenarios" / "shipped")) {
      if (entry.path().extension() == ".json") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
  }
  const auto catalogs = load_catalogs();
  fmt::print("{:<34} {:>7} {:>14} {:>14} {:>18} {:>14}\n", "scenario", "chips", "estimate", "topology only",
             "given topology", "p10-p90");
  for (const auto& file : files) {
    const auto scenario = load_scenario(file, catalogs);
    const auto& c = scenario.job.cluster;
    const double total = seconds_per_call([&] { (void)run_scenario(scenario, catalogs); }, 5, 0.5);
    const double topology = seconds_per_call([&] { (void)build_topology(topology_spec(c)); }, 5, 0.5);
    // What a calibration or an uncertainty pass pays per re-estimate: the topology is built once per cluster.
    const auto built = build_topology(topology_spec(c));
    EstimateOptions options;
    options.topology = &built;
    const double given = seconds_per_call(
        [&] { (void)estimate_training(scenario.job, catalogs.assumptions, options); }, 5, 0.5);
    // The prediction interval of every result: tier 1 at each end of each ranged input, then the Monte Carlo draw.
    const auto estimate = run_scenario(scenario, catalogs);
    const double intervals = seconds_per_call(
        [&] { (void)prediction_intervals(scenario, estimate, Tier::analytical, catalogs); }, 3, 0.5);
    fmt::print("{:<34} {:>7} {:>11.1f} us {:>11.1f} us {:>15.1f} us {:>11.1f} ms\n", file.stem().string(), c.chips,
               total * 1e6, topology * 1e6, given * 1e6, intervals * 1e3);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  constexpr const char* kUsage =
      "Usage: bench_estimator [scenario.json ...]   (default: every scenario in scenarios/shipped)";
  return bench_main(argc, argv, kUsage, [&] { return run(argc, argv); });
}
