// Hybrid Mamba-2 / attention / MoE models (Nemotron 3 Nano): the layer pattern, parameter and FLOP counts, memory,
// and the two tiers on them, each against a hand computation.

#include "helpers.hpp"

#include "flopcast/models/accounting.hpp"
#include "flopcast/models/estimator.hpp"
#include "flopcast/models/memory.hpp"
#include "flopcast/models/step_work.hpp"
#include "flopcast/scenarios/scenario.hpp"

using namespace flopcast;
using Catch::Matchers::WithinRel;

namespace {
const ModelArch& nano() { return *test::catalogs().models.find("nemotron3-nano"); }

nlohmann::json nano_json(const std::string& plan_json) {
  auto json = nlohmann::json::parse(R"({
    "name": "nano",
    "model": "nemotron3-nano",
    "cluster": {"chip": "h100-sxm", "chips": 16},
    "training": {"seq_len": 8192, "global_batch": 64, "precision": "bf16", "tokens": 1e9}})");
  json["parallelism"] = nlohmann::json::parse(plan_json);
  return json;
}

std::vector<std::string> problems_of(const nlohmann::json& json) {
  return test::messages_of([&] { test::scenario_from(json); });
}
}  // namespace

TEST_CASE("Nemotron 3 Nano's layer pattern: 23 Mamba-2, 6 attention and 23 MoE layers", "[models][hybrid]") {
  const auto& m = nano();
  CHECK(m.is_hybrid());
  CHECK(m.layer_count(LayerKind::mamba) == 23);
  CHECK(m.layer_count(LayerKind::attention) == 6);
  CHECK(m.layer_count(LayerKind::experts) == 23);
  CHECK(m.layer_count(LayerKind::mlp) == 0);
  CHECK(m.moe_layer_count() == 23);
  // "MEMEM*E...": layer 0 Mamba, 1 MoE, 5 attention.
  CHECK(m.layer_kind(0) == LayerKind::mamba);
  CHECK(m.layer_kind(1) == LayerKind::experts);
  CHECK(m.layer_kind(5) == LayerKind::attention);
}

TEST_CASE("Nemotron 3 Nano parameters worked by hand", "[models][hybrid][params]") {
  const auto p = count_params(nano());
  // Mamba-2 mixer, h = 2688, 64 heads x 64, state 128, 8 groups: in_proj 2688 x (2 x 4096 + 2 x 8 x 128 + 64 =
  // 10,304) = 27,697,152; convolution over 4096 + 2048 = 6144 channels, 4 taps and a bias: 30,720; dt bias, A and D:
  // 192; gated norm 4096; out_proj 4096 x 2688 = 11,010,048. Sum 38,742,208.
  CHECK(p.mamba_mixer == 38742208.0);
  // Layers with their norm (2688): Mamba 38,744,896; attention 2688 x (4096 + 2 x 256 + 4096) + 2688 = 23,399,040;
  // MoE (2-matrix experts 2 x 2688 x 1856 = 9,977,856; router 2688 x 128 = 344,064; one shared expert of 3712 =
  // 2 x 9,977,856): 2688 + 344,064 + 19,955,712 + 128 x 9,977,856 = 1,297,468,032, active (top-6) 80,169,600.
  CHECK(layer_params(nano(), p, LayerKind::mamba, false) == 38744896.0);
  CHECK(layer_params(nano(), p, LayerKind::attention, false) == 23399040.0);
  CHECK(layer_params(nano(), p, LayerKind::experts, false) == 1297468032.0);
  CHECK(layer_params(nano(), p, LayerKind::experts, true) == 80169600.0);
  // Embedding and head 2 x 131072 x 2688 = 704,643,072, final norm 2688; 23 Mamba + 6 attention + 23 MoE layers:
  // total 31,577,937,344 (published 31.6B), active 3,580,073,408 (published 3.6B).
  CHECK(p.total == 31577937344.0);
  CHECK(p.active == 3580073408.0);
}

TEST_CASE("the SSD scan's FLOPs per token worked by hand", "[models][hybrid][flops]") {
  // 2 x (G Q N + H Q P + 2 H N P) = 2 x (8 x 128 x 128 + 64 x 128 x 64 + 2 x 64 x 128 x 64)
  //   = 2 x (131,072 + 524,288 + 1,048,576) = 3,407,872.
  CHECK(ssd_forward_flop_per_token(*nano().mamba) == 3407872.0);
  const auto p = count_params(nano());
  const auto f = training_flops_per_token(nano(), p, 8192);
  CHECK(f.ssd_forward == 23 * 3407872.0);
  // Attention only in the 6 attention layers: 2 x 8192 x 32 x (128 + 128) x 0.5 = 67,108,864 each.
  CHECK(f.attention_forward == 6 * 67108864.0);
  CHECK_THAT(f.model, WithinRel(3.0 * (f.matmul_forward + f.attention_forward + f.ssd_forward), 1e-12));
}

TEST_CASE("a Mamba layer's activations worked by hand", "[models][hybrid][memory]") {
  const auto s = test::scenario_from(nano_json(R"({"tp": 1, "dp": 16, "ep": 8})"));
  // 8192 tokens, bf16, no recomputation. The norm: input and output, 2 x 2 x 2688 = 10,752 bytes per token. The
  // mixer: in_proj's output 10,304, the convolution's 6144 and the scan's 4096 in bf16 (2 x 20,544 = 41,088 bytes),
  // out_proj's input 4096 x 2 = 8192, dt sums 2 x 64 x 4 = 512: 49,792. Per token 60,544 bytes; x 8192 =
  // 495,976,448.
  CHECK(activation_bytes_per_layer(nano(), LayerKind::mamba, s.job.plan, s.job.training) == 495976448.0);
  // Full recomputation keeps the layer input alone: 8192 x 2688 x 2.
  auto full = s.job.plan;
  full.recompute = Recompute::full;
  CHECK(activation_bytes_per_layer(nano(), LayerKind::mamba, full, s.job.training) == 8192.0 * 2688 * 2);
}

