#include <fmt/format.h>

#include "helpers.hpp"

#include "flopcast/models/estimator.hpp"

using namespace flopcast;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {
Scenario llama70b(const std::string& plan_json) {
  auto json = nlohmann::json::parse(R"({
    "model": "llama3-70b",
    "cluster": {"chip": "h100-sxm", "chips": 64},
    "training": {"seq_len": 8192, "global_batch": 128, "precision": "bf16", "tokens": 1e12}})");
  json["parallelism"] = nlohmann::json::parse(plan_json);
  return test::scenario_from(json);
}
const Assumptions& assumptions() { return test::catalogs().assumptions; }
}  // namespace

TEST_CASE("GEMM efficiency saturates with size", "[models][estimator]") {
  // f(x) = x / (x + 64): a 64-wide dimension reaches half; 8192^3 reaches 0.8 x (8192/8256)^3 = 0.7815.
  CHECK_THAT(gemm_efficiency(64, 1e12, 1e12, 0.8, 64), WithinRel(0.4, 1e-6));
  CHECK_THAT(gemm_efficiency(8192, 8192, 8192, 0.8, 64), WithinRel(0.8 * std::pow(8192.0 / 8256.0, 3), 1e-9));
}

TEST_CASE("attention efficiency grows with sequence length and head size", "[models][estimator]") {
  KernelEfficiency k;
  k.attention_half_seq = 256;
  k.attention_half_head_dim = 32;
  // At the reference shape (16K tokens, head size 128) the factor is 1.
  CHECK_THAT(attention_shape(16384, 128, k), WithinRel(1.0, 1e-12));
  // 4K tokens: (4096 / 4352) / (16384 / 16640) = 0.941176 / 0.984615 = 0.955882.
  CHECK_THAT(attention_shape(4096, 128, k), WithinRel(0.955882, 1e-5));
  // 2K tokens, head size 64: (2048 / 2304) / 0.984615 x (64 / 96) / (128 / 160) = 0.902778 x 0.833333 = 0.752315.
  CHECK_THAT(attention_shape(2048, 64, k), WithinRel(0.752315, 1e-5));
  // MLA's 192-wide query/key heads run faster than the reference: (192 / 224) / 0.8 = 1.071429.
  CHECK_THAT(attention_shape(16384, 192, k), WithinRel(1.071429, 1e-5));
}

TEST_CASE("unfused attention runs batched GEMMs over the full score matrix and softmax through HBM", "[models][estimator]") {
  // Llama-3-70B layer, TP 4, 8K tokens, micro-batch 1, without FlashAttention and with dropout: 64 / 4 = 16 heads
  // per chip, each QK^T (8192 x 8192 x 128) and AV (8192 x 128 x 8192) at the GEMM efficiency of its shape, and
  // 16 x 8192^2 scores x (2 + 2 softmax + 2 + 2 + 1 dropout) = 9 bytes each through HBM at the memory-bound rate.
  auto s = llama70b(R"({"tp": 4, "pp": 4, "cp": 1, "vpp": 5, "sp": true})");
  s.job.training.flash_attention = false;
  s.job.training.dropout = true;
  const auto topology = build_topology(topology_spec(s.job.cluster));
  const auto& a = assumptions();
  const auto w = build_step_work(s.job, topology, a);
  const auto& k = a.kernel(s.job.cluster.chip.family);
  const double peak = s.job.cluster.chip.peak_flop_per_s(DataType::bf16);
  const double bmm = 2.0 * 8192.0 * 8192.0 * 128.0 / (peak * gemm_efficiency(8192, 8192, 128, k.gemm_bf16, k.gemm_half_dim));
  const double softmax = 16.0 * 8192.0 * 8192.0 * 9.0 / (s.job.cluster.chip.hbm_bandwidth.value * k.memory_bound);
  const auto& core = w.dense.core_attention;
  CHECK_THAT(core.gemm_s, WithinRel(16.0 * 2.0 * bmm, 1e-9));
  CHECK(core.attention_s == 0.0);
  CHECK_THAT(core.memory_s, WithinRel(softmax, 1e-9));
  // The forward pass contains it; the backward has no fused attention kernel either.
  CHECK(w.dense.attention_forward.gemm_s > core.gemm_s);
  CHECK(w.dense.attention_backward.attention_s == 0.0);
  // With FlashAttention the core is one fused kernel instead.
  s.job.training.flash_attention = true;
  const auto fused = build_step_work(s.job, topology, a).dense.core_attention;
  CHECK(fused.gemm_s == 0.0);
  CHECK(fused.attention_s > 0.0);
}

TEST_CASE("per-operator checkpointing recomputes the unsaved matmuls and every memory-bound kernel", "[models][estimator]") {
  // Llama 3 70B (h 8192, 64 heads and 8 KV heads of 128, FFN 28672) at TP 1, 8192 tokens: the backward needs wk, wo
  // and w3, the 2nd, 4th and 6th aten.mm, whose outputs are not saved: (8192 x 1024 x 8192), (8192 x 8192 x 8192)
  // and (8192 x 28672 x 8192) at the GEMM efficiency of their shapes; plus the forward's memory-bound kernels.
  auto s = llama70b(R"({"tp": 1, "pp": 1, "dp": 64, "zero": 3, "recompute": "per_op"})");
  const auto topology = build_topology(topology_spec(s.job.cluster));
  const auto& a = assumptions();
  const auto w = build_step_work(s.job, topology, a);
  const auto& k = a.kernel(s.job.cluster.chip.family);
  const double peak = s.job.cluster.chip.peak_flop_per_s(DataType::bf16);
  const auto gemm = [&](double m, double n, double kk) {
    return 2.0 * m * n * kk / (peak * gemm_efficiency(m, n, kk, k.gemm_bf16, k.gemm_half_dim));
  };
  CHECK_THAT(w.dense.recompute.gemm_s,
             WithinRel(gemm(8192, 1024, 8192) + gemm(8192, 8192, 8192) + gemm(8192, 28672, 8192), 1e-9));
  CHECK_THAT(w.dense.recompute.memory_s,
             WithinRel(w.dense.attention_forward.memory_s + w.dense.ffn_forward.memory_s, 1e-12));
  CHECK(w.dense.recompute_dispatch == false);
  // HFU counts them: 2 x 8192 x (1024 + 8192 + 28672) FLOPs per token per layer, 80 layers.
  const auto e = estimate_training(s.job, a);
  CHECK_THAT(e.hardware_flops_per_token - e.flops.model, WithinRel(80.0 * 2.0 * 8192.0 * (1024.0 + 8192.0 + 28672.0), 1e-12));
}

TEST_CASE("FlashAttention-2 runs at the family's share of the fused kernel's rate", "[models][estimator]") {
  // Hopper's flash2_fraction is 0.60 (measured on an H200: PyTorch's FlashAttention-2 against its cuDNN backend,
  // forward plus backward), so the attention kernels take 1 / 0.60 = 1.667 times as long; GEMMs and memory-bound
  // kernels do not change.
  auto s = llama70b(R"({"tp": 4, "pp": 4, "cp": 1, "vpp": 5, "sp": true})");
  const auto topology = build_topology(topology_spec(s.job.cluster));
  const auto fused = build_step_work(s.job, topology, assumptions()).dense;
  s.job.training.flash2 = true;
  const auto flash2 = build_step_work(s.job, topology, assumptions()).dense;
  CHECK(assumptions().kernel("hopper").flash2_fraction == 0.60);
  CHECK_THAT(flash2.attention_forward.attention_s, WithinRel(fused.attention_forward.attention_s / 0.60, 1e-12));
  CHECK_THAT(flash2.attention_backward.attention_s, WithinRel(fused.attention_backward.attention_s / 0.60, 1e-12));
  CHECK(flash2.attention_forward.gemm_s == fused.attention_forward.gemm_s);
  CHECK(flash2.ffn_forward.compute_s() == fused.ffn_forward.compute_s());
}

