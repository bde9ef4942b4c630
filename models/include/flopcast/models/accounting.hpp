#pragma once
// Parameter, FLOP and KV-cache accounting for one model. Each function is a formula with a test against a
// published figure or a hand computation.

#include "flopcast/models/architecture.hpp"

namespace flopcast {

struct ParamCounts {
  double embedding = 0;            // vocab x hidden (input)
  double output_head = 0;          // vocab x hidden, 0 when tied to the embedding
  double attention_per_layer = 0;  // projections (+ latent norms for MLA)
  double norms_per_layer = 0;      // two RMS/LayerNorms
  double dense_ffn_per_layer = 0;  // the FFN of a dense layer
  double expert = 0;               // one routed expert (in the latent width where the MoE has one)
  double shared_experts_per_layer = 0;      // the shared experts, in the hidden width
  double latent_projections_per_layer = 0;  // LatentMoE's h -> latent and latent -> h projections
  double router_per_layer = 0;
  double final_norm = 0;
  double dense_layer = 0;       // attention + norms + dense FFN
  double moe_layer_total = 0;   // attention + norms + router + all experts
  double moe_layer_active = 0;  // attention + norms + router + top_k + shared experts
  double mtp_module = 0;        // one multi-token-prediction module (a layer + its projection and norms)
  double mamba_mixer = 0;       // a Mamba-2 mixer: in_proj, convolution, dt bias, A, D, gated norm, out_proj
  double total = 0;             // the main model, without MTP modules (as models are quoted)
  double active = 0;            // parameters a token passes through, embedding and head included
  double active_without_input_embedding = 0;  // the above less the embedding lookup (not a matrix multiply)
  double mtp_total = 0;  // the MTP modules' weights (one module's when they share them)
  // An MoE FFN's parameters that every token passes through: router, shared experts, latent projections.
  double moe_common_ffn() const { return router_per_layer + shared_experts_per_layer + latent_projections_per_layer; }
};

ParamCounts count_params(const ModelArch& model);

// Parameters of one layer of `kind`: all of them, or those a token passes through (top_k of the routed experts).
// A hybrid model's single-block layers carry one norm each.
double layer_params(const ModelArch& model, const ParamCounts& params, LayerKind kind, bool active);
// The routed experts' parameters in one layer of `kind` (none without them).
double routed_params(const ModelArch& model, const ParamCounts& params, LayerKind kind);

// Forward FLOPs per token of one Mamba-2 layer's SSD scan (Dao & Gu 2024, section 6), chunk length Q, state N, head
// size P, H heads, G groups: C B^T within each chunk (G Q N multiply-adds per token), its masked product with x
// (H Q P), the chunk states B^T x (H N P) and their read-out C h (H N P); 2 FLOPs per multiply-add. The projections
// are GEMMs with parameters, counted with them.
double ssd_forward_flop_per_token(const MambaDims& mamba);
// Backward FLOPs per token of the same scan, as mamba_ssm's backward runs it (ssd_combined.py,
// _mamba_chunk_scan_combined_bwd): it recomputes C B^T (G Q N) and the chunk states (H N P), then the gradient
// kernels: of the states through the read-out (H N P), of x through the masked product and the states (H Q P + H N P),
// of B through the states (H N P), of C through the read-out (H N P), of C B^T (H Q P), of B and C through C B^T
// (2 G Q N), and of the decays (ddAcs: H Q P). 2 (3 G Q N + 3 H Q P + 5 H N P), about 2.7 times the forward.
double ssd_backward_flop_per_token(const MambaDims& mamba);

// HBM bytes per token of one Mamba-2 layer's SSD scan forward, as mamba_ssm's chunked kernels move them
// (ssd_combined.py, _mamba_chunk_scan_combined_fwd: five kernels, their intermediates through HBM): the chunk states
// (H P N per chunk, so H P N / Q per token) written in fp32 by chunk_state, read by state_passing and written again in
// bf16, read by chunk_scan (4 + 4 + 2 + 2 = 12 bytes each); C B^T (G Q per token, fp32) written and read (8 bytes
// each); x (H P, bf16) read by chunk_state and chunk_scan and the output y written (6 bytes each); B and C (G N each,
// bf16) read twice (8 bytes each). The dt cumulative sums (H per token) are small beside these.
double ssd_hbm_bytes_per_token(const MambaDims& mamba);

// Causal attention pairs of `chunk` new tokens after `start` earlier ones when each query sees at most `window` keys
// (0: no window): chunk x (start + chunk / 2) without one, the count the serving step shapes use.
double window_pairs(double start, double chunk, double window);

// Forward FLOPs per token of an attention layer's core (QK^T and AV) over sequences of `context_tokens`, the mean over
// the model's attention layers: 2 x 2 x pairs per token x heads x (d_qk + d_v) / 2, with s / 2 pairs per token in a
// full causal layer (the half of the score matrix FlashAttention computes) and at most the window's in a
// sliding-window layer (FlashAttention skips the tiles outside the band).
double attention_core_forward_flop_per_token(const ModelArch& model, double context_tokens);

struct FlopsPerToken {
  double matmul_forward = 0;     // 2 x parameters in matrix multiplies per token (the embedding lookup is not one)
  double attention_forward = 0;  // attention core, all layers, causal
  double ssd_forward = 0;        // Mamba-2 SSD scans, all Mamba layers
  double model = 0;              // training: 3 x forward (forward + backward), MTP modules included
  double hardware_extra_full_recompute = 0;  // a second forward pass
  double hardware_extra_selective = 0;       // re-running the attention core forward
};

FlopsPerToken training_flops_per_token(const ModelArch& model, const ParamCounts& params, double seq_len);

// KV-cache bytes per token for serving: MHA/GQA store K and V per KV head; MLA stores the compressed latent
// and the shared rope key.
double kv_cache_bytes_per_token(const ModelArch& model, double bytes_per_element);
// The same model's cache if it used plain multi-head attention with its query heads (the MLA comparison).
double kv_cache_bytes_per_token_mha_equivalent(const ModelArch& model, double bytes_per_element);

}  // namespace flopcast
