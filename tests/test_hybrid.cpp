// Hybrid Mamba-2 / attention / MoE models (Nemotron 3 Nano): the layer pattern, parameter and FLOP counts, memory,
// and the two tiers on them, each against a hand computation.

#include "helpers.hpp"

#include "flopcast/models/accounting.hpp"
#include "flopcast/models/estimator.hpp"
#include "flopcast/models/hf_import.hpp"
#include "flopcast/models/memory.hpp"
#include "flopcast/models/step_work.hpp"
#include "flopcast/scenarios/scenario.hpp"

using namespace flopcast;
using Catch::Matchers::WithinRel;

namespace {
const ModelArch& nano() { return *test::catalogs().models.find("nemotron3-nano"); }

// A bf16 training scenario of a catalog model on `chips` chips, 8192-token sequences.
nlohmann::json hybrid_json(const std::string& model, const std::string& chip, int chips, int global_batch,
                           const std::string& plan_json) {
  return {{"name", model},
          {"model", model},
          {"cluster", {{"chip", chip}, {"chips", chips}}},
          {"training", {{"seq_len", 8192}, {"global_batch", global_batch}, {"precision", "bf16"}, {"tokens", 1e9}}},
          {"parallelism", nlohmann::json::parse(plan_json)}};
}

nlohmann::json nano_json(const std::string& plan_json) {
  return hybrid_json("nemotron3-nano", "h100-sxm", 16, 64, plan_json);
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
  // Backward: 2 x (3 G Q N + 3 H Q P + 5 H N P) = 2 x (393,216 + 1,572,864 + 2,621,440) = 9,175,040, 2.69 x the
  // forward.
  CHECK(ssd_backward_flop_per_token(*nano().mamba) == 9175040.0);
  const auto p = count_params(nano());
  const auto f = training_flops_per_token(nano(), p, 8192);
  CHECK(f.ssd_forward == 23 * 3407872.0);
  // Attention only in the 6 attention layers: 2 x 8192 x 32 x (128 + 128) x 0.5 = 67,108,864 each.
  CHECK(f.attention_forward == 6 * 67108864.0);
  CHECK_THAT(f.model, WithinRel(3.0 * (f.matmul_forward + f.attention_forward + f.ssd_forward), 1e-12));
}

TEST_CASE("the SSD scan's HBM bytes per token worked by hand", "[models][hybrid][memory]") {
  // Nano: H P = 64 x 64 = 4096, N = 128, G = 8, Q = 128. Chunk states 4096 x 128 / 128 = 4096 per token, 12 bytes
  // each (fp32 written and read, bf16 written and read): 49,152; C B^T 8 x 128 fp32 written and read: 8192; x read
  // twice and y written, bf16: 6 x 4096 = 24,576; B and C (8 x 128 each) read twice, bf16: 8192. Sum 90,112.
  CHECK(ssd_hbm_bytes_per_token(*nano().mamba) == 90112.0);
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

namespace {
const ModelArch& super_model() { return *test::catalogs().models.find("nemotron3-super"); }

nlohmann::json super_json(const std::string& plan_json) {
  return hybrid_json("nemotron3-super", "b300", 64, 512, plan_json);
}
}  // namespace

TEST_CASE("Nemotron 3 Super's LatentMoE and shared-weight MTP parameters worked by hand",
          "[models][hybrid][latent][params]") {
  const auto& m = super_model();
  const auto p = count_params(m);
  // A routed expert in the 1024-wide latent: 2 matrices x 1024 x 2688 = 5,505,024. The shared expert (5376 wide,
  // written as 2 of 2688) stays at h = 4096: 2 x 2 x 4096 x 2688 = 44,040,192. The two latent projections
  // 2 x 4096 x 1024 = 8,388,608; the router 4096 x 512 = 2,097,152.
  CHECK(p.expert == 5505024.0);
  CHECK(p.shared_experts_per_layer == 44040192.0);
  CHECK(p.latent_projections_per_layer == 8388608.0);
  CHECK(p.router_per_layer == 2097152.0);
  // An 'E' layer: norm 4096 + router + shared + projections = 54,530,048, plus 512 experts (2,818,572,288):
  // 2,873,102,336; active (top-22, 121,110,528): 175,640,576.
  CHECK(layer_params(m, p, LayerKind::experts, false) == 2873102336.0);
  CHECK(layer_params(m, p, LayerKind::experts, true) == 175640576.0);
  // The MTP module: two norms (8192), its 2h -> h projection (33,554,432) and an attention + MoE layer (attention
  // 4096 x (4096 + 2 x 256 + 4096) = 35,651,584, two norms 8192, the MoE FFN as above less its norm 2,873,098,240):
  // 2,942,320,640. Its weights run twice but are held once.
  CHECK(p.mtp_module == 2942320640.0);
  CHECK(p.mtp_total == p.mtp_module);
  // 40 Mamba + 8 attention + 40 MoE layers, embedding and head: 120,668,687,360 (the report's 120.6B, truncated).
  CHECK(p.total == 120668687360.0);
}

TEST_CASE("shared MTP weights: twice the compute, one module's parameters", "[models][hybrid][latent][flops]") {
  auto shared = super_model();
  auto separate = shared;
  separate.mtp_shared_weights = false;
  const auto ps = count_params(shared);
  const auto pd = count_params(separate);
  CHECK(pd.mtp_total == 2.0 * ps.mtp_total);
  // FLOPs per token do not depend on whether the two passes share weights: each runs the projection (2h^2), the
  // layer's active parameters (attention 35,651,584, two norms 8192, router + shared expert + projections
  // 54,525,952, 22 experts 121,110,528) and the output head (536,870,912): 2 x 781,721,600 multiply-adds more than
  // without MTP, 2 FLOPs each.
  const auto fs = training_flops_per_token(shared, ps, 8192);
  CHECK(fs.matmul_forward == training_flops_per_token(separate, pd, 8192).matmul_forward);
  auto none = shared;
  none.mtp_modules = 0;
  none.mtp_shared_weights = false;
  const auto fn = training_flops_per_token(none, count_params(none), 8192);
  CHECK(fs.matmul_forward - fn.matmul_forward == 2.0 * 2.0 * 781721600.0);
  // Memory: the last stage holds one module's weights (its dense part over tp, its experts over ep).
  const auto s = test::scenario_from(super_json(R"({"tp": 1, "dp": 64, "ep": 8})"));
  const auto layouts = stage_layouts(shared, s.job.plan, 1);
  const auto held_shared = stage_params(shared, ps, layouts.front(), s.job.plan);
  const auto held_separate = stage_params(separate, pd, layouts.front(), s.job.plan);
  const double routed = 512.0 * 5505024.0;
  CHECK(held_separate.dense - held_shared.dense == ps.mtp_module - routed);
  CHECK(held_separate.expert - held_shared.expert == routed / 8.0);
}

TEST_CASE("LatentMoE: the experts and the all-to-alls work in the latent width", "[models][hybrid][latent]") {
  const auto s = test::scenario_from(super_json(R"({"tp": 1, "dp": 64, "ep": 8})"));
  const auto topology = build_topology(topology_spec(s.job.cluster));
  const auto& a = test::catalogs().assumptions;
  auto wide = s.job;
  wide.model.moe->latent = 0;
  const auto latent = build_step_work(s.job, topology, a);
  const auto hidden = build_step_work(wide, topology, a);
  // One micro-batch of 8192 tokens, 22 copies each, over 8 ranks of one 8-GPU node: the dispatch carries 1024
  // elements per copy instead of 4096, a quarter of the bytes.
  CHECK_THAT(latent.experts.ep_dispatch.bytes(Path::scaleup),
             WithinRel(0.25 * hidden.experts.ep_dispatch.bytes(Path::scaleup), 1e-12));
  CHECK(latent.experts.ep_dispatch.bytes(Path::scaleup) > 0.0);
  // The routed experts' GEMMs read a quarter of the width; the projections add two GEMMs of 8192 x 1024 x 4096 on
  // every rank: the FFN's forward is cheaper than the hidden-width experts' but not by four.
  const double latent_gemm = latent.experts.ffn_forward.gemm_s;
  const double hidden_gemm = hidden.experts.ffn_forward.gemm_s;
  CHECK(latent_gemm < 0.5 * hidden_gemm);
  CHECK(latent_gemm > 0.25 * hidden_gemm);
  // The MTP modules run the transformer MoE layer (attention and experts), built for the hybrid model too.
  CHECK(latent.moe.attention_forward.compute_s() > 0.0);
  CHECK(latent.moe.ffn_forward.compute_s() > 0.0);
}

TEST_CASE("an inline hybrid LatentMoE model survives the resolved scenario", "[models][hybrid][latent][scenarios]") {
  // The resolved scenario writes an inline model out key for key; parsed back it is the same model and the same step.
  auto json = super_json(R"({"tp": 1, "dp": 64, "ep": 8})");
  json["model"] = model_to_json(super_model());
  json["model"]["moe"]["expert_bias"] = true;
  json["model"]["moe"]["clamped_activation"] = true;
  const auto s = test::scenario_from(json);
  const auto e = run_scenario(s, test::catalogs());
  const auto resolved = result_to_json(s, e, test::catalogs())["resolved_scenario"];
  CHECK(resolved["model"]["hybrid_pattern"] == super_model().hybrid_pattern);
  const auto again = parse_scenario(resolved, "resolved.json", FLOPCAST_SOURCE_ROOT, test::catalogs());
  CHECK(count_params(again.job.model).total == count_params(s.job.model).total);
  CHECK(again.job.model.moe->clamped_activation);
  CHECK(run_scenario(again, test::catalogs()).step_time_s == e.step_time_s);
}

TEST_CASE("latent and mtp_shared_weights are checked", "[models][hybrid][latent][scenarios]") {
  auto json = super_json(R"({"tp": 1, "dp": 64, "ep": 8})");
  const auto& m = super_model();
  nlohmann::json inline_model = {
      {"name", "s"},     {"layers", 4},       {"hidden", 1024}, {"ffn", 4096},
      {"heads", 8},      {"vocab", 32000},    {"hybrid_pattern", "M*EE"},
      {"mamba", {{"heads", 16}, {"head_dim", 64}, {"state", 64}}},
      {"moe", {{"experts", 8}, {"top_k", 2}, {"expert_ffn", 512}, {"latent", 1024}}}};
  json["model"] = inline_model;
  json["parallelism"] = nlohmann::json::parse(R"({"tp": 1, "dp": 64, "ep": 8})");
  CHECK(problems_of(json) == std::vector<std::string>{
                                 "/model/moe: latent (1024) must be below hidden (1024): a latent projection narrows "
                                 "the routed experts' width"});
  json["model"]["moe"]["latent"] = 256;
  json["model"]["mtp_shared_weights"] = true;
  CHECK(problems_of(json) ==
        std::vector<std::string>{"/model/mtp_shared_weights: needs mtp_modules: the depth the shared MTP module runs"});
  json["model"]["mtp_modules"] = 2;
  CHECK(problems_of(json) == std::vector<std::string>{"<no error>"});
  CHECK(m.mtp_weight_modules() == 1);
}
