#include "flopcast/models/hf_import.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "flopcast/core/files.hpp"
#include "flopcast/core/json_reader.hpp"

namespace flopcast {

namespace {

constexpr IntegerBounds kPositive{.min = 1, .max = 1 << 24};
constexpr IntegerBounds kNonNegative{.min = 0, .max = 1 << 24};

int get_int(JsonReader& reader, std::string_view key, Need need, IntegerBounds bounds, int fallback = 0) {
  // HF writes null for absent options (q_lora_rank of DeepSeek-V2-Lite): treat null as absent.
  const auto* raw = reader.raw(key, Need::optional);
  if (raw == nullptr || raw->is_null()) {
    if (need == Need::required) reader.problem(key, "is required but missing");
    return fallback;
  }
  return static_cast<int>(reader.integer(key, need, bounds).value_or(fallback));
}

std::optional<std::string> family_of(JsonReader& reader) { return reader.string("model_type", Need::optional); }

}  // namespace

ModelArch import_hf_config(const nlohmann::json& config, const std::string& file, const std::string& name) {
  std::vector<Problem> problems;
  JsonReader r(config, file, "", problems);
  throw_if_any(problems);
  ModelArch m;
  const auto given = family_of(r);
  const std::string family = given.value_or("");
  static const std::vector<std::string> kKnown{"llama", "qwen2", "qwen3", "qwen3_moe", "mixtral", "deepseek_v2",
                                               "deepseek_v3", "mistral"};
  if (std::find(kKnown.begin(), kKnown.end(), family) == kKnown.end()) {
    const std::string known = "llama, mistral, qwen2, qwen3, qwen3_moe, mixtral, deepseek_v2, deepseek_v3";
    if (!given) {
      if (problems.empty()) r.problem("model_type", fmt::format("is missing: expected one of {} (is this a Hugging Face config.json?)", known));
    } else {
      r.problem("model_type", fmt::format("expected one of {}, got \"{}\"", known, family));
    }
    throw_if_any(problems);
  }
  m.id = "hf";
  m.name = !name.empty() ? name : r.string("_name_or_path", Need::optional).value_or(family);
  m.source = file;
  m.layers = get_int(r, "num_hidden_layers", Need::required, kPositive);
  m.hidden = get_int(r, "hidden_size", Need::required, kPositive);
  m.ffn = get_int(r, "intermediate_size", Need::required, kPositive);
  m.heads = get_int(r, "num_attention_heads", Need::required, kPositive);
  m.kv_heads = get_int(r, "num_key_value_heads", Need::optional, kPositive, m.heads);
  m.head_dim = get_int(r, "head_dim", Need::optional, kPositive, m.heads > 0 ? m.hidden / m.heads : 0);
  m.vocab = get_int(r, "vocab_size", Need::required, kPositive);
  m.tied_embeddings = r.boolean("tie_word_embeddings", Need::optional).value_or(false);
  m.ffn_act = FfnActivation::swiglu;  // every supported family uses a gated (SiLU) MLP
  m.qkv_bias = family == "qwen2" || r.boolean("attention_bias", Need::optional).value_or(false);
  m.attention = m.kv_heads == m.heads ? Attention::mha : Attention::gqa;
  if (m.kv_heads > 0 && m.heads % m.kv_heads != 0) {  // as the scenario's model checks it: an import must load
    r.problem("num_key_value_heads",
              fmt::format("must divide num_attention_heads ({}), got {}", m.heads, m.kv_heads));
  }

  if (family == "mixtral") {
    m.moe = MoeDims{.experts = get_int(r, "num_local_experts", Need::required, kPositive),
                    .top_k = get_int(r, "num_experts_per_tok", Need::required, kPositive),
                    .expert_ffn = m.ffn};
  } else if (family == "qwen3_moe") {
    int dense = 0;
    if (const auto* only_mlp = r.raw("mlp_only_layers", Need::optional); only_mlp && only_mlp->is_array()) {
      dense = static_cast<int>(only_mlp->size());
    }
    m.moe = MoeDims{.experts = get_int(r, "num_experts", Need::required, kPositive),
                    .top_k = get_int(r, "num_experts_per_tok", Need::required, kPositive),
                    .expert_ffn = get_int(r, "moe_intermediate_size", Need::required, kPositive),
                    .dense_layers = dense};
    if (get_int(r, "decoder_sparse_step", Need::optional, kPositive, 1) != 1) {
      r.problem("decoder_sparse_step", "only 1 (every layer sparse) is supported");
    }
  } else if (family == "deepseek_v2" || family == "deepseek_v3") {
    m.attention = Attention::mla;
    m.kv_heads = m.heads;
    m.mla = MlaDims{.q_lora_rank = get_int(r, "q_lora_rank", Need::optional, kNonNegative),
                    .kv_lora_rank = get_int(r, "kv_lora_rank", Need::required, kPositive),
                    .qk_rope_head_dim = get_int(r, "qk_rope_head_dim", Need::required, kNonNegative),
                    .qk_nope_head_dim = get_int(r, "qk_nope_head_dim", Need::required, kPositive),
                    .v_head_dim = get_int(r, "v_head_dim", Need::required, kPositive)};
    m.head_dim = m.mla->v_head_dim;
    const int groups = get_int(r, "n_group", Need::optional, kPositive, 1);
    const int group_limit = get_int(r, "topk_group", Need::optional, kPositive, groups);
    m.moe = MoeDims{.experts = get_int(r, "n_routed_experts", Need::required, kPositive),
                    .top_k = get_int(r, "num_experts_per_tok", Need::required, kPositive),
                    .shared_experts = get_int(r, "n_shared_experts", Need::optional, kNonNegative),
                    .expert_ffn = get_int(r, "moe_intermediate_size", Need::required, kPositive),
                    .dense_layers = get_int(r, "first_k_dense_replace", Need::optional, kNonNegative),
                    // Group-limited routing: DeepSeek maps expert groups to nodes (V3) or devices (V2).
                    .node_limit = groups > 1 ? group_limit : 0};
    m.mtp_modules = get_int(r, "num_nextn_predict_layers", Need::optional, kNonNegative);
  }
  // A sliding window where the config applies one: on the layers its layer_types mark "sliding_attention", or on
  // every layer of a Mistral config that sets it (Mistral 7B v0.1). Qwen configs carry a window they switch off.
  const auto* window = r.raw("sliding_window", Need::optional);
  if (window && window->is_number_integer() && window->get<long>() > 0) {
    int windowed = 0;
    if (const auto* types = r.raw("layer_types", Need::optional); types && types->is_array()) {
      windowed = static_cast<int>(std::count(types->begin(), types->end(), "sliding_attention"));
    } else if (family == "mistral") {
      windowed = m.layers;
    }
    if (windowed > 0) m.sliding_window = SlidingWindow{.tokens = static_cast<int>(window->get<long>()), .layers = windowed};
  }
  throw_if_any(problems);
  return m;
}

ModelArch import_hf_config_file(const std::filesystem::path& path) {
  const auto json = read_json_file(path);
  return import_hf_config(json, path.string(), path.stem().string());
}

nlohmann::json model_to_json(const ModelArch& m) {
  nlohmann::json j;
  j["name"] = m.name;
  j["layers"] = m.layers;
  j["hidden"] = m.hidden;
  j["ffn"] = m.ffn;
  j["heads"] = m.heads;
  j["kv_heads"] = m.kv_heads;
  j["head_dim"] = m.head_dim;
  j["vocab"] = m.vocab;
  j["ffn_act"] = std::string(to_string(m.ffn_act));
  j["attention"] = std::string(to_string(m.attention));
  if (m.mla) {
    j["mla"] = {{"q_lora_rank", m.mla->q_lora_rank},
                {"kv_lora_rank", m.mla->kv_lora_rank},
                {"qk_rope_head_dim", m.mla->qk_rope_head_dim},
                {"qk_nope_head_dim", m.mla->qk_nope_head_dim},
                {"v_head_dim", m.mla->v_head_dim}};
  }
  if (m.moe) {
    j["moe"] = {{"experts", m.moe->experts},          {"top_k", m.moe->top_k},
                {"shared_experts", m.moe->shared_experts}, {"expert_ffn", m.moe->expert_ffn},
                {"dense_layers", m.moe->dense_layers},  {"imbalance", m.moe->imbalance},
                {"node_limit", m.moe->node_limit}};
    if (m.moe->latent > 0) j["moe"]["latent"] = m.moe->latent;
    if (m.moe->expert_bias) j["moe"]["expert_bias"] = true;
    if (m.moe->clamped_activation) j["moe"]["clamped_activation"] = true;
  }
  if (m.sliding_window) j["sliding_window"] = {{"tokens", m.sliding_window->tokens}, {"layers", m.sliding_window->layers}};
  j["mtp_modules"] = m.mtp_modules;
  if (m.mtp_shared_weights) j["mtp_shared_weights"] = true;
  if (m.is_hybrid()) j["hybrid_pattern"] = m.hybrid_pattern;
  if (m.mamba) {
    const auto& s = *m.mamba;
    j["mamba"] = {{"heads", s.heads},   {"head_dim", s.head_dim},       {"state", s.state},
                  {"groups", s.groups}, {"conv_kernel", s.conv_kernel}, {"chunk", s.chunk}};
  }
  j["tied_embeddings"] = m.tied_embeddings;
  j["qkv_bias"] = m.qkv_bias;
  return j;
}

}  // namespace flopcast