TEST_CASE("a chip capped below the board power of its quoted peaks runs its tensor cores at the cube root of the ratio",
          "[models][estimator]") {
  // Meta's 96 GB H100s: 500 W against the SXM5's 700 W at which the 989.4 TFLOP/s peak is quoted:
  // (500 / 700)^(1/3) = 0.7142857^(1/3) = 0.89390. GEMMs and attention take 1 / 0.89390 = 1.1187 times as long;
  // HBM-bound kernels do not change, nor does the MFU's denominator (the quoted peak).
  const auto& capped = *test::catalogs().hardware.find_chip("h100-sxm-96gb");
  CHECK_THAT(capped.compute_clock_fraction(), WithinRel(0.89390, 1e-4));
  CHECK(test::catalogs().hardware.find_chip("h100-sxm")->compute_clock_fraction() == 1.0);  // no peak_power
  auto s = llama70b(R"({"tp": 4, "pp": 4, "cp": 1, "vpp": 5, "sp": true})");
  const auto topology = build_topology(topology_spec(s.job.cluster));
  auto full_power = s.job.cluster.chip;
  full_power.hbm_bandwidth = capped.hbm_bandwidth;  // the two parts differ in HBM too: compare like with like
  s.job.cluster.chip = full_power;
  const auto at_700 = build_step_work(s.job, topology, assumptions()).dense;
  auto at_500_chip = full_power;
  at_500_chip.tdp.value = 500;
  at_500_chip.peak_power = Quantity();
  at_500_chip.peak_power->value = 700;
  s.job.cluster.chip = at_500_chip;
  const auto at_500 = build_step_work(s.job, topology, assumptions()).dense;
  CHECK_THAT(at_500.ffn_forward.gemm_s, WithinRel(at_700.ffn_forward.gemm_s / 0.89390, 1e-4));
  CHECK_THAT(at_500.attention_backward.attention_s, WithinRel(at_700.attention_backward.attention_s / 0.89390, 1e-4));
  CHECK(at_500.ffn_forward.memory_s == at_700.ffn_forward.memory_s);
}

TEST_CASE("the breakdown adds up to the step time", "[models][estimator]") {
  const auto s = llama70b(R"({"tp": 4, "pp": 4, "cp": 1, "vpp": 5, "sp": true})");
  const auto e = estimate_training(s.job, assumptions());
  CHECK_THAT(e.breakdown.total_s(), WithinRel(e.step_time_s, 1e-12));
  CHECK(e.step_time_s > 0);
  CHECK_THAT(e.tokens_per_s, WithinRel(128.0 * 8192.0 / e.step_time_s, 1e-12));
  // MFU = model FLOPs per token x tokens/s per chip / bf16 peak.
  CHECK_THAT(e.mfu, WithinRel(e.flops.model * e.tokens_per_s_per_chip / 989.4e12, 1e-6));
}

TEST_CASE("an estimate given the plan's memory check reports it and the same step", "[models][estimator]") {
  // A plan search checks memory first and hands the report to the estimate (EstimateOptions::memory).
  const auto s = llama70b(R"({"tp": 4, "pp": 4, "cp": 1, "vpp": 5, "sp": true})");
  const auto own = estimate_training(s.job, assumptions());
  auto given = training_memory(s.job, count_params(s.job.model), assumptions());
  CHECK(given.total_bytes == own.memory.total_bytes);
  given.total_bytes = 1.0;  // marked: the estimate must report the one it was given
  EstimateOptions options;
  options.memory = &given;
  const auto e = estimate_training(s.job, assumptions(), options);
  CHECK(e.memory.total_bytes == 1.0);
  CHECK(e.step_time_s == own.step_time_s);
}

TEST_CASE("data-parallel traffic beyond the compute it overlaps is exposed", "[models][estimator]") {
  // ZeRO-3 over 64 H100 with one micro-batch: gradients, parameters and the two per-micro-batch weight gathers
  // share one stream, so the step lasts at least as long as their sum, whatever each hides on its own.
  auto s = llama70b(R"({"tp": 1, "pp": 1, "dp": 64, "zero": 3, "recompute": "full"})");
  s.job.training.global_batch = 64;
  s.job.training.seq_len = 1024;  // little compute per step against 70B of weights to move
  const auto e = estimate_training(s.job, assumptions());
  const auto topology = build_topology(topology_spec(s.job.cluster));
  const auto w = build_step_work(s.job, topology, assumptions());
  const double gradients = w.sync[0].gradients.time_s();
  const double parameters = w.sync[0].parameters.time_s();
  const double traffic = gradients + parameters + 2.0 * parameters;  // M = 1
  REQUIRE(e.micro_batches == 1);
  REQUIRE(traffic > e.breakdown.compute_s());
  CHECK(e.step_time_s >= traffic - 1e-9);
  CHECK(e.breakdown.dp_s > 0.0);
}

TEST_CASE("the 1F1B bubble is the other stages' times and interleaving divides it by vpp", "[models][estimator]") {
  const auto one = estimate_training(llama70b(R"({"tp": 4, "pp": 4, "sp": true, "schedule": "1f1b"})").job, assumptions());
  // M = 128 / (dp 4 x 1) = 32 micro-batches; the steady part is M x the slowest stage's time T (the last: 20 layers
  // and the head). Fill and drain pass once through each of the 3 others (20 layers, no head): a bit under 3 T.
  const double steady = one.breakdown.compute_s() + one.breakdown.tp_s + one.breakdown.cp_s + one.breakdown.ep_s +
                        one.breakdown.overhead_s - assumptions().per_step_overhead_s;
  const double slowest = steady / 32.0;
  CHECK(one.breakdown.bubble_s < 3.0 * slowest);
  CHECK(one.breakdown.bubble_s > 0.9 * 3.0 * slowest);
  const auto inter =
      estimate_training(llama70b(R"({"tp": 4, "pp": 4, "vpp": 5, "sp": true, "schedule": "interleaved"})").job, assumptions());
  // 20 virtual stages of 4 layers: the same work per device, the bubble divided by 5 (the head moves with the
  // last chunk, so not exactly).
  CHECK_THAT(inter.breakdown.bubble_s, WithinRel(one.breakdown.bubble_s / 5.0, 0.05));
  const auto flat = estimate_training(llama70b(R"({"tp": 8, "pp": 1, "sp": true})").job, assumptions());
  CHECK(flat.breakdown.bubble_s == 0.0);
}

TEST_CASE("blocking pipeline sends expose every hop, and split sends carry 1/tp of the activation",
          "[models][estimator]") {
  const auto topology = build_topology(topology_spec(llama70b(R"({"tp": 4, "pp": 4})").job.cluster));
  const auto hop = [&](const Scenario& s) { return build_step_work(s.job, topology, assumptions()).pp_hop; };
  // tp 4, pp 4, vpp 5, dp 4: M = 128 / 4 = 32. Overlapped, only the fill and drain chains are exposed:
  // 2 (pp - 1) vpp = 30 hops; blocking, every send of every chunk: 2 (M vpp + pp - 1) = 2 (160 + 3) = 326 hops.
  const auto overlapped = llama70b(R"({"tp": 4, "pp": 4, "vpp": 5, "sp": true, "schedule": "interleaved"})");
  const auto blocking =
      llama70b(R"({"tp": 4, "pp": 4, "vpp": 5, "sp": true, "schedule": "interleaved", "pp_comm_overlap": false})");
  const double hop_s = hop(overlapped).time_s();
  REQUIRE(hop_s > 0);
  CHECK_THAT(estimate_training(overlapped.job, assumptions()).breakdown.pp_s, WithinRel(30.0 * hop_s, 1e-9));
  CHECK_THAT(estimate_training(blocking.job, assumptions()).breakdown.pp_s, WithinRel(326.0 * hop_s, 1e-9));
  // One micro-batch's activation: 8,192 tokens x 8,192 hidden x 2 bytes = 134.2 MB, on the wire over the link's
  // efficiency; sequence parallelism or Megatron-LM's scatter/gather sends a quarter of it from each of the 4 TP ranks.
  const auto bytes = [&](const char* plan) { return hop(llama70b(plan)).steps.front().transfers.front().bytes; };
  const double whole = bytes(R"({"tp": 4, "pp": 4})");
  CHECK(whole >= 8192.0 * 8192.0 * 2.0);
  CHECK(whole < 8192.0 * 8192.0 * 2.0 / 0.8);
  CHECK_THAT(bytes(R"({"tp": 4, "pp": 4, "pp_scatter_gather": true})"), WithinRel(whole / 4, 1e-9));
  CHECK_THAT(bytes(R"({"tp": 4, "pp": 4, "sp": true})"), WithinRel(whole / 4, 1e-9));
}

