// The serving simulation's performance target: 10,000 requests through a 16-chip deployment in at most 2 s of
// wall time on one core (issue 6). Two deployments: DeepSeek-V3 on 16 H800 (one instance, DP attention and EP 16,
// MTP, two-batch overlap) and Llama-3-70B on 16 H100 (two tp-8 instances), each under a Poisson load near
// capacity. Best of three; prints requests, engine steps and the rates, with units. Asserts nothing.
//
//   taskset -c 0 ./build/release/bench/bench_serve [REPO_ROOT]

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "flopcast/scenarios/scenario.hpp"
#include "flopcast/sim/serve_sim.hpp"

#include "bench_main.hpp"

namespace {

int run(int argc, char** argv) {
  using namespace flopcast;
  const std::filesystem::path root = argc > 1 ? argv[1] : FLOPCAST_SOURCE_ROOT;
  const auto catalogs = load_catalogs(root);
  const nlohmann::json moe = {
      {"name", "DeepSeek-V3, 16 H800"},
      {"model", "deepseek-v3"},
      {"cluster", {{"chip", "h800-sxm"}, {"chips", 16}}},
      {"serving",
       {{"weights", "fp8"},
        {"plan", {{"tp", 1}, {"dp_attention", 16}, {"ep", 16}}},
        {"batching", {{"max_batch_tokens", 4096}, {"max_running", 64}, {"prefill_chunk_tokens", 2048}}},
        {"workload", {{"arrival", "poisson"}, {"rate_per_s", 12}, {"requests", 10000}, {"input_tokens", 2000},
                      {"output_tokens", 500}, {"lengths", "exponential"}}},
        {"mtp", {{"draft_tokens", 1}, {"acceptance_rate", 0.85}}},
        {"two_batch_overlap", true}}}};
  const nlohmann::json dense = {
      {"name", "Llama-3-70B, 16 H100"},
      {"model", "llama3-70b"},
      {"cluster", {{"chip", "h100-sxm"}, {"chips", 16}}},
      {"serving",
       {{"weights", "fp8"},
        {"plan", {{"tp", 8}}},
        {"batching", {{"max_batch_tokens", 8192}, {"max_running", 256}}},
        {"workload", {{"arrival", "poisson"}, {"rate_per_s", 30}, {"requests", 10000}, {"input_tokens", 2000},
                      {"output_tokens", 500}, {"lengths", "exponential"}}}}}};
  for (const auto* json : {&moe, &dense}) {
    const auto scenario = parse_scenario(*json, "bench", root, catalogs);
    const auto job = serving_job(scenario);
    double best = 1e30;
    ServingResult result;
    for (int run = 0; run < 3; ++run) {
      result = simulate_serving(job, catalogs.assumptions);
      best = std::min(best, result.wall_s);
    }
    std::printf("%-22s %ld requests, %ld engine steps: %.3f s wall (target 2 s), %.0f requests/s, %.0f steps/s; "
                "simulated %.0f s, %.0f output tokens/s\n",
                scenario.name.c_str(), result.requests, result.simulated_steps, best, result.requests / best,
                result.simulated_steps / best, result.duration_s, result.output_tokens_per_s);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  constexpr const char* kUsage =
      "Usage: bench_serve [repo root]   (default: the source tree this was built from). Pin it: taskset -c 0.";
  return bench_main(argc, argv, kUsage, [&] { return run(argc, argv); });
}
