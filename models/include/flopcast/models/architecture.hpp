#pragma once
// Transformer architectures: dense (MHA, GQA), MoE (routed + shared experts, leading dense layers), MLA, MTP; and
// hybrid Mamba-2 / attention / MoE stacks. Sizes are element counts; no units beyond that.

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "flopcast/core/json_reader.hpp"
#include "flopcast/core/units.hpp"

namespace flopcast {

enum class Attention { mha, gqa, mla };
enum class FfnActivation { swiglu, gelu };
std::string_view to_string(Attention attention);
std::string_view to_string(FfnActivation activation);

// Multi-head latent attention (DeepSeek-V2/V3): queries and keys/values pass through low-rank latents.
struct MlaDims {
  int q_lora_rank = 0;  // 0: queries are projected directly from the hidden state
  int kv_lora_rank = 0;
  int qk_rope_head_dim = 0;
  int qk_nope_head_dim = 0;
  int v_head_dim = 0;
};

struct MoeDims {
  int experts = 0;         // routed experts per MoE layer
  int top_k = 0;           // routed experts per token
  int shared_experts = 0;  // always-active experts, each of expert_ffn size
  int expert_ffn = 0;      // intermediate size of one expert
  int dense_layers = 0;    // leading layers with a dense FFN instead of experts
  double imbalance = 1.0;  // busiest expert-parallel rank's load / the mean load (>= 1)
  int node_limit = 0;      // node-limited routing: a token's experts span at most this many nodes (0: no limit)
  // LatentMoE (Nemotron 3 Super and Ultra; NVIDIA's Nemotron 3 white paper, arXiv:2512.20856, section 2.2): the
  // router sees the hidden vector, a projection takes it down to `latent` before the dispatch, the routed experts
  // work in the latent width and a second projection takes their sum back up after the combine; shared experts stay
  // at the hidden width. 0: no latent projection (the experts and the all-to-alls work in the hidden width).
  int latent = 0;
  // gpt-oss's experts: biases on both of their linear layers, and a gated activation that clamps its inputs
  // (Megatron-Core: add_bias_linear, activation_func_clamp_value 7, glu_linear_offset 1). Without a fused grouped
  // MLP kernel Megatron-Core runs the clamps, the FC2 bias and the routing weights as eager element-wise passes.
  bool expert_bias = false;
  bool clamped_activation = false;
  // The width the routed experts read and write and the all-to-alls carry, per token copy.
  double routed_width(int hidden) const { return latent > 0 ? latent : hidden; }
};

// Mamba-2 mixer (Dao & Gu 2024, "Transformers are SSMs", arXiv:2405.21060), as Megatron-Core's MambaMixer lays it
// out: in_proj makes z and x (heads x head_dim each), B and C (groups x state each) and dt (one per head); a causal
// depthwise convolution runs over x, B and C; the SSD scan runs in chunks; a gated RMSNorm and out_proj follow.
// Sliding-window attention on some layers (gpt-oss alternates a 128-token window with full attention, Gemma 3 has
// five windowed layers to one full): a windowed layer's query attends to at most `tokens` earlier keys, and its KV
// cache keeps only those.
struct SlidingWindow {
  int tokens = 0;  // keys a query attends to, itself included
  int layers = 0;  // attention layers that use the window; the others attend to the whole context
};

struct MambaDims {
  int heads = 0;
  int head_dim = 0;
  int state = 0;        // SSM state size N
  int groups = 1;       // B and C groups, each shared by heads / groups heads
  int conv_kernel = 4;  // the depthwise convolution's width
  int chunk = 128;      // the SSD scan's chunk length
  double inner() const { return static_cast<double>(heads) * head_dim; }
  double conv_channels() const { return inner() + 2.0 * groups * state; }
  double in_proj_width() const { return 2.0 * inner() + 2.0 * groups * state + heads; }
};

// What one layer holds. A transformer layer is an attention block and an FFN (dense or MoE). A hybrid model's layers
// (Megatron-Core's hybrid layer pattern) are one block each, with its own norm: a Mamba-2 mixer ('M'), attention
// ('*'), an MoE FFN ('E') or a dense MLP ('-').
enum class LayerKind { dense, moe, mamba, attention, experts, mlp };
inline constexpr std::array<LayerKind, 6> kLayerKinds{LayerKind::dense,     LayerKind::moe,     LayerKind::mamba,
                                                      LayerKind::attention, LayerKind::experts, LayerKind::mlp};
std::string_view to_string(LayerKind kind);
// The layer has an attention block (dense, moe, attention) or routed experts (moe, experts).
bool has_attention(LayerKind kind);
bool has_experts(LayerKind kind);

struct ModelArch {
  std::string id;
  std::string name;
  std::string source;
  std::string notes;
  bool hypothetical = false;
  int layers = 0;
  int hidden = 0;
  int ffn = 0;  // dense-layer FFN intermediate size
  int heads = 0;
  int kv_heads = 0;
  int head_dim = 0;
  long vocab = 0;
  FfnActivation ffn_act = FfnActivation::swiglu;
  Attention attention = Attention::mha;
  std::optional<MlaDims> mla;
  std::optional<MoeDims> moe;
  std::optional<SlidingWindow> sliding_window;
  int mtp_modules = 0;
  // One MTP module's weights run mtp_modules deep (Megatron's mtp_use_repeated_layer, Nemotron 3 Super and Ultra):
  // the compute of mtp_modules modules, the parameters of one.
  bool mtp_shared_weights = false;
  // The MTP modules whose weights the model holds.
  int mtp_weight_modules() const { return mtp_shared_weights && mtp_modules > 0 ? 1 : mtp_modules; }
  // Hybrid models: one character per layer, 'M' Mamba-2, '*' attention, 'E' MoE FFN, '-' dense MLP (Megatron-Core's
  // hybrid_layer_pattern); empty for a transformer.
  std::string hybrid_pattern;
  std::optional<MambaDims> mamba;
  bool tied_embeddings = false;
  bool qkv_bias = false;
  // Attention and MLP read one normalised input and add their outputs to the residual together (GPT-J's and PaLM's
  // parallel layer, MegaScale's parallel transformer block): one norm, one residual add and, under tensor
  // parallelism, one collective's worth per layer rather than one per block. Dense transformers only.
  bool parallel_block = false;
  std::optional<Quantity> published_params_total;
  std::optional<Quantity> published_params_active;
  std::optional<Quantity> published_training_tokens;
  // How the publisher counted active parameters: some (DeepSeek, Pangu) leave out the input embedding.
  bool published_active_excludes_input_embedding = false;

