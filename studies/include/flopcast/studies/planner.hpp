#pragma once
// The plan search: for a scenario's model, cluster and batch, every parallel plan that divides the cluster and the
// model, pruned by memory, ranked by tier 1, and the best K re-ranked at a discrete-event tier.
//
// The space, each dimension by its scenario key (a dimension in PlanSearchOptions::pinned keeps the scenario's value):
//   tp                 a power of two up to the node's chips that divides the heads (and the KV heads); sp with it
//   cp, cp_algo        1, 2, 4 or 8 dividing the sequence; ring, or Ulysses where tp x cp divides the heads
//   pp, dp             a power of two or a divisor of the layers, up to the layers; dp what is left
//   ep                 (MoE) a power of two dividing the experts and tp x cp x dp
//   schedule, vpp      1F1B; interleaved with every vpp whose virtual stages hold the layers evenly, and 2, 4, 8
//                      where they do not; DualPipe (even pp, MoE); ZB-H1 and ZB-V (2 pp <= layers), not in the
//                      quick space
//   layout             Megatron's even split, or balanced (the head and MTP modules counted as the work they are)
//   zero, reshard_after_forward
//                      1 (Megatron's distributed optimizer); without a pipeline also 2, and 3 with and without
//                      resharding after the forward (FSDP)
//   micro_batch        every divisor of a replica's batch up to 32 sequences
//   recompute          none, selective (the attention core without FlashAttention; with it, layer norms, the MoE
//                      activation and MLA's up-projection) or full
//   tp_comm_overlap    TP collectives behind the GEMMs or not (tp > 1)
//   ep_comm_overlap    Megatron's combined 1F1B or not, where the candidate can run it (MoE, ep > 1)
//   offload_activation_layers
//                      none, or where a plan with pp 1 and no recomputation does not fit, the fewest layers whose
//                      activations Transformer Engine's CPU offloading moves to host memory for it to fit (the node
//                      needs a host link); not in the quick space, which keeps the scenario's
//   optimizer_offload_fraction
//                      none, or where a plan with ZeRO 0 or 1 does not fit, the least sixteenths of each chip's optimizer
//                      shard that Megatron's optimizer CPU offload must keep in host memory for it to fit (the node
//                      needs its host link and host DRAM bandwidth); where activation offloading fits too, the variant
//                      with the lower tier-1 time; not in the quick space
//   precision          the scenario's (training.precision), unless it lists training.search_precisions or the search
//                      is given PlanSearchOptions::precisions (flopcast plan --precisions): each of those the chip
//                      runs (FP8 or MXFP8 change the numerics: the recipe's choice, so the search asks before it
//                      tries them); not in the quick space. In one process each precision's space is searched and
//                      re-ranked on its own, so that each one's best plan is found (PlanSearchResult::precision_best)
// Not searched: the optimizer's state formats (the training recipe's, not the plan's), expert tensor parallelism and
// the dispatcher (the scenario's, where a candidate can run them). The scenario's own plan settings for dp overlap
// are kept.

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "flopcast/scenarios/scenario.hpp"

