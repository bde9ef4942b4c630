#include "helpers.hpp"

#include "flopcast/models/accounting.hpp"
#include "flopcast/models/hf_import.hpp"

using namespace flopcast;

TEST_CASE("Hugging Face configs import to the catalog's architectures", "[models][hf]") {
  for (const char* id : {"llama3-8b", "qwen3-32b", "qwen3-235b-a22b", "mixtral-8x7b", "deepseek-v3", "deepseek-v2"}) {
    INFO(id);
    const auto imported = import_hf_config_file(std::string(FLOPCAST_TEST_DATA) + "/hf/" + id + ".json");
    const auto& catalog = *test::catalogs().models.find(id);
    const auto a = count_params(imported);
    const auto b = count_params(catalog);
    CHECK(a.total == b.total);
    CHECK(a.active == b.active);
    CHECK(imported.attention == catalog.attention);
    CHECK(imported.mtp_modules == catalog.mtp_modules);
  }
}

TEST_CASE("DeepSeek-V3's config gives MLA and 256 experts and node-limited routing and one MTP module", "[models][hf]") {
  const auto m = import_hf_config_file(std::string(FLOPCAST_TEST_DATA) + "/hf/deepseek-v3.json");
  REQUIRE(m.mla);
  REQUIRE(m.moe);
  CHECK(m.mla->kv_lora_rank == 512);
  CHECK(m.moe->experts == 256);
  CHECK(m.moe->top_k == 8);
  CHECK(m.moe->dense_layers == 3);
  CHECK(m.moe->node_limit == 4);
  CHECK(m.mtp_modules == 1);
}

TEST_CASE("unsupported or broken HF configs are clear errors", "[models][hf]") {
  CHECK_THROWS_WITH(import_hf_config(nlohmann::json::parse(R"({"model_type": "gpt2"})"), "c.json"),
                    Catch::Matchers::StartsWith("c.json: /model_type: expected one of llama"));
  const auto messages = test::messages_of([] {
    import_hf_config(nlohmann::json::parse(R"({"model_type": "llama", "hidden_size": "4096"})"), "c.json");
  });
  CHECK(messages.size() == 5);
  CHECK(messages[0] == "/num_hidden_layers: is required but missing");
  CHECK(messages[1] == "/hidden_size: expected an integer from 1 to 16777216, got the string \"4096\"");
  // 7 key/value heads do not divide 32 query heads: refused here, not later by the scenario that loads the import.
  const auto gqa = test::messages_of([] {
    import_hf_config(nlohmann::json::parse(R"({"model_type": "llama", "num_hidden_layers": 32, "hidden_size": 4096,
      "intermediate_size": 14336, "num_attention_heads": 32, "num_key_value_heads": 7, "vocab_size": 128256})"),
                     "c.json");
  });
  REQUIRE(gqa.size() == 1);
  CHECK(gqa[0] == "/num_key_value_heads: must divide num_attention_heads (32), got 7");
}

TEST_CASE("a config's sliding window lands on the layers its layer_types mark", "[models][hf]") {
  // gpt-oss style: layer_types alternates sliding and full attention over 4 layers; a 128-token window on 2.
  const auto m = import_hf_config(nlohmann::json::parse(R"({"model_type": "llama", "num_hidden_layers": 4,
    "hidden_size": 512, "intermediate_size": 1024, "num_attention_heads": 8, "num_key_value_heads": 2,
    "vocab_size": 1000, "sliding_window": 128,
    "layer_types": ["sliding_attention", "full_attention", "sliding_attention", "full_attention"]})"), "c.json");
  REQUIRE(m.sliding_window);
  CHECK(m.sliding_window->tokens == 128);
  CHECK(m.sliding_window->layers == 2);
  // Mistral 7B v0.1 windows every layer; a Qwen-style config that names a window but no sliding layers has none.
  const auto mistral = import_hf_config(nlohmann::json::parse(R"({"model_type": "mistral", "num_hidden_layers": 32,
    "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32, "num_key_value_heads": 8,
    "vocab_size": 32000, "sliding_window": 4096})"), "c.json");
  REQUIRE(mistral.sliding_window);
  CHECK(mistral.sliding_window->layers == 32);
  const auto qwen = import_hf_config(nlohmann::json::parse(R"({"model_type": "qwen2", "num_hidden_layers": 4,
    "hidden_size": 512, "intermediate_size": 1024, "num_attention_heads": 8, "num_key_value_heads": 2,
    "vocab_size": 1000, "sliding_window": 4096, "use_sliding_window": false})"), "c.json");
  CHECK_FALSE(qwen.sliding_window);
  // Written out and read back as a catalog model, the window survives.
  CHECK(model_to_json(m)["sliding_window"] == nlohmann::json({{"tokens", 128}, {"layers", 2}}));
}
