#include "flopcast/models/memory.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "flopcast/core/errors.hpp"

namespace flopcast {

namespace {
constexpr double kBf16Bytes = 2.0;
constexpr double kFp32Bytes = 4.0;
constexpr double kWeightBytes = kBf16Bytes;        // bf16 weights (fp8 training casts on the fly)

// Layers per stage for `layers` over `stages`, the last stage carrying `last_extra` layers of other work: the split
// with the smallest busiest stage (each stage at least one layer where there are enough), extra layers first.
std::vector<int> search_balanced_counts(int layers, int stages, double last_extra) {
  const auto fits = [&](double cap) {
    long total = 0;
    for (int i = 0; i < stages; ++i) {
      const double room = cap - (i == stages - 1 ? last_extra : 0.0);
      if (room < 1.0 - 1e-9) return false;
      total += static_cast<long>(std::floor(room + 1e-9));
    }
    return total >= layers;
  };
  double lo = 1.0;
  double hi = layers + last_extra + 1.0;
  for (int i = 0; i < 60; ++i) {
    const double mid = 0.5 * (lo + hi);
    (fits(mid) ? hi : lo) = mid;
  }
  std::vector<int> counts(static_cast<std::size_t>(stages));
  for (int i = 0; i < stages; ++i) {
    const double room = hi - (i == stages - 1 ? last_extra : 0.0);
    counts[static_cast<std::size_t>(i)] = static_cast<int>(std::floor(room + 1e-9));
  }
  // Take the surplus back one layer at a time from the most loaded stage (the first on a tie, so that the last
  // stage keeps its share where loads tie: it holds fewer layers' activations), keeping one layer each.
  long surplus = -static_cast<long>(layers);
  for (int c : counts) surplus += c;
  while (surplus > 0) {
    int pick = -1;
    double load = -1;
    for (int i = 0; i < stages; ++i) {
      const auto c = counts[static_cast<std::size_t>(i)];
      const double l = c + (i == stages - 1 ? last_extra : 0.0);
      if (c > 1 && l > load) {
        pick = i;
        load = l;
      }
    }
    if (pick < 0) break;
    counts[static_cast<std::size_t>(pick)] -= 1;
    --surplus;
  }
  return counts;
}

// A plan search asks for the same few splits again and again: the ones computed on this thread are kept.
const std::vector<int>& balanced_counts(int layers, int stages, double last_extra) {
  using Key = std::tuple<int, int, double>;
  thread_local std::map<Key, std::vector<int>> cache;
  const Key key{layers, stages, last_extra};
  if (const auto it = cache.find(key); it != cache.end()) return it->second;
  constexpr std::size_t kMaxSplits = 4096;
  if (cache.size() >= kMaxSplits) cache.clear();
  return cache.emplace(key, search_balanced_counts(layers, stages, last_extra)).first->second;
}

std::vector<StageLayout> layouts_from_counts(const ModelArch& model, const std::vector<int>& counts) {
  std::vector<StageLayout> stages(counts.size());
  int next_layer = 0;
  // A transformer's dense layers come first (layer_kind): a stage's share of them is its range's overlap with them.
  const int dense = model.is_hybrid() ? 0 : model.dense_layer_count();
  for (std::size_t stage_idx = 0; stage_idx < counts.size(); ++stage_idx) {
    auto& stage = stages[stage_idx];
    const int n = counts[stage_idx];
    if (!model.is_hybrid()) {
      stage.dense_layers = std::clamp(dense - next_layer, 0, n);
      stage.moe_layers = n - stage.dense_layers;
      next_layer += n;
      continue;
    }
    for (int i = 0; i < n; ++i, ++next_layer) stage.count(model.layer_kind(next_layer)) += 1;
  }
  stages.front().embedding = true;
  stages.back().head = true;
  stages.back().mtp_modules = model.mtp_modules;
  return stages;
}
}  // namespace

int StageLayout::count(LayerKind kind) const { return const_cast<StageLayout*>(this)->count(kind); }

int& StageLayout::count(LayerKind kind) {
  switch (kind) {
    case LayerKind::dense: return dense_layers;
    case LayerKind::moe: return moe_layers;
    case LayerKind::mamba: return mamba_layers;
    case LayerKind::attention: return attention_layers;
    case LayerKind::experts: return expert_layers;
    case LayerKind::mlp: break;
  }
  return mlp_layers;
}

std::vector<StageLayout> stage_layouts(const ModelArch& model, int pp) {
  std::vector<int> counts(static_cast<std::size_t>(pp), model.layers / pp);
  for (int i = 0; i < model.layers % pp; ++i) counts[static_cast<std::size_t>(i)] += 1;
  return layouts_from_counts(model, counts);
}

double head_layer_equivalents(const ModelArch& model) {
  const auto p = count_params(model);
  // A hybrid model's layers differ: their mean.
  const double layer = model.is_hybrid() ? (p.active_without_input_embedding - p.output_head) / model.layers
                       : model.is_moe()  ? p.moe_layer_active
                                         : p.dense_layer;
  return layer > 0 ? static_cast<double>(model.vocab) * model.hidden / layer : 0.0;
}

std::vector<StageLayout> stage_layouts(const ModelArch& model, const ParallelPlan& plan, int stages) {
  switch (plan.layout) {
    case PipelineLayout::even: return stage_layouts(model, stages);
    case PipelineLayout::listed:
      if (static_cast<long>(plan.stage_layers.size()) != stages) {
        throw ModelError(fmt::format("stage_layers lists {} pipeline stages, but the plan has {} (pp x vpp)",
                                     plan.stage_layers.size(), stages));
      }
      return layouts_from_counts(model, plan.stage_layers);
    case PipelineLayout::balanced: {
      // An MTP module is a layer, its 2h -> h projection (small) and an output head.
      const double head = head_layer_equivalents(model);
      const double last_extra = head + model.mtp_modules * (1.0 + head);
      if (plan.schedule != Schedule::dualpipe || stages < 2 || stages % 2 != 0) {
        return layouts_from_counts(model, balanced_counts(model.layers, stages, last_extra));
      }
      // DualPipe: a device runs stages d and stages - 1 - d, so the pairs are balanced (the last stage's extra work
      // falls on the first pair), and each pair's layers split evenly between its two stages.
      const int pairs = stages / 2;
      auto by_pair = balanced_counts(model.layers, pairs, last_extra);
      std::reverse(by_pair.begin(), by_pair.end());  // balanced_counts puts the extra work last: pair 0 takes it
      std::vector<int> counts(static_cast<std::size_t>(stages));
      for (int p = 0; p < pairs; ++p) {
        const int n = by_pair[static_cast<std::size_t>(p)];
        counts[static_cast<std::size_t>(p)] = n - n / 2;
        counts[static_cast<std::size_t>(stages - 1 - p)] = n / 2;
      }
      return layouts_from_counts(model, counts);
    }
  }
  return stage_layouts(model, stages);
}

StageParams stage_params(const ModelArch& model, const ParamCounts& p, const StageLayout& stage,
                         const ParallelPlan& plan) {
  StageParams out;
  const double routed_per_layer = model.moe ? model.moe->experts * p.expert : 0.0;
  double dense = 0;
  double expert = 0;
  for (const auto kind : kLayerKinds) {
    if (stage.count(kind) == 0) continue;
    const double routed = routed_params(model, p, kind);
    dense += stage.count(kind) * (layer_params(model, p, kind, false) - routed);
    expert += stage.count(kind) * routed;
  }
  if (stage.embedding) dense += p.embedding;
  if (stage.head) dense += p.output_head + p.final_norm;
  if (stage.mtp_modules > 0) {
    const double mtp_expert = model.moe ? routed_per_layer : 0.0;
    const int held = std::min(stage.mtp_modules, model.mtp_weight_modules());  // modules whose weights it holds
    dense += held * (p.mtp_module - mtp_expert);
    expert += held * mtp_expert;
  }
  out.dense = dense / plan.tp;
  out.expert = expert / (static_cast<double>(plan.ep) * plan.etp);
  return out;
}

std::vector<BlockMatmul> block_matmuls(const ModelArch& m, bool moe_layer, int tp) {
  const double t = tp;
  const double h = m.hidden;
  std::vector<BlockMatmul> out;
  if (m.mla) {
    const auto& mla = *m.mla;
    const double qk = mla.qk_nope_head_dim + mla.qk_rope_head_dim;
    if (mla.q_lora_rank > 0) {
      out.push_back({static_cast<double>(mla.q_lora_rank), h});
      out.push_back({m.heads * qk / t, static_cast<double>(mla.q_lora_rank)});
    } else {
      out.push_back({m.heads * qk / t, h});
    }
    out.push_back({static_cast<double>(mla.kv_lora_rank + mla.qk_rope_head_dim), h});
    out.push_back({m.heads * (mla.qk_nope_head_dim + mla.v_head_dim) / t, static_cast<double>(mla.kv_lora_rank)});
  } else {
    out.push_back({m.heads * m.head_dim / t, h});     // wq
    out.push_back({m.kv_heads * m.head_dim / t, h});  // wk
    out.push_back({m.kv_heads * m.head_dim / t, h});  // wv
  }
  out.push_back({h, m.heads * m.v_head_dim() / t});  // wo: the residual stream after it is the next norm's input
  const auto mlp = [&](double width) {
    out.push_back({width / t, h});  // w1 (gate; the up projection of a GELU MLP)
    if (m.ffn_act == FfnActivation::swiglu) out.push_back({width / t, h});  // w3 (up)
    out.push_back({h, width / t, false});  // w2: only the residual add reads it
  };
  if (moe_layer && m.moe) {
    if (m.moe->shared_experts > 0) mlp(static_cast<double>(m.moe->shared_experts) * m.moe->expert_ffn);
  } else {
    mlp(m.ffn);
  }
  return out;
}

double loss_bytes_per_logit(const TrainingSetup& training) {
  // Fused: one fp32 buffer (4). PyTorch: the saved fp32 log-softmax, the fp32 gradient nll_loss's backward hands it
  // and the fp32 gradient it returns, alive together (4 + 4 + 4 = 12; the bf16 logits, 2, are freed before it,
  // and the forward's bf16 logits + fp32 copy + log-softmax, 2 + 4 + 4 = 10, stay below it).
  return training.pytorch_cross_entropy ? 12.0 : 4.0;
}

bool per_op_saves(std::size_t index) {
  return index % 2 == 0;  // the 1st, 3rd, ... (index from 0)
}

namespace {

// One layer's stored activations, block by block, for one micro-batch on one chip (see activation_bytes_per_layer).
class LayerActivations {
 public:
  LayerActivations(const ModelArch& m, const ParallelPlan& plan, const TrainingSetup& training)
      : m_(m), plan_(plan), training_(training), redo_(plan.recomputed()) {
    tokens_ = static_cast<double>(training.seq_len) / plan.cp * plan.micro_batch;  // this chip's s*b
    t_ = plan.tp;
    replicated_ = plan.sp ? t_ : 1.0;  // tensors outside the TP region are split only with SP
    mask_ = training.dropout ? 1.0 : 0.0;  // dropout masks: one byte per element
    // FP8 training keeps each GEMM's input for the weight gradient as its FP8 cast, one byte per element:
    // Transformer Engine's Linear, LayerNormLinear and LayerNormMLP save the FP8 tensor they fed the GEMM, and
    // DeepSeek-V3 caches Linear inputs in FP8 (arXiv:2412.19437, section 3.3.3). That covers the QKV and FFN
    // inputs (norm outputs), the output-projection input and the second FFN GEMM's input; the norm inputs, Q, K,
    // V and the FFN's first outputs stay bf16. Korthikanti's 34 sbh per layer becomes 27 sbh for a GELU FFN of 4h.
    // MXFP8 and NVFP4 keep their quantised copy with its block scales.
    gemm_in_ = saved_gemm_input_bytes(training.precision);
  }

