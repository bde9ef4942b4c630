#include "flopcast/models/memory.hpp"

#include <algorithm>

namespace flopcast {

namespace {
constexpr double kBf16Bytes = 2.0;
constexpr double kFp32Bytes = 4.0;
constexpr double kWeightBytes = kBf16Bytes;        // bf16 weights (fp8 training casts on the fly)
constexpr double kGradientBytes = kFp32Bytes;      // fp32 main gradients (Megatron's default accumulation)
constexpr double kOptimizerBytes = 3 * kFp32Bytes; // fp32 master weights, Adam first and second moments

double expert_data_parallel(const ParallelPlan& plan) {
  return static_cast<double>(plan.tp) * plan.cp * plan.dp / plan.ep;
}
}  // namespace

std::vector<StageLayout> stage_layouts(const ModelArch& model, int pp) {
  std::vector<StageLayout> stages(static_cast<std::size_t>(pp));
  const int base = model.layers / pp;
  const int extra = model.layers % pp;
  int next_layer = 0;
  const int dense_total = model.dense_layer_count();
  for (int stage_idx = 0; stage_idx < pp; ++stage_idx) {
    auto& stage = stages[static_cast<std::size_t>(stage_idx)];
    const int count = base + (stage_idx < extra ? 1 : 0);
    for (int i = 0; i < count; ++i, ++next_layer) {
      (next_layer < dense_total ? stage.dense_layers : stage.moe_layers) += 1;
    }
  }
  stages.front().embedding = true;
  stages.back().head = true;
  stages.back().mtp_modules = model.mtp_modules;
  return stages;
}

StageParams stage_params(const ModelArch& model, const ParamCounts& p, const StageLayout& stage,
                         const ParallelPlan& plan) {
  StageParams out;
  const double routed_per_layer = model.moe ? model.moe->experts * p.expert : 0.0;
  const double moe_layer_dense_part = p.moe_layer_total - routed_per_layer;
  double dense = stage.dense_layers * p.dense_layer + stage.moe_layers * moe_layer_dense_part;
  double expert = stage.moe_layers * routed_per_layer;
  if (stage.embedding) dense += p.embedding;
  if (stage.head) dense += p.output_head + p.final_norm;
  if (stage.mtp_modules > 0) {
    const double mtp_expert = model.moe ? routed_per_layer : 0.0;
    dense += stage.mtp_modules * (p.mtp_module - mtp_expert);
    expert += stage.mtp_modules * mtp_expert;
  }
  out.dense = dense / plan.tp;
  out.expert = expert / plan.ep;
  return out;
}

double activation_bytes_per_layer(const ModelArch& m, bool moe_layer, const ParallelPlan& plan,
                                  const TrainingSetup& training) {
  // Korthikanti et al. 2022, section 4.1, per layer with s tokens, b sequences, hidden h, a heads, t TP ranks:
  //   attention 11 sbh + 5 a s^2 b, MLP 19 sbh, two LayerNorms 4 sbh  =>  sbh (34 + 5 a s / h) bytes;
  //   with TP: sbh (10 + 24/t + 5 a s / (h t)); with TP + SP: sbh / t (34 + 5 a s / h).
  // The terms below are those tensors, written for general head counts, FFN widths and activations.
  const double tokens = static_cast<double>(training.seq_len) / plan.cp * plan.micro_batch;  // this chip's s*b
  const double t = plan.tp;
  const double replicated = plan.sp ? t : 1.0;  // tensors outside the TP region are split only with SP
  const double h = m.hidden;
  const double mask = training.dropout ? 1.0 : 0.0;  // dropout masks: one byte per element
  const double b16 = kBf16Bytes;

  if (plan.recompute == Recompute::full) return b16 * tokens * h / replicated;  // only the layer input is kept

  // FP8 training keeps each GEMM's input for the weight gradient as its FP8 cast, one byte per element: Transformer
  // Engine's Linear, LayerNormLinear and LayerNormMLP save the FP8 tensor they fed the GEMM, and DeepSeek-V3 caches
  // Linear inputs in FP8 (arXiv:2412.19437, section 3.3.3). That covers the QKV and FFN inputs (norm outputs), the
  // output-projection input and the second FFN GEMM's input; the norm inputs, Q, K, V and the FFN's first outputs
  // stay bf16. Korthikanti's 34 sbh per layer becomes 27 sbh for a GELU FFN of 4h.
  const double gemm_in = training.precision == Precision::fp8 ? 1.0 : b16;

  const double kv_heads = m.mla ? m.heads : m.kv_heads;
  double bytes = 0;
  // Two norm inputs, the QKV-projection input and the FFN input, and the two dropout masks after the blocks.
  bytes += (2.0 * b16 + 2.0 * gemm_in + 2.0 * mask) * tokens * h / replicated;
  // Q, K, V and the output-projection input (the attention output).
  bytes += b16 * tokens * (m.heads * m.qk_head_dim() + kv_heads * m.qk_head_dim() + kv_heads * m.v_head_dim()) / t;
  bytes += gemm_in * tokens * m.heads * m.v_head_dim() / t;
  if (m.mla) {
    // The latents and their normalised copies (replicated across TP in Megatron's MLA).
    const double latent = (m.mla->q_lora_rank + m.mla->kv_lora_rank + m.mla->qk_rope_head_dim);
    bytes += 2.0 * b16 * tokens * latent;
  }
  // The score matrix: softmax output (2 bytes), dropout mask (1) and dropout output (2) per element: 5 a s^2 b.
  const bool scores_kept = !training.flash_attention && plan.recompute == Recompute::none;
  if (scores_kept) {
    const double per_element = b16 + mask * (1.0 + b16);
    bytes += per_element * m.heads * tokens * training.seq_len / t;
  } else if (training.flash_attention) {
    bytes += kFp32Bytes * tokens * m.heads / t;  // FlashAttention's softmax statistics (log-sum-exp)
  }
  // FFN: GELU keeps its input and output (f each); SwiGLU keeps gate and up outputs and the product (3 f). The last
  // of them is the second GEMM's input.
  const double ffn_bytes = b16 * (m.ffn_act == FfnActivation::swiglu ? 2.0 : 1.0) + gemm_in;
  if (moe_layer && m.moe) {
    const auto& e = *m.moe;
    const double routed_tokens = tokens / t * e.top_k * e.imbalance;  // SP splits the tokens before dispatch
    // Each routed copy: its input, the expert's FFN tensors, its output before the weighted combine.
    bytes += routed_tokens * ((gemm_in + b16) * h + ffn_bytes * e.expert_ffn);
    bytes += tokens * ffn_bytes * e.shared_experts * e.expert_ffn / t;
    bytes += kFp32Bytes * tokens / t * e.experts;  // router logits
  } else {
    bytes += tokens * ffn_bytes * m.ffn / t;
  }
  return bytes;
}

double micro_batches_in_flight(const ParallelPlan& plan, long micro_batches) {
  const double m = static_cast<double>(micro_batches);
  switch (plan.schedule) {
    case Schedule::gpipe: return m;
    case Schedule::one_f_one_b: return std::min<double>(m, plan.pp);
    case Schedule::interleaved:
      // Narayanan et al. 2021, section 2.2: the first stage holds pp (1 + (pp-1)/(pp vpp)) micro-batches' worth.
      return std::min<double>(m, plan.pp) * (1.0 + (plan.pp - 1.0) / (static_cast<double>(plan.pp) * plan.vpp));
    case Schedule::dualpipe: return std::min<double>(m, plan.pp + 1.0);  // DeepSeek-V3 report, table 2: PP + 1
  }
  return m;
}

MemoryReport training_memory(const TrainingJob& job, const ParamCounts& params, const Assumptions& assumptions) {
  const auto& plan = job.plan;
  const auto& model = job.model;
  const long micro_batches = job.training.global_batch / (static_cast<long>(plan.dp) * plan.micro_batch);
  const double in_flight = micro_batches_in_flight(plan, micro_batches);
  const double dense_layer_acts = activation_bytes_per_layer(model, false, plan, job.training);
  const double moe_layer_acts = model.moe ? activation_bytes_per_layer(model, true, plan, job.training) : 0.0;
  const double dense_shards = static_cast<double>(plan.dp) * plan.cp;
  const double expert_shards = expert_data_parallel(plan);
  // DualPipe keeps two copies of the parameters (DeepSeek-V3 report, section 3.2.1 and table 2).
  const double copies = plan.schedule == Schedule::dualpipe ? 2.0 : 1.0;

  MemoryReport best;
  const auto stages = stage_layouts(model, plan.pp);
  for (std::size_t stage_idx = 0; stage_idx < stages.size(); ++stage_idx) {
    const auto& stage = stages[stage_idx];
    const auto held = stage_params(model, params, stage, plan);
    const double weight_share = plan.zero >= 3 ? held.dense / dense_shards + held.expert / expert_shards : held.total();
    const double grad_share = plan.zero >= 2 ? held.dense / dense_shards + held.expert / expert_shards : held.total();
    const double optimizer_share =
        plan.zero >= 1 ? held.dense / dense_shards + held.expert / expert_shards : held.total();

    MemoryReport r;
    r.stage = static_cast<int>(stage_idx);
    r.weights_bytes = copies * kWeightBytes * weight_share;
    r.gradients_bytes = copies * kGradientBytes * grad_share;
    r.optimizer_bytes = copies * kOptimizerBytes * optimizer_share;
    // Earlier stages hold more micro-batches under 1F1B: stage i holds (pp - i) of them, scaled like stage 0's.
    const double stage_in_flight =
        plan.schedule == Schedule::gpipe ? in_flight : in_flight * (plan.pp - static_cast<double>(stage_idx)) / plan.pp;
    const double stage_in_flight_at_least_one = std::max(1.0, stage_in_flight);
    double per_micro_batch = stage.dense_layers * dense_layer_acts + stage.moe_layers * moe_layer_acts;
    if (stage.mtp_modules > 0) per_micro_batch += stage.mtp_modules * (model.moe ? moe_layer_acts : dense_layer_acts);
    r.activations_bytes = stage_in_flight_at_least_one * per_micro_batch;
    if (plan.recompute == Recompute::full) {
      // The layer being recomputed needs its full activations once.
      ParallelPlan without = plan;
      without.recompute = Recompute::selective;
      r.activations_bytes += activation_bytes_per_layer(model, model.is_moe(), without, job.training);
    }
    if (stage.head) {
      // fp32 logits for the loss of the micro-batch in flight, for the head and each MTP module.
      const double tokens = static_cast<double>(job.training.seq_len) / plan.cp * plan.micro_batch;
      r.activations_bytes += 4.0 * tokens * static_cast<double>(model.vocab) / plan.tp * (1 + stage.mtp_modules);
    }
    r.reserved_bytes = assumptions.memory_reserved_bytes;
    r.total_bytes = r.weights_bytes + r.gradients_bytes + r.optimizer_bytes + r.activations_bytes + r.reserved_bytes;
    const auto* group = job.cluster.stage_group(static_cast<int>(stage_idx));
    r.capacity_bytes = (group ? group->chip : job.cluster.chip).hbm_capacity.value;
    r.usable_bytes = r.capacity_bytes * assumptions.memory_usable_fraction;
    r.margin_bytes = r.usable_bytes - r.total_bytes;
    r.in_flight = stage_in_flight_at_least_one;
    r.fits = r.margin_bytes >= 0;
    if (stage_idx == 0 || r.margin_bytes < best.margin_bytes) best = r;
  }
  return best;
}

}  // namespace flopcast
