#include "flopcast/models/estimator.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "flopcast/core/errors.hpp"
#include "flopcast/models/collectives.hpp"
#include "flopcast/models/energy_cost.hpp"

namespace flopcast {

double gemm_efficiency(double m, double n, double k, double peak_fraction, double half_dim) {
  const auto fill = [half_dim](double x) { return x / (x + half_dim); };
  return peak_fraction * fill(m) * fill(n) * fill(k);
}

DataType gemm_data_type(const TrainingJob& job) {
  return job.training.precision == Precision::fp8 ? DataType::fp8 : DataType::bf16;
}

namespace {

constexpr double kBf16Bytes = 2.0;
constexpr double kFp32Bytes = 4.0;
// FlashAttention's backward recomputes the scores and computes dQ, dK, dV: 2.5x the forward matmul FLOPs
// (Dao 2023, FlashAttention-2, section 3.2: 5 matmuls in the backward against 2 in the forward).
constexpr double kAttentionBackwardFlopRatio = 2.5;
// fp32 master weight read+write (8 B), Adam moments read+write (16 B), fp32 gradient read (4 B), bf16 weight write (2 B).
constexpr double kOptimizerBytesPerParam = 30.0;

// Kernel and link rates for one job.
class Machine {
 public:
  Machine(const TrainingJob& job, const TopologySummary& topology, const Assumptions& a)
      : kernel_(a.kernel(job.cluster.chip.family)) {
    const auto& chip = job.cluster.chip;
    const auto& node = job.cluster.node;
    gemm_type_ = gemm_data_type(job);
    peak_gemm_ = chip.peak_flop_per_s(gemm_type_);
    peak_bf16_ = chip.peak_flop_per_s(DataType::bf16);
    gemm_fraction_ = gemm_type_ == DataType::fp8 ? kernel_.gemm_fp8 : kernel_.gemm_bf16;
    hbm_rate_ = chip.hbm_bandwidth.value * kernel_.memory_bound;
    node_chips_ = node.chip_count();
    const double bus = node.fabric == NodeFabric::mesh        ? a.bus_efficiency_mesh
                       : node.fabric == NodeFabric::supernode ? a.bus_efficiency_supernode
                                                              : a.bus_efficiency_switch;
    scaleup_ = {node.scaleup_bandwidth_per_direction.value, node.scaleup_latency.value, bus, node.in_network_reduction};
    const double nic_rate = std::min(node.nic_bandwidth.value, job.cluster.fabric.port_bandwidth.value);
    const double nic_per_chip = job.cluster.nics_per_node * nic_rate / node_chips_;
    const double latency = 2.0 * job.cluster.fabric.nic_latency.value +
                           topology.max_switch_hops * job.cluster.fabric.switch_latency.value;
    scaleout_ = {nic_per_chip * topology.bisection_ratio, latency, a.bus_efficiency_scaleout, false};
    a2a_up_ = {scaleup_.bytes_per_s, scaleup_.latency_s, a.all_to_all_efficiency_scaleup, false};
    a2a_out_ = {scaleout_.bytes_per_s, scaleout_.latency_s, a.all_to_all_efficiency_scaleout, false};
  }

  // One GEMM (m x k) x (k x n) in the job's GEMM precision, or bf16.
  double gemm_s(double m, double n, double k, bool force_bf16 = false) const {
    if (m <= 0 || n <= 0 || k <= 0) return 0.0;
    const double peak = force_bf16 ? peak_bf16_ : peak_gemm_;
    const double fraction = force_bf16 ? kernel_.gemm_bf16 : gemm_fraction_;
    return 2.0 * m * n * k / (peak * gemm_efficiency(m, n, k, fraction, kernel_.gemm_half_dim));
  }
  double attention_forward_s(double flop) const { return flop / (peak_bf16_ * kernel_.attention_forward); }
  double attention_backward_s(double flop) const { return flop / (peak_bf16_ * kernel_.attention_backward); }
  double memory_s(double bytes) const { return bytes / hbm_rate_; }