TEST_CASE("more bandwidth is never slower", "[models][estimator][invariant]") {
  auto s = llama70b(R"({"tp": 4, "pp": 2, "sp": true})");
  const auto base = estimate_training(s.job, assumptions());
  for (double factor : {1.5, 2.0, 4.0}) {
    auto faster = s;
    faster.job.cluster.node.scaleup_bandwidth_per_direction.value *= factor;
    faster.job.cluster.node.nic_bandwidth.value *= factor;
    faster.job.cluster.fabric.port_bandwidth.value *= factor;
    faster.job.cluster.chip.hbm_bandwidth.value *= factor;
    CHECK(estimate_training(faster.job, assumptions()).step_time_s <= base.step_time_s);
  }
}

TEST_CASE("cost scales linearly with the price and energy does not", "[models][estimator][invariant]") {
  auto s = llama70b(R"({"tp": 8, "pp": 1, "sp": true})");
  s.job.costs.usd_per_chip_hour = 2.0;
  const auto a = estimate_training(s.job, assumptions());
  s.job.costs.usd_per_chip_hour = 3.0;
  const auto b = estimate_training(s.job, assumptions());
  CHECK_THAT(b.energy_cost.cost_usd, WithinRel(1.5 * a.energy_cost.cost_usd, 1e-12));
  CHECK(b.energy_cost.energy_kwh == a.energy_cost.energy_kwh);
  // Rental: cost = chip-hours x price.
  CHECK_THAT(b.energy_cost.cost_usd, WithinRel(b.chip_hours * 3.0, 1e-9));
  CHECK_THAT(b.energy_cost.usd_per_mtok, WithinRel(b.energy_cost.cost_usd / 1e6, 1e-9));  // 1e12 tokens
}

TEST_CASE("fp8 is faster than bf16 on Hopper and full recompute is slower and lighter", "[models][estimator]") {
  auto s = llama70b(R"({"tp": 8, "pp": 1, "sp": true})");
  const auto bf16 = estimate_training(s.job, assumptions());
  s.job.training.precision = Precision::fp8;
  const auto fp8 = estimate_training(s.job, assumptions());
  CHECK(fp8.step_time_s < bf16.step_time_s);
  s.job.plan.recompute = Recompute::full;
  const auto full = estimate_training(s.job, assumptions());
  CHECK(full.step_time_s > fp8.step_time_s);
  CHECK(full.memory.activations_bytes < fp8.memory.activations_bytes);
  CHECK(full.hfu > full.mfu);
}

TEST_CASE("block recomputation redoes the first layers of each stage and keeps the others' activations",
          "[models][estimator]") {
  // Llama 3 70B's 80 layers on one stage (tp 8 with SP, dp 8), one micro-batch in flight.
  auto s = llama70b(R"({"tp": 8, "pp": 1, "sp": true})");
  const auto none = estimate_training(s.job, assumptions());
  s.job.plan.recompute = Recompute::full;
  const auto full = estimate_training(s.job, assumptions());
  s.job.plan.recompute_layers = 5;
  const auto block = estimate_training(s.job, assumptions());
  // Compute: 5 of the 80 layers' forwards again, 5/80 of full recomputation's extra.
  CHECK_THAT(block.breakdown.compute_s() - none.breakdown.compute_s(),
             WithinRel(5.0 / 80.0 * (full.breakdown.compute_s() - none.breakdown.compute_s()), 1e-9));
  CHECK_THAT(block.hardware_flops_per_token - block.flops.model,
             WithinRel(5.0 / 80.0 * (full.hardware_flops_per_token - full.flops.model), 1e-9));
  // Memory: the 75 layers it does not redo keep all their activations instead of their input alone.
  auto plain = s.job.plan;
  plain.recompute = Recompute::none;
  const double kept = activation_bytes_per_layer(s.job.model, false, plain, s.job.training);
  const double input = activation_bytes_per_layer(s.job.model, false, s.job.plan, s.job.training);
  CHECK_THAT(block.memory.activations_bytes - full.memory.activations_bytes, WithinRel(75.0 * (kept - input), 1e-9));
  // As many layers as the stage has, or more: every layer, as the uniform method.
  s.job.plan.recompute_layers = 80;
  CHECK(estimate_training(s.job, assumptions()).step_time_s == full.step_time_s);
  s.job.plan.recompute_layers = 200;
  CHECK(estimate_training(s.job, assumptions()).memory.activations_bytes == full.memory.activations_bytes);
}

TEST_CASE("master weights kept as a residual of the bf16 weight take 2 bytes instead of 4", "[models][estimator]") {
  auto s = llama70b(R"({"tp": 8, "pp": 1, "sp": true, "zero": 0})");
  const auto fp32 = estimate_training(s.job, assumptions());
  s.job.plan.master_weight_bytes = 2.0;
  const auto residual = estimate_training(s.job, assumptions());
  // Adam's state per parameter: 4 (master) + 2 x 4 (moments) = 12 bytes, against 2 + 8 = 10.
  CHECK_THAT(residual.memory.optimizer_bytes, WithinRel(fp32.memory.optimizer_bytes * 10.0 / 12.0, 1e-12));
  CHECK(residual.step_time_s == fp32.step_time_s);
}

TEST_CASE("energy and ownership cost and worked by hand", "[models][estimator]") {
  // One node of 8 H100, no scale-out network. Facility power = PUE x (8 x 700 W x 0.8 + host power).
  auto s = test::scenario_from(nlohmann::json::parse(R"({
    "model": "llama3-8b", "cluster": {"chip": "h100-sxm", "chips": 8},
    "parallelism": {"tp": 1, "pp": 1},
    "training": {"seq_len": 8192, "global_batch": 128, "tokens": 1e10},
    "costs": {"pue": 1.25, "electricity_usd_per_kwh": 0.1,
              "ownership": {"chip_capex_usd": 30000, "node_capex_usd": 40000, "depreciation_years": 4}}})"));
  const auto e = estimate_training(s.job, assumptions());
  const double host_w = s.job.cluster.node.host_power.value;
  const double power_w = 1.25 * (8 * 700 * assumptions().chip_power_fraction_of_tdp + host_w);
  CHECK_THAT(e.energy_cost.facility_power_w, WithinRel(power_w, 1e-9));
  const double hours = e.train_s / 3600.0;
  const double kwh = power_w * hours / 1000.0;
  CHECK_THAT(e.energy_cost.energy_kwh, WithinRel(kwh, 1e-9));
  // Capex 8 x 30,000 + 40,000 = 280,000 over 4 x 8766 h, plus electricity.
  CHECK(e.energy_cost.capex_usd == 280000.0);
  CHECK_THAT(e.energy_cost.cost_usd, WithinRel(280000.0 / (4 * 8766.0) * hours + 0.1 * kwh, 1e-9));
}

namespace {
// Qwen3-30B-A3B on 16 H100 (2 nodes), EP 16 over the NICs: 48 MoE layers.
Scenario qwen3_moe(const std::string& plan_json, const std::string& training_extra = "{}") {
  auto json = nlohmann::json::parse(R"({
    "model": "qwen3-30b-a3b",
    "cluster": {"chip": "h100-sxm", "chips": 16},
    "training": {"seq_len": 4096, "global_batch": 64, "precision": "bf16", "tokens": 1e12}})");
  json["parallelism"] = nlohmann::json::parse(plan_json);
  json["training"].update(nlohmann::json::parse(training_extra));
  return test::scenario_from(json);
}
}  // namespace

