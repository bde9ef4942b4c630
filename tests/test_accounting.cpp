#include "helpers.hpp"

#include "flopcast/models/accounting.hpp"

using namespace flopcast;
using Catch::Matchers::WithinRel;

TEST_CASE("parameter counts of every catalog model match the published figures", "[models][params]") {
  // Published figures are rounded ("37B"): each carries its rounding interval [low, high]; the count must fall within
  // 1% of that interval. Publishers differ on "active": DeepSeek and Pangu leave out the input embedding, which the
  // model file records (active_convention).
  const auto within = [](double computed, const Quantity& published) {
    return computed >= 0.99 * published.low_or_value() && computed <= 1.01 * published.high_or_value();
  };
  for (const auto& model : test::catalogs().models.models) {
    INFO(model.id);
    const auto p = count_params(model);
    REQUIRE(model.published_params_total);
    REQUIRE(model.published_params_active);
    CHECK(within(p.total, *model.published_params_total));
    const double active = model.published_active_excludes_input_embedding ? p.active_without_input_embedding : p.active;
    CHECK(within(active, *model.published_params_active));
  }
}

TEST_CASE("Llama-3-8B parameters and worked by hand", "[models][params]") {
  // Embedding and untied head: 2 x 128256 x 4096 = 1,050,673,152.
  // Per layer: q 4096^2 + k,v 2 x 4096 x 1024 + o 4096^2 = 41,943,040; SwiGLU 3 x 4096 x 14336 = 176,160,768;
  // two norms 8,192: 218,112,000 x 32 layers = 6,979,584,000. Final norm 4,096. Total 8,030,261,248 (HF: 8.03B).
  const auto p = count_params(*test::catalogs().models.find("llama3-8b"));
  CHECK(p.total == 8030261248.0);
  CHECK(p.active == p.total);
}

TEST_CASE("DeepSeek-V3 parameters and worked by hand", "[models][params]") {
  // MLA per layer: q_a 7168x1536 + 1536 + q_b 1536x128x192 + kv_a 7168x576 + 512 + kv_b 512x128x256 + o 128x128x7168
  //   = 11,010,048 + 1,536 + 37,748,736 + 4,128,768 + 512 + 16,777,216 + 117,440,512 = 187,107,328.
  // Expert: 3 x 7168 x 2048 = 44,040,192. MoE layer: 187,107,328 + 14,336 (norms) + 1,835,008 (router)
  //   + 257 experts (256 routed + 1 shared) x 44,040,192 = 11,507,286,016, x 58 layers = 667,422,588,928.
  // Dense layer: 187,107,328 + 14,336 + 3 x 7168 x 18432 = 583,483,392, x 3 = 1,750,450,176.
  // Embedding + head 2 x 129,280 x 7168 = 1,853,358,080, final norm 7,168. Total 671,026,404,352.
  const auto p = count_params(*test::catalogs().models.find("deepseek-v3"));
  CHECK(p.attention_per_layer == 187107328.0);
  CHECK(p.expert == 44040192.0);
  CHECK(p.total == 671026404352.0);
  CHECK_THAT(p.mtp_total, WithinRel(11.7e9, 0.02));  // one MoE layer + 2h^2 projection; the report's 14B adds its own embedding and head copies
}

TEST_CASE("training FLOPs per token: 6N plus attention and worked by hand", "[models][flops]") {
  // Llama-3-8B at 8192 tokens. Matrix multiplies: 2 x (8,030,261,248 - 525,336,576 embedding) = 15,009,849,344.
  // Attention per layer: 2 x 8192 x 32 heads x (128 + 128) x 1/2 (causal) = 67,108,864; x 32 = 2,147,483,648.
  // Training: 3 x (15,009,849,344 + 2,147,483,648) = 51,471,998,976.
  const auto& model = *test::catalogs().models.find("llama3-8b");
  const auto f = training_flops_per_token(model, count_params(model), 8192);
  CHECK(f.matmul_forward == 15009849344.0);
  CHECK(f.attention_forward == 2147483648.0);
  CHECK(f.model == 51471998976.0);
  CHECK(f.hardware_extra_full_recompute == f.matmul_forward + f.attention_forward);
}

TEST_CASE("sliding-window layers compute only their band's attention, worked by hand", "[models][flops]") {
  // gpt-oss-120b at 4096 tokens: 36 attention layers, 18 with a 128-token window; 64 heads of 64.
  // Full layer: 4096 / 2 = 2048 pairs per token. Windowed: the first 128 queries see 128 x 128 / 2 = 8,192 pairs, the
  // other 3,968 see 128 each, 507,904: 516,096 / 4096 = 126 per token. Mean: (18 x 2048 + 18 x 126) / 36 = 1087.
  // FLOPs per token and layer: 2 x 1087 x 64 heads x (64 + 64) = 17,809,408; without the window 2 x 2048 x 64 x 128
  // = 33,554,432.
  const auto& model = *test::catalogs().models.find("gpt-oss-120b");
  REQUIRE(model.windowed_layers() == 18);
  CHECK_THAT(attention_core_forward_flop_per_token(model, 4096), WithinRel(17809408.0, 1e-12));
  auto full = model;
  full.sliding_window.reset();
  CHECK_THAT(attention_core_forward_flop_per_token(full, 4096), WithinRel(33554432.0, 1e-12));
  // A window as long as the sequence changes nothing.
  auto wide = model;
  wide.sliding_window->tokens = 4096;
  CHECK_THAT(attention_core_forward_flop_per_token(wide, 4096), WithinRel(33554432.0, 1e-12));
}

TEST_CASE("KV cache bytes per token: MHA and GQA and MLA", "[models][kv]") {
  const auto& models = test::catalogs().models;
  // Llama-3-8B (GQA): 32 layers x 2 (K, V) x 8 KV heads x 128 x 2 bytes = 131,072 B (128 KiB).
  CHECK(kv_cache_bytes_per_token(*models.find("llama3-8b"), 2.0) == 131072.0);
  // GPT-3 (MHA): 96 x 2 x 96 x 128 x 2 = 4,718,592 B.
  CHECK(kv_cache_bytes_per_token(*models.find("gpt3-175b"), 2.0) == 4718592.0);
  // DeepSeek-V3 (MLA): 61 x (512 + 64) x 2 = 70,272 B, against MHA with its heads: 61 x 128 x (192 + 128) x 2
  // = 4,997,120 B: a 98.6% cut (the issue asks for > 90%).
  const auto& v3 = *models.find("deepseek-v3");
  const double mla = kv_cache_bytes_per_token(v3, 2.0);
  const double mha = kv_cache_bytes_per_token_mha_equivalent(v3, 2.0);
  CHECK(mla == 70272.0);
  CHECK(mha == 4997120.0);
  CHECK(1.0 - mla / mha > 0.90);
}
