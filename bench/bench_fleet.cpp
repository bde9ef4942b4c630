// Times fleet planning on issue 12's target: a fleet of 50,000 chips (10,000 H100, 10,000 H800, 30,000 H20 at one
// 100 MW site), 200 jobs (150 training runs of Llama-3-70B on 1,024 chips and Llama-3-8B on 256, 50 serving
// demands of DeepSeek-V3 and Llama-3.1-405B), one simulated year, in at most 5 s on one core. Two timings: the
// first run (sizing every job on every pool it may use with the planner and the serving search, then the event
// loop), and a run with the sizes cached (the event loop alone, what a what-if on the schedule costs).
//
// Usage: bench_fleet [repo root]   (default: the source tree this was built from). Pin it: taskset -c 0.

#include <fmt/format.h>

#include <chrono>
#include <functional>

#include "flopcast/studies/fleet.hpp"

#include "bench_main.hpp"

namespace {

using namespace flopcast;

double seconds_of(const std::function<void()>& work) {
  const auto start = std::chrono::steady_clock::now();
  work();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

nlohmann::json portfolio() {
  nlohmann::json training = nlohmann::json::array();
  nlohmann::json serving = nlohmann::json::array();
  // Arrivals spread over the year (every 2.4 days), priorities cycling 0-2: a queue that builds and drains.
  for (int i = 0; i < 150; ++i) {
    const bool big = i % 3 != 2;
    training.push_back({{"name", fmt::format("train {}", i)},
                        {"scenario", big ? "claims/scenarios/llama3-70b-h100-1024.json"
                                         : "validation/mbridge2511-h100-llama3-8B-8gpu.json"},
                        {"chips", big ? 1024 : 256},
                        {"tokens", big ? 2e12 : 5e11},
                        {"arrival_days", i * 2.4},
                        {"priority", i % 3},
                        {"pools", {"h800", "h100", "h20"}}});
  }
  for (int i = 0; i < 50; ++i) {
    serving.push_back({{"name", fmt::format("serve {}", i)},
                       {"scenario", i % 2 == 0 ? "serving/deepseek-v3-h20.json" : "serving/llama3-405b-h100.json"},
                       {"tokens_per_day", i % 2 == 0 ? 2e9 : 2e8},
                       {"arrival_days", i * 7.0},
                       {"duration_days", 60},
                       {"priority", 3},
                       {"pools", {"h20", "h100", "h800"}}});
  }
  return {{"training", training}, {"serving", serving}};
}

int run(int argc, char** argv) {
  const std::string root = argc > 1 ? argv[1] : FLOPCAST_SOURCE_ROOT;
  const auto catalogs = load_catalogs(root);
  nlohmann::json json = portfolio();
  json["name"] = "bench: 50,000 chips, 200 jobs, one year";
  json["sites"] = {{{"id", "site"}, {"power_mw", 100}, {"pue", 1.3}}};
  json["pools"] = {{{"id", "h800"}, {"site", "site"}, {"chip", "h800-sxm"}, {"chips", 10000}},
                   {{"id", "h100"}, {"site", "site"}, {"chip", "h100-sxm"}, {"chips", 10000}},
                   {{"id", "h20"}, {"site", "site"}, {"chip", "h20"}, {"chips", 30000}}};
  FleetSpec spec;
  const double parse_s = seconds_of([&] { spec = parse_fleet(json, "bench", root + "/scenarios", catalogs); });
  std::map<std::string, JobSizing> cache;
  FleetOptions options;
  options.cache = &cache;
  FleetResult result;
  const double first_s = seconds_of([&] { result = simulate_fleet(spec, catalogs, options); });
  const double first_sizing_s = result.sizing_wall_s;
  const double first_loop_s = result.simulation_wall_s;
  double cached_s = 1e300;
  for (int i = 0; i < 3; ++i)
    cached_s = std::min(cached_s, seconds_of([&] { result = simulate_fleet(spec, catalogs, options); }));
  int unscheduled = 0;
  for (const auto& j : result.jobs) unscheduled += j.status == FleetJobStatus::unscheduled;
  fmt::print("{:<52} {:>8.3f} s wall (parse and load the job scenarios)\n", "parse the fleet", parse_s);
  fmt::print("{:<52} {:>8.3f} s wall (target 5.0 s, {}): sizing {:.3f} s ({} distinct sizes), event loop {:.4f} s\n",
             "50,000 chips, 200 jobs, one year (first run)", first_s, first_s + parse_s <= 5.0 ? "met" : "MISSED",
             first_sizing_s, cache.size(), first_loop_s);
  fmt::print("{:<52} {:>8.4f} s wall, best of three ({} events)\n", "the same with the sizes cached", cached_s,
             result.events);
  fmt::print("{:<52} {} training runs finished, {} unscheduled, {:.3g} model FLOP, {:.3g} FLOP/s-years\n", "",
             result.jobs_finished, unscheduled, result.flop, result.flop_per_s_years);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  constexpr const char* kUsage =
      "Usage: bench_fleet [repo root]   (default: the source tree this was built from). Pin it: taskset -c 0.";
  return bench_main(argc, argv, kUsage, [&] { return run(argc, argv); });
}