TEST_CASE("MoE layers pay the per-MoE-layer overhead and a full-iteration graph pays none", "[models][estimator]") {
  const auto s = qwen3_moe(R"({"dp": 16, "ep": 16})");
  Assumptions a = assumptions();
  a.per_layer_overhead_s = 300e-6;
  a.per_moe_layer_overhead_s = 2e-3;
  const auto e = estimate_training(s.job, a);
  // 48 layers, all MoE, M = 64 / 16 = 4 micro-batches: 4 x 48 x (300 us + 2 ms) = 441.6 ms, plus the per-step one.
  CHECK_THAT(e.breakdown.overhead_s - a.per_step_overhead_s, WithinRel(4 * 48 * 2.3e-3, 1e-9));
  const auto graphed = qwen3_moe(R"({"dp": 16, "ep": 16})", R"({"cuda_graphs": "full_iteration"})");
  const auto g = estimate_training(graphed.job, a);
  CHECK_THAT(g.breakdown.overhead_s, WithinRel(a.per_step_overhead_s, 1e-12));
  CHECK_THAT(e.step_time_s - g.step_time_s, WithinRel(4 * 48 * 2.3e-3, 1e-6));
}

TEST_CASE("capacity-padded routing pays no per-MoE-layer overhead and computes every expert's capacity",
          "[models][estimator]") {
  Assumptions a = assumptions();
  a.per_layer_overhead_s = 300e-6;
  a.per_moe_layer_overhead_s = 2e-3;
  const auto dropless = qwen3_moe(R"({"dp": 16, "ep": 16})");
  const auto padded = qwen3_moe(R"({"dp": 16, "ep": 16, "moe_capacity_factor": 1.0})");
  // The token counts are known on the host: 4 micro-batches x 48 layers x 300 us = 57.6 ms, no 2 ms per MoE layer.
  CHECK_THAT(estimate_training(padded.job, a).breakdown.overhead_s - a.per_step_overhead_s,
             WithinRel(4 * 48 * 300e-6, 1e-9));
  CHECK_THAT(estimate_training(dropless.job, a).breakdown.overhead_s - a.per_step_overhead_s,
             WithinRel(4 * 48 * 2.3e-3, 1e-9));
  // At factor 1 a balanced router's experts compute what dropless ones do; at 1.25 each expert pads its 4,096
  // copies (4,096 tokens x 8 x 16 / 128) to 5,120 rows, so the expert GEMMs are those of 5,120-row groups.
  const auto topology = build_topology(topology_spec(dropless.job.cluster));
  const auto work = [&](const Scenario& s) { return build_step_work(s.job, topology, a).moe.ffn_forward; };
  CHECK_THAT(work(padded).gemm_s, WithinRel(work(dropless).gemm_s, 1e-12));
  const auto wide = qwen3_moe(R"({"dp": 16, "ep": 16, "moe_capacity_factor": 1.25})");
  const auto& k = a.kernels.at("hopper");
  const double rate = dropless.job.cluster.chip.sustained_flop_per_s(DataType::bf16);
  const auto gemm = [&](double m, double n, double kk) {
    return 2.0 * m * n * kk / (rate * gemm_efficiency(m, n, kk, k.gemm_bf16, k.gemm_half_dim) * k.grouped_gemm);
  };
  const auto routed = [&](double rows) { return 8.0 * (gemm(rows, 1536, 2048) + gemm(rows, 2048, 768)); };
  CHECK_THAT(work(wide).gemm_s - work(dropless).gemm_s, WithinRel(routed(5120) - routed(4096), 1e-9));
}

TEST_CASE("the routed experts' grouped GEMMs run at the grouped kernel's share of the dense efficiency",
          "[models][estimator]") {
  const auto s = qwen3_moe(R"({"dp": 16, "ep": 16})");
  const auto topology = build_topology(topology_spec(s.job.cluster));
  Assumptions a = assumptions();
  const auto with_grouped = [&](double fraction) {
    a.kernels.at("hopper").grouped_gemm = fraction;
    return build_step_work(s.job, topology, a);
  };
  const auto full = with_grouped(1.0);
  const auto half = with_grouped(0.5);
  // Qwen3-30B-A3B, ep 16, 4,096 tokens per chip: 128 / 16 = 8 experts here, each receiving 4,096 x 8 x 16 / 128 =
  // 4,096 token copies; per expert an up-and-gate GEMM 4096 x 1536 x 2048 and a down GEMM 4096 x 2048 x 768, at
  // the dense efficiency of those shapes when grouped_gemm is 1.
  const auto& k = a.kernels.at("hopper");
  const double rate = s.job.cluster.chip.sustained_flop_per_s(DataType::bf16);
  const auto gemm = [&](double m, double n, double kk) {
    return 2.0 * m * n * kk / (rate * gemm_efficiency(m, n, kk, k.gemm_bf16, k.gemm_half_dim));
  };
  const double routed = 8.0 * (gemm(4096, 1536, 2048) + gemm(4096, 2048, 768));
  // Halving the grouped kernel's share doubles the routed GEMMs' time and touches nothing else.
  CHECK_THAT(half.moe.ffn_forward.gemm_s - full.moe.ffn_forward.gemm_s, WithinRel(routed, 1e-9));
  CHECK(half.moe.attention_forward.gemm_s == full.moe.attention_forward.gemm_s);
  CHECK(half.moe.ffn_forward.memory_s == full.moe.ffn_forward.memory_s);
}

TEST_CASE("the dispatcher sets the token permutation passes around the experts", "[models][estimator]") {
  const auto memory_s = [](const std::string& dispatcher, int ep) {
    const auto s = qwen3_moe(fmt::format(R"({{"dp": 16, "ep": {}, "moe_dispatcher": "{}"}})", ep, dispatcher));
    return build_step_work(s.job, build_topology(topology_spec(s.job.cluster)), assumptions()).moe.ffn_forward.memory_s;
  };
  // Qwen3-30B-A3B, 4,096 tokens per chip, top-8: 32,768 copies of 2,048 bf16 elements. One pass each way (a read
  // and a write of every copy before the experts and after them) moves 2 x 2 x 2 B x 32,768 x 2,048 = 536,870,912
  // bytes; all-to-all with 128 / 16 = 8 local experts makes two each way, DeepEP and HybridEP one.
  const double pass = 536870912.0 / (test::catalogs().hardware.find_chip("h100-sxm")->hbm_bandwidth.value *
                                     assumptions().kernel("hopper").memory_bound);
  const double deepep = memory_s("deepep", 16);
  CHECK_THAT(memory_s("alltoall", 16) - deepep, WithinRel(pass, 1e-9));
  CHECK_THAT(memory_s("hybridep", 16), WithinRel(deepep, 1e-12));
  // With every expert on one chip there is no chunk to sort: all-to-all permutes once each way, as DeepEP does.
  CHECK_THAT(memory_s("alltoall", 1), WithinRel(memory_s("deepep", 1), 1e-12));
}

TEST_CASE("the all-gather dispatcher gathers the group's tokens and accumulates them back in fp32", "[models][estimator]") {
  const auto work = [](const std::string& dispatcher) {
    const auto s = qwen3_moe(fmt::format(R"({{"dp": 16, "ep": 4, "moe_dispatcher": "{}"}})", dispatcher));
    return build_step_work(s.job, build_topology(topology_spec(s.job.cluster)), assumptions()).moe;
  };
  const auto deepep = work("deepep");
  const auto gathered = work("allgather");
  // Qwen3-30B-A3B, 4,096 tokens per chip, top-8, 2,048 wide, ep 4 (32 local experts): 32,768 copies. DeepEP's path
  // moves 2 x 2 x 2 B = 8 B per copy element; the all-gather path 36 B (pick 4, sort and unsort 10, scale 4, fp32
  // accumulate 18) and 10 B per element of the 4 x 4,096 gathered tokens (zero the fp32 buffer, cast it to bf16):
  // (36 - 8) x 32,768 x 2,048 + 10 x 16,384 x 2,048 = 1,879,048,192 + 335,544,320 = 2,214,592,512 bytes more.
  const double rate = test::catalogs().hardware.find_chip("h100-sxm")->hbm_bandwidth.value *
                      assumptions().kernel("hopper").memory_bound;
  CHECK_THAT(gathered.ffn_forward.memory_s - deepep.ffn_forward.memory_s, WithinRel(2214592512.0 / rate, 1e-9));
  // The communication: an all-gather of the group's 4 x 4,096 tokens x 2,048 x 2 B = 67,108,864 bytes over 4 chips
  // of one node, and a reduce-scatter of the same buffer after the experts; each chip receives 3/4 of it, at the
  // NVSwitch's bus efficiency (folded into the bytes).
  REQUIRE(gathered.ep_dispatch.steps.size() == 1);
  const double received = 67108864.0 * 3 / 4 / assumptions().bus_efficiency_switch;
  CHECK_THAT(gathered.ep_dispatch.bytes(Path::scaleup), WithinRel(received, 1e-9));
  CHECK_THAT(gathered.ep_combine.bytes(Path::scaleup), WithinRel(received, 1e-9));
  CHECK(gathered.ffn_forward.gemm_s == deepep.ffn_forward.gemm_s);
}

