// Times the whole-run Monte Carlo (sim/whole_run.hpp) on the target: 10,000 runs of a 60-day run on 16,000
// chips (2,000 8-chip nodes) at the shipped failure rates (models/data/failures.json, about 470 failures a run),
// checkpoints at the Young/Daly interval, in at most 10 s on one core. Then the full interval search of
// `flopcast run` (17 to 18 intervals x 1,000 runs). Best of three after a warm-up.
//
// Usage: bench_whole_run [repo root]   (default: the source tree this was built from)

#include <chrono>
#include <functional>

#include <fmt/format.h>

#include "flopcast/scenarios/scenario.hpp"
#include "flopcast/sim/whole_run.hpp"

#include "bench_main.hpp"

namespace {

using namespace flopcast;

double best_of_three(const std::function<void()>& work) {
  work();
  double best = 1e300;
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    work();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

int run(int argc, char** argv) {
  const std::string root = argc > 1 ? argv[1] : FLOPCAST_SOURCE_ROOT;
  const auto catalogs = load_catalogs(root);
  WholeRunSetup setup;
  setup.work_s = 60 * kSecondsPerDay;
  setup.step_time_s = 6.0;
  setup.chips = 16000;
  setup.failures = job_failure_rates(catalogs.failures, 16000, 2000);
  setup.checkpoint_bytes = checkpoint_bytes(405e9, catalogs.failures.checkpoint_bytes_per_param);
  setup.checkpoint_write_s = transfer_time_s(setup.checkpoint_bytes, catalogs.failures.storage_bytes_per_s);
  setup.checkpoint_load_s = setup.checkpoint_write_s;
  setup.restart_s = catalogs.failures.restart_s;
  setup.repair_s = catalogs.failures.repair_s;
  setup.hot_spare_nodes = 10;
  double rate_per_s = 0;
  for (const auto& f : setup.failures) rate_per_s += f.failures_per_s;
  const double interval_s = young_daly_interval_s(setup.checkpoint_write_s, 1.0 / rate_per_s);

  setup.draws = 10000;
  RunStatistics stats;
  const double runs_s = best_of_three([&] { stats = simulate_runs(setup, interval_s); });
  fmt::print("{:<58} {:>8.3f} s wall (target 10.0 s, {})  {:.0f} failures a run, {:.2f} M failure events/s\n",
             "10,000 runs, 60 days on 16,000 chips", runs_s, runs_s <= 10.0 ? "met" : "MISSED", stats.mean.failures,
             stats.mean.failures * setup.draws / runs_s / 1e6);
  fmt::print("{:<58} p10 / p50 / p90 {:.2f} / {:.2f} / {:.2f} days, checkpoint every {:.0f} s\n", "",
             stats.p10_wall_s / kSecondsPerDay, stats.p50_wall_s / kSecondsPerDay, stats.p90_wall_s / kSecondsPerDay,
             stats.interval_s);

  setup.draws = 1000;
  WholeRunResult result;
  const double search_s = best_of_three([&] { result = simulate_whole_run(setup); });
  fmt::print("{:<58} {:>8.3f} s wall  {} intervals; best {:.0f} s, Young/Daly {:.0f} s\n",
             "interval search + runs (flopcast run, 1,000 runs each)", search_s, result.search.size(),
             result.best_interval_s, result.young_daly_interval_s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  constexpr const char* kUsage =
      "Usage: bench_whole_run [repo root]   (default: the source tree this was built from)";
  return bench_main(argc, argv, kUsage, [&] { return run(argc, argv); });
}
