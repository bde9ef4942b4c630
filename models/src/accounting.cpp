#include "flopcast/models/accounting.hpp"

#include <algorithm>

namespace flopcast {

namespace {

// Projections of one attention block, with the small norms of MLA's latents.
double attention_params(const ModelArch& m) {
  const double h = m.hidden;
  if (m.mla) {
    const auto& a = *m.mla;
    const double qk = a.qk_nope_head_dim + a.qk_rope_head_dim;
    const double q = a.q_lora_rank > 0 ? h * a.q_lora_rank + a.q_lora_rank + a.q_lora_rank * m.heads * qk
                                       : h * m.heads * qk;
    const double kv_down = h * (a.kv_lora_rank + a.qk_rope_head_dim) + a.kv_lora_rank;
    const double kv_up = static_cast<double>(a.kv_lora_rank) * m.heads * (a.qk_nope_head_dim + a.v_head_dim);
    const double out = static_cast<double>(m.heads) * a.v_head_dim * h;
    return q + kv_down + kv_up + out;
  }
  const double q_width = static_cast<double>(m.heads) * m.head_dim;
  const double kv_width = static_cast<double>(m.kv_heads) * m.head_dim;
  const double weights = h * q_width + 2.0 * h * kv_width + q_width * h;
  const double biases = m.qkv_bias ? q_width + 2.0 * kv_width : 0.0;
  return weights + biases;
}

// Layers with an attention block: a hybrid model's Mamba layers keep a fixed-size state per sequence instead.
double attention_layers(const ModelArch& m) { return m.attention_layer_count(); }

double ffn_params(const ModelArch& m, double intermediate, double width) {
  const double matrices = m.ffn_act == FfnActivation::swiglu ? 3.0 : 2.0;  // gate, up, down vs up, down
  return matrices * width * intermediate;
}
double ffn_params(const ModelArch& m, double intermediate) { return ffn_params(m, intermediate, m.hidden); }

// Megatron-Core's MambaMixer: in_proj (h -> 2 inner + 2 G N + H), the depthwise convolution's weights and biases
// over x, B and C, dt_bias, A_log and D (one per head), the gated RMSNorm's weight and out_proj (inner -> h).
double mamba_params(const ModelArch& m) {
  const auto& s = *m.mamba;
  const double h = m.hidden;
  return h * s.in_proj_width() + s.conv_channels() * (s.conv_kernel + 1.0) + 3.0 * s.heads + s.inner() +
         s.inner() * h;
}

}  // namespace

ParamCounts count_params(const ModelArch& m) {
  ParamCounts p;
  const double h = m.hidden;
  p.embedding = static_cast<double>(m.vocab) * h;
  p.output_head = m.tied_embeddings ? 0.0 : p.embedding;
  p.attention_per_layer = attention_params(m);
  p.norms_per_layer = 2.0 * h;
  p.final_norm = h;
  p.dense_ffn_per_layer = ffn_params(m, m.ffn);
  p.dense_layer = p.attention_per_layer + p.norms_per_layer + p.dense_ffn_per_layer;
  const double shared_base = p.embedding + p.output_head + p.final_norm;
  if (m.moe) {
    const auto& e = *m.moe;
    // A routed expert works in the latent width where there is one; shared experts and the router in the hidden
    // width; LatentMoE's two projections (h -> latent before the dispatch, latent -> h after the combine) are
    // ordinary weights of the layer.
    p.expert = ffn_params(m, e.expert_ffn, e.routed_width(m.hidden));
    if (e.expert_bias) {  // FC1's (gate and up) and FC2's biases
      p.expert += m.ffn_up_width() * e.expert_ffn + e.routed_width(m.hidden);
    }
    p.shared_experts_per_layer = e.shared_experts * ffn_params(m, e.expert_ffn);
    p.latent_projections_per_layer = e.latent > 0 ? 2.0 * h * e.latent : 0.0;
    p.router_per_layer = h * e.experts;
    const double common = p.attention_per_layer + p.norms_per_layer + p.moe_common_ffn();
    p.moe_layer_total = common + e.experts * p.expert;
    p.moe_layer_active = common + e.top_k * p.expert;
    p.total = shared_base + m.dense_layer_count() * p.dense_layer + m.moe_layer_count() * p.moe_layer_total;
    p.active = shared_base + m.dense_layer_count() * p.dense_layer + m.moe_layer_count() * p.moe_layer_active;
  } else {
    p.total = shared_base + m.layers * p.dense_layer;
    p.active = p.total;
  }
  if (m.mamba) p.mamba_mixer = mamba_params(m);
  if (m.is_hybrid()) {
    p.total = shared_base;
    p.active = shared_base;
    for (int i = 0; i < m.layers; ++i) {
      p.total += layer_params(m, p, m.layer_kind(i), false);
      p.active += layer_params(m, p, m.layer_kind(i), true);
    }
  }
  p.active_without_input_embedding = p.active - (m.tied_embeddings ? 0.0 : p.embedding);
  // An MTP module (DeepSeek-V3 section 2.2): two norms, a 2h -> h projection and one transformer layer (MoE when
  // the model is), sharing the embedding and the output head with the main model. A hybrid model's module is an
  // attention layer and an FFN layer (Nemotron 3's MTP pattern "*E"): the same blocks and norms.
  const double mtp_layer = m.moe ? p.moe_layer_total : p.dense_layer;
  p.mtp_module = 2.0 * h + 2.0 * h * h + mtp_layer;
  p.mtp_total = m.mtp_weight_modules() * p.mtp_module;
  return p;
}

double layer_params(const ModelArch& m, const ParamCounts& p, LayerKind kind, bool active) {
  const double norm = p.norms_per_layer / 2.0;
  const double experts_block =
      m.moe ? p.moe_common_ffn() + (active ? m.moe->top_k : m.moe->experts) * p.expert : 0.0;
  switch (kind) {
    case LayerKind::dense: return p.dense_layer;
    case LayerKind::moe: return active ? p.moe_layer_active : p.moe_layer_total;
    case LayerKind::mamba: return norm + p.mamba_mixer;
    case LayerKind::attention: return norm + p.attention_per_layer;
    case LayerKind::experts: return norm + experts_block;
    case LayerKind::mlp: return norm + p.dense_ffn_per_layer;
  }
  return 0.0;
}

double routed_params(const ModelArch& m, const ParamCounts& p, LayerKind kind) {
  return has_experts(kind) && m.moe ? m.moe->experts * p.expert : 0.0;
}

double ssd_forward_flop_per_token(const MambaDims& s) {
  const double q = s.chunk;
  const double n = s.state;
  const double per_head = s.head_dim;
  return 2.0 * (s.groups * q * n + s.heads * q * per_head + 2.0 * s.heads * n * per_head);
}

double ssd_backward_flop_per_token(const MambaDims& s) {
  const double q = s.chunk;
  const double n = s.state;
  const double per_head = s.head_dim;
  return 2.0 * (3.0 * s.groups * q * n + 3.0 * s.heads * q * per_head + 5.0 * s.heads * n * per_head);
}

double ssd_hbm_bytes_per_token(const MambaDims& s) {
  const double states_per_token = s.inner() * s.state / s.chunk;
  return 12.0 * states_per_token + 8.0 * s.groups * s.chunk + 6.0 * s.inner() + 8.0 * s.groups * s.state;
}

double window_pairs(double start, double chunk, double window) {
  const double end = start + chunk;
  if (window <= 0 || end <= window) return chunk * (start + 0.5 * chunk);
  // Queries before the window fills see every earlier key; the later ones see the window.
  const double below = start < window ? (window * window - start * start) / 2.0 : 0.0;
  return below + (end - std::max(start, window)) * window;
}

double attention_core_forward_flop_per_token(const ModelArch& m, double context_tokens) {
  // QK^T: 2 * d_qk per head and pair; AV: 2 * d_v. Pairs per token: s / 2 under the causal mask, fewer in a window.
  const double s = context_tokens;
  const double layers = m.attention_layer_count();
  const double windowed = std::min<double>(m.windowed_layers(), layers);
  const double full_pairs = 0.5 * s;
  const double window_pairs_per_token = s > 0 ? window_pairs(0.0, s, m.window_tokens()) / s : 0.0;
  const double pairs = layers > 0 ? ((layers - windowed) * full_pairs + windowed * window_pairs_per_token) / layers
                                  : full_pairs;
  return 2.0 * pairs * m.heads * (m.qk_head_dim() + m.v_head_dim());
}

FlopsPerToken training_flops_per_token(const ModelArch& m, const ParamCounts& p, double seq_len) {
  FlopsPerToken f;
  // Matrix-multiply parameters per token: active ones less the embedding lookup; a tied head is a multiply.
  const double matmul_params = m.tied_embeddings ? p.active : p.active - p.embedding;
  const double attention_layer = attention_core_forward_flop_per_token(m, seq_len);
  // Each MTP module runs one more layer, its projection and the (shared) output head.
  const double mtp_layer_active = m.moe ? p.moe_layer_active : p.dense_layer;
  const double mtp_matmul = m.mtp_modules * (2.0 * m.hidden * m.hidden + mtp_layer_active + p.embedding);
  f.matmul_forward = 2.0 * (matmul_params + mtp_matmul);
  f.attention_forward = attention_layer * (attention_layers(m) + m.mtp_modules);
  // A Mamba layer's projections, convolution and norm are in the matrix-multiply parameters (the convolution's and
  // the per-head vectors' few thousand elements with them); its scan is not.
  if (m.mamba) f.ssd_forward = ssd_forward_flop_per_token(*m.mamba) * m.layer_count(LayerKind::mamba);
  // Backward costs twice the forward (gradients with respect to inputs and to weights).
  f.model = 3.0 * (f.matmul_forward + f.attention_forward + f.ssd_forward);
  f.hardware_extra_full_recompute = f.matmul_forward + f.attention_forward + f.ssd_forward;
  f.hardware_extra_selective = f.attention_forward;
  return f;
}

double kv_cache_bytes_per_token(const ModelArch& m, double bytes_per_element) {
  if (m.mla) return attention_layers(m) * (m.mla->kv_lora_rank + m.mla->qk_rope_head_dim) * bytes_per_element;
  return attention_layers(m) * 2.0 * m.kv_heads * m.head_dim * bytes_per_element;
}

double kv_cache_bytes_per_token_mha_equivalent(const ModelArch& m, double bytes_per_element) {
  return attention_layers(m) * m.heads * (m.qk_head_dim() + m.v_head_dim()) * bytes_per_element;
}

}  // namespace flopcast