TEST_CASE("a parallel block has one norm, one residual add and one block's worth of TP collectives a layer",
          "[models][estimator]") {
  const auto work = [](bool parallel) {
    auto json = nlohmann::json::parse(R"({
      "model": {"name": "gpt", "layers": 8, "hidden": 4096, "ffn": 16384, "heads": 32, "vocab": 32000,
                "ffn_act": "gelu"},
      "cluster": {"chip": "h100-sxm", "chips": 16},
      "parallelism": {"tp": 8, "dp": 2, "sp": true},
      "training": {"seq_len": 2048, "global_batch": 16, "precision": "bf16", "tokens": 1e12}})");
    json["model"]["parallel_block"] = parallel;
    const auto s = test::scenario_from(json);
    return build_step_work(s.job, build_topology(topology_spec(s.job.cluster)), assumptions()).dense;
  };
  const auto plain = work(false);
  const auto parallel = work(true);
  // 2,048 tokens x 4,096 wide, split 8 ways by SP: 2 M elements of 2 B each. A block's norm (read and write) and add
  // (read 2, write 1) move 5 passes; a parallel layer's one norm and one add of both outputs (read 3, write 1) 6, so
  // 3 a block: 2 passes x 2 B x 2,048 x 4,096 / 8 = 4,194,304 bytes less in each block.
  const double rate = test::catalogs().hardware.find_chip("h100-sxm")->hbm_bandwidth.value *
                      assumptions().kernel("hopper").memory_bound;
  CHECK_THAT(plain.attention_forward.memory_s - parallel.attention_forward.memory_s, WithinRel(4194304.0 / rate, 1e-9));
  CHECK_THAT(plain.ffn_forward.memory_s - parallel.ffn_forward.memory_s, WithinRel(4194304.0 / rate, 1e-9));
  // With SP, a block gathers its input and reduce-scatters its output; a parallel layer gathers once and
  // reduce-scatters once: half the collectives, the same GEMMs.
  CHECK_THAT(parallel.tp.time_s(), WithinRel(plain.tp.time_s() / 2, 1e-9));
  CHECK(parallel.ffn_forward.gemm_s == plain.ffn_forward.gemm_s);
  // Only for dense transformers.
  CHECK_THROWS_WITH(test::scenario_from(nlohmann::json::parse(R"({
      "model": {"name": "m", "layers": 2, "hidden": 64, "ffn": 128, "heads": 4, "vocab": 100, "parallel_block": true,
                "moe": {"experts": 8, "top_k": 2, "expert_ffn": 32}},
      "cluster": {"chip": "h100-sxm", "chips": 8},
      "training": {"seq_len": 64, "global_batch": 8, "precision": "bf16", "tokens": 1e9}})")),
                    Catch::Matchers::Contains("parallel_block"));
}

TEST_CASE("without userbuffers the backward's column-parallel collectives run beside its GEMMs",
          "[models][estimator]") {
  // Llama 3 70B, tp 8 without a pipeline: a layer's forward collectives (with SP an all-gather and a reduce-scatter a
  // block, without it an all-reduce) block as before. In the backward, the row-parallel layers' gradient all-gather
  // (SP: half a block's traffic) still blocks, and the column-parallel layers' reduce-scatter and input re-gather, or
  // the all-reduce without SP, hide behind the backward GEMMs (a 70B layer's, far longer): the exposed TP time is the
  // forward's F plus F / 2 with SP (3/4 of the blocking 2 F), F alone without it (1/2).
  for (const bool sp : {true, false}) {
    const std::string plan = fmt::format(R"({{"tp": 8, "pp": 1, "dp": 8, "sp": {}, "zero": 1}})", sp);
    auto async = llama70b(plan);
    auto blocking = llama70b(plan);
    blocking.job.plan.tp_async_backward = false;
    REQUIRE(async.job.plan.tp_async_backward);  // the default
    const auto a = estimate_training(async.job, assumptions());
    const auto b = estimate_training(blocking.job, assumptions());
    REQUIRE(b.breakdown.tp_s > 0);
    CHECK_THAT(a.breakdown.tp_s, WithinRel((sp ? 0.75 : 0.5) * b.breakdown.tp_s, 1e-9));
    CHECK(a.breakdown.compute_s() == b.breakdown.compute_s());
    // Userbuffers overlap sets both alike.
    async.job.plan.tp_comm_overlap = blocking.job.plan.tp_comm_overlap = true;
    CHECK(estimate_training(async.job, assumptions()).breakdown.tp_s ==
          estimate_training(blocking.job, assumptions()).breakdown.tp_s);
  }
}

TEST_CASE("combined 1F1B hides its share of the expert all-to-all", "[models][estimator]") {
  const auto plain = qwen3_moe(R"({"dp": 16, "ep": 16})");
  const auto paired = qwen3_moe(R"({"dp": 16, "ep": 16, "ep_comm_overlap": true})");
  Assumptions a = assumptions();
  a.ep_overlap_hidden_fraction = 0.6;
  const auto e = estimate_training(plain.job, a);
  const auto o = estimate_training(paired.job, a);
  // Without a pipeline every pass is on the critical path: the exposed EP time falls to 1 - 0.6 = 40 %.
  REQUIRE(e.breakdown.ep_s > 0);
  CHECK_THAT(o.breakdown.ep_s, WithinRel(0.4 * e.breakdown.ep_s, 1e-9));
  CHECK(o.breakdown.compute_s() == e.breakdown.compute_s());
}

TEST_CASE("bf16 gradients halve the data-parallel gradient bytes and nothing else", "[models][estimator]") {
  auto s = llama70b(R"({"tp": 8, "pp": 1, "dp": 8, "sp": true, "zero": 1})");
  const auto topology = build_topology(topology_spec(s.job.cluster));
  const auto fp32 = build_step_work(s.job, topology, assumptions());
  s.job.plan.gradient_bytes = 2.0;
  const auto bf16 = build_step_work(s.job, topology, assumptions());
  // The reduce-scatter over dp 8 (one GPU per node in each group: all of it over the NICs) carries half the bytes.
  CHECK_THAT(bf16.sync[0].gradients.bytes(Path::scaleout),
             WithinRel(0.5 * fp32.sync[0].gradients.bytes(Path::scaleout), 1e-12));
  CHECK(bf16.sync[0].parameters.bytes(Path::scaleout) == fp32.sync[0].parameters.bytes(Path::scaleout));
  // The optimizer reads the gradient: 8 + 16 + 2 + 2 = 28 bytes per parameter instead of 30.
  CHECK_THAT(bf16.sync[0].optimizer_s, WithinRel(fp32.sync[0].optimizer_s * 28.0 / 30.0, 1e-12));
}

