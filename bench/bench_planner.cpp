// Times the plan search on issue 24's targets: tier 1 over the whole plan space (every dimension of
// studies/planner.hpp free) at >= 100,000 candidate plans per second on one core, and the search for DeepSeek-V3 on
// 2,048 H800 and Llama 3.1 405B on 16,384 H100 end to end (tier 1, then the best 5, each schedule class's best that
// tier 2 could rank among them and the file's plan re-ranked at tier 2) in at most 2 s each. A candidate is dominated
// (without TP overlap, where its twin with it is never slower: tp_overlap_never_slower), known not to fit (a smaller
// micro-batch did not), pruned by the memory model, or estimated at tier 1 with a lower bound on the pipeline bubble;
// the plans whose bound can still rank are estimated again with the schedule walked. Best of three after a warm-up.
//
// Usage: bench_planner [repo root]   (default: the source tree this was built from). Pin it: taskset -c 0.

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "flopcast/studies/planner.hpp"

#include "bench_main.hpp"

namespace {

int run(int argc, char** argv) {
  using namespace flopcast;
  const std::filesystem::path root = argc > 1 ? argv[1] : FLOPCAST_SOURCE_ROOT;
  const auto catalogs = load_catalogs(root);
  fmt::print("{:<28} {:>9} {:>9} {:>9} {:>9} {:>7} {:>10} {:>10} {:>12}\n", "scenario (tier 1 search)", "plans",
             "dominated", "no fit", "estimated", "walked", "time", "plans/s", "estimates/s");
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
    fmt::print("{:<28} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7.0f} ms {:>10.0f} {:>12.0f}\n", name, result.enumerated,
               result.dominated, result.out_of_memory, result.evaluated, result.pipelines_walked, 1e3 * best_s,
               static_cast<double>(result.enumerated) / best_s, static_cast<double>(result.evaluated) / best_s);
  }
  fmt::print("\nEnd to end (tier 1 search; the best 5, each schedule's best that could rank and the file's plan "
             "re-ranked at tier 2; target 2 s):\n");
  // Each also with the precision searched (bf16 and fp8, the two these chips run; flopcast plan --precisions all):
  // the space doubles.
  for (const char* name : {"deepseek-v3-h800", "llama3-405b-h100"}) {
    const auto scenario = load_scenario(root / "scenarios" / "shipped" / fmt::format("{}.json", name), catalogs);
    for (const bool precisions : {false, true}) {
      PlanSearchOptions options;
      if (precisions) options.precisions = {Precision::bf16, Precision::fp8};
      const auto start = std::chrono::steady_clock::now();
      const auto result = search_plans(scenario, catalogs, options);
      const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      fmt::print("  {:<26} {:<17} {:.2f} s: search {:.3f} s ({} plans), re-rank {:.2f} s ({} plans at tier 2)\n",
                 name, precisions ? "bf16 and fp8" : "the file's precision", total_s, result.tier1_wall_s,
                 result.enumerated, result.rerank_wall_s, result.reranked + (result.given ? 1 : 0));
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  constexpr const char* kUsage =
      "Usage: bench_planner [repo root]   (default: the source tree this was built from). Pin it: taskset -c 0.";
  return bench_main(argc, argv, kUsage, [&] { return run(argc, argv); });
}
