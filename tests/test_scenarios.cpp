#include "helpers.hpp"
#include "flopcast/studies/calibration.hpp"
#include "flopcast/studies/validation.hpp"
#include "flopcast/core/files.hpp"

#include <cmath>
#include <fstream>

using namespace flopcast;
using Catch::Matchers::WithinRel;

namespace {
nlohmann::json base() {
  return nlohmann::json::parse(R"({
    "name": "t",
    "model": "deepseek-v3",
    "cluster": {"chip": "h800-sxm", "chips": 2048, "node": "hgx-h800",
                "network": {"fabric": "ib-ndr400", "topology": "multi-plane-2", "nics_per_node": 8}},
    "parallelism": {"tp": 1, "pp": 16, "dp": 128, "ep": 64, "cp": 1, "vpp": 1, "sp": false, "zero": 1,
                    "micro_batch": 1, "recompute": "none", "schedule": "dualpipe"},
    "training": {"seq_len": 4096, "global_batch": 15360, "precision": "fp8", "tokens": 14.8e12},
    "costs": {"usd_per_chip_hour": 2.0, "electricity_usd_per_kwh": 0.08, "pue": 1.3}})");
}
std::vector<std::string> problems_of(const nlohmann::json& json) {
  return test::messages_of([&] { test::scenario_from(json); });
}
// The one problem the scenario has ("path: message"); fails the test if there are more or none.
std::string only_problem(const nlohmann::json& json) {
  const auto problems = problems_of(json);
  INFO(test::join_lines(problems));
  REQUIRE(problems.size() == 1);
  return problems.front();
}
}  // namespace

TEST_CASE("parallelism.pin names the plan search's dimensions kept at the file's values", "[scenarios]") {
  SECTION("\"stated\": every dimension the block gives; stage_layers pins the layout, recompute_modules the recompute") {
    auto json = base();
    json["parallelism"] = {{"tp", 1}, {"pp", 16}, {"schedule", "dualpipe"}, {"stage_layers", nlohmann::json(16, 4)},
                           {"recompute_modules", {"mla_up_proj"}}, {"sp", false}, {"pin", "stated"}};
    json["parallelism"]["stage_layers"][0] = 1;  // 61 layers: 1 + 15 x 4
    const auto s = test::scenario_from(json);
    // sp is not a dimension (it follows tp).
    CHECK(s.pinned == std::vector<std::string>{"layout", "pp", "recompute", "schedule", "tp"});
    CHECK(s.resolved.at("parallelism").at("pin") == nlohmann::json{"layout", "pp", "recompute", "schedule", "tp"});
  }
  SECTION("a list") {
    auto json = base();
    json["parallelism"]["pin"] = {"ep", "tp", "ep"};
    CHECK(test::scenario_from(json).pinned == std::vector<std::string>{"ep", "tp"});
  }
  SECTION("none: nothing pinned, and the resolved scenario has no pin") {
    const auto s = test::scenario_from(base());
    CHECK(s.pinned.empty());
    CHECK(!s.resolved.at("parallelism").contains("pin"));
  }
  SECTION("a name that is not a dimension, with a suggestion") {
    auto json = base();
    json["parallelism"]["pin"] = {"tp", "micro_batches"};
    CHECK(only_problem(json).find("/parallelism/pin/1: \"micro_batches\" is not a dimension of the plan search (did you "
                                  "mean \"micro_batch\"?)") == 0);
  }
  SECTION("neither \"stated\" nor a list") {
    auto json = base();
    json["parallelism"]["pin"] = "all";
    CHECK(only_problem(json).find("/parallelism/pin: expected \"stated\" or an array of the plan search's dimensions") == 0);
  }
}

TEST_CASE("the issue's example scenario parses as written", "[scenarios]") {
  const auto s = test::scenario_from(base());
  CHECK(s.job.plan.dp == 128);
  CHECK(s.job.plan.schedule == Schedule::dualpipe);
  CHECK(s.job.cluster.nodes == 256);
  CHECK(s.job.training.precision == Precision::fp8);
  CHECK(s.resolved["parallelism"]["ep"] == 64);
}

TEST_CASE("dp and node and network and prices default and say so", "[scenarios]") {
  auto json = base();
  json["parallelism"].erase("dp");
  json["cluster"].erase("node");
  json["cluster"].erase("network");
  json.erase("costs");
  const auto s = test::scenario_from(json);
  CHECK(s.job.plan.dp == 128);  // 2048 / (1 x 16 x 1)
  CHECK(s.job.cluster.node.id == "hgx-h800");
  CHECK(s.job.cluster.fabric.id == "ib-ndr400");  // InfiniBand at the NIC's 400 Gb/s
  CHECK(s.job.cluster.topology == TopologyKind::fat_tree_2);  // 2048 NICs fit two tiers of 64-port switches
  const auto& used = s.defaults_used;
  const auto mentions = [&](const std::string& text) {
    return std::any_of(used.begin(), used.end(), [&](const std::string& u) { return u.find(text) == 0; });
  };
  CHECK(mentions("parallelism.dp = 128"));
  CHECK(mentions("cluster.node = hgx-h800"));
  CHECK(mentions("costs.usd_per_chip_hour"));
}