TEST_CASE("expert tensor parallelism narrows the expert GEMMs and gathers the dispatched tokens", "[models][estimator]") {
  auto json = nlohmann::json::parse(R"({
    "model": "mixtral-8x7b",
    "cluster": {"chip": "h100-sxm", "chips": 8},
    "parallelism": {"tp": 2, "ep": 4, "sp": true},
    "training": {"seq_len": 4096, "global_batch": 16, "tokens": 1e9}})");
  const auto narrow = [&](int etp) {
    json["parallelism"]["etp"] = etp;
    const auto s = test::scenario_from(json);
    return build_step_work(s.job, build_topology(topology_spec(s.job.cluster)), assumptions());
  };
  const auto one = narrow(1);
  const auto two = narrow(2);
  // etp 2: each of the 2 experts here sees twice the tokens through half the width: the same FLOPs, so the expert
  // GEMM time moves only by the efficiency of the shapes; the dense parts are unchanged.
  CHECK(two.dense.tp.bytes(Path::scaleup) == one.dense.tp.bytes(Path::scaleup));
  CHECK_THAT(two.moe.ffn_forward.gemm_s, WithinRel(one.moe.ffn_forward.gemm_s, 0.1));
  // The dispatched copies (4096 / 2 tokens x top-2 per rank) are all-gathered over the 2 etp ranks and
  // reduce-scattered back: more scale-up traffic than the TP block's own collectives alone.
  CHECK(two.moe.tp.bytes(Path::scaleup) > one.moe.tp.bytes(Path::scaleup));
}

TEST_CASE("activation offloading moves layers' activations to the host and stalls only where the copies outlast compute",
          "[models][estimator][memory]") {
  // Llama 3 70B on 64 H100 without a pipeline, ZeRO-3: offload the first 40 of 80 layers.
  auto s = llama70b(R"({"tp": 1, "pp": 1, "dp": 64, "zero": 3, "micro_batch": 1, "offload_activation_layers": 40})");
  s.job.training.global_batch = 64;
  const auto& a = assumptions();
  const auto params = count_params(s.job.model);
  const double layer = activation_bytes_per_layer(s.job.model, false, s.job.plan, s.job.training);
  auto kept = s.job;
  kept.plan.offload_activation_layers = 0;
  // One micro-batch in flight: 40 layers' activations fewer on the chip.
  CHECK_THAT(training_memory(kept, params, a).activations_bytes - training_memory(s.job, params, a).activations_bytes,
             WithinRel(40.0 * layer, 1e-12));
  const auto topology = build_topology(topology_spec(s.job.cluster));
  const auto fast = build_step_work(s.job, topology, a);
  // PCIe Gen5, 63 GB/s: a layer's activations (8192 tokens x 274,688 bytes per token = 2.25 GB: norms, GEMM inputs,
  // Q, K, V, SwiGLU's three 28,672-wide tensors) take 36 ms each way, less than the layer's backward (its GEMMs alone
  // are 2 x 2 x 0.86 B parameters x 8192 tokens = 28 TFLOP, about 40 ms at H100's rate), and the 40 offloads queue
  // behind 79 layers' forward: nothing shows.
  CHECK(fast.offload_stall_s == 0.0);
  // A host link 100 times slower: the copies outlast the compute. Offloads: 40 c - 79 f; reloads: 40 (c - b).
  s.job.cluster.node.host_link_bandwidth_per_direction->value /= 100.0;
  const auto slow = build_step_work(s.job, topology, a);
  const double c = layer / s.job.cluster.node.host_link_bandwidth_per_direction->value;
  const double f = slow.dense.forward().compute_s();
  const double b = (slow.dense.backward() + slow.dense.recompute).compute_s();
  REQUIRE(c > b);
  CHECK_THAT(slow.offload_stall_s, WithinRel(40.0 * c - 79.0 * f + 40.0 * (c - b), 1e-12));
  CHECK_THAT(slow.overhead_s(slow.chunks[0]) - fast.overhead_s(fast.chunks[0]), WithinRel(slow.offload_stall_s, 1e-12));
}

TEST_CASE("Ulysses context parallelism all-to-alls Q, K, V and the output, and they block", "[models][estimator]") {
  auto json = nlohmann::json::parse(R"({
    "model": "llama3-8b",
    "cluster": {"chip": "h100-sxm", "chips": 8},
    "parallelism": {"tp": 1, "cp": 4, "cp_algo": "ulysses"},
    "training": {"seq_len": 8192, "global_batch": 8, "tokens": 1e9}})");
  const auto s = test::scenario_from(json);
  const auto topology = build_topology(topology_spec(s.job.cluster));
  const auto w = build_step_work(s.job, topology, assumptions());
  // 8192 / 4 = 2048 tokens here; Q and the output 32 heads x 128, K and V 8 heads x 128 each: 10,240 elements a
  // token, 2 bytes, of which 3/4 leave the chip: 2048 x 10240 x 2 x 3/4 = 31,457,280 bytes, over NVLink (counted at
  // the link's raw rate: divided by the all-to-all efficiency).
  const auto& a = assumptions();
  CHECK_THAT(w.dense.cp.bytes(Path::scaleup), WithinRel(31457280.0 / a.kernel("hopper").all_to_all_efficiency, 1e-12));
  CHECK(w.dense.cp_exchanges == 1);
  CHECK(w.dense.cp_backward_exchanges == 1);
  CHECK_FALSE(w.dense.cp_behind_attention);
  // Ring attention: 3 exchanges of K and V (2048 x 2048 x 2 bytes) forward, 6 backward, behind the attention.
  json["parallelism"]["cp_algo"] = "ring";
  const auto r = test::scenario_from(json);
  const auto ring = build_step_work(r.job, topology, assumptions());
  CHECK_THAT(ring.dense.cp.bytes(Path::scaleup), WithinRel(2048.0 * 2048.0 * 2.0 / a.bus_efficiency_switch, 1e-12));
  CHECK(ring.dense.cp_exchanges == 3);
  CHECK(ring.dense.cp_backward_exchanges == 6);
  // Ulysses' all-to-alls show in full in the step's CP time: one set forward and one backward in each of the 32
  // layers of every micro-batch.
  const auto e = estimate_training(s.job, assumptions());
  CHECK(e.breakdown.cp_s >= 2.0 * 32.0 * w.dense.cp.time_s() * static_cast<double>(e.micro_batches) * 0.99);
}

TEST_CASE("ring attention merges its steps through HBM, and its kernels each cover seq / cp tokens",
          "[models][estimator]") {
  // Llama 3 8B, 8192 tokens over cp 4: 2048 tokens a chip; Q and the output 2048 x 32 heads x 128 = 8,388,608
  // elements, K and V 2048 x 8 heads x (128 + 128) = 4,194,304. Three later steps: each element's merge costs
  // 4 + 3 / 2 x (6 + 3) = 17.5 B. Forward: 4 x 4,194,304 (K and V into the send buffer) + 17.5 x 8,388,608 (the
  // outputs merged) = 16,777,216 + 146,800,640 = 163,577,856 B; backward: 4 x 4,194,304 (the ring's buffer) + 17.5 x
  // (8,388,608 + 4,194,304) (dQ, dK and dV summed) = 16,777,216 + 220,200,960 = 236,978,176 B.
  const auto four = ring_attention_bytes(4, 8388608.0, 4194304.0, 8388608.0);
  CHECK_THAT(four.forward, WithinRel(163577856.0, 1e-12));
  CHECK_THAT(four.backward, WithinRel(236978176.0, 1e-12));
  // Two ranks, Transformer Engine's per-rank sums: rank 0 merges its causal step (4 B) and a half-query step (3 B),
  // rank 1 its causal step and a full-query one (6 B): 7 and 10 B an output element, 8.5 on average.
  const auto two = ring_attention_bytes(2, 1.0, 0.0, 1.0);
  CHECK_THAT(two.forward, WithinRel(8.5, 1e-12));
  CHECK_THAT(two.backward, WithinRel(8.5, 1e-12));

  auto json = nlohmann::json::parse(R"({
    "model": "llama3-8b",
    "cluster": {"chip": "h100-sxm", "chips": 8},
    "parallelism": {"tp": 1, "cp": 4, "cp_algo": "ulysses"},
    "training": {"seq_len": 8192, "global_batch": 8, "tokens": 1e9}})");
  const auto topology = build_topology(topology_spec(test::scenario_from(json).job.cluster));
  const auto ulysses = build_step_work(test::scenario_from(json).job, topology, assumptions());
  json["parallelism"]["cp_algo"] = "ring";
  const auto ring = build_step_work(test::scenario_from(json).job, topology, assumptions());
  const auto& hopper = assumptions().kernel("hopper");
  const double rate = test::catalogs().hardware.find_chip("h100-sxm")->hbm_bandwidth.value * hopper.memory_bound;
  // Ulysses moves none of it (its all-to-alls are communication), and each chip's kernel runs all 8192 tokens of
  // 8 heads, where a ring step's runs 2048 tokens of all 32: the same work at s / (s + half) of each length.
  CHECK_THAT(ring.dense.attention_forward.memory_s - ulysses.dense.attention_forward.memory_s,
             WithinRel(163577856.0 / rate, 1e-9));
  CHECK_THAT(ring.dense.attention_backward.memory_s - ulysses.dense.attention_backward.memory_s,
             WithinRel(236978176.0 / rate, 1e-9));
  const auto fill = [&](double s) { return s / (s + hopper.attention_half_seq); };
  CHECK_THAT(ring.dense.core_attention.attention_s / ulysses.dense.core_attention.attention_s,
             WithinRel(fill(8192.0) / fill(2048.0), 1e-9));
}