  // The link a group with this stride and size uses for point-to-point (neighbours).
  const LinkClass& neighbour_link(int stride) const { return stride < node_chips_ ? scaleup_ : scaleout_; }
  double group_all_reduce(double bytes, int ranks, int stride) const {
    return group_all_reduce_s(bytes, ranks, stride, node_chips_, scaleup_, scaleout_);
  }
  double group_all_gather(double bytes, int ranks, int stride) const {
    return group_all_gather_s(bytes, ranks, stride, node_chips_, scaleup_, scaleout_);
  }
  const LinkClass& a2a_up() const { return a2a_up_; }
  const LinkClass& a2a_out() const { return a2a_out_; }
  int node_chips() const { return node_chips_; }
  double peak_bf16() const { return peak_bf16_; }

 private:
  const KernelEfficiency& kernel_;
  DataType gemm_type_ = DataType::bf16;
  double peak_gemm_ = 0;
  double peak_bf16_ = 0;
  double gemm_fraction_ = 0;
  double hbm_rate_ = 0;
  int node_chips_ = 1;
  LinkClass scaleup_;
  LinkClass scaleout_;
  LinkClass a2a_up_;
  LinkClass a2a_out_;
};

// Times of one layer (or head, or MTP module) for one micro-batch on one chip.
struct Pass {
  double gemm_s = 0;
  double attention_s = 0;
  double memory_s = 0;
  double compute_s() const { return gemm_s + attention_s + memory_s; }
};

struct LayerTimes {
  Pass forward;
  Pass backward;
  double tp_forward_s = 0;  // raw communication times (before overlap)
  double cp_forward_s = 0;
  double ep_forward_s = 0;
};

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
  double total_s() const { return forward_s + backward_s; }
};

class LayerModel {
 public:
  LayerModel(const TrainingJob& job, const Machine& machine) : job_(job), m_(job.model), plan_(job.plan), hw_(machine) {
    tokens_ = static_cast<double>(job.training.seq_len) / plan_.cp * plan_.micro_batch;
  }

  double tokens() const { return tokens_; }