  // The layer's input, all that full recomputation keeps.
  double input() const { return kBf16Bytes * tokens_ * m_.hidden / replicated_; }

  // One block's norm: its input and the dropout mask after the block; its output (the next GEMM's input) unless the
  // norms are recomputed.
  double norm() const {
    const double h = m_.hidden;
    double bytes = (kBf16Bytes + mask_) * tokens_ * h / replicated_;
    if (!redo_.layernorm) bytes += gemm_in_ * tokens_ * h / replicated_;
    return bytes;
  }

  double attention() const {
    const double b16 = kBf16Bytes;
    const double kv_heads = m_.mla ? m_.heads : m_.kv_heads;
    double bytes = 0;
    // Q, K, V (MLA: the up-projections' outputs, unless recomputed from the latents) and the output-projection
    // input.
    if (!(m_.mla && redo_.mla_up_proj)) {
      bytes +=
          b16 * tokens_ * (m_.heads * m_.qk_head_dim() + kv_heads * m_.qk_head_dim() + kv_heads * m_.v_head_dim()) / t_;
    }
    bytes += gemm_in_ * tokens_ * m_.heads * m_.v_head_dim() / t_;
    if (m_.mla) {
      // The latents and their normalised copies (replicated across TP in Megatron's MLA); the copies are the
      // up-projections' inputs, recomputed with the norms.
      const double latent = (m_.mla->q_lora_rank + m_.mla->kv_lora_rank + m_.mla->qk_rope_head_dim);
      bytes += (redo_.layernorm ? 1.0 : 2.0) * b16 * tokens_ * latent;
    }
    // The score matrix: softmax output (2 bytes), dropout mask (1) and dropout output (2) per element: 5 a s^2 b.
    const bool scores_kept = !training_.flash_attention && !redo_.core_attn;
    if (scores_kept) {
      const double per_element = b16 + mask_ * (1.0 + b16);
      bytes += per_element * m_.heads * tokens_ * training_.seq_len / t_;
    } else if (training_.flash_attention) {
      bytes += kFp32Bytes * tokens_ * m_.heads / t_;  // FlashAttention's softmax statistics (log-sum-exp)
    }
    return bytes;
  }