TEST_CASE("unfused RoPE moves Q and K through HBM five times as often as the fused kernel", "[models][estimator]") {
  auto json = nlohmann::json::parse(R"({
    "model": "llama3-8b",
    "cluster": {"chip": "h100-sxm", "chips": 8},
    "parallelism": {"dp": 8},
    "training": {"seq_len": 8192, "global_batch": 8, "tokens": 1e9}})");
  const auto topology = build_topology(topology_spec(test::scenario_from(json).job.cluster));
  const auto fused = build_step_work(test::scenario_from(json).job, topology, assumptions());
  json["training"]["rope_fusion"] = false;
  const auto unfused = build_step_work(test::scenario_from(json).job, topology, assumptions());
  const double rate = test::catalogs().hardware.find_chip("h100-sxm")->hbm_bandwidth.value *
                      assumptions().kernel("hopper").memory_bound;
  // Fused: read and write Q and K once, 2 x 2 bytes x 8,192 tokens x (32 + 8 heads) x 128 = 167,772,160 bytes a
  // layer; unfused five times that, 4 x 167,772,160 = 671,088,640 bytes more in the forward and twice that in the
  // backward.
  CHECK_THAT(unfused.dense.attention_forward.memory_s - fused.dense.attention_forward.memory_s,
             WithinRel(671088640.0 / rate, 1e-9));
  CHECK_THAT(unfused.dense.attention_backward.memory_s - fused.dense.attention_backward.memory_s,
             WithinRel(2.0 * 671088640.0 / rate, 1e-9));
}

TEST_CASE("gpt-oss's clamped activation and expert biases cost element-wise passes unless the expert MLP is fused",
          "[models][estimator]") {
  auto json = nlohmann::json::parse(R"({
    "model": "gpt-oss-120b",
    "cluster": {"chip": "b200", "chips": 8},
    "parallelism": {"ep": 8},
    "training": {"seq_len": 4096, "global_batch": 8, "tokens": 1e9}})");
  const auto work = [&](bool fused, bool plain) {
    json["training"]["fused_expert_mlp"] = fused;
    auto s = test::scenario_from(json);
    if (plain) s.job.model.moe->expert_bias = s.job.model.moe->clamped_activation = false;
    return build_step_work(s.job, build_topology(topology_spec(s.job.cluster)), assumptions());
  };
  const double eager = work(false, false).moe.ffn_forward.memory_s;
  const double fused = work(true, false).moe.ffn_forward.memory_s;
  const double plain = work(false, true).moe.ffn_forward.memory_s;
  CHECK(fused == plain);  // the fused kernels do the clamps and the bias in the GEMMs' epilogues
  // One micro-batch of 4096 tokens, 4 copies each: 16,384 copies. The clamps and their concatenation move 8 x 2880
  // bf16 elements per copy, the FC2 bias loop 5 x 2880: 13 x 2880 x 2 B x 16,384 = 1,226,833,920 bytes, at B200's
  // 8 TB/s times the Blackwell memory-bound efficiency.
  const double rate = test::catalogs().hardware.find_chip("b200")->hbm_bandwidth.value *
                      assumptions().kernel("blackwell").memory_bound;
  CHECK_THAT(eager - plain, WithinRel(1226833920.0 / rate, 1e-9));
}

TEST_CASE("unfused gradient accumulation adds each weight's gradient to the main gradient every micro-batch",
          "[models][estimator]") {
  const auto work = [](Scenario s, bool fused) {
    s.job.training.gradient_accumulation_fusion = fused;
    return build_step_work(s.job, build_topology(topology_spec(s.job.cluster)), assumptions());
  };
  const double rate = test::catalogs().hardware.find_chip("h100-sxm")->hbm_bandwidth.value *
                      assumptions().kernel("hopper").memory_bound;
  // Llama 3 70B at tp 8, fp32 main gradients: read the bf16 gradient (2 B), read and write the main one (4 + 4 B).
  // Attention block: q and o 8192 x 8192 each, k and v 8192 x 1024 each, plus its norm's 8192:
  // 8192 x 18432 + 8192 = 151,003,136 weights, 18,875,392 per chip: 188,753,920 bytes.
  // FFN block: gate, up and down 3 x 8192 x 28672 plus its norm: 704,651,264 weights, 88,081,408 per chip:
  // 880,814,080 bytes.
  const auto dense = llama70b(R"({"tp": 8, "dp": 8})");
  const auto fused = work(dense, true).dense;
  const auto unfused = work(dense, false).dense;
  CHECK_THAT(unfused.attention_backward.memory_s - fused.attention_backward.memory_s, WithinRel(188753920.0 / rate, 1e-9));
  CHECK_THAT(unfused.ffn_backward.memory_s - fused.ffn_backward.memory_s, WithinRel(880814080.0 / rate, 1e-9));
  CHECK(unfused.attention_forward.memory_s == fused.attention_forward.memory_s);  // the forward is untouched
  // Qwen3-30B-A3B at ep 16: 8 of the 128 experts here, each 3 x 2048 x 768 = 4,718,592 weights, plus the router
  // (2048 x 128) and the norm: 37,748,736 + 262,144 + 2048 = 38,012,928 weights: 380,129,280 bytes.
  const auto moe = qwen3_moe(R"({"dp": 16, "ep": 16})");
  CHECK_THAT(work(moe, false).moe.ffn_backward.memory_s - work(moe, true).moe.ffn_backward.memory_s,
             WithinRel(380129280.0 / rate, 1e-9));
  // bf16 main gradients: 2 + 2 + 2 = 6 bytes a weight instead of 10.
  auto bf16 = dense;
  bf16.job.plan.gradient_bytes = 2.0;
  CHECK_THAT(work(bf16, false).dense.ffn_backward.memory_s - work(bf16, true).dense.ffn_backward.memory_s,
             WithinRel(88081408.0 * 6.0 / rate, 1e-9));
}