TEST_CASE("a hybrid model's stages hold its pattern's layers in order", "[models][hybrid][memory]") {
  ParallelPlan plan;
  plan.pp = 4;
  const auto stages = stage_layouts(nano(), plan, 4);
  // 52 layers over 4 stages, 13 each: "MEMEM*EMEMEM*" holds 6 M, 5 E and 2 *.
  REQUIRE(stages.size() == 4);
  CHECK(stages[0].mamba_layers == 6);
  CHECK(stages[0].expert_layers == 5);
  CHECK(stages[0].attention_layers == 2);
  int mamba = 0;
  int experts = 0;
  for (const auto& stage : stages) {
    CHECK(stage.layers() == 13);
    mamba += stage.mamba_layers;
    experts += stage.expert_bearing_layers();
  }
  CHECK(mamba == 23);
  CHECK(experts == 23);
}

TEST_CASE("a hybrid model's single-block layers run one TP collective a pass and half the layer overhead",
          "[models][hybrid]") {
  const auto s = test::scenario_from(nano_json(R"({"tp": 2, "dp": 8, "ep": 8, "sp": true})"));
  const auto w = build_step_work(s.job, build_topology(topology_spec(s.job.cluster)), test::catalogs().assumptions);
  CHECK(w.mamba.blocks() == 1);
  CHECK(w.mamba.mixer_block);
  CHECK_FALSE(w.mamba.ffn_block);
  CHECK(w.experts.blocks() == 1);
  CHECK_FALSE(w.experts.mixer_block);
  CHECK(w.attention.ffn_forward.compute_s() == 0.0);
  CHECK(w.mamba.tp.time_s() > 0.0);
  // 52 single-block layers count as 26 layers' overhead, and the 23 MoE layers pay the MoE overhead.
  StageLayout all;
  all.mamba_layers = 23;
  all.attention_layers = 6;
  all.expert_layers = 23;
  CHECK_THAT(w.overhead_s(all), WithinRel(26.0 * w.per_layer_overhead_s + 23.0 * w.per_moe_layer_overhead_s, 1e-12));
}

TEST_CASE("the two tiers agree on a hybrid model with overlap and contention off", "[models][hybrid][tiers]") {
  for (const auto* plan : {R"({"tp": 1, "dp": 16, "ep": 8})", R"({"tp": 2, "pp": 2, "dp": 4, "ep": 8, "sp": true})"}) {
    const auto s = test::scenario_from(nano_json(plan));
    SimOptions replica;
    replica.overlap = false;
    replica.contention = false;
    replica.whole_run = false;
    const auto two = simulate_scenario(s, test::catalogs(), replica);
    const auto one = estimate_training(s.job, test::catalogs().assumptions, EstimateOptions{false});
    INFO(plan << ": tier 1 " << one.step_time_s << " s, tier 2 " << two.estimate.step_time_s << " s");
    CHECK_THAT(two.estimate.step_time_s, WithinRel(one.step_time_s, 0.01));
  }
}

TEST_CASE("hybrid patterns are checked with the file, the path and what was expected", "[models][hybrid][scenarios]") {
  auto inline_model = [](const std::string& pattern) {
    auto json = nano_json(R"({"tp": 1, "dp": 16})");
    json["model"] = nlohmann::json::parse(R"({"name": "h", "layers": 4, "hidden": 1024, "ffn": 4096, "heads": 8,
      "vocab": 32000, "mamba": {"heads": 16, "head_dim": 64, "state": 64}})");
    json["model"]["hybrid_pattern"] = pattern;
    return json;
  };
  CHECK(problems_of(inline_model("M*M-")) == std::vector<std::string>{"<no error>"});
  const auto bad = problems_of(inline_model("M*X-"));
  REQUIRE(bad.size() == 1);
  CHECK(bad.front().find("/model/hybrid_pattern: expected one character per layer") == 0);
  const auto short_pattern = problems_of(inline_model("M*-"));
  REQUIRE(short_pattern.size() == 1);
  CHECK(short_pattern.front() == "/model/hybrid_pattern: has 3 layers, but layers is 4");
  const auto experts = problems_of(inline_model("M*E-"));
  REQUIRE(experts.size() == 1);
  CHECK(experts.front() == "/model/moe: is required when hybrid_pattern has 'E' layers");
  // Context parallelism of the scan is not modelled: a clear error, not a wrong number; and the estimator refuses a
  // job that did not come through the scenario's checks (the planner's candidates) the same way.
  CHECK(problems_of(nano_json(R"({"tp": 1, "cp": 2, "dp": 8})")) ==
        std::vector<std::string>{"/parallelism/cp: context parallelism of Mamba layers is not modelled: use cp 1"});
  auto job = test::scenario_from(nano_json(R"({"tp": 1, "dp": 16})")).job;
  job.plan.cp = 2;
  job.plan.dp = 8;
  CHECK_THROWS_WITH(estimate_training(job, test::catalogs().assumptions),
                    Catch::Matchers::Contains("context parallelism of Mamba layers is not modelled"));
  CHECK(problems_of(nano_json(R"({"tp": 16, "dp": 1})")).front() ==
        "/parallelism/tp: tp 16 must divide the model's 64 Mamba heads and 8 groups");
}
