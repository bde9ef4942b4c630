#pragma once
// Tier 1, the analytical estimator: closed-form step time from per-layer work (GEMMs at peak x a shape-dependent
// efficiency, attention at FlashAttention efficiency, memory-bound kernels at HBM bandwidth), alpha-beta
// collectives on the scale-up and scale-out link classes, pipeline bubbles per schedule, and the share of data-
// parallel traffic hidden behind backward. Then energy and cost over the whole run. Microseconds per call apart
// from the topology graph, which is built once per cluster.

#include <string>
#include <vector>

#include "flopcast/hardware/topology.hpp"
#include "flopcast/models/accounting.hpp"
#include "flopcast/models/assumptions.hpp"
#include "flopcast/models/memory.hpp"
#include "flopcast/models/plan.hpp"
#include "flopcast/models/step_work.hpp"

namespace flopcast {

// Where one step's time goes on the critical path, in seconds. The parts add up to the step time.
struct StepBreakdown {
  double gemm_s = 0;
  double attention_s = 0;
  double memory_bound_s = 0;
  double tp_s = 0;  // exposed tensor-parallel communication
  double cp_s = 0;  // exposed context-parallel (ring attention or Ulysses) communication
  double ep_s = 0;  // exposed expert-parallel all-to-all
  double pp_s = 0;  // exposed pipeline point-to-point
  double dp_s = 0;  // exposed data-parallel gradient / parameter traffic
  double bubble_s = 0;
  double optimizer_s = 0;
  double overhead_s = 0;  // fixed per-step and per-layer overheads

  double compute_s() const { return gemm_s + attention_s + memory_bound_s; }
  double communication_s() const { return tp_s + cp_s + ep_s + pp_s + dp_s; }
  double other_s() const { return optimizer_s + overhead_s; }
  double total_s() const { return compute_s() + communication_s() + bubble_s + other_s(); }
};

struct EnergyCost {
  double facility_power_w = 0;  // chips + hosts + network, times PUE
  double energy_kwh = 0;
  double electricity_usd = 0;
  double capex_usd = 0;  // ownership: what the cluster costs to buy
  double cost_usd = 0;   // rental: chip-hours x price; ownership: depreciation over the run + electricity
  double usd_per_mtok = 0;
};

struct TrainingEstimate {
  ParamCounts params;
  FlopsPerToken flops;
  double hardware_flops_per_token = 0;
  long micro_batches = 0;
  double tokens_per_step = 0;
  double step_time_s = 0;
  double tokens_per_s = 0;
  double tokens_per_s_per_chip = 0;
  double model_flop_per_s_per_chip = 0;
  double mfu = 0;  // model FLOP/s per chip / dense bf16 peak
  double hfu = 0;  // hardware FLOP/s (recompute included) per chip / dense bf16 peak
  double steps = 0;
  double train_s = 0;
  double train_days = 0;
  double chip_hours = 0;
  StepBreakdown breakdown;
  MemoryReport memory;
  TopologySummary topology;
  EnergyCost energy_cost;
  std::vector<std::string> notes;  // things the user should know about this estimate
};

struct EstimateOptions {
  // Off: every communication is exposed (no overlap with compute, synchronous pipeline sends): the setting in which
  // the discrete-event tier, with contention also off, must agree with this one.
  bool overlap = true;
  // The cluster's topology, when the caller has it already (a calibration re-estimating the same jobs); built
  // otherwise. It must be build_topology(topology_spec(job.cluster)).
  const TopologySummary* topology = nullptr;
  // Off: the pipeline's fill and drain are not walked (the schedule is checked); bubble_s is a lower bound on theirs
  // (the forwards and backwards of the stages before the device that must wait: see bubble_lower_bound_s), which
  // makes the step time a lower bound: a plan search walks the schedule only for plans that can still rank.
  bool bubble = true;
  // The plan's training_memory, when the caller has it already (a plan search checks it first); computed otherwise.
  const MemoryReport* memory = nullptr;
};

TrainingEstimate estimate_training(const TrainingJob& job, const Assumptions& assumptions,
                                   const EstimateOptions& options = {});

// Whether the job's plan with TP overlap is never slower at tier 1 than the same plan without it (the same memory):
// every kind of layer's forward and backward (and, where the schedule places them apart, weight-gradient GEMMs) at
// most as long. The overlap hides most of each TP collective but runs its GEMMs split or on fewer SMs, which where the
// collectives are short costs more than it hides. A plan search need not model the plan without it where this holds.
bool tp_overlap_never_slower(const TrainingJob& job, const Assumptions& assumptions, const TopologySummary& topology);

// The parts of an estimate every tier shares: checks the plan, counts parameters and FLOPs, builds the topology.
TrainingEstimate prepare_estimate(const TrainingJob& job, const TopologySummary* topology = nullptr);
// From r.step_time_s (and r.breakdown): throughput, MFU, memory, run length, energy, cost and notes.
void complete_estimate(TrainingEstimate& r, const TrainingJob& job, const Assumptions& assumptions,
                       const MemoryReport* memory = nullptr);

}  // namespace flopcast