  LayerTimes layer(bool moe_layer) const {
    LayerTimes out;
    const double t = plan_.tp;
    const double h = m_.hidden;
    const double T = tokens_;
    const double replicated = plan_.sp ? t : 1.0;
    auto& f = out.forward;
    // Attention projections.
    if (m_.mla) {
      const auto& a = *m_.mla;
      const double qk = a.qk_nope_head_dim + a.qk_rope_head_dim;
      if (a.q_lora_rank > 0) {
        f.gemm_s += hw_.gemm_s(T, a.q_lora_rank, h) + hw_.gemm_s(T, m_.heads * qk / t, a.q_lora_rank);
      } else {
        f.gemm_s += hw_.gemm_s(T, m_.heads * qk / t, h);
      }
      f.gemm_s += hw_.gemm_s(T, a.kv_lora_rank + a.qk_rope_head_dim, h) +
                  hw_.gemm_s(T, m_.heads * (a.qk_nope_head_dim + a.v_head_dim) / t, a.kv_lora_rank);
    } else {
      f.gemm_s += hw_.gemm_s(T, (m_.heads + 2.0 * m_.kv_heads) * m_.head_dim / t, h);
    }
    f.gemm_s += hw_.gemm_s(T, h, m_.heads * m_.v_head_dim() / t);
    // Attention core: causal QK^T and AV over the whole sequence for this chip's queries.
    const double attention_flop =
        attention_core_forward_flop_per_token(m_, job_.training.seq_len) * T / t;
    f.attention_s = hw_.attention_forward_s(attention_flop);
    const double attention_backward_s = hw_.attention_backward_s(kAttentionBackwardFlopRatio * attention_flop);

    // Memory-bound kernels: two norms (read + write h), two residual adds (read 2h, write h), rotary on q and k.
    const double kv_heads = m_.mla ? m_.heads : m_.kv_heads;
    const double rope_dim = m_.mla ? m_.mla->qk_rope_head_dim : m_.head_dim;
    double bytes = kBf16Bytes * T * h / replicated * (2.0 * 2.0 + 2.0 * 3.0);
    bytes += 2.0 * kBf16Bytes * T * (m_.heads + kv_heads) * rope_dim / t;
    const bool fp8 = job_.training.precision == Precision::fp8;
    // fp8 casts of GEMM inputs: read 2 bytes, write 1 byte per element.
    const double cast = fp8 ? 3.0 : 0.0;
    bytes += cast * T * (h + m_.heads * m_.v_head_dim() / t);

    const double act_tensors = m_.ffn_act == FfnActivation::swiglu ? 3.0 : 2.0;  // activation kernel: in + out
    const double up_width = m_.ffn_act == FfnActivation::swiglu ? 2.0 : 1.0;     // gate + up, or up
    if (moe_layer && m_.moe) {
      const auto& e = *m_.moe;
      const double local_tokens = T / t;  // SP splits tokens across TP ranks before the router
      f.gemm_s += hw_.gemm_s(local_tokens, e.experts, h, /*force_bf16=*/true);  // router
      const double experts_here = static_cast<double>(e.experts) / plan_.ep;
      const double tokens_per_expert = local_tokens * e.top_k * plan_.ep / e.experts * e.imbalance;
      f.gemm_s += experts_here * (hw_.gemm_s(tokens_per_expert, up_width * e.expert_ffn, h) +
                                  hw_.gemm_s(tokens_per_expert, h, e.expert_ffn));
      if (e.shared_experts > 0) {
        const double shared = static_cast<double>(e.shared_experts) * e.expert_ffn;
        f.gemm_s += hw_.gemm_s(T, up_width * shared / t, h) + hw_.gemm_s(T, h, shared / t);
        bytes += act_tensors * kBf16Bytes * T * shared / t + cast * T * (h + shared / t);
      }
      const double copies = local_tokens * e.top_k * e.imbalance;
      bytes += 4.0 * kBf16Bytes * copies * h;                       // permute and unpermute, read + write
      bytes += act_tensors * kBf16Bytes * copies * e.expert_ffn;    // expert activation
      bytes += cast * copies * (h + e.expert_ffn);
      out.ep_forward_s = all_to_all_s(local_tokens, fp8 ? 1.0 : kBf16Bytes) + all_to_all_s(local_tokens, kBf16Bytes);
    } else {
      f.gemm_s += hw_.gemm_s(T, up_width * m_.ffn / t, h) + hw_.gemm_s(T, h, m_.ffn / t);
      bytes += act_tensors * kBf16Bytes * T * m_.ffn / t + cast * T * (h + m_.ffn / t);
    }
    f.memory_s = hw_.memory_s(bytes);

    // Backward: twice the forward GEMM work (input and weight gradients), FlashAttention's backward, and about
    // twice the memory-bound traffic.
    out.backward.gemm_s = 2.0 * f.gemm_s;
    out.backward.attention_s = attention_backward_s;
    out.backward.memory_s = 2.0 * f.memory_s;

    // Tensor parallel: two collectives per layer and pass on the full activation (AG + RS with SP, else AR).
    if (plan_.tp > 1) {
      const double activation = kBf16Bytes * T * h;
      const double one = plan_.sp ? 2.0 * hw_.group_all_gather(activation, plan_.tp, 1)
                                  : hw_.group_all_reduce(activation, plan_.tp, 1);
      out.tp_forward_s = 2.0 * one;
    }
    // Context parallel (ring attention): cp - 1 exchanges of this chip's K and V shards.
    if (plan_.cp > 1) {
      const double kv_bytes = kBf16Bytes * T * kv_heads * (m_.qk_head_dim() + m_.v_head_dim()) / t;
      out.cp_forward_s = (plan_.cp - 1) * point_to_point_s(kv_bytes, hw_.neighbour_link(plan_.tp * plan_.cp));
    }
    return out;
  }

  // The output head and loss (last stage), in bf16: FP8 recipes keep the head in higher precision.
  Pass head_forward() const {
    Pass p;
    const double vocab_share = static_cast<double>(m_.vocab) / plan_.tp;
    p.gemm_s = hw_.gemm_s(tokens_, vocab_share, m_.hidden, /*force_bf16=*/true);
    p.memory_s = hw_.memory_s(3.0 * kFp32Bytes * tokens_ * vocab_share);  // logits: write, softmax read + write
    return p;
  }

  // An MTP module's projection (2h -> h), beyond its layer and its head.
  double mtp_projection_forward_s() const { return hw_.gemm_s(tokens_, m_.hidden, 2.0 * m_.hidden); }