namespace flopcast {

// One plan of the space as the search met it (PlanSearchOptions::each).
struct EvaluatedPlan {
  enum class Status { estimated, out_of_memory, not_runnable };
  const ParallelPlan& plan;
  Precision precision;
  Status status;
  const MemoryReport& memory;
  const TrainingEstimate* estimate;  // tier 1 in full (the pipeline's fill and drain walked); null unless estimated
  std::string why;                   // not_runnable: the reason
};

// How much faster than tier 1 tier 2 finds a plan, at most, by schedule class: the largest gap on the 122
// validation runs of the class, rounded up with a margin. Without a pipeline tier 2 is never faster (51 runs, largest
// 0.0 %); 1F1B 2.2 % (22 runs, Korthikanti et al.'s 1T); interleaved 15.1 % (49 runs, NeMo's Nemotron-4 340B on 128
// B200), where tier 2 overlaps the virtual stages' sends that tier 1 adds up. No validation run uses ZB-H1 or
// DualPipe; both take 1F1B's gap. ZB-H1's sends block as 1F1B's do, and the 71 pipelined validation plans run with
// ZB-H1 instead differ by at most 1.2 % (Narayanan et al.'s 1T). DualPipe's tier 2 is 2-8 % slower than its tier 1 on
// the five shipped DualPipe scenarios, never faster (tier 1 leaves out the pipeline hops and the link sharing). ZB-V,
// with two virtual stages per device, takes the interleaved schedule's gap: the 71 pipelined validation plans run with
// ZB-V instead come out up to 13.4 % faster at tier 2 (NeMo's Nemotron-4 340B again: tier 2 hides the first stage's
// gradient reduce-scatter behind the second's backward, which tier 1 exposes). A plan whose tier-1 time times
// (1 - its gap) is above a plan's tier-2 time cannot beat it at tier 2.
// The validation regression test checks every run against its class's gap.
inline constexpr double kTierGap = 0.16;  // the largest: interleaved and ZB-V
inline constexpr double kTierGapNoPipeline = 0.02;
inline constexpr double kTierGap1F1B = 0.04;  // 1F1B, ZB-H1 and DualPipe
double tier_gap(const ParallelPlan& plan);
// Plans whose tiers disagree alike: -1 without a pipeline, else the pipeline schedule.
int schedule_class(const ParallelPlan& plan);

struct PlanSearchOptions {
  // Called for every plan of the space (of this shard), in enumeration order; each plan that fits is then estimated
  // in full rather than bounded (flopcast plan --all). Empty: only the plans that can rank are estimated in full.
  std::function<void(const EvaluatedPlan&)> each;
  int top_k = 5;                       // re-ranked at `rerank_tier`
  Tier rerank_tier = Tier::replica;    // analytical: tier 1 alone
  bool compare_given = true;           // also run the scenario's own plan
  int shard = 0;                       // estimate only the plans whose enumeration index is shard mod shards
  int shards = 1;                      // (the others are counted, not estimated): a search split across processes
  std::set<std::string> pinned;        // dimensions (plan_dimensions()) kept at the scenario's values, besides the
                                       // ones its file pins (Scenario::pinned)
  // The quick space of the questions that run many searches (fleet sizing, the inverse questions, chip comparisons):
  // vpp 2, 4 or 8, micro-batches of 1, 2 or 4, ZeRO 1 or 3 with resharding, the even layout, selective recompute only
  // without FlashAttention, and the scenario's overlap and attention settings where a candidate can run them; the
  // best K alone are re-ranked.
  bool quick = false;
  // The training precisions to search (each one the chip runs); empty: the scenario's search_precisions, or its
  // precision alone where it lists none.
  std::vector<Precision> precisions;
  // Leave the re-rank to the caller: the best K at tier 1 in `best` and each schedule class's best beside them in
  // `challengers` (a shard of a search split across processes, whose root re-ranks them with
  // rerank_with_challengers).
  bool keep_challengers = false;
};

struct PlanCandidate {
  ParallelPlan plan;
  TrainingEstimate estimate;  // at the candidate's tier
  Tier tier = Tier::analytical;
  double tier1_step_time_s = 0;
  Precision precision = Precision::bf16;  // the training precision it runs (the scenario's unless searched)
};

// The scenario with a candidate's plan and precision: the job the candidate estimates.
Scenario with_candidate(const Scenario& scenario, const PlanCandidate& candidate);

// The precisions a search tries: `asked` (or the scenario's training.search_precisions where `asked` is empty, or its
// precision alone), each checked against the chip. ModelError names one the chip cannot run.
std::vector<Precision> searched_precisions(const Scenario& scenario, const std::vector<Precision>& asked);

struct PlanSearchResult {
  long enumerated = 0;     // plans generated
  long dominated = 0;      // without TP overlap where the same plan with it is never slower (the same memory): not
                           // modelled
  long invalid = 0;        // rejected by a schedule or divisibility rule
  long out_of_memory = 0;  // pruned by the memory model (this shard's)
  long offloaded = 0;      // fitting only with activation offloading (the fewest layers that fit), this shard's
  long optimizer_offloaded = 0;  // fitting only with optimizer states in host memory (the least fraction), this shard's
  long pruned_by_memory = 0;  // of those, known from a smaller micro-batch without the memory model
  long evaluated = 0;      // tier-1 estimates
  long pipelines_walked = 0;  // of those, estimated with the pipeline's fill and drain: the rest, bounded without
                              // it, could not rank in the best K
  long reranked = 0;       // plans re-ranked: the best K, and each schedule class's best that tier 2 could rank
                           // among them (tier_gap)
  double tier1_wall_s = 0;
  double rerank_wall_s = 0;
  std::vector<std::string> pinned;     // the dimensions kept at the scenario's values (the options' and the file's),
                                       // in plan_dimensions() order
  std::vector<Precision> precisions;   // the training precisions searched
  // With more than one precision searched in one process: each one's best plan at the re-rank tier, in the order of
  // `precisions` (a precision none of whose plans fits has none).
  std::vector<PlanCandidate> precision_best;
  std::optional<PlanCandidate> given;  // the scenario's own plan, at the re-rank tier (if it is valid)
  std::vector<PlanCandidate> best;     // fastest first, at the re-rank tier
  std::vector<PlanCandidate> challengers;  // with keep_challengers: each schedule class's best not in `best`, tier 1

