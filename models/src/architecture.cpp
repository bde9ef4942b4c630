#include "flopcast/models/architecture.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "flopcast/core/files.hpp"

namespace flopcast {
namespace fs = std::filesystem;

std::string_view to_string(Attention attention) {
  switch (attention) {
    case Attention::mha: return "mha";
    case Attention::gqa: return "gqa";
    case Attention::mla: return "mla";
  }
  return "?";
}

std::string_view to_string(FfnActivation activation) {
  return activation == FfnActivation::swiglu ? "swiglu" : "gelu";
}

std::string_view to_string(LayerKind kind) {
  switch (kind) {
    case LayerKind::dense: return "dense";
    case LayerKind::moe: return "moe";
    case LayerKind::mamba: return "mamba";
    case LayerKind::attention: return "attention";
    case LayerKind::experts: return "experts";
    case LayerKind::mlp: return "mlp";
  }
  return "?";
}

bool has_attention(LayerKind kind) {
  return kind == LayerKind::dense || kind == LayerKind::moe || kind == LayerKind::attention;
}

bool has_experts(LayerKind kind) { return kind == LayerKind::moe || kind == LayerKind::experts; }

LayerKind ModelArch::layer_kind(int i) const {
  if (is_hybrid()) {
    switch (hybrid_pattern[static_cast<std::size_t>(i)]) {
      case 'M': return LayerKind::mamba;
      case '*': return LayerKind::attention;
      case 'E': return LayerKind::experts;
      default: return LayerKind::mlp;
    }
  }
  return moe && i >= moe->dense_layers ? LayerKind::moe : LayerKind::dense;
}

int ModelArch::layer_count(LayerKind kind) const {
  if (!is_hybrid()) {
    return kind == LayerKind::moe ? moe_layer_count() : kind == LayerKind::dense ? dense_layer_count() : 0;
  }
  int n = 0;
  for (int i = 0; i < layers; ++i) n += layer_kind(i) == kind ? 1 : 0;
  return n;
}

int ModelArch::moe_layer_count() const {
  if (is_hybrid()) return layer_count(LayerKind::experts);
  return moe ? layers - moe->dense_layers : 0;
}

namespace {

constexpr IntegerBounds kPositive{.min = 1, .max = 1 << 24};
constexpr IntegerBounds kNonNegative{.min = 0, .max = 1 << 24};

int read_int(JsonReader& reader, std::string_view key, Need need, IntegerBounds bounds, int fallback = 0) {
  return static_cast<int>(reader.integer(key, need, bounds).value_or(fallback));
}

MlaDims read_mla(JsonReader& reader) {
  MlaDims mla;
  mla.q_lora_rank = read_int(reader, "q_lora_rank", Need::required, kNonNegative);
  mla.kv_lora_rank = read_int(reader, "kv_lora_rank", Need::required, kPositive);
  mla.qk_rope_head_dim = read_int(reader, "qk_rope_head_dim", Need::required, kNonNegative);
  mla.qk_nope_head_dim = read_int(reader, "qk_nope_head_dim", Need::required, kPositive);
  mla.v_head_dim = read_int(reader, "v_head_dim", Need::required, kPositive);
  reader.finish();
  return mla;
}

MoeDims read_moe(JsonReader& reader) {
  MoeDims moe;
  moe.experts = read_int(reader, "experts", Need::required, kPositive);
  moe.top_k = read_int(reader, "top_k", Need::required, kPositive);
  moe.shared_experts = read_int(reader, "shared_experts", Need::optional, kNonNegative);
  moe.expert_ffn = read_int(reader, "expert_ffn", Need::required, kPositive);
  moe.dense_layers = read_int(reader, "dense_layers", Need::optional, kNonNegative);
  moe.imbalance = reader.number("imbalance", Need::optional, {.min = 1.0, .max = 64.0}).value_or(1.0);
  moe.node_limit = read_int(reader, "node_limit", Need::optional, kNonNegative);
  moe.latent = read_int(reader, "latent", Need::optional, kNonNegative);
  moe.expert_bias = reader.boolean("expert_bias", Need::optional).value_or(false);
  moe.clamped_activation = reader.boolean("clamped_activation", Need::optional).value_or(false);
  if (moe.experts > 0 && moe.top_k > moe.experts) {
    reader.problem("top_k", fmt::format("expected at most experts ({}), got {}", moe.experts, moe.top_k));
  }
  reader.finish();
  return moe;
}

SlidingWindow read_sliding_window(JsonReader& reader) {
  SlidingWindow window;
  window.tokens = read_int(reader, "tokens", Need::required, kPositive);
  window.layers = read_int(reader, "layers", Need::required, kPositive);
  reader.finish();
  return window;
}

MambaDims read_mamba(JsonReader& reader) {
  MambaDims mamba;
  mamba.heads = read_int(reader, "heads", Need::required, kPositive);
  mamba.head_dim = read_int(reader, "head_dim", Need::required, kPositive);
  mamba.state = read_int(reader, "state", Need::required, kPositive);
  mamba.groups = read_int(reader, "groups", Need::optional, kPositive, 1);
  mamba.conv_kernel = read_int(reader, "conv_kernel", Need::optional, kPositive, 4);
  mamba.chunk = read_int(reader, "chunk", Need::optional, kPositive, 128);
  if (mamba.heads > 0 && mamba.heads % mamba.groups != 0) {
    reader.problem("groups", fmt::format("must divide heads ({}), got {}", mamba.heads, mamba.groups));
  }
  reader.finish();
  return mamba;
}

void check_hybrid(JsonReader& reader, const ModelArch& model) {
  const auto& pattern = model.hybrid_pattern;
  if (const auto bad = pattern.find_first_not_of("M*E-"); bad != std::string::npos) {
    reader.problem("hybrid_pattern", fmt::format("expected one character per layer, 'M' (Mamba-2), '*' (attention), "
                                                 "'E' (MoE FFN) or '-' (dense MLP); got '{}' at position {}",
                                                 pattern[bad], bad));
    return;
  }
  if (static_cast<int>(pattern.size()) != model.layers) {
    reader.problem("hybrid_pattern", fmt::format("has {} layers, but layers is {}", pattern.size(), model.layers));
  }
  if (pattern.find('M') != std::string::npos && !model.mamba) {
    reader.problem("mamba", "is required when hybrid_pattern has 'M' layers (heads, head_dim, state, groups)");
  }
  if (pattern.find('E') != std::string::npos && !model.moe) {
    reader.problem("moe", "is required when hybrid_pattern has 'E' layers");
  }
  if (model.moe && pattern.find('E') == std::string::npos) {
    reader.problem("moe", "is given but hybrid_pattern has no 'E' layer to hold the experts");
  }
  if (model.moe && model.moe->dense_layers > 0) {
    reader.problem("moe", "dense_layers does not apply to a hybrid model: its pattern places the MLP ('-') layers");
  }
}

}  // namespace

ModelArch read_model(JsonReader& reader, bool catalog_entry) {
  ModelArch model;
  if (catalog_entry) {
    model.id = reader.string("id", Need::required).value_or("");
    model.source = reader.string("source", Need::required).value_or("");
    model.hypothetical = reader.boolean("hypothetical", Need::optional).value_or(false);
    model.notes = reader.string("notes", Need::optional).value_or("");
    if (auto published = reader.object("published", Need::optional)) {
      constexpr NumberBounds kPositiveNumber{.min = 0, .min_exclusive = true};
      model.published_params_total = published->quantity("params_total", Need::optional, Dimension::count, kPositiveNumber);
      model.published_params_active =
          published->quantity("params_active", Need::optional, Dimension::count, kPositiveNumber);
      model.published_training_tokens =
          published->quantity("training_tokens", Need::optional, Dimension::count, kPositiveNumber);
      static const std::vector<std::string> kConventions{"with-input-embedding", "without-input-embedding"};
      model.published_active_excludes_input_embedding =
          published->choice("active_convention", Need::optional, kConventions).value_or("") ==
          "without-input-embedding";
      published->finish();
    }
  } else {
    model.id = reader.string("id", Need::optional).value_or("inline");
  }
  model.name = reader.string("name", Need::required).value_or("");
  // The deepest published models have a few hundred layers; past 10,000 a simulation's events would run for hours.
  model.layers = read_int(reader, "layers", Need::required, {.min = 1, .max = 10000});
  model.hidden = read_int(reader, "hidden", Need::required, kPositive);
  model.ffn = read_int(reader, "ffn", Need::required, kPositive);
  model.heads = read_int(reader, "heads", Need::required, kPositive);
  model.kv_heads = read_int(reader, "kv_heads", Need::optional, kPositive, model.heads);
  model.head_dim = read_int(reader, "head_dim", Need::optional, kPositive, model.heads > 0 ? model.hidden / model.heads : 0);
  model.vocab = reader.integer("vocab", Need::required, {.min = 1, .max = 1 << 26}).value_or(0);
  static const std::vector<std::string> kActivations{"swiglu", "gelu"};
  model.ffn_act = reader.choice("ffn_act", Need::optional, kActivations).value_or("swiglu") == "gelu"
                      ? FfnActivation::gelu
                      : FfnActivation::swiglu;
  static const std::vector<std::string> kAttentions{"mha", "gqa", "mla"};
  const auto attention = reader.choice("attention", Need::optional, kAttentions);
  model.attention = !attention          ? (model.kv_heads == model.heads ? Attention::mha : Attention::gqa)
                    : *attention == "mla" ? Attention::mla
                    : *attention == "gqa" ? Attention::gqa
                                          : Attention::mha;
  if (auto mla = reader.object("mla", Need::optional)) model.mla = read_mla(*mla);
  if (auto moe = reader.object("moe", Need::optional)) model.moe = read_moe(*moe);
  if (auto window = reader.object("sliding_window", Need::optional)) model.sliding_window = read_sliding_window(*window);
  model.mtp_modules = read_int(reader, "mtp_modules", Need::optional, kNonNegative);
  model.mtp_shared_weights = reader.boolean("mtp_shared_weights", Need::optional).value_or(false);
  model.hybrid_pattern = reader.string("hybrid_pattern", Need::optional).value_or("");
  if (auto mamba = reader.object("mamba", Need::optional)) model.mamba = read_mamba(*mamba);
  model.tied_embeddings = reader.boolean("tied_embeddings", Need::optional).value_or(false);
  model.qkv_bias = reader.boolean("qkv_bias", Need::optional).value_or(false);
  model.parallel_block = reader.boolean("parallel_block", Need::optional).value_or(false);

  // Consistency between fields.
  if (model.attention == Attention::mla && !model.mla) {
    reader.problem("mla", "is required when attention is \"mla\" (q_lora_rank, kv_lora_rank, qk_rope_head_dim, "
                          "qk_nope_head_dim, v_head_dim)");
  }
  if (model.attention != Attention::mla && model.mla) {
    reader.problem("mla", fmt::format("is only allowed with attention \"mla\", got \"{}\"", to_string(model.attention)));
  }
  if (model.attention == Attention::mha && model.kv_heads != model.heads) {
    reader.problem("kv_heads", fmt::format("must equal heads ({}) for mha, got {} (use \"gqa\")", model.heads,
                                           model.kv_heads));
  }
  if (model.kv_heads > 0 && model.heads % model.kv_heads != 0) {
    reader.problem("kv_heads", fmt::format("must divide heads ({}), got {}", model.heads, model.kv_heads));
  }
  if (model.is_hybrid()) check_hybrid(reader, model);
  if (model.mamba && !model.is_hybrid()) {
    reader.problem("mamba", "needs a hybrid_pattern that places its 'M' layers");
  }
  if (model.moe && model.moe->latent >= model.hidden) {
    reader.problem("moe", fmt::format("latent ({}) must be below hidden ({}): a latent projection narrows the routed "
                                      "experts' width", model.moe->latent, model.hidden));
  }
  if (model.mtp_shared_weights && model.mtp_modules == 0) {
    reader.problem("mtp_shared_weights", "needs mtp_modules: the depth the shared MTP module runs");
  }
  if (model.sliding_window) {
    if (model.sliding_window->layers > model.attention_layer_count()) {
      reader.problem("sliding_window", fmt::format("layers ({}) exceeds the model's attention layers ({})",
                                                   model.sliding_window->layers, model.attention_layer_count()));
    }
  }
  if (model.parallel_block && (model.moe || model.is_hybrid() || model.mtp_modules > 0)) {
    reader.problem("parallel_block", "is for dense transformers without MTP modules: this model has routed experts, "
                                     "a hybrid pattern or MTP modules");
  }
  if (model.moe && model.moe->dense_layers > model.layers) {
    reader.problem("moe", fmt::format("dense_layers ({}) exceeds layers ({})", model.moe->dense_layers, model.layers));
  }
  reader.finish();
  return model;
}

const ModelArch* ModelCatalog::find(std::string_view id) const {
  const auto it = std::find_if(models.begin(), models.end(), [&](const ModelArch& m) { return m.id == id; });
  return it == models.end() ? nullptr : &*it;
}

std::vector<std::string> ModelCatalog::ids() const {
  std::vector<std::string> ids;
  for (const auto& model : models) ids.push_back(model.id);
  return ids;
}

ModelCatalog load_model_catalog(const fs::path& root) {
  const fs::path dir = root / "models" / "data" / "models";
  std::vector<Problem> problems;
  std::vector<fs::path> files;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  if (error) throw InputError(dir.string(), "", fmt::format("cannot list model files: {}", error.message()));
  std::sort(files.begin(), files.end());
  ModelCatalog catalog;
  for (const auto& file : files) {
    try {
      const auto json = read_json_file(file);
      JsonReader reader(json, file.string(), "", problems);
      auto model = read_model(reader, true);
      if (!model.id.empty() && model.id + ".json" != file.filename().string()) {
        problems.push_back({file.string(), "/id", fmt::format("\"{}\" does not match the file name", model.id)});
      }
      catalog.models.push_back(std::move(model));
    } catch (const InputError& failure) {
      problems.insert(problems.end(), failure.problems().begin(), failure.problems().end());
    }
  }
  throw_if_any(problems);
  return catalog;
}

}  // namespace flopcast
