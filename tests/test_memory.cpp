#include "helpers.hpp"

#include "flopcast/models/memory.hpp"

using namespace flopcast;

namespace {
// GPT-3 175B as in Korthikanti et al. 2022: MHA, GELU FFN of 4h, dropout, no FlashAttention.
ModelArch gpt3() {
  ModelArch m = *test::catalogs().models.find("gpt3-175b");
  return m;
}
TrainingSetup korthikanti_training() {
  return TrainingSetup{.seq_len = 2048, .global_batch = 64, .dropout = true, .flash_attention = false};
}
}  // namespace

TEST_CASE("activation memory per layer against Korthikanti et al. 2022", "[models][memory]") {
  // s = 2048, b = 1, h = 12288, a = 96, t = 8: sbh = 25,165,824; 5as/h = 5 x 96 x 2048 / 12288 = 80.
  const auto model = gpt3();
  const auto training = korthikanti_training();
  ParallelPlan plan{.tp = 8};
  // No parallelism: sbh (34 + 5as/h)... with t = 8 and no SP: sbh (10 + 24/t + 5as/(ht)) = sbh (10 + 3 + 10)
  //   = 25,165,824 x 23 = 578,813,952 bytes.
  CHECK(activation_bytes_per_layer(model, false, plan, training) == 578813952.0);
  // TP + SP: sbh/t (34 + 5as/h) = 3,145,728 x 114 = 358,612,992 bytes.
  plan.sp = true;
  CHECK(activation_bytes_per_layer(model, false, plan, training) == 358612992.0);
  // TP + SP + selective recompute: 34 sbh / t = 106,954,752 bytes.
  plan.recompute = Recompute::selective;
  CHECK(activation_bytes_per_layer(model, false, plan, training) == 106954752.0);
  // FP8 keeps four GEMM inputs at one byte: QKV and FFN inputs (h each), output-projection input (h), FC2 input (4h):
  //   34 - 7 = 27 sbh / t = 3,145,728 x 27 = 84,934,656 bytes.
  auto fp8 = training;
  fp8.precision = Precision::fp8;
  CHECK(activation_bytes_per_layer(model, false, plan, fp8) == 84934656.0);
  // Full recompute: only the layer input, 2 sbh / t with SP = 6,291,456 bytes, in FP8 training too.
  plan.recompute = Recompute::full;
  CHECK(activation_bytes_per_layer(model, false, plan, training) == 6291456.0);
  CHECK(activation_bytes_per_layer(model, false, plan, fp8) == 6291456.0);
  // No parallelism at all: sbh (34 + 5as/h) = 25,165,824 x 114 = 2,868,903,936 bytes.
  CHECK(activation_bytes_per_layer(model, false, ParallelPlan{}, training) == 2868903936.0);
}

TEST_CASE("micro-batches in flight per schedule", "[models][memory]") {
  // 1F1B: the first stage holds pp micro-batches; interleaving adds (pp-1)/(pp vpp) (Narayanan et al. 2021);
  // GPipe holds all; DualPipe PP + 1 (DeepSeek-V3 report, table 2).
  CHECK(micro_batches_in_flight({.pp = 8, .schedule = Schedule::one_f_one_b}, 64) == 8.0);
  CHECK(micro_batches_in_flight({.pp = 8, .schedule = Schedule::one_f_one_b}, 4) == 4.0);
  CHECK(micro_batches_in_flight({.pp = 8, .vpp = 2, .schedule = Schedule::interleaved}, 64) == 8.0 * (1.0 + 7.0 / 16.0));
  CHECK(micro_batches_in_flight({.pp = 8, .schedule = Schedule::gpipe}, 64) == 64.0);
  CHECK(micro_batches_in_flight({.pp = 16, .schedule = Schedule::dualpipe}, 120) == 17.0);
}

TEST_CASE("memory per chip is the sum of its parts and ZeRO shards what it says", "[models][memory]") {
  auto scenario = test::scenario_from(nlohmann::json::parse(R"({
    "model": "llama3-70b",
    "cluster": {"chip": "h100-sxm", "chips": 64},
    "parallelism": {"tp": 8, "pp": 4, "sp": true, "zero": 0, "vpp": 5, "micro_batch": 1},
    "training": {"seq_len": 4096, "global_batch": 32, "tokens": 1e9}})"));
  const auto params = count_params(scenario.job.model);
  const auto zero0 = training_memory(scenario.job, params, test::catalogs().assumptions);
  CHECK(zero0.total_bytes == zero0.weights_bytes + zero0.gradients_bytes + zero0.optimizer_bytes +
                                 zero0.activations_bytes + zero0.reserved_bytes);
  // Without sharding: 2 (weights) + 4 (gradients) + 12 (optimizer) bytes per parameter held.
  CHECK(zero0.optimizer_bytes == 6.0 * zero0.weights_bytes);
  scenario.job.plan.zero = 1;  // optimizer states split over dp = 2
  const auto zero1 = training_memory(scenario.job, params, test::catalogs().assumptions);
  CHECK(zero1.optimizer_bytes == zero0.optimizer_bytes / 2.0);
  CHECK(zero1.gradients_bytes == zero0.gradients_bytes);
  scenario.job.plan.zero = 3;
  const auto zero3 = training_memory(scenario.job, params, test::catalogs().assumptions);
  CHECK(zero3.weights_bytes == zero0.weights_bytes / 2.0);
}