  // Adds another search's counts and wall times (not its plans): a search run as several.
  void add_counts(const PlanSearchResult& other);
};

PlanSearchResult search_plans(const Scenario& scenario, const Catalogs& catalogs, const PlanSearchOptions& options);

// The ranking: faster first; equal times by the plan's dimensions, so that the order never depends on how the
// search was split.
bool ranks_before(const PlanCandidate& a, const PlanCandidate& b);
// The tie-break: by the plan's dimensions.
bool plan_before(const ParallelPlan& a, const ParallelPlan& b);
// The same plan at the same precision.
bool same_candidate(const PlanCandidate& a, const PlanCandidate& b);

// `candidates` at `tier` (each simulated), fastest first.
void rerank(const Scenario& scenario, const Catalogs& catalogs, std::vector<PlanCandidate>& candidates, Tier tier);

// The search's re-rank: `ranked` (tier 1's best) at `tier`, cut to `keep`; then each challenger (a schedule class's
// best, at tier 1) whose tier-1 time less its class's tier_gap is below the K-th time at `tier`, least first, ranked
// in. Returns how many plans ran at `tier`.
long rerank_with_challengers(const Scenario& scenario, const Catalogs& catalogs, std::vector<PlanCandidate>& ranked,
                             std::vector<PlanCandidate> challengers, std::size_t keep, Tier tier);

// The challengers of the best K: the fastest of `candidates` (at tier 1) in each schedule class, less those that are
// one of `best`.
std::vector<PlanCandidate> class_challengers(std::vector<PlanCandidate> candidates,
                                             const std::vector<PlanCandidate>& best);

// Tier 1 of the scenario's job with `plan` at `precision` (the scenario's where none; ModelError if the plan cannot
// run).
PlanCandidate estimate_plan(const Scenario& scenario, const ParallelPlan& plan, const Catalogs& catalogs,
                            std::optional<Precision> precision = std::nullopt);

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

// A plan in one line: "tp 8 + sp, pp 4 (interleaved, vpp 2), dp 16, ep 8, zero 1, micro-batch 1, recompute selective",
// and its precision where one is given (", fp8"): where the search tried more than one.
std::string plan_summary(const ParallelPlan& plan, std::optional<Precision> precision = std::nullopt);

}  // namespace flopcast