 private:
  // Dispatch or combine of this chip's routed token copies, `element_bytes` per hidden element.
  double all_to_all_s(double local_tokens, double element_bytes) const {
    const auto& e = *m_.moe;
    if (plan_.ep <= 1) return 0.0;
    const double local_members = std::min(plan_.ep, hw_.node_chips());
    const double nodes_spanned = std::ceil(plan_.ep / local_members);
    const double remote_fraction = 1.0 - local_members / plan_.ep;
    double remote_copies = e.top_k * remote_fraction;
    double local_copies = e.top_k * local_members / plan_.ep;
    if (e.node_limit > 0 && nodes_spanned > 1) {
      // Node-limited routing (DeepSeek-V3 section 3.2.2): one copy per target node over the NIC, then forwarded
      // over the scale-up fabric to the experts inside it.
      remote_copies = std::min(remote_copies, e.node_limit * (1.0 - 1.0 / nodes_spanned));
      local_copies = e.top_k;
    }
    const double token_bytes = element_bytes * m_.hidden * local_tokens * e.imbalance;
    const double inter = remote_copies > 0 ? point_to_point_s(remote_copies * token_bytes, hw_.a2a_out()) : 0.0;
    const double intra = point_to_point_s(local_copies * token_bytes, hw_.a2a_up());
    return std::max(inter, intra);
  }

  const TrainingJob& job_;
  const ModelArch& m_;
  const ParallelPlan& plan_;
  const Machine& hw_;
  double tokens_ = 0;
};

void add(StageTimes& stage, const Pass& pass, bool forward) {
  stage.gemm_s += pass.gemm_s;
  stage.attention_s += pass.attention_s;
  stage.memory_s += pass.memory_s;
  (forward ? stage.forward_s : stage.backward_s) += pass.compute_s();
}

// Per-layer times, the same on every stage: computed once per estimate.
struct LayerKinds {
  LayerTimes dense;
  LayerTimes moe;  // for MoE models; MTP modules use it too
  Pass head;
  Pass mtp_projection;
};

// One micro-batch through one stage: forward and backward, with exposed communication.
StageTimes stage_times(const TrainingJob& job, const StageLayout& layout, const LayerKinds& layers,
                       const Assumptions& a) {
  const auto& plan = job.plan;
  StageTimes s;
  const double tp_exposed = plan.tp_comm_overlap ? 1.0 - a.tp_overlap_hidden_fraction : 1.0;
  const auto account = [&](const LayerTimes& l, int count) {
    for (int i = 0; i < count; ++i) {
      add(s, l.forward, true);
      add(s, l.backward, false);
      if (plan.recompute == Recompute::full) {
        add(s, l.forward, false);
      } else if (plan.recompute == Recompute::selective && !job.training.flash_attention) {
        add(s, Pass{0, l.forward.attention_s, 0}, false);
      }
      const double recompute_comm = plan.recompute == Recompute::full ? 1.0 : 0.0;
      const double tp = tp_exposed * l.tp_forward_s;
      s.tp_s += tp * (2.0 + recompute_comm);
      s.forward_s += tp;
      s.backward_s += tp * (1.0 + recompute_comm);
      // Ring attention hides behind the attention kernels it feeds.
      const double cp_f = std::max(0.0, l.cp_forward_s - l.forward.attention_s);
      const double cp_b = std::max(0.0, 2.0 * l.cp_forward_s - l.backward.attention_s);
      s.cp_s += cp_f + cp_b;
      s.forward_s += cp_f;
      s.backward_s += cp_b;
      // Expert all-to-all: exposed, unless DualPipe overlaps it with the other micro-batch's computation.
      const double ep_total = l.ep_forward_s * (2.0 + recompute_comm);
      double ep = ep_total;
      if (plan.schedule == Schedule::dualpipe) {
        ep = std::max(0.0, ep_total - (l.forward.compute_s() + l.backward.compute_s()));
      }
      s.ep_s += ep;
      s.forward_s += ep / 3.0;
      s.backward_s += ep * 2.0 / 3.0;
    }
  };
  account(layers.dense, layout.dense_layers);
  account(layers.moe, layout.moe_layers);
  account(job.model.is_moe() ? layers.moe : layers.dense, layout.mtp_modules);
  if (layout.head) {
    const Pass& head = layers.head;
    const int heads = 1 + layout.mtp_modules;
    for (int i = 0; i < heads; ++i) {
      add(s, head, true);
      add(s, Pass{2.0 * head.gemm_s, 0, head.memory_s}, false);
    }
    const Pass& projection = layers.mtp_projection;
    for (int i = 0; i < layout.mtp_modules; ++i) {
      add(s, projection, true);
      add(s, Pass{2.0 * projection.gemm_s, 0, 0}, false);
    }
  }
  const double overhead = a.per_layer_overhead_s * (layout.layers() + layout.mtp_modules);
  s.overhead_s = overhead;
  s.forward_s += overhead / 2.0;
  s.backward_s += overhead / 2.0;
  return s;
}

double bubble_s(const ParallelPlan& plan, const StageTimes& slowest) {
  if (plan.pp <= 1) return 0.0;
  const double stages = plan.pp;
  switch (plan.schedule) {
    case Schedule::gpipe:
    case Schedule::one_f_one_b: return (stages - 1.0) * slowest.total_s();
    case Schedule::interleaved: return (stages - 1.0) / plan.vpp * slowest.total_s();
    case Schedule::dualpipe:
      // DeepSeek-V3 report, table 2: (PP/2 - 1)(F&B + B - 3W). With F&B ~ F + B (the overlapped pair) and the
      // weight-gradient half W ~ B/2: (PP/2 - 1)(F + B/2).
      return std::max(0.0, stages / 2.0 - 1.0) * (slowest.forward_s + 0.5 * slowest.backward_s);
  }
  return 0.0;
}

}  // namespace

