#pragma once
// Reads a Hugging Face config.json (Llama, Qwen2/3, Qwen3-MoE, Mixtral, DeepSeek-V2/V3 key names) into a ModelArch.
// Keys the model does not need (rope scaling, dtype, token ids, ...) are ignored: HF configs carry many.

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "flopcast/models/architecture.hpp"

namespace flopcast {

// `file` names the source in error messages; `name` is the model's display name (default: from the config).
ModelArch import_hf_config(const nlohmann::json& config, const std::string& file, const std::string& name = "");
ModelArch import_hf_config_file(const std::filesystem::path& path);

// The model as an inline scenario object (the keys a scenario's "model" accepts).
nlohmann::json model_to_json(const ModelArch& model);

}  // namespace flopcast
