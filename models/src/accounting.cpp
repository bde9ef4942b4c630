#include "flopcast/models/accounting.hpp"

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

double ffn_params(const ModelArch& m, double intermediate) {
  const double matrices = m.ffn_act == FfnActivation::swiglu ? 3.0 : 2.0;  // gate, up, down vs up, down
  return matrices * m.hidden * intermediate;
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
    p.expert = ffn_params(m, e.expert_ffn);
    p.router_per_layer = h * e.experts;
    const double common = p.attention_per_layer + p.norms_per_layer + p.router_per_layer + e.shared_experts * p.expert;
    p.moe_layer_total = common + e.experts * p.expert;
    p.moe_layer_active = common + e.top_k * p.expert;
    p.total = shared_base + m.dense_layer_count() * p.dense_layer + m.moe_layer_count() * p.moe_layer_total;
    p.active = shared_base + m.dense_layer_count() * p.dense_layer + m.moe_layer_count() * p.moe_layer_active;
  } else {
    p.total = shared_base + m.layers * p.dense_layer;
    p.active = p.total;
  }
  p.active_without_input_embedding = p.active - (m.tied_embeddings ? 0.0 : p.embedding);
  // An MTP module (DeepSeek-V3 section 2.2): two norms, a 2h -> h projection and one transformer layer (MoE when
  // the model is), sharing the embedding and the output head with the main model.
  const double mtp_layer = m.moe ? p.moe_layer_total : p.dense_layer;
  p.mtp_module = 2.0 * h + 2.0 * h * h + mtp_layer;
  p.mtp_total = m.mtp_modules * p.mtp_module;
  return p;
}

double attention_core_forward_flop_per_token(const ModelArch& m, double context_tokens) {
  // QK^T: 2 * s * d_qk per head; AV: 2 * s * d_v per head; the causal mask halves both.
  constexpr double kCausalFraction = 0.5;
  return 2.0 * context_tokens * m.heads * (m.qk_head_dim() + m.v_head_dim()) * kCausalFraction;
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
  f.attention_forward = attention_layer * (m.layers + m.mtp_modules);
  // Backward costs twice the forward (gradients with respect to inputs and to weights).
  f.model = 3.0 * (f.matmul_forward + f.attention_forward);
  f.hardware_extra_full_recompute = f.matmul_forward + f.attention_forward;
  f.hardware_extra_selective = f.attention_forward;
  return f;
}

double kv_cache_bytes_per_token(const ModelArch& m, double bytes_per_element) {
  if (m.mla) return static_cast<double>(m.layers) * (m.mla->kv_lora_rank + m.mla->qk_rope_head_dim) * bytes_per_element;
  return static_cast<double>(m.layers) * 2.0 * m.kv_heads * m.head_dim * bytes_per_element;
}

double kv_cache_bytes_per_token_mha_equivalent(const ModelArch& m, double bytes_per_element) {
  return static_cast<double>(m.layers) * m.heads * (m.qk_head_dim() + m.v_head_dim()) * bytes_per_element;
}

}  // namespace flopcast
