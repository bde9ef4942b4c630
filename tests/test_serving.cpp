// Serving: KV-cache sizes, the step-time model, the request-level simulation's invariants, the serving section.

#include <algorithm>
#include <cmath>

#include "flopcast/core/files.hpp"
#include "flopcast/studies/serving_search.hpp"
#include "flopcast/sim/serve_sim.hpp"
#include "helpers.hpp"

namespace flopcast {
namespace {

using Catch::Matchers::WithinRel;

const ModelArch& model(const std::string& id) { return *test::catalogs().models.find(id); }

// A small dense deployment: Llama-3-8B in bf16 on 2 H100, one chip per instance.
nlohmann::json small_deployment(double rate_per_s, long requests = 400) {
  return {{"name", "small"},
          {"model", "llama3-8b"},
          {"cluster", {{"chip", "h100-sxm"}, {"chips", 2}}},
          {"serving",
           {{"plan", {{"tp", 1}}},
            {"batching", {{"max_batch_tokens", 4096}, {"max_running", 64}}},
            {"workload",
             {{"arrival", "poisson"},
              {"rate_per_s", rate_per_s},
              {"requests", requests},
              {"input_tokens", 1000},
              {"output_tokens", 200},
              {"seed", 7}}}}}};
}

ServingJob job_of(const nlohmann::json& json) { return serving_job(test::scenario_from(json)); }

ServingResult simulate(const nlohmann::json& json) { return simulate_serving(job_of(json), test::catalogs().assumptions); }

// The small deployment on one H200, the GPU the shipped kernel tables were measured on; the job outlives the model.
struct OnH200 {
  ServingJob job;
  TopologySummary topology;
  ServingModel model;
  OnH200()
      : job(job_of(with_chip(small_deployment(1.0), "h200-sxm"))),
        topology(build_topology(topology_spec(job.cluster))),
        model(job, job.serving.pools[0], topology, test::catalogs().assumptions) {}
  static nlohmann::json with_chip(nlohmann::json json, const std::string& chip) {
    json["cluster"]["chip"] = chip;
    return json;
  }
};

nlohmann::json measured_table(const std::string& file) {
  return nlohmann::json::parse(read_text_file(std::filesystem::path(FLOPCAST_SOURCE_ROOT) / "models/data/measured" / file));
}

TEST_CASE("KV cache bytes per token for MHA, GQA and MLA, worked by hand", "[serving][kv]") {
  // DeepSeek-V3, MLA: 61 layers x (kv_lora_rank 512 + rope 64) x 2 bytes = 70,272 bytes.
  CHECK_THAT(kv_cache_bytes_per_token(model("deepseek-v3"), 2.0), WithinRel(70'272.0, 1e-12));
  // The same model with plain MHA over its 128 query heads: 61 x 128 x (192 + 128) x 2 = 4,997,120 bytes;
  // MLA keeps 70,272 / 4,997,120 = 1.4 %: a cut of 98.6 %, more than 90 %.
  const double mha = kv_cache_bytes_per_token_mha_equivalent(model("deepseek-v3"), 2.0);
  CHECK_THAT(mha, WithinRel(4'997'120.0, 1e-12));
  CHECK(1.0 - 70'272.0 / mha > 0.90);
  // Llama-3-70B, GQA with 8 KV heads: 80 x 2 x 8 x 128 x 2 = 327,680 bytes (320 KiB); fp8 halves it.
  CHECK_THAT(kv_cache_bytes_per_token(model("llama3-70b"), 2.0), WithinRel(327'680.0, 1e-12));
  CHECK_THAT(kv_cache_bytes_per_token(model("llama3-70b"), 1.0), WithinRel(163'840.0, 1e-12));
  // GPT-3 175B, MHA: 96 x 2 x 96 x 128 x 2 = 4,718,592 bytes (4.5 MiB).
  CHECK_THAT(kv_cache_bytes_per_token(model("gpt3-175b"), 2.0), WithinRel(4'718'592.0, 1e-12));
}

TEST_CASE("KV bytes per token per chip split KV heads over tp and layers over pp", "[serving][kv]") {
  // Llama-3-70B at tp 8: one KV head per chip, 80 x 2 x 1 x 128 x 2 = 40,960 bytes; tp 16 cannot split 8 heads
  // further, so each head is held twice: still 40,960.
  CHECK_THAT(kv_bytes_per_token_per_chip(model("llama3-70b"), {.tp = 8}, 2.0), WithinRel(40'960.0, 1e-12));
  CHECK_THAT(kv_bytes_per_token_per_chip(model("llama3-70b"), {.tp = 16}, 2.0), WithinRel(40'960.0, 1e-12));
  // DeepSeek-V3: MLA's latent is the same on every TP rank; pp 2 holds ceil(61 / 2) = 31 layers: 31 x 576 x 2.
  CHECK_THAT(kv_bytes_per_token_per_chip(model("deepseek-v3"), {.tp = 8}, 2.0), WithinRel(70'272.0, 1e-12));
  CHECK_THAT(kv_bytes_per_token_per_chip(model("deepseek-v3"), {.tp = 1, .pp = 2}, 2.0), WithinRel(35'712.0, 1e-12));
}

TEST_CASE("sliding-window layers: their attention pairs and the KV cache they keep, worked by hand", "[serving][window]") {
  // No window: 1,000 new tokens after none attend to 1,000 x 500 = 500,000 pairs (the chunk x (start + chunk / 2)
  // the step shapes count).
  CHECK_THAT(window_pairs(0, 1000, 0), WithinRel(500'000.0, 1e-12));
  // A 128-token window: the first 128 queries see 128^2 / 2 = 8,192 pairs, the other 872 see 128 each (111,616):
  // 119,808.
  CHECK_THAT(window_pairs(0, 1000, 128), WithinRel(119'808.0, 1e-12));
  // A chunk that starts past the window: 100 queries x 128 keys = 12,800.
  CHECK_THAT(window_pairs(200, 100, 128), WithinRel(12'800.0, 1e-12));
  // One that starts inside it: (128^2 - 100^2) / 2 = 3,192 before it fills, then 72 x 128 = 9,216: 12,408.
  CHECK_THAT(window_pairs(100, 100, 128), WithinRel(12'408.0, 1e-12));
  // A chunk that ends inside the window is unchanged: 50 x (10 + 25) = 1,750.
  CHECK_THAT(window_pairs(10, 50, 128), WithinRel(1'750.0, 1e-12));

  // gpt-oss-120b keeps every token only on its 18 full-attention layers: 18 x 2 x 8 KV heads x 64 x 1 byte (fp8) =
  // 18,432 bytes per token, half of the 36,864 of all 36 layers; its 18 windowed layers hold 128 tokens of the same
  // size per layer: 128 x 18 / 18 = 128 tokens more per sequence.
  const auto& oss = model("gpt-oss-120b");
  REQUIRE(oss.sliding_window);
  CHECK_THAT(kv_bytes_per_token_per_chip(oss, {.tp = 1}, 1.0), WithinRel(18'432.0, 1e-12));
  auto json = small_deployment(1.0);
  json["model"] = "gpt-oss-120b";
  json["cluster"]["chip"] = "h200-sxm";
  json["serving"]["weights"] = "fp8";
  json["serving"]["kv_cache"] = "fp8";
  const ServingJob job = job_of(json);
  const auto topology = build_topology(topology_spec(job.cluster));
  const ServingModel windowed(job, job.serving.pools[0], topology, test::catalogs().assumptions);
  CHECK(windowed.memory().kv_bytes_per_token == 18'432.0);
  CHECK(windowed.memory().kv_window_tokens == 128);
  // An engine that gives every layer the whole sequence (TensorRT-LLM without per-layer windows) keeps 36 layers of
  // 1,024 bytes, 36,864 bytes per token, and no window beside them; its steps cost the same (the kernel still reads
  // the window only).
  CHECK_THAT(kv_bytes_per_token_per_chip(oss, {.tp = 1}, 1.0, false), WithinRel(36'864.0, 1e-12));
  ServingJob every_token = job;
  every_token.serving.window_kv_only = false;
  const ServingModel whole(every_token, every_token.serving.pools[0], topology, test::catalogs().assumptions);
  CHECK(whole.memory().kv_bytes_per_token == 36'864.0);
  CHECK(whole.memory().kv_window_tokens == 0);
  CHECK(whole.memory().kv_capacity_tokens * 2 <= windowed.memory().kv_capacity_tokens + 1);
  const BatchShape probe{.decode_seqs = 8, .decode_context = 8 * 5'000.0, .decode_window_context = 8 * 128.0};
  CHECK(whole.step(probe).time_s == windowed.step(probe).time_s);
  auto dense_window = small_deployment(1.0);
  dense_window["serving"]["sliding_window_kv"] = "full";
  CHECK_THAT(test::join_lines(test::messages_of([&] { test::scenario_from(dense_window); })),
             Catch::Contains("/serving/sliding_window_kv: Llama"));

  // A long-context decode step with the window saves what the windowed layers no longer read: 64 sequences of 30,000
  // tokens read 64 x 30,000 x 1 KiB per layer on a full layer, 64 x 128 x 1 KiB on a windowed one; over 18 layers
  // that is 64 x 29,872 x 18 x 1,024 bytes = 35.2 GB less, at H200's 4.8 TB/s x decode attention's KV-read share
  // (kv_read; GQA's 16 FLOPs per byte keep decode attention memory-bound).
  ServingJob full_job = job;
  full_job.model.sliding_window.reset();
  const ServingModel full(full_job, full_job.serving.pools[0], topology, test::catalogs().assumptions);
  const BatchShape shape{.decode_seqs = 64, .decode_context = 64 * 30'000.0, .decode_window_context = 64 * 128.0};
  const double with_window = windowed.step(shape).time_s;
  const double without = full.step(shape).time_s;
  const double hbm = job.cluster.chip.hbm_bandwidth.value * test::catalogs().assumptions.kernel("hopper").kv_read;
  CHECK_THAT(without - with_window, WithinRel(64.0 * 29'872 * 18 * 1024 / hbm, 1e-9));
  // Short contexts (within the window) cost the same either way.
  const BatchShape short_shape{.decode_seqs = 64, .decode_context = 64 * 100.0, .decode_window_context = 64 * 100.0};
  CHECK_THAT(windowed.step(short_shape).time_s, WithinRel(full.step(short_shape).time_s, 1e-12));
}

TEST_CASE("the busiest expert-parallel rank's load, worked by hand", "[serving][formula]") {
  // E[max of n standard normals]: 0 for one, 1/sqrt(pi) = 0.5641896 for two, 3 / (2 sqrt(pi)) = 0.8462844 for three,
  // 1.0293754 for four and 1.4236003 for eight (tabulated values).
  CHECK(expected_max_standard_normal(1) == 0.0);
  CHECK_THAT(expected_max_standard_normal(2), WithinRel(0.5641896, 1e-6));
  CHECK_THAT(expected_max_standard_normal(3), WithinRel(0.8462844, 1e-6));
  CHECK_THAT(expected_max_standard_normal(4), WithinRel(1.0293754, 1e-6));
  CHECK_THAT(expected_max_standard_normal(8), WithinRel(1.4236003, 1e-6));
  // DeepSeek-V3's 256 experts over 8 ranks, 3,072 tokens x top-8 = 24,576 copies. Equally popular experts: only the
  // sampling spread sqrt(8 / 24,576) = 0.018042, so 1 + 1.4236 x 0.018042 = 1.025685.
  CHECK_THAT(serving_expert_imbalance(256, 8, 24'576, 0.0), WithinRel(1.025685, 1e-5));
  // Popularity with a coefficient of variation of 2: sqrt(4 x 8 / 256 + 8 / 24,576) = 0.354013, so 1.503974.
  CHECK_THAT(serving_expert_imbalance(256, 8, 24'576, 2.0), WithinRel(1.503974, 1e-5));
  // Four ranks of 64 experts spread less: sqrt(4 x 4 / 256 + 4 / 24,576) = 0.250325 x 1.0293754 = 1.257679.
  CHECK_THAT(serving_expert_imbalance(256, 4, 24'576, 2.0), WithinRel(1.257679, 1e-5));
  // Without expert parallelism every expert is local.
  CHECK(serving_expert_imbalance(256, 1, 24'576, 2.0) == 1.0);
}

TEST_CASE("experts touched, MTP tokens per step and latency percentiles", "[serving][formula]") {
  // One token picks top_k experts: 256 (1 - (1 - 8/256)^1) = 8. None: 0. Many: all 256.
  CHECK_THAT(experts_touched(256, 8, 1), WithinRel(8.0, 1e-12));
  CHECK(experts_touched(256, 8, 0) == 0.0);
  CHECK_THAT(experts_touched(256, 8, 10'000), WithinRel(256.0, 1e-9));
  // 1 + a + a^2 + ...: one draft at 0.85 gives 1.85; two at 0.8 give 1 + 0.8 + 0.64 = 2.44.
  CHECK_THAT((Mtp{1, 0.85}.expected_tokens_per_step()), WithinRel(1.85, 1e-12));
  CHECK_THAT((Mtp{2, 0.8}.expected_tokens_per_step()), WithinRel(2.44, 1e-12));
  // Nearest rank over 1..100: p50 = 50, p90 = 90, p99 = 99, mean 50.5.
  std::vector<double> values;
  for (int i = 100; i >= 1; --i) values.push_back(i);
  const auto stats = latency_stats(values);
  CHECK(stats.p50_s == 50.0);
  CHECK(stats.p90_s == 90.0);
  CHECK(stats.p99_s == 99.0);
  CHECK_THAT(stats.mean_s, WithinRel(50.5, 1e-12));
}

TEST_CASE("decode-sized GEMMs follow the GEMMs measured on an H200", "[serving][measured]") {
  // models/data/measured/h200-sxm-kernels.json: cuBLAS bf16 GEMMs of m = 16 to 512 rows against an 8,192 x 8,192
  // weight. At m = 16 reading the 128 MiB weight takes 33.7 us (4.0 TB/s); the model's bound is the same bytes at
  // the measured weight-streaming share of 4.8 TB/s (weight_read 0.82: 3.9 TB/s). From m of about 200 the GEMM is
  // compute-bound, at the calibrated (cluster) large-GEMM efficiency, a little below what one idle GPU reaches.
  // Within 25 %.
  const OnH200 h200;
  const auto& m = h200.model;
  const auto measured = measured_table("h200-sxm-kernels.json");
  const auto bf16 = gemm_path(h200.job.cluster.chip, test::catalogs().assumptions.kernel("hopper"), DataType::bf16);
  int checked = 0;
  for (const auto& r : measured["gemm_bf16"]) {
    const double rows = r["m"];
    if (r["n"] != 8192 || r["k"] != 8192 || rows > 512 || r["layout"] != "linear") continue;
    const double ratio = m.gemm_s(rows, 8192, 8192, bf16) / r["seconds"].get<double>();
    INFO("m = " << rows << ": model / measured = " << ratio);
    CHECK(ratio > 0.8);
    CHECK(ratio < 1.25);
    ++checked;
  }
  CHECK(checked == 6);  // 16, 32, 64, 128, 256, 512
}

TEST_CASE("decode-sized grouped GEMMs follow the grouped GEMMs measured on an H200", "[serving][measured]") {
  // models/data/measured/h200-sxm-serving-kernels.json: the serving runs' expert shapes, 1 to 256 tokens per expert,
  // bf16 and fp8. Up to about 64 tokens per expert the kernel streams the touched experts' weights (at the measured
  // share of HBM bandwidth the model uses); above, the FLOPs at the grouped share of the dense efficiency for that
  // many rows. All but a few rows within 0.7-1.3 of the measured time (one fp8 shape at 256 tokens per expert runs at a
  // third of its neighbours' rate: a poor tile choice of that kernel), the median within 15 %.
  const OnH200 h200;
  const auto& m = h200.model;
  const auto& kernel = test::catalogs().assumptions.kernel("hopper");
  const auto measured = measured_table("h200-sxm-serving-kernels.json");
  std::vector<double> ratios;
  for (const auto& r : measured["grouped_gemm_decode"]) {
    const auto path = gemm_path(h200.job.cluster.chip, kernel, r["dtype"] == "fp8" ? DataType::fp8 : DataType::bf16);
    const double rows = r["tokens_per_group"].get<double>() * r["groups"].get<double>();
    const double ratio = m.grouped_gemm_s(rows, r["groups_touched"], r["n"], r["k"], path) / r["seconds"].get<double>();
    ratios.push_back(ratio);
  }
  REQUIRE(ratios.size() == 180);
  const auto outside = std::count_if(ratios.begin(), ratios.end(), [](double r) { return r < 0.7 || r > 1.3; });
  CHECK(outside <= 3);
  std::sort(ratios.begin(), ratios.end());
  INFO("model / measured: min " << ratios.front() << ", median " << ratios[90] << ", max " << ratios.back());
  CHECK_THAT(ratios[90], WithinRel(1.0, 0.15));
}

TEST_CASE("the throughput-interactivity front keeps the points no other beats on both", "[serving][curve]") {
  const auto choice = [](double tpot_s, double per_chip) {
    ServingChoice c;
    c.estimate.tpot.p50_s = tpot_s;
    c.estimate.output_tokens_per_s_per_chip = per_chip;
    return c;
  };
  // A: 100 tokens/s per user (TPOT 10 ms), 50 per chip; B: 50 per user, 100 per chip; C: 62.5 per user, 40 per chip
  // (A beats it on both); D: 100 per user, 30 per chip (A again). The front is A then B.
  const auto front = pareto_front({choice(0.02, 100), choice(0.016, 40), choice(0.01, 50), choice(0.01, 30)});
  REQUIRE(front.size() == 2);
  CHECK(tokens_per_s_per_user(front[0]) == 100.0);
  CHECK(front[0].estimate.output_tokens_per_s_per_chip == 50.0);
  CHECK(tokens_per_s_per_user(front[1]) == 50.0);
  CHECK(front[1].estimate.output_tokens_per_s_per_chip == 100.0);
}

TEST_CASE("the serving search's front falls in interactivity as it rises in throughput, and holds its best plan",
          "[serving][curve]") {
  const auto scenario = test::scenario_from(small_deployment(1.0));
  const auto search = search_serving(scenario, {"h100-sxm", "h200-sxm"}, test::catalogs());
  REQUIRE(search.fronts.size() == 2);
  for (std::size_t c = 0; c < 2; ++c) {
    const auto& front = search.fronts[c];
    REQUIRE(front.size() >= 3);
    for (std::size_t i = 1; i < front.size(); ++i) {
      CHECK(tokens_per_s_per_user(front[i]) < tokens_per_s_per_user(front[i - 1]));
      CHECK(front[i].estimate.output_tokens_per_s_per_chip > front[i - 1].estimate.output_tokens_per_s_per_chip);
    }
    // The best plan within the SLO is one of the search's points: the front's top throughput is at least its.
    const auto& best = search.best[c];
    CHECK(front.back().estimate.output_tokens_per_s_per_chip >= best.estimate.output_tokens_per_s_per_chip);
  }
  // The H200 reads its weights faster: at its most interactive point it serves each user faster than the H100.
  CHECK(tokens_per_s_per_user(search.fronts[1].front()) > tokens_per_s_per_user(search.fronts[0].front()));
}

TEST_CASE("an MoE layer's token shuffle, worked by hand", "[serving][step]") {
  auto json = small_deployment(1.0);
  json["model"] = "gpt-oss-120b";
  json["cluster"]["chip"] = "h200-sxm";
  json["serving"]["weights"] = "fp8";
  const auto& a = test::catalogs().assumptions;
  const ServingJob fp8 = job_of(json);
  const auto topology = build_topology(topology_spec(fp8.cluster));
  const double hbm = fp8.cluster.chip.hbm_bandwidth.value * a.kernel("hopper").memory_bound;
  // 1,024 tokens, top-4: 4,096 copies of 2,880 elements. Each is read in bf16 (2 bytes) and written in fp8 (1 byte,
  // the experts multiply in fp8), and its FC2 output read back in bf16 (2 bytes); each token's sum is written once
  // in bf16: 2,880 x (4,096 x 5 + 1,024 x 2) = 64,880,640 bytes.
  const ServingModel on_fp8(fp8, fp8.serving.pools[0], topology, a);
  CHECK_THAT(on_fp8.expert_shuffle_s(4096, 1024), WithinRel(64'880'640.0 / hbm, 1e-12));
  // bf16 experts write the gathered copies in bf16: 2,880 x (4,096 x 6 + 1,024 x 2) = 76,677,120 bytes.
  json["serving"]["weights"] = "bf16";
  const ServingJob bf16 = job_of(json);
  const ServingModel on_bf16(bf16, bf16.serving.pools[0], topology, a);
  CHECK_THAT(on_bf16.expert_shuffle_s(4096, 1024), WithinRel(76'677'120.0 / hbm, 1e-12));
}

TEST_CASE("an all-gather dispatch moves every rank's tokens to every rank, worked by hand", "[serving][step]") {
  // gpt-oss-120b on 4 H200, attention DP 4 with the experts over the 4 chips; 512 tokens on each rank, 2,048 in
  // all. All-gathered in bf16: each chip receives the other three ranks' 3 x 512 x 2,880 x 2 bytes = 8,847,360
  // bytes, and the reduce-scatter of the experts' bf16 outputs sends as many: 17,694,720 bytes over NVLink at the
  // switch's bus efficiency, after 3 + 3 ring steps' latency.
  auto json = small_deployment(1.0);
  json["model"] = "gpt-oss-120b";
  json["cluster"] = {{"chip", "h200-sxm"}, {"chips", 4}};
  json["serving"]["plan"] = {{"tp", 1}, {"dp_attention", 4}, {"ep", 4}};
  json["serving"]["moe_dispatch"] = "allgather";
  json["serving"]["moe_dispatch_type"] = "bf16";
  const ServingJob job = job_of(json);
  const auto topology = build_topology(topology_spec(job.cluster));
  const auto& a = test::catalogs().assumptions;
  const ServingModel m(job, job.serving.pools[0], topology, a);
  const auto links = cluster_links(job.cluster, topology, a);
  const double expected = 17'694'720.0 / links.scaleup.efficiency / links.scaleup.bytes_per_s + 6 * links.scaleup.latency_s;
  const auto exchange = m.expert_exchange(512, 2048);
  CHECK_THAT(exchange.time_s(), WithinRel(expected, 1e-12));
  CHECK_THAT(exchange.bytes(Path::scaleup), WithinRel(17'694'720.0 / links.scaleup.efficiency, 1e-12));
  // fp8 dispatch halves the gather: 4,423,680 + 8,847,360 bytes.
  json["serving"]["moe_dispatch_type"] = "fp8";
  const ServingJob fp8 = job_of(json);
  const ServingModel m8(fp8, fp8.serving.pools[0], topology, a);
  CHECK_THAT(m8.expert_exchange(512, 2048).bytes(Path::scaleup), WithinRel(13'271'040.0 / links.scaleup.efficiency, 1e-12));
  // The section writes back what it read.
  const auto written = serving_section_to_json(*test::scenario_from(json).serving);
  CHECK(written["moe_dispatch"] == "allgather");
  CHECK(written["moe_dispatch_type"] == "fp8");
  // The all-to-all sends only the copies bound for other ranks; a model without experts refuses either key.
  json["serving"].erase("moe_dispatch");
  const ServingJob a2a = job_of(json);
  const ServingModel ma(a2a, a2a.serving.pools[0], topology, a);
  CHECK(ma.expert_exchange(512, 2048).time_s() > 0);
  // The all-to-all sends a token once to each rank holding some of its 4 experts (32 of the 128 on each rank): P(a
  // rank holds none) = (96 x 95 x 94 x 93) / (128 x 127 x 126 x 125) = 0.311395, so 4 x 0.688605 = 2.754421 rows a
  // token, fp8 out (1 B) and bf16 back (2 B): 512 x 2,880 x 3 B x 2.754421 = 12,184,676 bytes over NVLink (at the
  // link's raw rate: divided by the all-to-all efficiency), times the experts' stated imbalance.
  const double imbalance = a2a.model.moe->imbalance;
  CHECK_THAT(ma.expert_exchange(512, 2048).bytes(Path::scaleup),
             WithinRel(512.0 * 2880 * 3 * 2.754421 * imbalance / links.a2a_up.efficiency, 1e-5));
  auto dense = small_deployment(1.0);
  dense["serving"]["moe_dispatch"] = "allgather";
  CHECK_THAT(test::join_lines(test::messages_of([&] { test::scenario_from(dense); })),
             Catch::Contains("/serving/moe_dispatch: Llama"));
}

TEST_CASE("ep groups under tensor-parallel attention split each expert over their chips", "[serving][step]") {
  // DeepSeek-V3 in fp8 on 8 H200, TP8 attention. With EP2 each chip holds 128 of the 256 experts at a quarter of
  // their width: 256 / 2 / 4 = 32 experts' worth, as with the experts split 8 ways (EP1) or spread whole (EP8).
  auto json = small_deployment(1.0);
  json["model"] = "deepseek-v3";
  json["cluster"] = {{"chip", "h200-sxm"}, {"chips", 8}};
  json["serving"]["weights"] = "fp8";
  json["serving"]["batching"] = {{"max_batch_tokens", 8192}, {"max_running", 8}};
  const auto& a = test::catalogs().assumptions;
  const auto model_for = [&](int ep) {
    json["serving"]["plan"] = {{"tp", 8}, {"ep", ep}};
    return job_of(json);
  };
  const ServingJob ep1 = model_for(1), ep2 = model_for(2), ep8 = model_for(8);
  CHECK(ep1.serving.pools[0].plan.expert_tp() == 8);
  CHECK(ep2.serving.pools[0].plan.expert_tp() == 4);
  CHECK(ep8.serving.pools[0].plan.expert_tp() == 1);
  const auto topology = build_topology(topology_spec(ep1.cluster));
  const ServingModel m1(ep1, ep1.serving.pools[0], topology, a), m2(ep2, ep2.serving.pools[0], topology, a),
      m8(ep8, ep8.serving.pools[0], topology, a);
  CHECK_THAT(m2.memory().weights_bytes, WithinRel(m1.memory().weights_bytes, 1e-12));
  CHECK_THAT(m8.memory().weights_bytes, WithinRel(m1.memory().weights_bytes, 1e-12));
  // A decode step of 4 sequences (text tokens, so only the sampling spread): each EP2 group reads half of the
  // touched experts at a quarter of their width, the same weight bytes as EP1; its busiest group takes
  // 1 + z(2) sqrt(2 / 32) = 1.14 times half of the 32 copies through the experts and the shuffle, where EP1's chips
  // shuffle all 32; the partial sums meet in the TP all-reduce, with no all-to-all. Within a few percent of EP1.
  const BatchShape four{.decode_seqs = 4, .decode_context = 4000, .instance_tokens = 4};
  CHECK_THAT(m2.step(four).time_s, WithinRel(m1.step(four).time_s, 0.03));
  // Groups must divide tp, and only under tensor-parallel attention.
  json["serving"]["plan"] = {{"tp", 8}, {"ep", 3}};
  CHECK_THAT(test::join_lines(test::messages_of([&] { test::scenario_from(json); })),
             Catch::Contains("a divisor of tp"));
  json["serving"]["plan"] = {{"tp", 2}, {"dp_attention", 4}, {"ep", 4}};
  CHECK_THAT(test::join_lines(test::messages_of([&] { test::scenario_from(json); })),
             Catch::Contains("ep must be 1, tp x dp_attention = 8"));
}

TEST_CASE("a one-sequence decode step is bound by reading the weights", "[serving][step]") {
  const ServingJob job = job_of(small_deployment(1.0));
  const auto& a = test::catalogs().assumptions;
  const auto topology = build_topology(topology_spec(job.cluster));
  const ServingModel m(job, job.serving.pools[0], topology, a);
  // Llama-3-8B: about 7.5e9 parameters in matrix multiplies (8.03e9 less the 0.53e9 input embedding) x 2 bytes,
  // over H100's 3.35e12 bytes/s x the share a GEMM streams its weight at, plus the fixed step and per-layer
  // overheads.
  const auto params = count_params(job.model);
  const double hbm = job.cluster.chip.hbm_bandwidth.value * a.kernel("hopper").weight_read;
  const double expected = 2.0 * params.active_without_input_embedding / hbm + a.serving_per_step_overhead_s +
                          job.model.layers * a.serving_per_layer_overhead_s;
  const double step = m.step({.decode_seqs = 1, .decode_context = 1000}).time_s;
  // KV reads (1000 x 128 KiB), activations and norms add a few percent.
  CHECK(step >= expected);
  CHECK(step <= 1.06 * expected);
  // A batch of 64 reads the same weights once: far less than 64 times the time.
  CHECK(m.step({.decode_seqs = 64, .decode_context = 64'000}).time_s < 2.0 * step);
  // Prefill of 4,096 tokens is compute-bound: at least its FLOPs at peak.
  const double flop = 2.0 * params.active_without_input_embedding * 4096;
  CHECK(m.step({.prefill_tokens = 4096, .prefill_seqs = 1, .prefill_pairs = 4096.0 * 2048}).time_s >
        flop / job.cluster.chip.peak_flop_per_s(DataType::bf16));
}

TEST_CASE("Little's law holds on the simulated queue", "[serving][sim]") {
  const auto r = simulate(small_deployment(3.0));
  REQUIRE(r.requests == 400);
  // Over a run that starts and ends empty, the time-average number in the system is the arrival rate times the
  // mean time in the system exactly: both are the sum of the requests' times in the system over the duration.
  CHECK_THAT(r.mean_requests_in_system, WithinRel(r.arrival_rate_per_s * r.e2e.mean_s, 1e-6));
  CHECK(r.mean_requests_in_system > 1.0);
}

TEST_CASE("throughput saturates and TTFT rises as the arrival rate grows", "[serving][sim]") {
  double last_output = 0, last_ttft = 0;
  std::vector<double> outputs;
  for (const double rate : {1.0, 4.0, 16.0, 64.0, 256.0}) {
    const auto r = simulate(small_deployment(rate));
    INFO("rate " << rate << ": " << r.output_tokens_per_s << " tokens/s, TTFT p50 " << r.ttft.p50_s);
    CHECK(r.output_tokens_per_s >= 0.98 * last_output);
    CHECK(r.ttft.p50_s >= 0.98 * last_ttft);
    last_output = r.output_tokens_per_s;
    last_ttft = r.ttft.p50_s;
    outputs.push_back(r.output_tokens_per_s);
  }
  // Below capacity the deployment serves what arrives: 1 request/s of 200 output tokens.
  CHECK_THAT(outputs[0], WithinRel(200.0, 0.25));
  // At the top it is saturated: four times the load adds less than 10 %.
  CHECK(outputs[4] < 1.10 * outputs[3]);
  CHECK(outputs[4] < 0.5 * 256.0 * 200.0);
}

TEST_CASE("a larger KV cache never lowers throughput", "[serving][sim]") {
  // A saturating load on a chip whose cache holds few sequences, then the same with more HBM.
  auto json = small_deployment(200.0, 300);
  json["serving"]["batching"]["max_running"] = 256;
  ServingJob job = job_of(json);
  double last = 0;
  for (const double gib : {24.0, 32.0, 48.0, 80.0}) {
    job.cluster.chip.hbm_capacity.value = gib * kBytesPerGiB;
    const auto r = simulate_serving(job, test::catalogs().assumptions);
    INFO(gib << " GiB: " << r.output_tokens_per_s << " tokens/s, " << r.preemptions << " preemptions");
    CHECK(r.output_tokens_per_s >= 0.99 * last);
    last = r.output_tokens_per_s;
  }
}

TEST_CASE("a full KV cache preempts and recomputes, and every request still finishes", "[serving][sim]") {
  auto json = small_deployment(100.0, 200);
  json["serving"]["batching"]["max_running"] = 256;
  ServingJob job = job_of(json);
  job.cluster.chip.hbm_capacity.value = 22.0 * kBytesPerGiB;  // about 2 GiB of cache: ~16 sequences of 1,200 tokens
  const auto r = simulate_serving(job, test::catalogs().assumptions);
  CHECK(r.requests == 200);
  CHECK(r.preemptions > 0);
  CHECK(r.pools[0].kv_occupancy_max <= 1.0);
}

TEST_CASE("the same seed gives the same result, and another seed another", "[serving][sim]") {
  auto strip = [](nlohmann::json j) {
    j.erase("wall_s");
    return j.dump();
  };
  const auto a = serving_result_to_json(simulate(small_deployment(8.0, 200)));
  const auto b = serving_result_to_json(simulate(small_deployment(8.0, 200)));
  CHECK(strip(a) == strip(b));
  auto other = small_deployment(8.0, 200);
  other["serving"]["workload"]["seed"] = 8;
  CHECK(strip(serving_result_to_json(simulate(other))) != strip(a));
}

TEST_CASE("tier 1 and the simulation agree on a steady dense deployment", "[serving][tiers]") {
  auto json = small_deployment(2.0, 600);
  const ServingJob job = job_of(json);
  const auto topology = build_topology(topology_spec(job.cluster));
  const auto estimate = estimate_serving(job, topology, test::catalogs().assumptions);
  const auto simulated = simulate_serving(job, test::catalogs().assumptions);
  // Below capacity both serve the offered load; the decode step at the batch Little's law gives is the TPOT.
  CHECK_THAT(simulated.output_tokens_per_s, WithinRel(estimate.output_tokens_per_s, 0.1));
  CHECK_THAT(simulated.tpot.mean_s, WithinRel(estimate.tpot.mean_s, 0.15));
  // Saturated by a closed loop of 64 clients per chip: the throughputs agree within 15 %.
  json["serving"]["workload"] = {{"arrival", "concurrency"}, {"concurrency", 128}, {"requests", 1000},
                                 {"input_tokens", 1000}, {"output_tokens", 200}};
  const ServingJob closed = job_of(json);
  const auto e2 = estimate_serving(closed, topology, test::catalogs().assumptions);
  const auto s2 = simulate_serving(closed, test::catalogs().assumptions);
  CHECK_THAT(s2.output_tokens_per_s, WithinRel(e2.output_tokens_per_s, 0.15));
}

TEST_CASE("disaggregated pools send every KV cache to the decode pool", "[serving][sim]") {
  auto json = small_deployment(4.0, 200);
  json["cluster"]["chips"] = 3;
  json["serving"].erase("plan");
  json["serving"].erase("batching");
  json["serving"]["disaggregation"] = {{"prefill", {{"chips", 1}, {"plan", {{"tp", 1}}}}},
                                       {"decode", {{"chips", 2}, {"plan", {{"tp", 1}}}}}};
  const auto r = simulate(json);
  CHECK(r.requests == 200);
  REQUIRE(r.pools.size() == 2);
  CHECK(r.pools[0].prefill_share == 1.0);
  CHECK(r.pools[1].prefill_share == 0.0);
  // Every input token's cost is the prefill pool's, every output token's the decode pool's.
  CHECK(r.usd_per_m_input > 0);
  CHECK(r.usd_per_m_output > 0);
}

TEST_CASE("serving sections with mistakes name the file, the path and what was expected", "[serving][input]") {
  auto json = small_deployment(1.0);
  json["serving"]["plan"] = {{"tp", 3}, {"ep", 2}};
  json["serving"]["batching"]["max_runing"] = 3;
  json["serving"]["workload"].erase("rate_per_s");
  const auto messages = test::join_lines(test::messages_of([&] { test::scenario_from(json); }));
  CHECK_THAT(messages, Catch::Contains("/serving/batching/max_runing: unknown key"));
  CHECK_THAT(messages, Catch::Contains("/serving/workload/rate_per_s: is required"));
  CHECK_THAT(messages, Catch::Contains("/serving/plan: an instance takes tp x pp x dp_attention = 3 x 1 x 1 = 3 chips"));
  CHECK_THAT(messages, Catch::Contains("/serving/plan: ep 2 needs a mixture-of-experts model"));

  auto both = small_deployment(1.0);
  both["parallelism"] = {{"tp", 1}};
  CHECK_THAT(test::join_lines(test::messages_of([&] { test::scenario_from(both); })),
             Catch::Contains("/parallelism: belongs to training scenarios"));

  auto pools = small_deployment(1.0);
  pools["serving"].erase("plan");
  pools["serving"].erase("batching");
  pools["serving"]["disaggregation"] = {{"prefill", {{"chips", 1}, {"plan", {{"tp", 1}}}}},
                                        {"decode", {{"chips", 3}, {"plan", {{"tp", 1}}}}}};
  CHECK_THAT(test::join_lines(test::messages_of([&] { test::scenario_from(pools); })),
             Catch::Contains("/serving/disaggregation: the pools hold 1 + 3 = 4 chips, but /cluster/chips is 2"));
}

TEST_CASE("offline, reserve_output and expert weight sections are read and checked", "[serving][input]") {
  auto offline = small_deployment(1.0, 300);
  offline["serving"]["workload"] = {{"arrival", "offline"}, {"requests", 300}, {"input_tokens", 1000},
                                    {"output_tokens", 200}, {"concurrency", 4}};
  offline["serving"]["expert_weights"] = "fp8";
  offline["serving"]["batching"]["reserve_output"] = "yes";
  const auto messages = test::join_lines(test::messages_of([&] { test::scenario_from(offline); }));
  CHECK_THAT(messages, Catch::Contains("/serving/workload/concurrency: is read only with \"arrival\": \"concurrency\""));
  CHECK_THAT(messages, Catch::Contains("/serving/expert_weights: Llama"));
  CHECK_THAT(messages, Catch::Contains("/serving/batching/reserve_output"));
  // 8-bit weights need the chip's 8-bit units; 4-bit ones run weight-only on any chip.
  auto ascend = small_deployment(1.0);
  ascend["cluster"]["chip"] = "ascend-910b";
  ascend["serving"]["weights"] = "fp8";
  CHECK_THAT(test::join_lines(test::messages_of([&] { test::scenario_from(ascend); })),
             Catch::Contains("/serving/weights: ascend-910b has no fp8 units"));
  ascend["serving"]["weights"] = "nvfp4";
  CHECK_NOTHROW(test::scenario_from(ascend));
}

TEST_CASE("4-bit weights: their bytes, and the type their GEMMs multiply in", "[serving][formula]") {
  // MXFP4: 4 bits and one 8-bit scale per 32 elements = 0.5 + 1/32 = 0.53125 bytes; NVFP4 one FP8 scale per 16:
  // 0.5625 bytes.
  CHECK(bytes_per_element(DataType::mxfp4) == 0.53125);
  CHECK(bytes_per_element(DataType::nvfp4) == 0.5625);
  nlohmann::json json = {{"name", "gpt-oss"},
                         {"model", "gpt-oss-120b"},
                         {"cluster", {{"chip", "h200-sxm"}, {"chips", 1}}},
                         {"serving",
                          {{"weights", "bf16"},
                           {"expert_weights", "mxfp4"},
                           {"plan", {{"tp", 1}}},
                           {"workload", {{"arrival", "offline"}, {"requests", 10}, {"input_tokens", 100},
                                         {"output_tokens", 10}}}}}};
  const ServingJob job = job_of(json);
  const auto topology = build_topology(topology_spec(job.cluster));
  const ServingModel h200(job, job.serving.pools[0], topology, test::catalogs().assumptions);
  // gpt-oss-120b's routed experts: 36 layers x 128 experts x (3 x 2,880 x 2,880 + 8,640 biases) = 114,701,598,720
  // parameters in MXFP4 = 60,935,224,320 bytes; the rest (embedding and head 201,088 x 2,880 each = 1,158,266,880
  // together, attention 36 x 26,547,200 with the q/k/v biases, routers 36 x 368,640, norms 36 x 5,760 + 2,880) =
  // 2,127,447,360 parameters in bf16 = 4,254,894,720 bytes. Together 65,190,119,040 bytes.
  CHECK_THAT(h200.memory().weights_bytes, WithinRel(65'190'119'040.0, 1e-9));
  // The H200 has no FP4 units: its MXFP4 GEMMs dequantise the weights against bf16 activations (W4A16, as
  // TensorRT-LLM's Triton MoE backend runs gpt-oss on Hopper), at the bf16 efficiency.
  const auto& chip = job.cluster.chip;
  const auto& kernel = test::catalogs().assumptions.kernel(chip.family);
  const auto mx = gemm_path(chip, kernel, DataType::mxfp4);
  CHECK(mx.peak_flop_per_s == chip.sustained_flop_per_s(DataType::bf16));
  CHECK(mx.efficiency == kernel.gemm_bf16);
  CHECK(mx.weight_bytes == 0.53125);
  // A B200 pairs them with MXFP8 activations (W4A8): its MXFP8 rate (= FP8's), at the fp8 efficiency. NVFP4
  // weights meet NVFP4 activations in its FP4 units.
  json["cluster"]["chip"] = "b200";
  const ServingJob b200_job = job_of(json);
  const auto& b200 = b200_job.cluster.chip;
  const auto& blackwell = test::catalogs().assumptions.kernel("blackwell");
  const auto w4a8 = gemm_path(b200, blackwell, DataType::mxfp4);
  CHECK(w4a8.peak_flop_per_s == b200.sustained_flop_per_s(DataType::mxfp8));
  CHECK(w4a8.efficiency == blackwell.gemm_fp8);
  const auto w4a4 = gemm_path(b200, blackwell, DataType::nvfp4);
  CHECK(w4a4.peak_flop_per_s == b200.sustained_flop_per_s(DataType::nvfp4));
  CHECK(w4a4.efficiency == blackwell.gemm_fp4);
  // An 8-bit type the chip has multiplies in it: fp8 weights on an H200 at its fp8 rate.
  CHECK(gemm_path(chip, kernel, DataType::fp8).peak_flop_per_s == chip.sustained_flop_per_s(DataType::fp8));
}

TEST_CASE("offline queues every request at once, as a closed loop of as many clients", "[serving][sim]") {
  auto offline = small_deployment(1.0, 300);
  offline["serving"]["workload"] = {{"arrival", "offline"}, {"requests", 300}, {"input_tokens", 1000},
                                    {"output_tokens", 200}};
  auto closed = offline;
  closed["serving"]["workload"]["arrival"] = "concurrency";
  closed["serving"]["workload"]["concurrency"] = 300;
  const auto a = simulate(offline);
  const auto b = simulate(closed);
  CHECK(a.requests == 300);
  CHECK(a.duration_s == b.duration_s);
  CHECK(a.output_tokens_per_s == b.output_tokens_per_s);
}

TEST_CASE("a decode-only step pads to the smallest CUDA graph that holds it", "[serving][graphs]") {
  Batching b;
  CHECK(b.graph_padded_seqs(37) == 37);  // no graphs: every step at its own size
  b.graph_batch_sizes = {1, 2, 4, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128, 256, 384};
  CHECK(b.graph_padded_seqs(1) == 1);
  CHECK(b.graph_padded_seqs(3) == 4);
  CHECK(b.graph_padded_seqs(37) == 40);
  CHECK(b.graph_padded_seqs(128) == 128);
  CHECK(b.graph_padded_seqs(129) == 256);  // 127 dummy sequences
  CHECK(b.graph_padded_seqs(300) == 384);
  CHECK(b.graph_padded_seqs(500) == 500);  // beyond the largest graph: eager, unpadded
}

TEST_CASE("graph batch sizes are read, checked and written back", "[serving][graphs][input]") {
  auto json = small_deployment(1.0);
  json["serving"]["batching"]["graph_batch_sizes"] = {1, 8, 4, 0, "16"};
  const auto messages = test::join_lines(test::messages_of([&] { test::scenario_from(json); }));
  CHECK_THAT(messages, Catch::Contains("/serving/batching/graph_batch_sizes/2: expected sizes in ascending order, got 4 "
                                       "after 8"));
  CHECK_THAT(messages, Catch::Contains("/serving/batching/graph_batch_sizes/3: expected a whole number of sequences"));
  CHECK_THAT(messages, Catch::Contains("/serving/batching/graph_batch_sizes/4: expected a whole number of sequences"));
  json["serving"]["batching"]["graph_batch_sizes"] = 8;
  CHECK_THAT(test::join_lines(test::messages_of([&] { test::scenario_from(json); })),
             Catch::Contains("/serving/batching/graph_batch_sizes: expected an array of batch sizes"));
  json["serving"]["batching"]["graph_batch_sizes"] = {8, 64};
  const auto job = job_of(json);
  CHECK(job.serving.pools[0].batching.graph_batch_sizes == std::vector<int>{8, 64});
}

TEST_CASE("padded decode steps cost what the padded batch costs", "[serving][graphs][sim]") {
  // 40 clients each decoding 400 tokens after a 100-token prompt on one H100: a decode-only step of 40 sequences.
  // Padded to a graph of 64 it computes 64 rows through every GEMM; the 24 dummy sequences read no KV cache. The
  // padded run's TPOT therefore lies between the unpadded 40 and an unpadded 64 with the same context.
  auto json = small_deployment(1.0, 200);
  json["serving"]["workload"] = {{"arrival", "concurrency"}, {"concurrency", 40}, {"requests", 200},
                                 {"input_tokens", 100}, {"output_tokens", 400}, {"seed", 7}};
  const auto plain = simulate(json);
  json["serving"]["batching"]["graph_batch_sizes"] = {1, 8, 16, 32, 64};
  const auto padded = simulate(json);
  CHECK(padded.requests == plain.requests);
  CHECK(padded.tpot.p50_s > plain.tpot.p50_s);
  // The step model at 40 and 64 sequences of the same contexts bounds it.
  ServingJob job = job_of(json);
  const auto topology = build_topology(topology_spec(job.cluster));
  const ServingModel m(job, job.serving.pools[0], topology, test::catalogs().assumptions);
  BatchShape forty;
  forty.decode_seqs = 40;
  forty.decode_context = forty.decode_window_context = 40 * 300.0;
  forty.instance_tokens = 40;
  BatchShape padded_shape = forty;
  padded_shape.decode_seqs = 64;
  padded_shape.instance_tokens = 64;
  const double step_40 = m.step(forty).time_s;
  const double step_64 = m.step(padded_shape).time_s;
  CHECK(step_64 > step_40);
  CHECK_THAT(padded.tpot.p50_s / plain.tpot.p50_s, WithinRel(step_64 / step_40, 0.05));
  // Tier 1 pads its decode steps the same way.
  auto unpadded = json;
  unpadded["serving"]["batching"].erase("graph_batch_sizes");
  const auto tier1_plain = estimate_serving(job_of(unpadded), topology, test::catalogs().assumptions);
  const auto tier1_padded = estimate_serving(job, topology, test::catalogs().assumptions);
  CHECK(tier1_padded.tpot.p50_s > tier1_plain.tpot.p50_s);
}

TEST_CASE("without chunked prefill a prompt prefills whole or waits for a step with room", "[serving][sim]") {
  // Three 1,000-token prompts queued at once, one output token each, 1,500 tokens a step. Chunked, the steps hold
  // 1,000 + 500 and 500 + 1,000 tokens: 2 steps. Whole, the second prompt does not fit beside the first, so each
  // step holds one prompt: 3 steps.
  auto json = small_deployment(1.0, 3);
  json["cluster"]["chips"] = 1;
  json["serving"]["batching"] = {{"max_batch_tokens", 1500}, {"max_running", 64}};
  json["serving"]["workload"] = {{"arrival", "offline"}, {"requests", 3}, {"input_tokens", 1000}, {"output_tokens", 1}};
  const auto chunked = simulate(json);
  CHECK(chunked.requests == 3);
  CHECK(chunked.pools[0].steps == 2);
  json["serving"]["batching"]["chunked_prefill"] = false;
  const auto whole = simulate(json);
  CHECK(whole.requests == 3);
  CHECK(whole.pools[0].steps == 3);
  // A prompt longer than a step runs alone, cut at the step's tokens: 4,000 = 1,500 + 1,500 + 1,000, one request
  // after the other (3 + 3 steps).
  json["serving"]["workload"]["input_tokens"] = 4000;
  json["serving"]["workload"]["requests"] = 2;
  const auto long_prompts = simulate(json);
  CHECK(long_prompts.requests == 2);
  CHECK(long_prompts.pools[0].steps == 6);
}

TEST_CASE("chunked_prefill is read, checked and written back", "[serving][input]") {
  auto json = small_deployment(1.0);
  json["serving"]["batching"]["chunked_prefill"] = false;
  json["serving"]["batching"]["prefill_chunk_tokens"] = 512;
  CHECK_THAT(test::join_lines(test::messages_of([&] { test::scenario_from(json); })),
             Catch::Contains("/serving/batching/prefill_chunk_tokens: a chunk size needs chunked_prefill true"));
  json["serving"]["batching"].erase("prefill_chunk_tokens");
  json["serving"]["batching"]["chunked_prefill"] = "no";
  CHECK_THAT(test::join_lines(test::messages_of([&] { test::scenario_from(json); })),
             Catch::Contains("/serving/batching/chunked_prefill"));
  json["serving"]["batching"]["chunked_prefill"] = false;
  const auto section = test::scenario_from(json).serving;
  REQUIRE(section);
  CHECK_FALSE(section->setup.pools[0].batching.chunked_prefill);
  const auto written = serving_section_to_json(*section);
  CHECK(written["batching"]["chunked_prefill"] == false);
  CHECK_FALSE(written["batching"].contains("prefill_chunk_tokens"));
}

TEST_CASE("reserving each request's output in the KV cache never preempts", "[serving][sim]") {
  // The cache of the preemption test above (~16 sequences of 1,200 tokens), saturated: admitted on the prompt the
  // requests outgrow it and are recomputed; admitted with their output reserved (TensorRT-LLM) none is.
  auto json = small_deployment(100.0, 200);
  json["serving"]["batching"]["max_running"] = 256;
  ServingJob job = job_of(json);
  job.cluster.chip.hbm_capacity.value = 22.0 * kBytesPerGiB;
  CHECK(simulate_serving(job, test::catalogs().assumptions).preemptions > 0);
  job.serving.pools[0].batching.reserve_output = true;
  const auto reserved = simulate_serving(job, test::catalogs().assumptions);
  CHECK(reserved.requests == 200);
  CHECK(reserved.preemptions == 0);
  // Tier 1 holds whole requests too: its batch is the cache over input + output tokens, not input + output / 2.
  const auto topology = build_topology(topology_spec(job.cluster));
  const ServingModel model(job, job.serving.pools[0], topology, test::catalogs().assumptions);
  const double capacity = static_cast<double>(model.memory().kv_capacity_tokens);
  const auto estimate = estimate_serving(job, topology, test::catalogs().assumptions);
  CHECK(estimate.pools[0].mean_batch_seqs <= capacity / 1200.0 + 1e-9);
}

TEST_CASE("a model too large for its instance is refused with the memory that does not fit", "[serving][input]") {
  auto json = small_deployment(1.0);
  json["model"] = "llama3-405b";
  try {
    simulate(json);
    FAIL("no error");
  } catch (const ModelError& error) {
    CHECK_THAT(error.what(), Catch::Contains("does not fit"));
    CHECK_THAT(error.what(), Catch::Contains("GiB of weights"));
  }
}

}  // namespace
}  // namespace flopcast

namespace flopcast {
namespace {

TEST_CASE("a closed loop whose requests often do not fit the cache rejects them and runs to the end", "[serving][sim]") {
  auto json = small_deployment(1.0, 120);
  json["serving"]["workload"] = {{"arrival", "concurrency"}, {"concurrency", 8},      {"requests", 120},
                                 {"input_tokens", 1000},     {"output_tokens", 200}, {"lengths", "exponential"},
                                 {"seed", 3}};
  ServingJob job = job_of(json);
  // HBM sized so that one rank's cache holds about 1,500 tokens: many exponential requests (mean 1,200 tokens) exceed it.
  const auto topology = build_topology(topology_spec(job.cluster));
  const auto capacity_at = [&](double gib) {
    job.cluster.chip.hbm_capacity.value = gib * kBytesPerGiB;
    return static_cast<double>(ServingModel(job, job.serving.pools[0], topology, test::catalogs().assumptions)
                                   .memory()
                                   .kv_capacity_tokens);
  };
  const double at_40 = capacity_at(40.0), at_41 = capacity_at(41.0);
  REQUIRE(at_41 > at_40);
  const double gib = 40.0 + (1500.0 - at_40) / (at_41 - at_40);
  REQUIRE_THAT(capacity_at(gib), WithinRel(1500.0, 0.05));
  const auto r = simulate_serving(job, test::catalogs().assumptions);
  // Every client goes on sending after a rejection: completed and rejected requests add up to the total.
  long rejected = 0;
  for (const auto& note : r.notes) {
    if (note.find("requests rejected") != std::string::npos) rejected = std::stol(note);
  }
  INFO(r.requests << " completed, " << rejected << " rejected");
  CHECK(rejected > 0);
  CHECK(r.requests > 0);
  CHECK(r.requests + rejected == 120);
}

}  // namespace
}  // namespace flopcast