  double ffn(bool moe_layer) const {
    // FFN: GELU keeps its input and output (f each); SwiGLU keeps gate and up outputs and the product (3 f). The
    // last of them is the second GEMM's input, which recomputing the activation function drops.
    const double up_bytes = kBf16Bytes * m_.ffn_up_width();
    const double ffn_bytes = up_bytes + gemm_in_;
    double bytes = 0;
    if (moe_layer && m_.moe) {
      const auto& e = *m_.moe;
      // SP splits the tokens before dispatch; expert tensor parallelism gathers its etp ranks' copies, each through
      // 1/etp of the expert's width.
      const double routed_tokens = tokens_ / t_ * e.top_k * plan_.expert_load(e);
      const double etp = plan_.etp;
      // Each routed copy: its input (the first grouped GEMM's) and the expert's FFN tensors; none of it when the
      // experts are recomputed (dispatch included). The expert outputs are not kept: Megatron-Core folds the
      // routing weights into the activation function (experts.py, weighted_bias_swiglu_impl), so their gradient
      // needs the activation's output, already counted, not the expert's.
      if (!redo_.moe) {
        const double expert_bytes = redo_.moe_act ? up_bytes : ffn_bytes;
        bytes += routed_tokens * (etp * gemm_in_ * e.routed_width(m_.hidden) + expert_bytes * e.expert_ffn);
      }
      // LatentMoE: the combined latent sum, the up-projection's input (the down-projection reads the norm's output,
      // which the router and the shared experts read too).
      if (e.latent > 0) bytes += kBf16Bytes * tokens_ / t_ * e.latent;
      if (!redo_.mlp) bytes += tokens_ * ffn_bytes * e.shared_experts * e.expert_ffn / t_;
      bytes += kFp32Bytes * tokens_ / t_ * e.experts;  // router logits
    } else if (!redo_.mlp) {
      bytes += tokens_ * ffn_bytes * m_.ffn / t_;
    }
    return bytes;
  }