TrainingEstimate estimate_training(const TrainingJob& job, const Assumptions& a) {
  const auto& plan = job.plan;
  const auto& model = job.model;
  if (plan.tp < 1 || plan.pp < 1 || plan.dp < 1 || plan.cp < 1 || plan.ep < 1 || plan.vpp < 1 || plan.micro_batch < 1) {
    throw ModelError("parallel sizes must be >= 1");
  }
  const long per_step_sequences = static_cast<long>(plan.dp) * plan.micro_batch;
  if (job.training.global_batch % per_step_sequences != 0) {
    throw ModelError(fmt::format("global batch {} is not a multiple of dp x micro_batch = {}",
                                 job.training.global_batch, per_step_sequences));
  }
  TrainingEstimate r;
  r.params = count_params(model);
  r.flops = training_flops_per_token(model, r.params, job.training.seq_len);
  r.hardware_flops_per_token = r.flops.model + (plan.recompute == Recompute::full ? r.flops.hardware_extra_full_recompute
                                                : plan.recompute == Recompute::selective && !job.training.flash_attention
                                                    ? r.flops.hardware_extra_selective
                                                    : 0.0);
  r.micro_batches = job.training.global_batch / per_step_sequences;
  r.tokens_per_step = static_cast<double>(job.training.global_batch) * job.training.seq_len;

  r.topology = build_topology(topology_spec(job.cluster));
  const Machine machine(job, r.topology, a);
  const LayerModel layers(job, machine);
  const LayerKinds kinds{.dense = layers.layer(false),
                         .moe = model.is_moe() ? layers.layer(true) : LayerTimes{},
                         .head = layers.head_forward(),
                         .mtp_projection = Pass{layers.mtp_projection_forward_s(), 0, 0}};

  // The slowest stage sets the pipeline's pace.
  const auto layouts = stage_layouts(model, plan.pp);
  StageTimes slowest;
  for (std::size_t i = 0; i < layouts.size(); ++i) {
    const auto times = stage_times(job, layouts[i], kinds, a);
    if (i == 0 || times.total_s() > slowest.total_s()) {
      slowest = times;
    }
  }
  const double M = static_cast<double>(r.micro_batches);
  auto& b = r.breakdown;
  b.gemm_s = M * slowest.gemm_s;
  b.attention_s = M * slowest.attention_s;
  b.memory_bound_s = M * slowest.memory_s;
  b.tp_s = M * slowest.tp_s;
  b.cp_s = M * slowest.cp_s;
  b.ep_s = M * slowest.ep_s;
  b.bubble_s = bubble_s(plan, slowest);

  // Pipeline point-to-point: synchronous between 1F1B steps; overlapped in steady state by the interleaved and
  // DualPipe schedules, leaving the fill and drain chains.
  if (plan.pp > 1) {
    const double activation = kBf16Bytes * layers.tokens() * model.hidden / (plan.sp ? plan.tp : 1);
    const double hop = point_to_point_s(activation, machine.neighbour_link(plan.tp * plan.cp * plan.dp));
    const bool overlapped = plan.schedule == Schedule::interleaved || plan.schedule == Schedule::dualpipe;
    b.pp_s = overlapped ? 2.0 * (plan.pp - 1.0) * plan.vpp * hop : 2.0 * (M + plan.pp - 1.0) * hop;
  }

  // Data parallel: gradients reduce-scattered (all-reduced without a sharded optimizer), parameters all-gathered.
  const double expert_dp = static_cast<double>(plan.tp) * plan.cp * plan.dp / plan.ep;
  double worst_dp = 0;
  double worst_optimizer = 0;
  for (const auto& layout : layouts) {
    const auto held = stage_params(model, r.params, layout, plan);
    const int dense_ranks = plan.dp * plan.cp;
    const int expert_ranks = static_cast<int>(expert_dp);
    double gradients = 0;
    double parameters = 0;
    if (plan.zero == 0) {
      gradients = machine.group_all_reduce(kFp32Bytes * held.dense, dense_ranks, plan.tp) +
                  machine.group_all_reduce(kFp32Bytes * held.expert, expert_ranks, plan.ep);
    } else {
      gradients = machine.group_all_gather(kFp32Bytes * held.dense, dense_ranks, plan.tp) +
                  machine.group_all_gather(kFp32Bytes * held.expert, expert_ranks, plan.ep);
      parameters = machine.group_all_gather(kBf16Bytes * held.dense, dense_ranks, plan.tp) +
                   machine.group_all_gather(kBf16Bytes * held.expert, expert_ranks, plan.ep);
    }
    double exposed = plan.dp_overlap ? std::max(0.0, gradients - slowest.backward_s) +
                                           std::max(0.0, parameters - slowest.forward_s)
                                     : gradients + parameters;
    if (plan.zero >= 3) {
      // Weights gathered before each micro-batch's forward and backward, prefetched behind the previous layer.
      const double gather = 2.0 * parameters;
      exposed += M * (plan.dp_overlap ? std::max(0.0, gather - slowest.total_s()) : gather);
    }
    worst_dp = std::max(worst_dp, exposed);
    const double shard = plan.zero >= 1 ? held.dense / dense_ranks + held.expert / expert_dp : held.total();
    const double copies = plan.schedule == Schedule::dualpipe ? 2.0 : 1.0;
    worst_optimizer = std::max(worst_optimizer, machine.memory_s(copies * kOptimizerBytesPerParam * shard));
  }
  b.dp_s = worst_dp;
  b.optimizer_s = worst_optimizer;
  b.overhead_s = M * slowest.overhead_s + a.per_step_overhead_s;

  r.step_time_s = b.total_s();
  const double chips = job.cluster.chips;
  r.tokens_per_s = r.tokens_per_step / r.step_time_s;
  r.tokens_per_s_per_chip = r.tokens_per_s / chips;
  r.model_flop_per_s_per_chip = r.flops.model * r.tokens_per_s_per_chip;
  r.mfu = r.model_flop_per_s_per_chip / machine.peak_bf16();
  r.hfu = r.hardware_flops_per_token * r.tokens_per_s_per_chip / machine.peak_bf16();

  r.memory = training_memory(job, r.params, a);
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
  if (plan.tp > machine.node_chips()) {
    r.notes.push_back(fmt::format("tensor parallelism ({}) spans more than one scale-up domain ({} chips)", plan.tp,
                                  machine.node_chips()));
  }
  if (plan.pp > 1 && r.micro_batches < plan.pp) {
    r.notes.push_back(fmt::format("{} micro-batches for {} pipeline stages: the bubble dominates", r.micro_batches,
                                  plan.pp));
  }
  return r;
}

}  // namespace flopcast
