// flopcast plan: the best parallel plans for a scenario's model, cluster and batch.

#include <fmt/format.h>
#include <fmt/ostream.h>

#include "commands.hpp"
#include "flopcast/core/errors.hpp"
#include "flopcast/scenarios/planner.hpp"
#include "format.hpp"

namespace flopcast::cli {

namespace {

nlohmann::json plan_json(const ParallelPlan& p) {
  return {{"tp", p.tp},   {"pp", p.pp},     {"dp", p.dp},     {"ep", p.ep},
          {"cp", p.cp},   {"vpp", p.vpp},   {"sp", p.sp},     {"zero", p.zero},
          {"micro_batch", p.micro_batch},   {"recompute", std::string(to_string(p.recompute))},
          {"schedule", std::string(to_string(p.schedule))}};
}

nlohmann::json candidate_json(const PlanCandidate& c) {
  const auto& e = c.estimate;
  return {{"parallelism", plan_json(c.plan)},
          {"tier", std::string(to_string(c.tier))},
          {"step_time_s", e.step_time_s},
          {"tier1_step_time_s", c.tier1_step_time_s},
          {"tokens_per_s_per_chip", e.tokens_per_s_per_chip},
          {"mfu", e.mfu},
          {"memory_per_chip_bytes", e.memory.total_bytes},
          {"fits_memory", e.memory.fits},
          {"train_days", e.train_days},
          {"cost_usd", e.energy_cost.cost_usd}};
}

}  // namespace

int plan_scenario(const PlanOptions& options, const Catalogs& catalogs, std::ostream& out) {
  const auto scenario = load_scenario(options.file, catalogs);
  if (!scenario.job.cluster.stage_chips.empty()) {
    throw InputError(scenario.file, "/cluster/stage_chips",
                     "the plan search does not cover mixed fleets yet (their stage groups are tied to one pp)");
  }
  PlanSearchOptions search;
  search.top_k = options.top_k;
  search.rerank_tier = options.tier;
  const auto result = search_plans(scenario, catalogs, search);
  if (options.json) {
    nlohmann::json j = {{"name", scenario.name},
                        {"file", scenario.file},
                        {"enumerated", result.enumerated},
                        {"out_of_memory", result.out_of_memory},
                        {"invalid", result.invalid},
                        {"evaluated", result.evaluated},
                        {"tier1_wall_s", result.tier1_wall_s},
                        {"rerank_wall_s", result.rerank_wall_s},
                        {"best", nlohmann::json::array()}};
    for (const auto& c : result.best) j["best"].push_back(candidate_json(c));
    if (result.given) j["scenario_plan"] = candidate_json(*result.given);
    out << j.dump(2) << '\n';
    return 0;
  }
  const auto& job = scenario.job;
  fmt::print(out, "Plan search: {}  ({})\n", scenario.name, scenario.file);
  fmt::print(out, "  job          {} on {} x {} in {}-chip nodes; {} sequences of {} tokens per step, {}\n",
             job.model.name, job.cluster.chips, job.cluster.chip.id, job.cluster.node.chip_count(),
             job.training.global_batch, job.training.seq_len, to_string(job.training.precision));
  const double rate = result.tier1_wall_s > 0 ? static_cast<double>(result.enumerated) / result.tier1_wall_s : 0.0;
  fmt::print(out, "  space        {} plans: {} out of memory, {} not runnable, {} estimated (tier 1) in {:.3f} s "
                  "({:.0f} plans/s)\n",
             result.enumerated, result.out_of_memory, result.invalid, result.evaluated, result.tier1_wall_s, rate);
  if (result.best.empty()) {
    fmt::print(out, "  no plan fits in memory and divides this cluster and batch\n");
    return 0;
  }
  if (options.tier != Tier::analytical) {
    fmt::print(out, "  re-ranked    the best {} at {} in {:.2f} s\n", result.best.size(), to_string(options.tier),
               result.rerank_wall_s);
  }
  fmt::print(out, "\n  {:>4} {:>11} {:>11} {:>14} {:>7} {:>12}  {}\n", "rank", "step time", "tier 1", "tokens/s/chip",
             "MFU", "memory/chip", "plan");
  const auto row = [&](const std::string& label, const PlanCandidate& c) {
    fmt::print(out, "  {:>4} {:>11} {:>11} {:>14} {:>7} {:>12}  {}\n", label, seconds(c.estimate.step_time_s),
               seconds(c.tier1_step_time_s), count(c.estimate.tokens_per_s_per_chip), percent(c.estimate.mfu),
               bytes(c.estimate.memory.total_bytes), plan_summary(c.plan));
  };
  for (std::size_t i = 0; i < result.best.size(); ++i) row(fmt::format("{}", i + 1), result.best[i]);
  if (result.given) {
    row("file", *result.given);
    const double gain = result.given->estimate.step_time_s / result.best.front().estimate.step_time_s;
    fmt::print(out, "\n  the scenario's own plan (\"file\") {}; the best is {:.2f}x its throughput{}\n",
               result.given->estimate.memory.fits ? "fits in memory" : "does NOT fit in memory", gain,
               gain < 1.0 ? " (the file's plan is outside the searched space)" : "");
  }
  return 0;
}

}  // namespace flopcast::cli