TEST_CASE("DualPipe's kernels run on the SMs its all-to-all kernels leave", "[models][estimator]") {
  // DeepSeek-V3 on 2,048 H800 (DualPipe, pp 16, ep 64): 20 of the H800's 132 SMs carry the all-to-alls (DeepSeek-V3
  // report, section 3.2.2), so every kernel takes 1 / (1 - 20/132) = 132/112 = 1.1786 times as long as under an
  // interleaved schedule of the same plan (0.152 in assumptions.json: 1 / 0.848 = 1.1792).
  auto s = load_scenario(std::filesystem::path(FLOPCAST_SOURCE_ROOT) / "scenarios/shipped/deepseek-v3-h800.json",
                         test::catalogs());
  REQUIRE(s.job.plan.schedule == Schedule::dualpipe);
  const auto topology = build_topology(topology_spec(s.job.cluster));
  const auto dual = build_step_work(s.job, topology, assumptions());
  s.job.plan.schedule = Schedule::interleaved;
  s.job.plan.vpp = 1;
  s.job.plan.layout = PipelineLayout::even;
  const auto plain = build_step_work(s.job, topology, assumptions());
  const double share = assumptions().kernel("hopper").all_to_all_sm_fraction;
  CHECK_THAT(share, WithinAbs(20.0 / 132.0, 0.001));
  CHECK_THAT(dual.moe.ffn_forward.gemm_s, WithinRel(plain.moe.ffn_forward.gemm_s / 0.848, 1e-9));
  CHECK_THAT(dual.dense.attention_backward.compute_s(),
             WithinRel(plain.dense.attention_backward.compute_s() / 0.848, 1e-9));
  CHECK_THAT(dual.head.gemm_s, WithinRel(plain.head.gemm_s / 0.848, 1e-9));
  // The collectives are the same: only the kernels slow down.
  CHECK(dual.moe.ep_dispatch.time_s() == plain.moe.ep_dispatch.time_s());
  // Without expert parallelism nothing holds SMs apart.
  s.job.plan.ep = 1;
  const auto no_ep = build_step_work(s.job, topology, assumptions());
  s.job.plan.schedule = Schedule::dualpipe;
  CHECK(build_step_work(s.job, topology, assumptions()).moe.ffn_forward.gemm_s == no_ep.moe.ffn_forward.gemm_s);
}

TEST_CASE("userbuffers overlap splits the all-gather GEMMs into tp chunks and runs others on the SMs it leaves",
          "[models][estimator]") {
  // Llama 3 70B on H100 at tp 8 with SP, 8,192 tokens a micro-batch (T). With H the GEMM fill's half-dimension,
  // a GEMM's time goes as (m + H) / m in each dimension (gemm_efficiency), so:
  // - a ring exchange (tp GEMMs of T / 8 rows) takes (1024 + H) / 1024 x 8192 / (8192 + H) of the plain GEMM;
  // - the bf16 pipelined reduce-scatter (4 splits of the 8,192 output columns, 2,048 each) takes
  //   (2048 + H) / 2048 x 8192 / (8192 + H) of it, on 132 - 16 = 116 of the 132 SMs for FC2 (x 132 / 116);
  // - FC1's backward GEMMs run beside bulk overlaps taking 2 SMs (input gradient) and 4 SMs (weight gradient):
  //   2 / 130 + 4 / 128 more; FC2's input gradient is a ring exchange.
  const auto work = [](Scenario s, bool overlap) {
    s.job.plan.tp_comm_overlap = overlap;
    return build_step_work(s.job, build_topology(topology_spec(s.job.cluster)), assumptions()).dense;
  };
  const auto s = llama70b(R"({"tp": 8, "dp": 8, "sp": true})");
  const auto& k = assumptions().kernel("hopper");
  const double rate = test::catalogs().hardware.find_chip("h100-sxm")->sustained_flop_per_s(DataType::bf16);
  const auto gemm = [&](double m, double n, double kk) {
    return 2.0 * m * n * kk / (rate * gemm_efficiency(m, n, kk, k.gemm_bf16, k.gemm_half_dim));
  };
  const double h = k.gemm_half_dim;
  const double ring = (1024.0 + h) / 1024.0 * 8192.0 / (8192.0 + h);
  const double split = (2048.0 + h) / 2048.0 * 8192.0 / (8192.0 + h);
  const double fc1 = gemm(8192, 2.0 * 28672 / 8, 8192);  // gate and up, 7,168 wide here
  const double fc2 = gemm(8192, 8192, 28672.0 / 8);
  const auto plain = work(s, false);
  const auto overlapped = work(s, true);
  CHECK_THAT(overlapped.ffn_forward.gemm_s - plain.ffn_forward.gemm_s,
             WithinRel(fc1 * (ring - 1.0) + fc2 * (split * 132.0 / 116.0 - 1.0), 1e-9));
  CHECK_THAT(overlapped.ffn_backward.gemm_s - plain.ffn_backward.gemm_s,
             WithinRel(fc1 * (2.0 / 130.0 + 4.0 / 128.0) + fc2 * (ring - 1.0), 1e-9));
  // The memory-bound kernels and the collectives are those of the plain plan.
  CHECK(overlapped.ffn_forward.memory_s == plain.ffn_forward.memory_s);
  CHECK(overlapped.tp.time_s() == plain.tp.time_s());
  // fp8: the forward reduce-scatter is a ring exchange on all SMs but one.
  auto fp8 = s;
  fp8.job.training.precision = Precision::fp8;
  const auto gemm8 = [&](double m, double n, double kk) {
    const double peak = test::catalogs().hardware.find_chip("h100-sxm")->sustained_flop_per_s(DataType::fp8);
    return 2.0 * m * n * kk / (peak * gemm_efficiency(m, n, kk, k.gemm_fp8, k.gemm_half_dim));
  };
  CHECK_THAT(work(fp8, true).ffn_forward.gemm_s - work(fp8, false).ffn_forward.gemm_s,
             WithinRel(gemm8(8192, 7168, 8192) * (ring - 1.0) +
                           gemm8(8192, 8192, 3584) * (ring * 132.0 / 131.0 - 1.0), 1e-9));
  // A chip without SMs in the catalog (Ascend's MC2) only splits the GEMMs: its backward bulk GEMMs are plain.
  auto ascend = s;
  ascend.job.cluster.chip = *test::catalogs().hardware.find_chip("ascend-910b");
  const auto ascend_plain = work(ascend, false);
  const auto ascend_overlapped = work(ascend, true);
  CHECK(ascend_overlapped.ffn_forward.gemm_s > ascend_plain.ffn_forward.gemm_s);
  const auto& ka = assumptions().kernel(ascend.job.cluster.chip.family);
  const double ascend_rate = ascend.job.cluster.chip.sustained_flop_per_s(DataType::bf16);
  const double ascend_fc2 = 2.0 * 8192.0 * 8192.0 * 3584.0 /
                            (ascend_rate * gemm_efficiency(8192, 8192, 3584, ka.gemm_bf16, ka.gemm_half_dim));
  const double ascend_ring = (1024.0 + ka.gemm_half_dim) / 1024.0 * 8192.0 / (8192.0 + ka.gemm_half_dim);
  CHECK_THAT(ascend_overlapped.ffn_backward.gemm_s - ascend_plain.ffn_backward.gemm_s,
             WithinRel(ascend_fc2 * (ascend_ring - 1.0), 1e-9));
}

TEST_CASE("a plan without TP overlap can only win where some layer's pass is longer with it", "[models][estimator]") {
  const auto topology = [](const Scenario& s) { return build_topology(topology_spec(s.job.cluster)); };
  const auto step = [](Scenario s, bool overlap) {
    s.job.plan.tp_comm_overlap = overlap;
    return estimate_training(s.job, assumptions()).step_time_s;
  };
  // Without tensor parallelism there is nothing to overlap.
  const auto single = llama70b(R"({"tp": 1, "pp": 8, "dp": 8, "recompute": "full"})");
  CHECK(tp_overlap_never_slower(single.job, assumptions(), topology(single)));
  // Llama 3 70B at tp 8, 8K tokens: each block's collective moves 8192 x 8192 x 2 bytes, more than the overlap's
  // chunked GEMMs and SMs cost, so the plan with it is never slower, and tier 1 agrees.
  const auto big = llama70b(R"({"tp": 8, "pp": 8, "dp": 1, "sp": true, "schedule": "1f1b"})");
  REQUIRE(tp_overlap_never_slower(big.job, assumptions(), topology(big)));
  CHECK(step(big, true) <= step(big, false));
  // The zero-bubble schedules run the weight-gradient GEMMs apart, and the overlap's bulk reduce-scatter lengthens
  // them: the plan without it is modelled too.
  auto zb = big;
  zb.job.plan.schedule = Schedule::zero_bubble;
  CHECK_FALSE(tp_overlap_never_slower(zb.job, assumptions(), topology(zb)));
}