  bool is_moe() const { return moe.has_value(); }
  // Layers with an attention block (a hybrid model's '*' layers).
  int attention_layer_count() const { return is_hybrid() ? layer_count(LayerKind::attention) : layers; }
  // Attention layers with a sliding window, and the window in tokens (0 without one).
  int windowed_layers() const { return sliding_window ? sliding_window->layers : 0; }
  double window_tokens() const { return sliding_window ? sliding_window->tokens : 0.0; }
  bool is_hybrid() const { return !hybrid_pattern.empty(); }
  // Layer i's kind (0 = first): a transformer's leading dense layers, then MoE ones; a hybrid model's pattern.
  LayerKind layer_kind(int i) const;
  int layer_count(LayerKind kind) const;
  // Layers with routed experts (a hybrid model's 'E' layers), and the others.
  int moe_layer_count() const;
  int dense_layer_count() const { return layers - moe_layer_count(); }
  // Per-head query/key and value widths (MLA: nope + rope, and v_head_dim).
  int qk_head_dim() const { return mla ? mla->qk_nope_head_dim + mla->qk_rope_head_dim : head_dim; }
  int v_head_dim() const { return mla ? mla->v_head_dim : head_dim; }
  // FC1's width per unit of FFN width: SwiGLU's gate and up projections, or one up projection.
  double ffn_up_width() const { return ffn_act == FfnActivation::swiglu ? 2.0 : 1.0; }
};

// Reads a model object (catalog file or a scenario's inline model) and validates it. `catalog_entry` allows
// "id", "source", "published", "hypothetical" and "notes".
ModelArch read_model(JsonReader& reader, bool catalog_entry);

class ModelCatalog {
 public:
  std::vector<ModelArch> models;
  const ModelArch* find(std::string_view id) const;
  std::vector<std::string> ids() const;
};

// Loads every models/data/models/*.json under `root` (sorted by file name). Throws InputError.
ModelCatalog load_model_catalog(const std::filesystem::path& root);

}  // namespace flopcast
