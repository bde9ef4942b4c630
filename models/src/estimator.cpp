#include "flopcast/models/estimator.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "flopcast/core/errors.hpp"
#include "flopcast/models/collectives.hpp"
#include "flopcast/models/schedule.hpp"
#include "flopcast/models/step_work.hpp"
#include "flopcast/models/energy_cost.hpp"

namespace flopcast {

namespace {

// The column-parallel layers' (QKV, FC1) share of a layer's backward GEMMs, behind which their asynchronous backward
// collectives hide (tp_async_backward): QKV at least the output projection's work, FC1 twice FC2's with a gated MLP;
// half is the lower end. An estimate, the split tier 2 does not need (it posts the collectives beside the block).
constexpr double kColumnParallelBackwardShare = 0.5;

// Exposed parts of one micro-batch on one stage.
struct StageTimes {
  double gemm_s = 0;
  double attention_s = 0;
  double memory_s = 0;
  double tp_s = 0;
  double cp_s = 0;
  double ep_s = 0;
  double overhead_s = 0;
  double forward_s = 0;   // everything on the forward pass
  double backward_s = 0;  // everything on the backward pass (recompute included)
  double weight_s = 0;    // the weight-gradient GEMMs (half the backward GEMMs), which zero-bubble schedules defer
  double total_s() const { return forward_s + backward_s; }
};

void add(StageTimes& stage, const Pass& pass, bool forward) {
  stage.gemm_s += pass.gemm_s;
  stage.attention_s += pass.attention_s;
  stage.memory_s += pass.memory_s;
  (forward ? stage.forward_s : stage.backward_s) += pass.compute_s();
}

void add(StageTimes& total, const StageTimes& part, double weight) {
  total.gemm_s += weight * part.gemm_s;
  total.attention_s += weight * part.attention_s;
  total.memory_s += weight * part.memory_s;
  total.tp_s += weight * part.tp_s;
  total.cp_s += weight * part.cp_s;
  total.ep_s += weight * part.ep_s;
  total.overhead_s += weight * part.overhead_s;
  total.forward_s += weight * part.forward_s;
  total.backward_s += weight * part.backward_s;
  total.weight_s += weight * part.weight_s;
}

// The share of the model's layers that full recomputation redoes: all of them with the uniform method, the first
// recompute_layers of each virtual stage with the block method.
double full_recompute_share(const ModelArch& model, const ParallelPlan& plan) {
  if (plan.recompute != Recompute::full || plan.recompute_layers == 0 || model.layers <= 0) return 1.0;
  int redone = 0;
  for (const auto& stage : stage_layouts(model, plan, plan.pp * plan.chunks_per_device())) {
    for (const auto kind : kLayerKinds) redone += fully_recomputed_layers(stage, kind, plan);
  }
  return static_cast<double>(redone) / model.layers;
}

// One layer of one micro-batch, forward and backward, with exposed communication; `full`: fully recomputed in the
// backward.
StageTimes layer_times(const TrainingJob& job, const LayerWork& l, const Assumptions& a, bool overlap, bool full) {
  const auto& plan = job.plan;
  const double tp_exposed = overlap && plan.tp_comm_overlap ? 1.0 - a.tp_overlap_hidden_fraction : 1.0;
  StageTimes s;
  const Pass forward = l.forward();
  const Pass backward = l.backward();
  const double tp_forward_s = l.blocks() * l.tp.time_s();
  const double cp_forward_s = l.cp_exchanges * l.cp.time_s();
  const double ep_forward_s = l.ep_dispatch.time_s() + l.ep_combine.time_s();
  add(s, forward, true);
  add(s, backward, false);
  s.weight_s += 0.5 * backward.gemm_s;
  if (full) {
    add(s, forward, false);
  } else {
    add(s, l.recompute, false);
  }
  const double recompute_comm = full ? 1.0 : 0.0;
  const double recompute_dispatch = recompute_comm > 0 || l.recompute_dispatch ? 1.0 : 0.0;
  const double tp = tp_exposed * tp_forward_s;
  // The backward's collectives: as the forward's, unless they run without userbuffers beside the GEMMs
  // (tp_async_backward): the row-parallel layers' gradient all-gather (with SP, half of a block's traffic) blocks,
  // and the column-parallel layers' reduce-scatter and input re-gather (or the all-reduce without SP, a block's
  // worth) hide behind those layers' backward GEMMs.
  double tp_backward = tp;
  if (overlap && !plan.tp_comm_overlap && plan.tp_async_backward) {
    const double blocking = plan.sp ? 0.5 * tp_forward_s : 0.0;
    tp_backward = blocking + std::max(0.0, tp_forward_s - kColumnParallelBackwardShare * backward.gemm_s);
  }
  s.tp_s += tp * (1.0 + recompute_comm) + tp_backward;
  s.forward_s += tp;
  s.backward_s += tp * recompute_comm + tp_backward;
  // Ring attention hides behind the attention kernels it feeds; Ulysses' all-to-alls block.
  const double cp_backward_s = l.cp_backward_exchanges * l.cp.time_s();
  const bool cp_hides = overlap && l.cp_behind_attention;
  const double cp_f = cp_hides ? std::max(0.0, cp_forward_s - forward.attention_s) : cp_forward_s;
  const double cp_b = cp_hides ? std::max(0.0, cp_backward_s - backward.attention_s) : cp_backward_s;
  s.cp_s += cp_f + cp_b;
  s.forward_s += cp_f;
  s.backward_s += cp_b;
  // Expert all-to-all: exposed, unless DualPipe overlaps it with the other micro-batch's computation, or
  // Megatron's combined 1F1B hides a share of it.
  const double ep_exposed = overlap && plan.ep_comm_overlap ? 1.0 - a.ep_overlap_hidden_fraction : 1.0;
  const double ep_forward = ep_exposed * ep_forward_s * (1.0 + recompute_dispatch);
  const double ep_backward = ep_exposed * ep_forward_s;
  double ep_f = ep_forward;
  double ep_b = ep_backward;
  if (overlap && plan.schedule == Schedule::dualpipe) {
    ep_f = std::max(0.0, ep_forward - backward.compute_s());
    ep_b = std::max(0.0, ep_backward - forward.compute_s());
  }
  s.ep_s += ep_f + ep_b;
  s.forward_s += ep_f;
  s.backward_s += ep_b;
  return s;
}

// One micro-batch through one virtual stage: forward and backward, with exposed communication.
StageTimes chunk_times(const TrainingJob& job, const StageLayout& layout, const StepWork& w, const Assumptions& a,
                       bool overlap) {
  const auto& plan = job.plan;
  StageTimes stage;
  // One layer's times, added `count` times (as many identical layers).
  const auto account = [&](const LayerWork& l, int count, bool full) {
    if (count > 0) add(stage, layer_times(job, l, a, overlap, full), count);
  };
  for (const auto kind : kLayerKinds) {
    const int redone = fully_recomputed_layers(layout, kind, plan);
    account(w.layer(kind), redone, true);
    account(w.layer(kind), layout.count(kind) - redone, false);
  }
  // The MTP modules come after the stage's layers: recomputed with the uniform method only.
  account(job.model.is_moe() ? w.moe : w.dense, layout.mtp_modules,
          plan.recomputes_layer(layout.layers(), layout.layers()));
  if (layout.head) {
    const int heads = 1 + layout.mtp_modules;
    for (int i = 0; i < heads; ++i) {
      add(stage, w.head, true);
      add(stage, Pass{2.0 * w.head.gemm_s, 0, w.head.memory_s}, false);
    }
    for (int i = 0; i < layout.mtp_modules; ++i) {
      add(stage, w.mtp_projection, true);
      add(stage, Pass{2.0 * w.mtp_projection.gemm_s, 0, 0}, false);
    }
  }
  const double overhead = w.overhead_s(layout);
  stage.overhead_s = overhead;
  stage.forward_s += overhead / 2.0;
  stage.backward_s += overhead / 2.0;
  return stage;
}

}  // namespace

bool tp_overlap_never_slower(const TrainingJob& job, const Assumptions& a, const TopologySummary& topology) {
  if (job.plan.tp <= 1) return true;
  TrainingJob on = job;
  TrainingJob off = job;
  on.plan.tp_comm_overlap = true;
  off.plan.tp_comm_overlap = false;
  const StepWork with = build_step_work(on, topology, a);
  const StepWork without = build_step_work(off, topology, a);
  // The zero-bubble schedules place the weight-gradient GEMMs apart, and the overlap lengthens them.
  const bool weights_apart = job.plan.schedule == Schedule::zero_bubble || job.plan.schedule == Schedule::zero_bubble_v;
  for (const auto kind : kLayerKinds) {
    for (const bool full : {false, true}) {
      const StageTimes x = layer_times(on, with.layer(kind), a, true, full);
      const StageTimes y = layer_times(off, without.layer(kind), a, true, full);
      if (x.forward_s > y.forward_s || x.backward_s > y.backward_s || (weights_apart && x.weight_s > y.weight_s)) {
        return false;
      }
    }
  }
  return true;
}

namespace {

// The op order depends on the schedule, pp, vpp and the micro-batches alone, and a plan search or a calibration asks
// for the same few again and again: the last ones built on this thread are kept.
const PipelineSchedule& cached_schedule(Schedule kind, int pp, int vpp, long micro_batches, bool paired) {
  using Key = std::tuple<Schedule, int, int, long, bool>;
  thread_local std::map<Key, PipelineSchedule> cache;
  const Key key{kind, pp, vpp, micro_batches, paired};
  if (const auto it = cache.find(key); it != cache.end()) return it->second;
  constexpr std::size_t kMaxSchedules = 64;
  if (cache.size() >= kMaxSchedules) cache.clear();
  return cache.emplace(key, make_schedule(kind, pp, vpp, micro_batches, paired)).first->second;
}

// One micro-batch's worth of work on device d from its virtual stages' times (DualPipe: half a micro-batch through
// each of its two stages).
StageTimes device_times(const TrainingJob& job, int d, const std::vector<StageTimes>& chunks) {
  const int pp = job.plan.pp;
  StageTimes total;
  if (job.plan.dualpipe()) {
    add(total, chunks[d], 0.5);
    add(total, chunks[pp - 1 - d], 0.5);
    return total;
  }
  if (job.plan.v_shape()) {
    add(total, chunks[d], 1.0);
    add(total, chunks[2 * pp - 1 - d], 1.0);
    return total;
  }
  for (std::size_t v = d; v < chunks.size(); v += pp) add(total, chunks[v], 1.0);
  return total;
}

// Fill and drain of the pipeline: the schedule's critical path with each pass at its time, less the busiest device's
// work. For equal stages this is the schedules' textbook bubble: (pp - 1)(F + B) for GPipe and 1F1B, divided by vpp
// when interleaved, and about (pp/2 - 1)(F&B + B - 3W) for DualPipe (DeepSeek-V3 report, table 2).
// `chunks[w][v]`: virtual stage v's times with work w (one work, or one per device for a mixed fleet).
double bubble_s(const TrainingJob& job, const std::vector<std::vector<StageTimes>>& chunks, long micro_batches,
                const StageTimes& slowest) {
  const auto& plan = job.plan;
  if (plan.pp <= 1) return 0.0;
  const auto& schedule = cached_schedule(plan.schedule, plan.pp, plan.vpp, micro_batches, plan.ep_comm_overlap);
  std::vector<PassTimes> times;
  for (const auto& stage : schedule.stages) {
    const auto& t = of_device(chunks, stage.device)[stage.layout];
    times.push_back({t.forward_s, t.backward_s, t.weight_s});
  }
  return std::max(0.0, pipeline_makespan_s(schedule, times) - static_cast<double>(micro_batches) * slowest.total_s());
}

// A lower bound on bubble_s without walking the schedule (the plan search's bound). Every pass on device d needs its
// micro-batch's forwards through the virtual stages before d, so the device starts no earlier than their sum; it then
// runs all its passes; and its last pass, a backward (or a forward) of a virtual stage d or later, still has the
// backwards of the stages before d after it. DualPipe defers weight passes, which have nothing after them: none. ZB-H1
// may run weight passes after its last backward, beside the earlier stages' backwards: the forwards before d alone.
double bubble_lower_bound_s(const TrainingJob& job, const std::vector<std::vector<StageTimes>>& chunks,
                            long micro_batches, const StageTimes& slowest) {
  const auto& plan = job.plan;
  if (plan.pp <= 1 || plan.schedule == Schedule::dualpipe) return 0.0;
  const double M = static_cast<double>(micro_batches);
  double before_f = 0;  // micro-batch 0's forwards through the virtual stages before device d
  double before_b = 0;  // and the backwards
  double makespan = 0;
  for (int d = 0; d < plan.pp; ++d) {
    const auto& own = of_device(chunks, d);
    const double work = device_times(job, d, own).total_s();
    makespan = std::max(makespan, before_f + M * work + before_b);
    before_f += own[static_cast<std::size_t>(d)].forward_s;
    if (plan.schedule != Schedule::zero_bubble && plan.schedule != Schedule::zero_bubble_v) {
      before_b += own[static_cast<std::size_t>(d)].backward_s;
    }
  }
  return std::max(0.0, makespan - M * slowest.total_s());
}

}  // namespace

// FLOPs per token that per-operator selective checkpointing recomputes (see per_op_recompute in step_work.cpp): the
// unsaved aten.mm calls the backward needs, and in MoE layers the router gate and the routed experts.
double per_op_recompute_flop_per_token(const ModelArch& m) {
  const auto layer = [&](bool moe_layer) {
    double flop = 0;
    const auto matmuls = block_matmuls(m, moe_layer, 1);
    for (std::size_t i = 0; i < matmuls.size(); ++i) {
      if (matmuls[i].needed && !per_op_saves(i)) flop += 2.0 * matmuls[i].out * matmuls[i].in;
    }
    if (moe_layer && m.moe) {
      const auto& e = *m.moe;
      const double up_width = m.ffn_up_width();
      flop += 2.0 * m.hidden * e.experts + 2.0 * e.top_k * (up_width + 1.0) * e.expert_ffn * e.routed_width(m.hidden);
    }
    return flop;
  };
  return m.dense_layer_count() * layer(false) + (m.moe ? m.moe_layer_count() * layer(true) : 0.0);
}

TrainingEstimate prepare_estimate(const TrainingJob& job, const TopologySummary* topology) {
  const auto& plan = job.plan;
  if (plan.tp < 1 || plan.pp < 1 || plan.dp < 1 || plan.cp < 1 || plan.ep < 1 || plan.vpp < 1 || plan.micro_batch < 1) {
    throw ModelError("parallel sizes must be >= 1");
  }
  const long per_step_sequences = static_cast<long>(plan.dp) * plan.micro_batch;
  if (job.training.global_batch % per_step_sequences != 0) {
    throw ModelError(fmt::format("global batch {} is not a multiple of dp x micro_batch = {}",
                                 job.training.global_batch, per_step_sequences));
  }
  // A planner's candidate does not pass through the scenario's checks: the same refusals here.
  if (const auto problems = hybrid_plan_problems(job.model, plan); !problems.empty()) {
    throw ModelError(fmt::format("{} ({})", problems.front().message, job.model.name));
  }
  TrainingEstimate r;
  r.params = count_params(job.model);
  r.flops = training_flops_per_token(job.model, r.params, job.training.seq_len);
  r.hardware_flops_per_token = r.flops.model + (plan.recompute == Recompute::full
                                                    ? full_recompute_share(job.model, plan) *
                                                          r.flops.hardware_extra_full_recompute
                                                : plan.recompute == Recompute::selective && !job.training.flash_attention
                                                    ? r.flops.hardware_extra_selective
                                                : plan.recompute == Recompute::per_op
                                                    ? per_op_recompute_flop_per_token(job.model)
                                                    : 0.0);
  r.micro_batches = job.training.global_batch / per_step_sequences;
  r.tokens_per_step = static_cast<double>(job.training.global_batch) * job.training.seq_len;
  r.topology = topology != nullptr ? *topology : build_topology(topology_spec(job.cluster));
  return r;
}

TrainingEstimate estimate_training(const TrainingJob& job, const Assumptions& a, const EstimateOptions& options) {
  const auto& plan = job.plan;
  TrainingEstimate r = prepare_estimate(job, options.topology);
  const auto works = build_stage_works(job, r.topology, a);
  const bool overlap = options.overlap;

  // The slowest device sets the pipeline's pace.
  std::vector<std::vector<StageTimes>> chunks;  // per work, per virtual stage
  for (const auto& w : works) {
    auto& out = chunks.emplace_back();
    out.reserve(w.chunks.size());
    for (std::size_t v = 0; v < w.chunks.size(); ++v) {
      // Most virtual stages hold the same layers as the one before: the same times.
      const bool same = v > 0 && w.chunks[v] == w.chunks[v - 1];
      out.push_back(same ? out.back() : chunk_times(job, w.chunks[v], w, a, overlap));
    }
  }
  std::vector<StageTimes> devices;
  devices.reserve(static_cast<std::size_t>(plan.pp));
  for (int d = 0; d < plan.pp; ++d) devices.push_back(device_times(job, d, of_device(chunks, d)));
  const StageTimes slowest =
      *std::max_element(devices.begin(), devices.end(),
                        [](const StageTimes& x, const StageTimes& y) { return x.total_s() < y.total_s(); });
  const double M = static_cast<double>(r.micro_batches);
  auto& b = r.breakdown;
  b.gemm_s = M * slowest.gemm_s;
  b.attention_s = M * slowest.attention_s;
  b.memory_bound_s = M * slowest.memory_s;
  b.tp_s = M * slowest.tp_s;
  b.cp_s = M * slowest.cp_s;
  b.ep_s = M * slowest.ep_s;
  if (options.bubble) {
    b.bubble_s = bubble_s(job, chunks, r.micro_batches, slowest);
  } else if (plan.pp > 1) {
    check_schedule(plan.schedule, plan.pp, r.micro_batches);
    b.bubble_s = bubble_lower_bound_s(job, chunks, r.micro_batches, slowest);
  }

  // Pipeline point-to-point: synchronous between 1F1B steps; overlapped in steady state by the interleaved and
  // DualPipe schedules, leaving the fill and drain chains.
  if (plan.pp > 1) {
    double hop = 0;
    for (const auto& w : works) hop = std::max(hop, w.pp_hop.time_s());
    const double vpp = works.front().vpp;
    const bool overlapped = overlap && plan.overlaps_sends();
    b.pp_s = overlapped ? 2.0 * (plan.pp - 1.0) * vpp * hop : 2.0 * (M * vpp + plan.pp - 1.0) * hop;
  }

  // Data parallel: gradients behind the last backward, parameters ahead of the first forward.
  const bool dp_overlap = overlap && plan.dp_overlap;
  double worst_dp = 0;
  double worst_optimizer = 0;
  for (int d = 0; d < plan.pp; ++d) {
    const auto& sync = of_device(works, d).sync[d];
    const double gradients = sync.gradients.time_s();
    const double parameters = sync.parameters.time_s();
    double exposed = dp_overlap ? std::max(0.0, gradients - slowest.backward_s) +
                                      std::max(0.0, parameters - slowest.forward_s)
                                : gradients + parameters;
    const bool gather_per_pass = plan.gathers_weights_per_pass();
    if (gather_per_pass) {
      // Weights gathered before each micro-batch's forward and backward, prefetched behind the previous layer
      // (without resharding they are gathered once, ahead of the first forward, as with a sharded optimizer).
      const double gather = 2.0 * parameters;
      exposed += M * (dp_overlap ? std::max(0.0, gather - slowest.total_s()) : gather);
    }
    if (dp_overlap) {
      // One data-parallel stream carries all of it: it hides no more than the step's compute beside it.
      const double traffic = gradients + parameters + (gather_per_pass ? M * 2.0 * parameters : 0.0);
      exposed = std::max(exposed, traffic - M * slowest.total_s());
    }
    worst_dp = std::max(worst_dp, exposed);
    worst_optimizer = std::max(worst_optimizer, sync.optimizer_s);
  }
  b.dp_s = worst_dp;
  b.optimizer_s = worst_optimizer;
  b.overhead_s = M * slowest.overhead_s + a.per_step_overhead_s;
  r.step_time_s = b.total_s();
  complete_estimate(r, job, a, options.memory);
  return r;
}

void complete_estimate(TrainingEstimate& r, const TrainingJob& job, const Assumptions& a, const MemoryReport* memory) {
  const auto& plan = job.plan;
  // MFU against the fleet's mean bf16 peak (every stage holds the same number of chips).
  double peak_bf16 = 0;
  for (int stage = 0; stage < plan.pp; ++stage) {
    const auto* group = job.cluster.stage_group(stage);
    peak_bf16 += (group ? group->chip : job.cluster.chip).peak_flop_per_s(DataType::bf16) / plan.pp;
  }
  const double chips = job.cluster.chips;
  r.tokens_per_s = r.tokens_per_step / r.step_time_s;
  r.tokens_per_s_per_chip = r.tokens_per_s / chips;
  r.model_flop_per_s_per_chip = r.flops.model * r.tokens_per_s_per_chip;
  r.mfu = r.model_flop_per_s_per_chip / peak_bf16;
  r.hfu = r.hardware_flops_per_token * r.tokens_per_s_per_chip / peak_bf16;

  r.memory = memory != nullptr ? *memory : training_memory(job, r.params, a);
  if (job.training.tokens > 0) {
    r.steps = job.training.tokens / r.tokens_per_step;
    r.train_s = r.steps * r.step_time_s;
    r.train_days = r.train_s / kSecondsPerDay;
    r.chip_hours = chips * r.train_s / kSecondsPerHour;
  }
  r.energy_cost = energy_and_cost(job, r.topology, r.train_s, job.training.tokens, a);

  if (!r.memory.fits) {
    r.notes.push_back(fmt::format("does not fit: stage {} needs {:.1f} GiB per chip, {:.1f} GiB usable",
                                  r.memory.stage, r.memory.total_bytes / kBytesPerGiB,
                                  r.memory.usable_bytes / kBytesPerGiB));
  }
  if (plan.tp > job.cluster.node.chip_count()) {
    r.notes.push_back(fmt::format("tensor parallelism ({}) spans more than one scale-up domain ({} chips)", plan.tp,
                                  job.cluster.node.chip_count()));
  }
  if (plan.pp > 1 && r.micro_batches < plan.pp) {
    r.notes.push_back(fmt::format("{} micro-batches for {} pipeline stages: the bubble dominates", r.micro_batches,
                                  plan.pp));
  }
}

}  // namespace flopcast