TEST_CASE("validation names the file and the JSON path and what was expected", "[scenarios][validation]") {
  SECTION("unknown chip with a suggestion") {
    auto json = base();
    json["cluster"]["chip"] = "h800";
    json["cluster"].erase("node");
    CHECK(only_problem(json).find("/cluster/chip: unknown chip \"h800\" (did you mean \"h800-sxm\"?)") == 0);
  }
  SECTION("inconsistent parallel products") {
    auto json = base();
    json["parallelism"]["dp"] = 64;
    CHECK(only_problem(json) == "/parallelism: tp x pp x cp x dp = 1 x 16 x 1 x 64 = 1024, but /cluster/chips is 2048");
  }
  SECTION("every problem at once, including unknown keys with suggestions") {
    auto json = base();
    json["parallelism"]["tensor_parallel"] = 2;
    json["training"]["seq_len"] = 0;
    json["cluster"]["chips"] = -4;
    json["costs"]["pue"] = 0.5;
    const auto p = problems_of(json);
    REQUIRE(p.size() == 4);
    CHECK(p[0] == "/cluster/chips: expected an integer from 1 to 1073741824, got -4");
    CHECK(p[1] == "/parallelism/tensor_parallel: unknown key");
    CHECK(p[2] == "/training/seq_len: expected an integer from 1 to 16777216, got 0");
    CHECK(p[3] == "/costs/pue: expected a number >= 1 and <= 5, got 0.5");
  }
  SECTION("a misspelt key gets a suggestion") {
    auto json = base();
    json["parallelism"]["micro_bach"] = json["parallelism"]["micro_batch"];
    json["parallelism"].erase("micro_batch");
    CHECK(only_problem(json) == "/parallelism/micro_bach: unknown key (did you mean \"micro_batch\"?)");
  }
  SECTION("plan options the published runs state, checked") {
    auto json = base();
    json["parallelism"]["recompute"] = "selective";
    json["parallelism"]["recompute_modules"] = {"layernorm", "mla_up_projection"};
    CHECK(only_problem(json) == "/parallelism/recompute_modules: unknown module \"mla_up_projection\"; known: "
                                "core_attn, layernorm, mla_up_proj, moe_act, mlp, moe");
    json = base();
    json["parallelism"]["recompute"] = "per_op";
    json["parallelism"]["recompute_modules"] = {"layernorm"};
    CHECK(only_problem(json) ==
          "/parallelism/recompute_modules: lists what selective recomputation redoes; recompute is \"per_op\"");
    json = base();
    json["parallelism"]["recompute"] = "selective";
    json["parallelism"]["recompute_layers"] = 2;
    CHECK(only_problem(json) == "/parallelism/recompute_layers: counts the layers of each stage that full "
                                "recomputation redoes (Megatron's block method); needs \"recompute\": \"full\", got "
                                "\"selective\"");
    json["parallelism"]["recompute"] = "full";
    json["parallelism"]["recompute_layers"] = 0;
    CHECK(only_problem(json).find("/parallelism/recompute_layers: ") == 0);
    json["parallelism"]["recompute_layers"] = 2;
    json["parallelism"]["master_weights"] = "bf16_residual";
    const auto block = test::scenario_from(json);
    CHECK(block.job.plan.recompute_layers == 2);
    CHECK(block.job.plan.master_weight_bytes == 2.0);
    CHECK(block.resolved.at("parallelism").at("recompute_layers") == 2);
    CHECK(block.resolved.at("parallelism").at("master_weights") == "bf16_residual");
    json = base();
    json["training"]["flash_attention"] = false;
    json["training"]["attention_kernel"] = "flash2";
    CHECK(only_problem(json) ==
          "/training/attention_kernel: \"flash2\" is a FlashAttention kernel; flash_attention is false");
    json = base();
    json["parallelism"]["stage_layers"] = {30, 31};
    CHECK(only_problem(json).find("/parallelism/stage_layers: lists 2 stages, but the plan has") == 0);
    // ZB-V holds two virtual stages per device: a listed layout names 2 pp of them.
    json["parallelism"]["schedule"] = "zb-v";
    CHECK(only_problem(json).find("(pp " + std::to_string(json["parallelism"]["pp"].get<int>()) +
                                  " x 2 per device, ZB-V's two)") != std::string::npos);
    json = base();
    json["parallelism"]["shard_group"] = 3;
    CHECK(only_problem(json).find("/parallelism/shard_group: 3 must divide dp x cp") == 0);
    json = base();
    json["training"]["precision"] = "nvfp4";  // the base runs on H800: no NVFP4 tensor cores
    CHECK(only_problem(json).find("/training/precision: h800-sxm has no nvfp4 tensor cores") == 0);
  }
  SECTION("fp8 on a chip without fp8 units") {
    auto json = base();
    json["cluster"] = {{"chip", "ascend-910b"}, {"chips", 2048}};
    CHECK(only_problem(json) ==
          "/training/precision: ascend-910b has no fp8 tensor cores (no fp8 peak in the catalog); use \"bf16\"");
  }
  SECTION("expert parallelism that does not divide") {
    auto json = base();
    json["parallelism"]["ep"] = 48;
    const auto p = problems_of(json);
    REQUIRE(p.size() == 2);
    CHECK(p[0] == "/parallelism/ep: ep 48 must divide the 256 experts");
    CHECK(p[1] == "/parallelism/ep: ep 48 must divide tp x cp x dp = 128");
  }
  SECTION("global batch not a multiple of dp x micro-batch") {
    auto json = base();
    json["training"]["global_batch"] = 1000;
    CHECK(only_problem(json) == "/training/global_batch: 1000 is not a multiple of dp x micro_batch = 128 x 1 = 128");
  }
  SECTION("a model id that does not exist") {
    auto json = base();
    json["model"] = "deepseek_v3";
    const auto p = problems_of(json);
    REQUIRE(!p.empty());
    CHECK(p[0].find("/model: unknown model \"deepseek_v3\" (did you mean \"deepseek-v3\"?)") == 0);
  }
  SECTION("expert all-to-all overlap outside the schedules that pair passes") {
    auto json = base();  // DualPipe, pp 16
    json["parallelism"]["ep_comm_overlap"] = true;
    CHECK(only_problem(json) == "/parallelism/ep_comm_overlap: pairs forwards with backwards in the interleaved "
                                "schedule or without a pipeline; got \"dualpipe\" with pp 16");
    json["parallelism"]["schedule"] = "interleaved";
    json["parallelism"]["vpp"] = 2;
    json["parallelism"]["recompute"] = "full";
    CHECK(only_problem(json) == "/parallelism/ep_comm_overlap: cannot run with full recomputation (Megatron refuses it)");
  }
  SECTION("overlapped pipeline sends asked of a schedule whose sends block") {
    auto json = base();  // DualPipe, pp 16: its sends overlap, and may be made to block
    const std::vector<std::string> none{"<no error>"};
    json["parallelism"]["pp_comm_overlap"] = false;
    CHECK(problems_of(json) == none);
    json["parallelism"]["schedule"] = "1f1b";
    CHECK(problems_of(json) == none);
    json["parallelism"]["pp_comm_overlap"] = true;
    CHECK(only_problem(json) == "/parallelism/pp_comm_overlap: runs pipeline sends behind computation in the "
                                "interleaved and DualPipe schedules; \"1f1b\"'s sends block between passes");
  }
  SECTION("a token dispatcher on a dense model") {
    const auto json = nlohmann::json::parse(R"({"model": "llama3-8b", "cluster": {"chip": "h100-sxm", "chips": 8},
      "parallelism": {"dp": 8, "moe_dispatcher": "hybridep"}, "training": {"seq_len": 4096, "global_batch": 8,
      "tokens": 1e9}})");
    CHECK(only_problem(json).find("/parallelism/moe_dispatcher: routes tokens to experts; ") == 0);
  }
  SECTION("a capacity factor on a dense model, or not above zero") {
    auto json = nlohmann::json::parse(R"({"model": "llama3-8b", "cluster": {"chip": "h100-sxm", "chips": 8},
      "parallelism": {"dp": 8, "moe_capacity_factor": 1.0}, "training": {"seq_len": 4096, "global_batch": 8,
      "tokens": 1e9}})");
    CHECK(only_problem(json).find("/parallelism/moe_capacity_factor: caps what each expert takes; ") == 0);
    json["model"] = "mixtral-8x7b";
    json["parallelism"]["ep"] = 8;
    CHECK(problems_of(json) == std::vector<std::string>{"<no error>"});
    json["parallelism"]["moe_capacity_factor"] = 0;
    CHECK(only_problem(json).find("/parallelism/moe_capacity_factor: ") == 0);
  }
  SECTION("expert tensor parallelism that does not fit the ranks or the experts") {
    auto json = base();  // ep 64 over tp x cp x dp = 128
    json["parallelism"]["etp"] = 4;
    CHECK(only_problem(json) == "/parallelism/etp: ep x etp = 256 must divide tp x cp x dp = 128");
    json["parallelism"]["etp"] = 2;
    CHECK(problems_of(json) == std::vector<std::string>{"<no error>"});
    json["model"] = "llama3-70b";
    json["parallelism"]["ep"] = 1;
    json["training"]["precision"] = "bf16";
    CHECK(only_problem(json) == "/parallelism/etp: etp 2 needs a MoE model");
  }
  SECTION("activation offloading with a pipeline, too many layers, or no host link in the catalog") {
    auto json = base();  // pp 16, DeepSeek-V3's 61 layers
    json["parallelism"]["offload_activation_layers"] = 61;
    const auto p = problems_of(json);
    REQUIRE(p.size() == 2);
    CHECK(p[0] == "/parallelism/offload_activation_layers: needs pp 1 (Megatron refuses CPU offloading with a pipeline)");
    CHECK(p[1].find("/parallelism/offload_activation_layers: 61 must be fewer than the model's 61 layers") == 0);
    json = nlohmann::json::parse(R"({"model": "llama3-70b", "cluster": {"chip": "ascend-910b", "chips": 64},
      "parallelism": {"tp": 8, "offload_activation_layers": 10},
      "training": {"seq_len": 4096, "global_batch": 64, "tokens": 1e9}})");
    CHECK(only_problem(json) ==
          "/parallelism/offload_activation_layers: node atlas-800t-a2 has no host_link_bandwidth_per_direction in the catalog");
  }
  SECTION("Ulysses with heads that do not split over tp x cp") {
    auto json = base();  // DeepSeek-V3: 128 heads
    json["parallelism"]["cp_algo"] = "ulysses";
    json["parallelism"]["cp"] = 3;
    json["parallelism"]["dp"] = 128;
    json["cluster"]["chips"] = 6144;
    json["training"]["seq_len"] = 4095;
    CHECK(only_problem(json) == "/parallelism/cp_algo: Ulysses splits the heads over tp x cp = 3, which must divide "
                                "the model's 128 attention heads");
  }
  SECTION("automatic recomputation with modules of its own") {
    auto json = base();
    json["parallelism"]["recompute"] = "auto";
    json["parallelism"]["recompute_modules"] = {"layernorm"};
    CHECK(only_problem(json) ==
          "/parallelism/recompute_modules: lists what selective recomputation redoes; recompute \"auto\" picks its own");
  }
  SECTION("an unknown CUDA graph mode") {
    auto json = base();
    json["training"]["cuda_graphs"] = "partial";
    CHECK(only_problem(json).find("/training/cuda_graphs: expected one of") == 0);
  }
  SECTION("an inline model with a wrong type") {
    auto json = base();
    json["model"] = {{"name", "m"}, {"layers", "61"}, {"hidden", 1024}, {"ffn", 4096}, {"heads", 16}, {"vocab", 32000}};
    json["parallelism"] = {{"tp", 1}, {"pp", 1}};
    const auto p = problems_of(json);
    REQUIRE(!p.empty());
    CHECK(p[0] == "/model/layers: expected an integer from 1 to 10000, got the string \"61\"");
  }
  SECTION("an inline model's sliding window on more layers than it has") {
    auto json = base();
    json["model"] = {{"name", "m"},   {"layers", 4},     {"hidden", 1024},
                     {"ffn", 4096},   {"heads", 16},     {"vocab", 32000},
                     {"sliding_window", {{"tokens", 128}, {"layers", 6}}}};
    json["parallelism"] = {{"tp", 1}, {"pp", 1}};
    const auto p = problems_of(json);
    REQUIRE(!p.empty());
    CHECK(p[0] == "/model/sliding_window: layers (6) exceeds the model's attention layers (4)");
  }
}

