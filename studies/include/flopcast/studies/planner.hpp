#pragma once
// The plan search: for a scenario's model, cluster and batch, every parallel plan (TP, PP, VPP and schedule, CP,
// DP, EP, SP, ZeRO stage, micro-batch, recompute) that divides the cluster and the model, pruned by memory, ranked
// by tier 1, and the best K re-ranked at a discrete-event tier.
//
// The space: tp a power of two up to the node's chips that divides the heads (and the KV heads); cp 1, 2, 4 or 8
// dividing the sequence; pp a power of two or a divisor of the layers, up to the layers; dp what is left; ep (MoE)
// a power of two dividing the experts and tp x cp x dp; 1F1B, interleaved (vpp 2, 4, 8 within the layers) and
// DualPipe (even pp, MoE); ZeRO 1, and 3 without pipelining; micro-batches of 1, 2 or 4 sequences; no, selective
// (only without FlashAttention, where it differs from none) or full recompute; SP whenever tp > 1. The scenario's own plan settings for overlap are kept.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "flopcast/scenarios/scenario.hpp"

namespace flopcast {

// One plan of the space as the search met it (PlanSearchOptions::each).
struct EvaluatedPlan {
  enum class Status { estimated, out_of_memory, not_runnable };
  const ParallelPlan& plan;
  Status status;
  const MemoryReport& memory;
  const TrainingEstimate* estimate;  // tier 1 in full (the pipeline's fill and drain walked); null unless estimated
  std::string why;                   // not_runnable: the reason
};

struct PlanSearchOptions {
  // Called for every plan of the space (of this shard), in enumeration order; each plan that fits is then estimated
  // in full rather than bounded (flopcast plan --all). Empty: only the plans that can rank are estimated in full.
  std::function<void(const EvaluatedPlan&)> each;
  int top_k = 5;                       // re-ranked at `rerank_tier`
  Tier rerank_tier = Tier::replica;    // analytical: tier 1 alone
  bool compare_given = true;           // also run the scenario's own plan
  int shard = 0;                       // estimate only the plans whose enumeration index is shard mod shards
  int shards = 1;                      // (the others are counted, not estimated): a search split across processes
};

struct PlanCandidate {
  ParallelPlan plan;
  TrainingEstimate estimate;  // at the candidate's tier
  Tier tier = Tier::analytical;
  double tier1_step_time_s = 0;
};

struct PlanSearchResult {
  long enumerated = 0;     // plans generated
  long invalid = 0;        // rejected by a schedule or divisibility rule
  long out_of_memory = 0;  // pruned by the memory model
  long evaluated = 0;      // tier-1 estimates
  long pipelines_walked = 0;  // of those, estimated with the pipeline's fill and drain: the rest, bounded without
                              // it, could not rank in the best K
  double tier1_wall_s = 0;
  double rerank_wall_s = 0;
  std::optional<PlanCandidate> given;  // the scenario's own plan, at the re-rank tier (if it is valid)
  std::vector<PlanCandidate> best;     // fastest first, at the re-rank tier
};

PlanSearchResult search_plans(const Scenario& scenario, const Catalogs& catalogs, const PlanSearchOptions& options);

// The ranking: faster first; equal times by the plan's dimensions, so that the order never depends on how the
// search was split.
bool ranks_before(const PlanCandidate& a, const PlanCandidate& b);

// `candidates` at `tier` (each simulated), fastest first.
void rerank(const Scenario& scenario, const Catalogs& catalogs, std::vector<PlanCandidate>& candidates, Tier tier);

// Tier 1 of the scenario's job with `plan` (ModelError if the plan cannot run).
PlanCandidate estimate_plan(const Scenario& scenario, const ParallelPlan& plan, const Catalogs& catalogs);

// The scenario's job on `chips` chips of `chip` in its default nodes, priced at its catalog rental price (or capex);
// the parallel plan is left to a search. ModelError when the chip has no price for the scenario's cost mode or the
// chips do not fill whole nodes.
Scenario with_cluster(const Scenario& scenario, const Chip& chip, int chips, const Catalogs& catalogs);

// The scenario with the scale-out fabric that `chip`'s default node ships with, where that node is not the
// scenario's: another node is another product (an HGX scenario's InfiniBand does not describe an Atlas node's RoCE).
// Before with_cluster or best_plan_at, where the question is "this job on that chip" rather than a given network.
Scenario with_default_fabric(const Scenario& scenario, const Chip& chip, const Catalogs& catalogs);

// One chip type at one cluster size, with its best plan in tier 1 (none when no plan fits).
struct SizedPlan {
  std::string chip;
  int chips = 0;
  std::optional<PlanCandidate> best;
};

// The best tier-1 plan of the scenario's job on `chips` chips of `chip` (none when no plan fits or the fabric cannot
// be built).
SizedPlan best_plan_at(const Scenario& scenario, const Chip& chip, int chips, const Catalogs& catalogs);

// The fewest chips of `chip` (whole nodes: doubling, then bisecting between the last size that missed and the first
// that met it) whose best tier-1 plan trains the scenario's tokens within `days`; none when `max_chips` cannot.
// Assumes more chips are never slower, which a fixed global batch can break near its dp limit.
std::optional<SizedPlan> fewest_chips(const Scenario& scenario, const Chip& chip, double days, int max_chips,
                                      const Catalogs& catalogs);

// Cost against time across chip types: each type at whole-node sizes doubling from `min_chips` to `max_chips`
// (in its default nodes and fabric), best plan in tier 1; the points no other point beats in both cost and days, fastest first.
std::vector<SizedPlan> pareto_front(const Scenario& scenario, const std::vector<const Chip*>& chips, int min_chips,
                                    int max_chips, const Catalogs& catalogs);

// A plan in one line: "tp 8 + sp, pp 4 (interleaved, vpp 2), dp 16, ep 8, zero 1, micro-batch 1, recompute selective".
std::string plan_summary(const ParallelPlan& plan);

}  // namespace flopcast