  // A Mamba-2 mixer (Megatron-Core's MambaMixer with mamba_ssm's chunked scan), heads split over TP: in_proj's
  // output (z, x, B, C, dt), the convolution's output (x, B, C after SiLU), which the scan saves with z and dt, the
  // scan's output y (the gated norm's input) and the gated norm's output (out_proj's input); the scan's chunk states
  // are recomputed in its backward, and the per-head dt cumulative sums (fp32) are small beside these.
  double mamba() const {
    const auto& s = *m_.mamba;
    return tokens_ / t_ *
           (kBf16Bytes * (s.in_proj_width() + s.conv_channels() + s.inner()) + gemm_in_ * s.inner() +
            kFp32Bytes * 2.0 * s.heads);
  }

 private:
  const ModelArch& m_;
  const ParallelPlan& plan_;
  const TrainingSetup& training_;
  RecomputeModules redo_;
  double tokens_ = 0;
  double t_ = 1;
  double replicated_ = 1;
  double mask_ = 0;
  double gemm_in_ = kBf16Bytes;
};

}  // namespace

double activation_bytes_per_layer(const ModelArch& m, bool moe_layer, const ParallelPlan& plan,
                                  const TrainingSetup& training) {
  return activation_bytes_per_layer(m, moe_layer ? LayerKind::moe : LayerKind::dense, plan, training);
}

double activation_bytes_per_layer(const ModelArch& m, LayerKind kind, const ParallelPlan& plan,
                                  const TrainingSetup& training) {
  // Korthikanti et al. 2022, section 4.1, per layer with s tokens, b sequences, hidden h, a heads, t TP ranks:
  //   attention 11 sbh + 5 a s^2 b, MLP 19 sbh, two LayerNorms 4 sbh  =>  sbh (34 + 5 a s / h) bytes;
  //   with TP: sbh (10 + 24/t + 5 a s / (h t)); with TP + SP: sbh / t (34 + 5 a s / h).
  // The terms of LayerActivations are those tensors, written for general head counts, FFN widths and activations.
  const LayerActivations acts(m, plan, training);
  if (plan.recompute == Recompute::full) return acts.input();  // only the layer input is kept
  const bool moe_layer = kind == LayerKind::moe;
  if (plan.recompute == Recompute::per_op) {
    // The block's input (the checkpoint's), the saved aten.mm outputs, attention's output and softmax statistics,
    // the two sequence-parallel reduce-scatters' outputs and the expert all-to-alls' outputs; norms, rotary,
    // activation functions and residual adds are recomputed.
    const double tokens = static_cast<double>(training.seq_len) / plan.cp * plan.micro_batch;
    const double t = plan.tp;
    const double h = m.hidden;
    double bytes = acts.input();
    const auto matmuls = block_matmuls(m, moe_layer, plan.tp);
    for (std::size_t i = 0; i < matmuls.size(); ++i) {
      if (per_op_saves(i)) bytes += kBf16Bytes * tokens * matmuls[i].out;
    }
    bytes += (kBf16Bytes * m.v_head_dim() + kFp32Bytes) * tokens * m.heads / t;
    if (plan.tp > 1 && plan.sp) bytes += 2.0 * kBf16Bytes * tokens * h / t;
    if (moe_layer && m.moe && plan.ep > 1) {
      // The dispatched and combined copies.
      bytes += 2.0 * kBf16Bytes * tokens / t * m.moe->top_k * plan.expert_load(*m.moe) * h;
    }
    return bytes;
  }
  switch (kind) {
    case LayerKind::dense: return 2.0 * acts.norm() + acts.attention() + acts.ffn(false);
    case LayerKind::moe: return 2.0 * acts.norm() + acts.attention() + acts.ffn(true);
    case LayerKind::mamba: return acts.norm() + acts.mamba();
    case LayerKind::attention: return acts.norm() + acts.attention();
    case LayerKind::experts: return acts.norm() + acts.ffn(true);
    case LayerKind::mlp: return acts.norm() + acts.ffn(false);
  }
  return 0.0;
}

double micro_batches_in_flight(const ParallelPlan& plan, long micro_batches) {
  return micro_batches_in_flight(plan, micro_batches, 0);
}

double micro_batches_in_flight(const ParallelPlan& plan, long micro_batches, int device) {
  const double m = static_cast<double>(micro_batches);
  const double pp = plan.pp;
  // Combined 1F1B (EP overlap) runs one more warm-up forward in the interleaved schedule (a chunk of 1/vpp of the
  // layers). Its pairs add nothing: the paired forward stores layer by layer what the backward frees layer by layer
  // (in reverse order), so without a pipeline one micro-batch stays in flight.
  const double paired = plan.ep_comm_overlap ? 1.0 : 0.0;
  const double ahead = pp - device;
  switch (plan.schedule) {
    case Schedule::gpipe: return m;
    case Schedule::one_f_one_b: return std::min(m, ahead);
    case Schedule::interleaved: {
      // Megatron's interleaved 1F1B: rank i runs 2 (pp - i - 1) + (vpp - 1) pp warm-up forwards of one chunk
      // (1/vpp of its layers) before its first backward, then keeps one more in flight. For i = 0 that is
      // Narayanan et al. 2021's pp (1 + (pp - 1) / (pp vpp)) stages' worth of micro-batches.
      const double vpp = plan.vpp;
      const double chunks = 2.0 * (ahead - 1.0) + (vpp - 1.0) * pp + 1.0 + paired;
      return std::min(m * vpp, chunks) / vpp;
    }
    case Schedule::dualpipe: return std::min(m, pp + 1.0);  // DeepSeek-V3 report, table 2: PP + 1
    // ZB-H1: device i keeps 1F1B's pp - i micro-batches awaiting their backward and up to i more awaiting their
    // weight pass (make_schedule), whose saved inputs are most of a layer's activations: counted whole, pp in all
    // (the paper's "same peak memory as 1F1B", which is device 0's).
    case Schedule::zero_bubble: return std::min(m, pp);
    // ZB-V (PyTorch's order): device d runs 2 pp - d - 1 forwards of its first stage and d of its second before its
    // first backward, and then at most one more: 2 pp half micro-batches, pp in all on every device (the paper's
    // "same peak memory as 1F1B").
    case Schedule::zero_bubble_v: return std::min(m, pp);
  }
  return m;
}

boost::container::small_vector<StageLayout, 8> device_stages(const ParallelPlan& plan,
                                                             const std::vector<StageLayout>& chunks, int device) {
  boost::container::small_vector<StageLayout, 8> held;
  if (plan.dualpipe()) {
    // Two model copies running in opposite directions: stage `device` of one, stage pp - 1 - `device` of the other.
    held.push_back(chunks[static_cast<std::size_t>(device)]);
    held.push_back(chunks[static_cast<std::size_t>(plan.pp - 1 - device)]);
    return held;
  }
  if (plan.v_shape()) {
    held.push_back(chunks[static_cast<std::size_t>(device)]);
    held.push_back(chunks[static_cast<std::size_t>(2 * plan.pp - 1 - device)]);
    return held;
  }
  for (std::size_t v = static_cast<std::size_t>(device); v < chunks.size(); v += static_cast<std::size_t>(plan.pp)) {
    held.push_back(chunks[v]);
  }
  return held;
}

StageParams device_params(const ModelArch& model, const ParamCounts& params, const ParallelPlan& plan,
                          const std::vector<StageLayout>& chunks, int device) {
  StageParams held;
  for (const auto& stage : device_stages(plan, chunks, device)) {
    const auto p = stage_params(model, params, stage, plan);
    held.dense += p.dense;
    held.expert += p.expert;
  }
  return held;
}

OffloadedLayers offloaded_layers(const ModelArch& model, const ParallelPlan& plan) {
  const int n = std::clamp(plan.offload_activation_layers, 0, model.layers);
  const int dense = std::min(n, model.dense_layer_count());
  return {dense, n - dense};
}

int fully_recomputed_layers(const StageLayout& stage, LayerKind kind, const ParallelPlan& plan) {
  if (plan.recompute != Recompute::full) return 0;
  if (plan.recompute_layers == 0) return stage.count(kind);
  int before = 0;  // the stage's layers that run before this kind's
  for (const auto k : kLayerKinds) {
    if (k == kind) break;
    before += stage.count(k);
  }
  return std::clamp(plan.recompute_layers - before, 0, stage.count(kind));
}

MemoryReport training_memory(const TrainingJob& job, const ParamCounts& params, const Assumptions& assumptions) {
  const auto& plan = job.plan;
  const auto& model = job.model;
  const long micro_batches = job.training.global_batch / (static_cast<long>(plan.dp) * plan.micro_batch);
  std::array<double, kLayerKinds.size()> layer_acts{};  // by LayerKind
  // A layer being recomputed (with only its attention core recomputed inside it): a transformer's MoE layer, or
  // its dense one; a hybrid model's largest.
  ParallelPlan without = plan;
  without.recompute = Recompute::selective;
  without.recompute_modules = {};
  double recomputed_layer_acts = 0;
  for (std::size_t k = 0; k < kLayerKinds.size(); ++k) {
    if (model.layer_count(kLayerKinds[k]) == 0) continue;
    layer_acts[k] = activation_bytes_per_layer(model, kLayerKinds[k], plan, job.training);
    if (model.is_hybrid()) {
      recomputed_layer_acts =
          std::max(recomputed_layer_acts, activation_bytes_per_layer(model, kLayerKinds[k], without, job.training));
    }
  }
  if (!model.is_hybrid()) recomputed_layer_acts = activation_bytes_per_layer(model, model.is_moe(), without, job.training);
  // The block method's layers that are not recomputed keep every activation.
  const bool block = plan.recompute == Recompute::full && plan.recompute_layers > 0;
  ParallelPlan kept = plan;
  kept.recompute = Recompute::none;
  kept.recompute_layers = 0;
  std::array<double, kLayerKinds.size()> kept_acts = layer_acts;
  if (block) {
    for (std::size_t k = 0; k < kLayerKinds.size(); ++k) {
      if (model.layer_count(kLayerKinds[k]) > 0) {
        kept_acts[k] = activation_bytes_per_layer(model, kLayerKinds[k], kept, job.training);
      }
    }
  }
  const auto acts_of = [&](LayerKind kind) { return layer_acts[static_cast<std::size_t>(kind)]; };
  const auto kept_of = [&](LayerKind kind) { return kept_acts[static_cast<std::size_t>(kind)]; };
  const double dense_layer_acts = acts_of(LayerKind::dense);
  const double moe_layer_acts = acts_of(LayerKind::moe);
  // An MTP module's layer: a transformer layer, or a hybrid model's attention and FFN layers (Nemotron 3's "*E").
  // The block method does not recompute them.
  double mtp_layer_acts = model.moe ? kept_of(LayerKind::moe) : kept_of(LayerKind::dense);
  if (model.is_hybrid() && model.mtp_modules > 0) {
    const auto& mtp_plan = block ? kept : plan;
    mtp_layer_acts = activation_bytes_per_layer(model, LayerKind::attention, mtp_plan, job.training) +
                     activation_bytes_per_layer(model, model.moe ? LayerKind::experts : LayerKind::mlp, mtp_plan,
                                                job.training);
  }
  const double dense_shards = plan.dense_shards();
  const double moe_shards = plan.expert_shards();
  const double optimizer_bytes_per_param = plan.master_weight_bytes + 2.0 * plan.optimizer_moment_bytes;
  const bool dualpipe = plan.dualpipe();
  const auto chunks = stage_layouts(model, plan, plan.pp * plan.chunks_per_device());

  MemoryReport best;
  // Most stages hold the same layers: the last one's parameters are kept.
  StageLayout last_stage;
  StageParams last_params = stage_params(model, params, last_stage, plan);
  for (int device = 0; device < plan.pp; ++device) {
    StageParams held;            // device_params, summed here from the stage_params the loop needs anyway
    double per_micro_batch = 0;  // activations of one micro-batch through all of this device's stages
    double largest_layer_params = 0;
    bool head = false;
    int head_count = 0;
    for (const auto& stage : device_stages(plan, chunks, device)) {
      if (stage != last_stage) {
        last_stage = stage;
        last_params = stage_params(model, params, stage, plan);
      }
      const auto& p = last_params;
      held.dense += p.dense;
      held.expert += p.expert;
      for (const auto kind : kLayerKinds) {
        const int redone = block ? fully_recomputed_layers(stage, kind, plan) : stage.count(kind);
        per_micro_batch += redone * acts_of(kind) + (stage.count(kind) - redone) * kept_of(kind);
      }
      per_micro_batch += stage.mtp_modules * mtp_layer_acts;
      if (stage.layers() > 0) largest_layer_params = std::max(largest_layer_params, p.total() / stage.layers());
      if (stage.head) {
        head = true;
        head_count = 1 + stage.mtp_modules;
      }
    }
    if (plan.offload_activation_layers > 0) {
      // Offloaded to the host: the first layers' activations (dense layers come first), pp 1 only.
      const auto off = offloaded_layers(model, plan);
      per_micro_batch -= off.dense * dense_layer_acts + off.moe * moe_layer_acts;
    }
    const double sharded = held.dense / dense_shards + held.expert / moe_shards;

    MemoryReport r;
    r.stage = device;
    r.weights_bytes = kWeightBytes * (plan.zero >= 3 ? sharded : held.total());
    // Sharded gradients from ZeRO-2, unless a step's micro-batches accumulate them unsharded first.
    const bool unsharded_gradients = plan.zero < 2 || (plan.unsharded_gradient_accumulation && micro_batches > 1);
    r.gradients_bytes = plan.gradient_bytes * (unsharded_gradients ? held.total() : sharded);
    // What Megatron's optimizer CPU offload keeps in host memory (the fp32 master weights and the moments of that
    // fraction of the shard) leaves the chip; the main gradients stay.
    r.optimizer_bytes = optimizer_bytes_per_param * (plan.zero >= 1 ? sharded : held.total()) *
                        (1.0 - plan.optimizer_offload_fraction);
    if (plan.zero >= 3 && (dense_shards > 1 || (held.expert > 0 && moe_shards > 1))) {
      // Unsharded bf16 weights, gathered into buffers of their own beside the shards (none with a single shard):
      // the whole device's for the step without resharding; else the layer in use and the next one, prefetched.
      r.gathered_weights_bytes =
          kWeightBytes * (plan.reshard_after_forward ? 2.0 * largest_layer_params : held.total());
    }
    // DualPipe's in-flight count is in stages' worth of micro-batches: half of it through each of the two stages.
    const double in_flight = std::max(1.0, micro_batches_in_flight(plan, micro_batches, device));
    r.activations_bytes = (dualpipe ? in_flight / 2.0 : in_flight) * per_micro_batch;
    if (plan.recompute == Recompute::full || plan.recompute == Recompute::per_op) {
      // The layer being recomputed needs its full activations once.
      r.activations_bytes += recomputed_layer_acts;
    }
    if (head) {
      // The loss of the micro-batch in flight, for the head and each MTP module, at its peak.
      const double tokens = static_cast<double>(job.training.seq_len) / plan.cp * plan.micro_batch;
      r.activations_bytes +=
          loss_bytes_per_logit(job.training) * tokens * static_cast<double>(model.vocab) / plan.tp * head_count;
    }
    r.reserved_bytes = assumptions.memory_reserved_bytes;
    r.total_bytes = r.weights_bytes + r.gradients_bytes + r.optimizer_bytes + r.gathered_weights_bytes +
                    r.activations_bytes + r.reserved_bytes;
    const auto* group = job.cluster.stage_group(device);
    r.capacity_bytes = (group ? group->chip : job.cluster.chip).hbm_capacity.value;
    r.usable_bytes = r.capacity_bytes * assumptions.memory_usable_fraction;
    r.margin_bytes = r.usable_bytes - r.total_bytes;
    r.in_flight = in_flight;
    r.fits = r.margin_bytes >= 0;
    if (device == 0 || r.margin_bytes < best.margin_bytes) best = r;
  }
  return best;
}

}  // namespace flopcast