TEST_CASE("recompute auto picks the least recomputation that fits and says so", "[scenarios]") {
  // Llama 3 70B, tp 8, dp 8, ZeRO-1 on H100 (76 GiB usable): 8.8 B parameters per chip take 2 + 4 bytes (weights,
  // fp32 gradients) + 12 / 8 (sharded optimizer) = 7.5 bytes, about 62 GiB. Four 8K-token sequences per micro-batch
  // keep about 34 sbh / t = 34 x 8192 x 4 x 8192 / 8 bytes = 1.1 GiB per layer, 87 GiB over 80 layers: neither none
  // nor selective (with FlashAttention it recomputes nothing stored) fits; full keeps 2 sbh / t per layer, 5 GiB.
  auto json = nlohmann::json::parse(R"({
    "model": "llama3-70b",
    "cluster": {"chip": "h100-sxm", "chips": 64},
    "parallelism": {"tp": 8, "sp": true, "zero": 1, "micro_batch": 4, "recompute": "auto"},
    "training": {"seq_len": 8192, "global_batch": 32, "tokens": 1e9}})");
  const auto heavy = test::scenario_from(json);
  CHECK(heavy.job.plan.recompute == Recompute::full);
  const auto said = test::join_lines(heavy.defaults_used);
  CHECK(said.find("parallelism.recompute = full (auto: the least recomputation that fits in memory; none ") !=
        std::string::npos);
  CHECK(said.find(", selective ") != std::string::npos);
  json["parallelism"]["micro_batch"] = 1;
  json["training"]["seq_len"] = 2048;
  json["training"]["global_batch"] = 8;
  const auto light = test::scenario_from(json);
  CHECK(light.job.plan.recompute == Recompute::none);
}

