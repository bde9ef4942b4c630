// Times the plan search on issue 7's targets: tier 1 over the whole plan space at >= 100,000 candidate plans per
// second on one core, and the planner for DeepSeek-V3 on 2,048 chips end to end (tier 1 search, then the best 5
// re-ranked at tier 2) in at most 10 s. A candidate is either pruned by the memory model or estimated at tier 1 with
// the pipeline bubble left out (a lower bound); the plans whose bound can still rank are estimated again with the
// schedule walked. Best of three after a warm-up.
//
// Usage: bench_planner [repo root]   (default: the source tree this was built from). Pin it: taskset -c 0.

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "flopcast/studies/planner.hpp"

int main(int argc, char** argv) {
  using namespace flopcast;
  const std::filesystem::path root = argc > 1 ? argv[1] : FLOPCAST_SOURCE_ROOT;
  const auto catalogs = load_catalogs(root);
  fmt::print("{:<34} {:>8} {:>8} {:>9} {:>9} {:>10} {:>13}\n", "scenario (tier 1 search)", "plans", "fit",
             "walked", "time", "plans/s", "estimates/s");
  for (const char* name : {"deepseek-v3-h800", "deepseek-v3-ascend-910c", "pangu-ultra-moe-718b-910b",
                           "llama3-405b-h100", "dense-360b-910b"}) {
    const auto scenario = load_scenario(root / "scenarios" / "shipped" / fmt::format("{}.json", name), catalogs);
    PlanSearchOptions options;
    options.rerank_tier = Tier::analytical;
    options.compare_given = false;
    PlanSearchResult result = search_plans(scenario, catalogs, options);  // warm-up
    double best_s = result.tier1_wall_s;
    for (int run = 0; run < 3; ++run) {
      result = search_plans(scenario, catalogs, options);
      best_s = std::min(best_s, result.tier1_wall_s);
    }
    fmt::print("{:<34} {:>8} {:>8} {:>9} {:>7.1f} ms {:>10.0f} {:>13.0f}\n", name, result.enumerated,
               result.evaluated, result.pipelines_walked, 1e3 * best_s,
               static_cast<double>(result.enumerated) / best_s, static_cast<double>(result.evaluated) / best_s);
  }
  const auto deepseek = load_scenario(root / "scenarios" / "shipped" / "deepseek-v3-h800.json", catalogs);
  const auto start = std::chrono::steady_clock::now();
  const auto result = search_plans(deepseek, catalogs, PlanSearchOptions{});
  const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("\nDeepSeek-V3 on {} H800, end to end (tier 1 search, best {} re-ranked at tier 2, the file's plan too): "
             "{:.2f} s (target 10 s): search {:.3f} s, re-rank {:.2f} s\n",
             deepseek.job.cluster.chips, result.best.size(), total_s, result.tier1_wall_s, result.rerank_wall_s);
  return 0;
}