TEST_CASE("a scenario can take its model from a Hugging Face config", "[scenarios]") {
  auto json = base();
  json["model"] = {{"hf_config", "tests/data/hf/deepseek-v3.json"}};
  const auto s = test::scenario_from(json);
  CHECK(s.job.model.moe->experts == 256);
  CHECK(s.resolved["model"]["attention"] == "mla");
}

TEST_CASE("every shipped scenario loads and runs", "[scenarios][shipped]") {
  const auto dir = std::filesystem::path(FLOPCAST_SOURCE_ROOT) / "scenarios" / "shipped";
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    INFO(entry.path().string());
    const auto s = load_scenario(entry.path(), test::catalogs());
    const auto e = run_scenario(s, test::catalogs());
    CHECK(std::isfinite(e.step_time_s));
    CHECK(e.step_time_s > 0);
    CHECK(e.mfu > 0.0);
    CHECK(e.mfu < 1.0);
    CHECK(e.energy_cost.cost_usd > 0);
    CHECK(e.memory.fits);  // a shipped plan is one that can run
    const auto j = result_to_json(s, e, test::catalogs());
    for (const char* key : {"step_time_s", "tokens_per_s", "tokens_per_s_per_chip", "mfu", "hfu",
                            "model_tflops_per_chip", "memory_per_chip_bytes", "fits_memory", "train_days",
                            "chip_hours", "energy_kwh", "cost_usd", "usd_per_mtok", "breakdown", "resolved_scenario",
                            "assumptions"}) {
      CHECK(j.contains(key));
    }
    // The resolved scenario parses back to the same job.
    const auto again = parse_scenario(j["resolved_scenario"], "resolved.json", FLOPCAST_SOURCE_ROOT, test::catalogs());
    CHECK(run_scenario(again, test::catalogs()).step_time_s == e.step_time_s);
    ++count;
  }
  CHECK(count >= 8);
}

TEST_CASE("validation scenarios carry their published measurement", "[scenarios][validation]") {
  const auto scenarios =
      load_validation_scenarios(std::filesystem::path(FLOPCAST_SOURCE_ROOT) / "scenarios" / "validation", test::catalogs());
  CHECK(scenarios.size() == 122);  // every training run of calibration_runs.json
  for (const auto& s : scenarios) {
    INFO(s.file);
    REQUIRE(s.published);
    CHECK(!s.published->source.empty());
    CHECK(s.published->value > 0);
  }
}

TEST_CASE("published metrics are read from the estimate in their own units", "[scenarios][validation]") {
  TrainingEstimate e;
  e.step_time_s = 2.0;
  e.tokens_per_s_per_chip = 1000.0;
  e.model_flop_per_s_per_chip = 400e12;
  e.hardware_flops_per_token = 5e11;  // 5e11 FLOP/token x 1000 token/s = 500 TFLOP/s of hardware FLOPs
  e.mfu = 0.4;
  e.hfu = 0.5;
  CHECK(predicted_metric(PublishedMetric::step_time_s, e) == 2.0);
  CHECK(predicted_metric(PublishedMetric::tokens_per_s_per_chip, e) == 1000.0);
  CHECK_THAT(predicted_metric(PublishedMetric::model_tflops_per_chip, e), WithinRel(400.0, 1e-12));
  CHECK_THAT(predicted_metric(PublishedMetric::hardware_tflops_per_chip, e), WithinRel(500.0, 1e-12));
  CHECK(predicted_metric(PublishedMetric::mfu, e) == 0.4);
  CHECK(predicted_metric(PublishedMetric::hfu, e) == 0.5);
}

TEST_CASE("validation summaries take medians and maxima of absolute errors per group", "[scenarios][validation]") {
  const auto row = [](std::string run, std::string family, bool moe, double e1, double e2) {
    ValidationRow r;
    r.run = std::move(run);
    r.family = std::move(family);
    r.moe = moe;
    r.error_pct = {e1, e2};
    return r;
  };
  const std::vector<ValidationRow> rows = {row("a", "ampere", false, -10, 4), row("b", "ampere", false, 2, -6),
                                           row("c", "hopper", true, 30, 1), row("d", "hopper", false, -4, -2)};
  const auto summaries = summarise(rows);
  REQUIRE(summaries.size() == 9);  // all, ampere, hopper, dense, MoE, and the sources a, b, c, d
  const auto& all = summaries[0];
  CHECK(all.group == "all");
  CHECK(all.runs == 4);
  // Tier 1 |errors| 10, 2, 30, 4: median (4 + 10) / 2 = 7, max 30 (c). Tier 2: 4, 6, 1, 2: median 3, max 6 (b).
  CHECK(all.median_abs_pct[0] == 7.0);
  CHECK(all.max_abs_pct[0] == 30.0);
  CHECK(all.worst_run[0] == "c");
  CHECK(all.median_abs_pct[1] == 3.0);
  // 90th percentile of 2, 4, 10, 30: rank 0.9 x 3 = 2.7, 10 + 0.7 x (30 - 10) = 24.
  CHECK_THAT(all.p90_abs_pct[0], Catch::Matchers::WithinRel(24.0, 1e-12));
  CHECK(all.coverage[0] == -1.0);  // these rows carry no spread
  // Inside p10-p90 of log spread 0.1 (|log| <= 0.128): +10 % (log 0.095) is, +20 % (0.182) and -13 % (0.139) not.
  CHECK(inside_p10_p90(10.0, 0.1));
  CHECK_FALSE(inside_p10_p90(20.0, 0.1));
  CHECK_FALSE(inside_p10_p90(-13.0, 0.1));
  CHECK(all.worst_run[1] == "b");
  CHECK(summaries[1].group == "ampere");
  CHECK(summaries[1].median_abs_pct[0] == 6.0);  // (10 + 2) / 2
  CHECK(summaries[4].group == "MoE");
  CHECK(summaries[4].runs == 1);
  CHECK(summaries[5].group == "source a");
  CHECK(summaries[5].max_abs_pct[0] == 10.0);
  CHECK(run_source("mbridge2606-b300-qwen3-30b-mxfp8-8gpu") == "mbridge2606");
  CHECK(run_source("opt") == "opt");
  // CSV fields with commas or quotes are quoted (RFC 4180).
  ValidationReport report{{row("x,y", "ampere", false, 1, 1)}, {}};
  report.rows[0].assumed = {"tp \"guessed\""};
  const auto csv = validation_csv(report);
  CHECK(csv.find("\"x,y\",") != std::string::npos);
  CHECK(csv.find("\"tp \"\"guessed\"\"\"") != std::string::npos);
}

TEST_CASE("a bad published block names its path", "[scenarios][validation]") {
  auto json = nlohmann::json::parse(R"({
    "model": "llama3-8b",
    "cluster": {"chip": "h100-sxm", "chips": 8},
    "parallelism": {"tp": 1},
    "training": {"seq_len": 4096, "global_batch": 64, "tokens": 1e9},
    "published": {"run": "x", "metric": "speed", "value": -1, "source": "s", "extra": 1}})");
  const auto messages = test::join_lines(test::messages_of([&] { test::scenario_from(json); }));
  CHECK(messages.find("/published/metric") != std::string::npos);
  CHECK(messages.find("/published/value") != std::string::npos);
  CHECK(messages.find("/published/extra") != std::string::npos);
}

TEST_CASE("cross-validation folds that hold out validate_only runs alone share one fit", "[scenarios][calibration]") {
  const auto all = load_validation_scenarios(std::filesystem::path(FLOPCAST_SOURCE_ROOT) / "scenarios" / "validation",
                                             test::catalogs());
  std::vector<Scenario> runs;
  for (const char* id : {"megatron2021-gpt-1.7B", "megatron2021-gpt-3.6B", "mcore-h100-weak-1.7B",
                         "torchtitan-h100-llama31-8b-fsdp8-compile-bf16"}) {
    const auto it = std::find_if(all.begin(), all.end(), [&](const Scenario& s) { return s.published->run == id; });
    REQUIRE(it != all.end());
    runs.push_back(*it);
  }
  REQUIRE(!runs.back().published->validate_only.empty());
  // Folds: 4 runs, 3 sources (megatron2021, mcore, torchtitan), 2 families (ampere, hopper) = 9. The TorchTitan run
  // alone and the TorchTitan source (the same run) both train on the three fitted runs: one fit for both, 8 in all.
  int fits = 0;
  const auto cv = cross_validate(runs, load_assumptions(FLOPCAST_SOURCE_ROOT, false), 2,
                                 [&](int, int total) { fits = total; });
  CHECK(fits == 8);
  for (std::size_t t = 0; t < 2; ++t) CHECK(cv.loo_error_pct[t][3] == cv.loso_error_pct[t][3]);
}

TEST_CASE("calibration recovers a known efficiency from synthetic published values", "[scenarios][calibration]") {
  // The nine Megatron-Core H100 runs (mcore-h100-*) (1.7B to 462B) with "published" throughputs replaced by the model's own
  // predictions at a GEMM bf16 efficiency of 0.60 instead of the prior 0.69: the fit must move the efficiency most
  // of the way there and leave the errors small. The prior's pull keeps it short of 0.60 (nine runs a few percent
  // off, the efficiency setting only part of each step), within 0.05 of it, with every run within 6 %.
  const auto all = load_validation_scenarios(std::filesystem::path(FLOPCAST_SOURCE_ROOT) / "scenarios" / "validation",
                                             test::catalogs());
  const auto prior = load_assumptions(FLOPCAST_SOURCE_ROOT, false);
  Assumptions truth = prior;
  *truth.field("kernels.hopper.gemm_bf16") = 0.60;
  std::vector<Scenario> runs;
  for (const auto& s : all) {
    if (s.published->run.rfind("mcore-h100", 0) != 0 || s.published->metric != PublishedMetric::model_tflops_per_chip) {
      continue;
    }
    Scenario synthetic = s;
    synthetic.published->value =
        predicted_metric(synthetic.published->metric, estimate_training(synthetic.job, truth));
    runs.push_back(synthetic);
  }
  REQUIRE(runs.size() == 9);
  const auto result = calibrate(runs, prior);
  double fitted = 0;
  for (const auto& p : result.parameters) {
    if (p.name == "kernels.hopper.gemm_bf16") fitted = p.value;
    CHECK(p.name.find("ampere") == std::string::npos);  // no Ampere runs, no Ampere parameters
  }
  CHECK_THAT(fitted, Catch::Matchers::WithinAbs(0.60, 0.05));
  for (double e : result.error_after_pct) CHECK(std::fabs(e) < 6.0);
  CHECK(result.rms_log_after < result.rms_log_before);

  // A run marked validate_only is left out of the fit: one published 3x off moves nothing.
  auto marked = runs;
  marked.front().published->value *= 3.0;
  marked.front().published->validate_only = "a test: its error comes from elsewhere";
  CHECK_FALSE(fitted_run(marked.front()));
  const auto without = calibrate(marked, prior);
  CHECK(without.runs.size() == runs.size() - 1);
  CHECK(std::find(without.runs.begin(), without.runs.end(), marked.front().published->run) == without.runs.end());
  for (const auto& p : without.parameters) {
    if (p.name == "kernels.hopper.gemm_bf16") CHECK_THAT(p.value, Catch::Matchers::WithinAbs(0.60, 0.05));
  }
  for (double e : without.error_after_pct) CHECK(std::fabs(e) < 6.0);
  marked.front().published->validate_only.clear();
  CHECK(fitted_run(marked.front()));
}

TEST_CASE("the prediction spread is the 80th percentile of the log errors over 1.2816", "[scenarios][calibration]") {
  // |log(1 + e)| of 0, +10, -10, +20, +100 %: 0, 0.09531, 0.10536, 0.18232, 0.69315. The 80th percentile sits at
  // position 0.8 x 4 = 3.2: 0.18232 + 0.2 x (0.69315 - 0.18232) = 0.28449; over 1.28155: 0.22199.
  CHECK_THAT(CrossValidation::spread_log_sigma({0.0, 10.0, -10.0, 20.0, 100.0}), Catch::Matchers::WithinAbs(0.22199, 1e-5));
  // One run: its own |log error| / 1.28155 (log 1.5 = 0.405465 -> 0.31639).
  CHECK_THAT(CrossValidation::spread_log_sigma({50.0}), Catch::Matchers::WithinAbs(0.31639, 1e-5));
  CHECK(CrossValidation::spread_log_sigma({}) == 0.0);
  // 80 % of the errors inside p10-p90 by construction, whatever the outliers: 8 of these 10 at 1.2816 sigma.
  const std::vector<double> errors{1, -2, 3, -4, 5, -6, 7, -8, 90, -60};
  const double sigma = CrossValidation::spread_log_sigma(errors);
  int inside = 0;
  for (double e : errors) inside += inside_p10_p90(e, sigma) ? 1 : 0;
  CHECK(inside == 8);
}

TEST_CASE("the shipped calibration is applied over the prior with its provenance", "[scenarios][calibration]") {
  const auto prior = load_assumptions(FLOPCAST_SOURCE_ROOT, false);
  auto fitted = load_assumptions(FLOPCAST_SOURCE_ROOT);
  const auto json = read_json_file(std::filesystem::path(FLOPCAST_SOURCE_ROOT) / "models/data/calibration.json");
  for (const auto& [name, entry] : json["parameters"].items()) {
    INFO(name);
    REQUIRE(fitted.field(name) != nullptr);
    CHECK(*fitted.field(name) == entry["value"].get<double>());
    CHECK(entry["prior"].get<double>() == *prior.field(name));
    CHECK(entry["value"].get<double>() >= entry["low"].get<double>());
    CHECK(entry["value"].get<double>() <= entry["high"].get<double>());
  }
  bool noted = false;
  for (const auto& [name, quantity] : fitted.provenance) {
    if (name == "overheads.per_step") noted = quantity.source.rfind("calibrated (models/data/calibration.json): flopcast calibrate", 0) == 0;
  }
  CHECK(noted);
}

TEST_CASE("memory is checked against published peaks", "[scenarios][validation]") {
  const auto row = [](std::string run, double memory_gib, double published_gib) {
    ValidationRow r;
    r.run = std::move(run);
    r.chip = "h100-sxm";
    r.memory_gib = memory_gib;
    r.usable_gib = 76.0;
    r.published_memory_gib = published_gib;
    return r;
  };
  // (77.4 - 77.0) / 77.0 = +0.52 %; (55.0 - 72.0) / 72.0 = -23.6 %; a run without a published peak is left out.
  ValidationReport report{{row("a", 77.4, 77.0), row("b", 55.0, 72.0), row("c", 40.0, 0.0)}, {}};
  CHECK_THAT(memory_error_pct(report.rows[0]), Catch::Matchers::WithinAbs(0.519, 0.001));
  const auto check = memory_check(report);
  REQUIRE(check.rows.size() == 2);
  CHECK_THAT(check.median_abs_pct, Catch::Matchers::WithinAbs((0.519 + 23.611) / 2.0, 0.001));
  CHECK_THAT(check.max_abs_pct, Catch::Matchers::WithinAbs(23.611, 0.001));
  const auto markdown = memory_markdown(report);
  CHECK(markdown.find("| b | h100-sxm | 72.0 | 55.0 | -23.6 | 76.0 |") != std::string::npos);
  CHECK(markdown.find("| c |") == std::string::npos);
  const auto csv = validation_csv(report);
  CHECK(csv.find(",77.40,76.00,77.00,0.5\n") != std::string::npos);
  CHECK(csv.find(",40.00,76.00,,\n") != std::string::npos);
}

TEST_CASE("a published peak needs what it counts, and unsharded gradient accumulation needs sharded gradients",
          "[scenarios][validation]") {
  auto json = nlohmann::json::parse(R"({
    "model": "llama3-8b",
    "cluster": {"chip": "h100-sxm", "chips": 8},
    "parallelism": {"tp": 1, "zero": 1, "unsharded_gradient_accumulation": true},
    "training": {"seq_len": 4096, "global_batch": 64, "tokens": 1e9, "cross_entropy": "eager"},
    "published": {"run": "x", "metric": "mfu", "value": 0.4, "source": "s", "peak_memory_gib": 70}})");
  const auto messages = test::join_lines(test::messages_of([&] { test::scenario_from(json); }));
  CHECK(messages.find("/published/peak_memory_counts: is required with peak_memory_gib") != std::string::npos);
  CHECK(messages.find("/training/cross_entropy: expected one of fused | pytorch") != std::string::npos);
  // The plan's checks come once the file reads cleanly.
  json["training"].erase("cross_entropy");
  json.erase("published");
  const auto plan_messages = test::join_lines(test::messages_of([&] { test::scenario_from(json); }));
  CHECK(plan_messages.find("/parallelism/unsharded_gradient_accumulation: accumulates sharded gradients unsharded; "
                           "zero is 1") != std::string::npos);
}

TEST_CASE("gradient accumulation fusion is on unless the scenario turns it off, as the resolved scenario says",
          "[scenarios]") {
  auto json = nlohmann::json::parse(R"({
    "model": "llama3-8b",
    "cluster": {"chip": "h100-sxm", "chips": 8},
    "parallelism": {"tp": 1},
    "training": {"seq_len": 4096, "global_batch": 64, "tokens": 1e9}})");
  const auto fused = test::scenario_from(json);
  CHECK(fused.job.training.gradient_accumulation_fusion);
  CHECK_FALSE(fused.resolved.at("training").contains("gradient_accumulation_fusion"));
  json["training"]["gradient_accumulation_fusion"] = false;
  const auto unfused = test::scenario_from(json);
  CHECK_FALSE(unfused.job.training.gradient_accumulation_fusion);
  CHECK(unfused.resolved.at("training").at("gradient_accumulation_fusion") == false);
  json["training"]["gradient_accumulation_fusion"] = "no";
  const auto messages = test::join_lines(test::messages_of([&] { test::scenario_from(json); }));
  CHECK(messages.find("/training/gradient_accumulation_fusion") != std::string::npos);
}

TEST_CASE("the JSON schema and SCHEMA.md list the plan search's dimensions as parallelism.pin reads them",
          "[scenarios]") {
  const auto root = std::filesystem::path(FLOPCAST_SOURCE_ROOT) / "scenarios";
  std::ifstream schema_file(root / "schema" / "scenario.schema.json");
  const auto schema = nlohmann::json::parse(schema_file);
  const auto& pin = schema.at("properties").at("parallelism").at("properties").at("pin");
  CHECK(pin.at("oneOf").at(1).at("items").at("enum").get<std::vector<std::string>>() == plan_dimensions());
  // SCHEMA.md's row for `pin`: "`"stated"` \| array of `tp`, `cp`, ... | none | ...".
  std::ifstream doc(root / "SCHEMA.md");
  std::string line;
  std::vector<std::string> documented;
  while (std::getline(doc, line)) {
    if (line.rfind("| `pin` |", 0) != 0) continue;
    const auto from = line.find("array of ");
    const auto to = line.find(" | ", from);
    REQUIRE(from != std::string::npos);
    const std::string names = line.substr(from, to - from);
    for (auto at = names.find('`'); at != std::string::npos; at = names.find('`', names.find('`', at + 1) + 1)) {
      documented.push_back(names.substr(at + 1, names.find('`', at + 1) - at - 1));
    }
  }
  CHECK(documented == plan_dimensions());
}

namespace flopcast {

TEST_CASE("two tiers agree when their p10-p90 ranges overlap", "[validation]") {
  ValidationRow row;
  row.log_sigma = {0.1, 0.15};  // together 1.2816 x 0.25 = 0.320 in log space
  row.predicted = {10.0, 13.0};  // log(13 / 10) = 0.262: the ranges overlap
  CHECK(tiers_agree(row));
  row.predicted = {10.0, 14.0};  // log 1.4 = 0.336 > 0.320: a gap between them
  CHECK_FALSE(tiers_agree(row));
  row.predicted = {14.0, 10.0};  // the same gap the other way
  CHECK_FALSE(tiers_agree(row));
  row.log_sigma = {0.0, 0.15};   // a spread unknown: no claim of agreement
  row.predicted = {10.0, 10.0};
  CHECK_FALSE(tiers_agree(row));
}

TEST_CASE("an error reads as too fast or too slow whatever the metric", "[validation]") {
  // A step time 10 % above the published one is too slow; a throughput, rate or MFU 10 % above it is too fast.
  CHECK(speed_reading(PublishedMetric::step_time_s, 10.0) == "too slow");
  CHECK(speed_reading(PublishedMetric::step_time_s, -10.0) == "too fast");
  CHECK(speed_reading(PublishedMetric::tokens_per_s_per_chip, 10.0) == "too fast");
  CHECK(speed_reading(PublishedMetric::mfu, -10.0) == "too slow");
  CHECK(speed_reading(PublishedMetric::model_tflops_per_chip, 0.3) == "on target");
}

}  // namespace flopcast
