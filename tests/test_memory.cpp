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
  // Combined 1F1B (ep_comm_overlap): one more warm-up chunk on the interleaved schedule, 2 x 7 + 8 + 1 + 1 = 24
  // chunks of 1/2 the stage: 12 micro-batches; without a pipeline the pair's forward stores what its backward frees.
  CHECK(micro_batches_in_flight({.pp = 8, .ep = 8, .vpp = 2, .schedule = Schedule::interleaved, .ep_comm_overlap = true},
                                64) == 12.0);
  CHECK(micro_batches_in_flight({.pp = 1, .ep = 8, .ep_comm_overlap = true}, 64) == 1.0);
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

TEST_CASE("recompute modules drop their tensors, by hand", "[models][memory]") {
  // GPT-3 175B at t = 8 with SP, FlashAttention, bf16, no dropout: sbh / t = 2048 x 12288 / 8 = 3,145,728 elements.
  const auto model = gpt3();
  TrainingSetup training{.seq_len = 2048, .global_batch = 64};
  ParallelPlan plan{.tp = 8, .sp = true, .recompute = Recompute::selective};
  const double base = activation_bytes_per_layer(model, false, plan, training);
  // layernorm: the two norm outputs (the QKV and FC1 inputs), 2 bytes x 2 x sbh / t = 12,582,912 bytes fewer.
  plan.recompute_modules.layernorm = true;
  CHECK(base - activation_bytes_per_layer(model, false, plan, training) == 12582912.0);
  // mlp instead: the GELU FFN's input-side tensors of 4h (its up output and the FC2 input), 2 x 2 x 4 sbh / t
  //   = 50,331,648 bytes fewer (the FFN's input stays: it is the second norm's output).
  plan.recompute_modules = {};
  plan.recompute_modules.mlp = true;
  CHECK(base - activation_bytes_per_layer(model, false, plan, training) == 50331648.0);
  // Listing modules replaces selective's default (the attention core, which FlashAttention keeps small anyway).
  CHECK(plan.recomputed().core_attn == false);
  CHECK(ParallelPlan{.recompute = Recompute::selective}.recomputed().core_attn == true);
  CHECK(ParallelPlan{.recompute = Recompute::full}.recomputed().any() == false);
}

TEST_CASE("per-operator checkpointing saves every other matmul output, by hand", "[models][memory]") {
  // Llama 3 8B (h 4096, 32 heads and 8 KV heads of 128, SwiGLU FFN 14336), 8192 tokens, no TP, bf16.
  const auto& model = *test::catalogs().models.find("llama3-8b");
  TrainingSetup training{.seq_len = 8192, .global_batch = 8};
  ParallelPlan plan{.recompute = Recompute::per_op};
  // The block's aten.mm calls: wq 4096, wk 1024, wv 1024, wo 4096, w1 14336, w3 14336, w2 4096 (w2 not needed).
  const auto mm = block_matmuls(model, false, 1);
  REQUIRE(mm.size() == 7);
  CHECK(mm[1].out == 1024.0);
  CHECK(mm[6].needed == false);
  // Saved: the block input (4096), wq, wv, w1, w2 (the 1st, 3rd, 5th, 7th: 4096 + 1024 + 14336 + 4096 = 23552),
  // attention's output (32 x 128 = 4096 x 2 bytes) and log-sum-exp (32 x 4 bytes), per token:
  //   2 x (4096 + 23552 + 4096) + 128 = 63616 bytes x 8192 tokens = 521,142,272 bytes.
  CHECK(activation_bytes_per_layer(model, false, plan, training) == 521142272.0);
  // FP8 saves the same: torchao's Float8Linear calls torch.mm on its float8 tensors, which the checkpoint policy
  // sees as aten.mm (the outputs it saves are bf16 either way).
  training.precision = Precision::fp8;
  CHECK(activation_bytes_per_layer(model, false, plan, training) == 521142272.0);
  CHECK(per_op_saves(0));
  CHECK(per_op_saves(2));
  CHECK_FALSE(per_op_saves(3));
}

TEST_CASE("block-scaled precisions save and quantise what they say", "[models][memory]") {
  // Saved GEMM inputs: fp8 1 byte; MXFP8 1 + 1/32 (an 8-bit scale per 32); NVFP4 0.5 + 1/16 (an FP8 scale per 16).
  CHECK(saved_gemm_input_bytes(Precision::bf16) == 2.0);
  CHECK(saved_gemm_input_bytes(Precision::fp8) == 1.0);
  CHECK(saved_gemm_input_bytes(Precision::mxfp8) == 1.03125);
  CHECK(saved_gemm_input_bytes(Precision::nvfp4) == 0.5625);
  // Quantisation traffic per element: read 2 and write 1 (fp8); read 2, write two 1.03125-byte copies (MXFP8) =
  // 4.0625; read 2, write two 0.5625-byte copies, Hadamard transform reading 2 and writing 0.5625 (NVFP4) = 5.6875.
  CHECK(quantise_bytes_per_element(Precision::fp8) == 3.0);
  CHECK(quantise_bytes_per_element(Precision::mxfp8) == 4.0625);
  CHECK(quantise_bytes_per_element(Precision::nvfp4) == 5.6875);
  CHECK(gemm_data_type(Precision::nvfp4) == DataType::nvfp4);
}

TEST_CASE("in-flight micro-batches per pipeline device never exceed the step's", "[models][memory]") {
  // Interleaved, pp 16, vpp 2: rank 0 warms up 2 x 15 + 1 x 16 = 46 chunks and keeps one more in flight: 47 chunks
  // of half a stage = 23.5 stages' worth (Narayanan et al.'s 16 (1 + 15/32)). With 16 micro-batches the step has only
  // 32 chunks: 16. Rank 15 warms up 16 chunks: 17 / 2 = 8.5.
  const ParallelPlan plan{.pp = 16, .vpp = 2, .schedule = Schedule::interleaved};
  CHECK(micro_batches_in_flight(plan, 64, 0) == 23.5);
  CHECK(micro_batches_in_flight(plan, 16, 0) == 16.0);
  CHECK(micro_batches_in_flight(plan, 64, 15) == 8.5);
  // 1F1B: stage i holds min(m, pp - i).
  CHECK(micro_batches_in_flight({.pp = 8, .schedule = Schedule::one_f_one_b}, 64, 5) == 3.0);
  // ZB-H1: stage i adds up to i micro-batches awaiting their weight pass: min(m, pp) on every stage.
  CHECK(micro_batches_in_flight({.pp = 8, .schedule = Schedule::zero_bubble}, 64, 5) == 8.0);
  CHECK(micro_batches_in_flight({.pp = 8, .schedule = Schedule::zero_bubble}, 4, 0) == 4.0);
}

TEST_CASE("a stage's dense and MoE layers are its share of the model's leading dense layers", "[models][memory]") {
  // DeepSeek-V3: 61 layers, the first 3 dense. Listed 2, 2, 57: stage 0 holds layers 0-1 (both dense), stage 1
  // layers 2-3 (one dense, one MoE), stage 2 the other 57 (all MoE). Layer by layer (layer_kind) gives the same.
  const auto model = *test::catalogs().models.find("deepseek-v3");
  ParallelPlan plan{.pp = 3};
  plan.layout = PipelineLayout::listed;
  plan.stage_layers = {2, 2, 57};
  const auto stages = stage_layouts(model, plan, 3);
  REQUIRE(stages.size() == 3);
  CHECK(stages[0].dense_layers == 2);
  CHECK(stages[0].moe_layers == 0);
  CHECK(stages[1].dense_layers == 1);
  CHECK(stages[1].moe_layers == 1);
  CHECK(stages[2].dense_layers == 0);
  CHECK(stages[2].moe_layers == 57);
  int layer = 0;
  for (const auto& stage : stages) {
    StageLayout by_layer;
    for (int i = 0; i < stage.layers(); ++i) by_layer.count(model.layer_kind(layer++)) += 1;
    CHECK(by_layer.dense_layers == stage.dense_layers);
    CHECK(by_layer.moe_layers == stage.moe_layers);
  }
}

TEST_CASE("pipeline layouts: listed, balanced, and DualPipe's stage pairs", "[models][memory]") {
  const auto model = *test::catalogs().models.find("deepseek-v3");  // 61 layers (3 dense), 1 MTP module
  ParallelPlan plan{.pp = 16, .schedule = Schedule::dualpipe};
  plan.layout = PipelineLayout::listed;
  plan.stage_layers = std::vector<int>(15, 4);
  plan.stage_layers.push_back(1);
  const auto listed = stage_layouts(model, plan, 16);
  CHECK(listed.front().dense_layers == 3);
  CHECK(listed.front().moe_layers == 1);
  CHECK(listed.back().layers() == 1);
  CHECK(listed.back().head);
  CHECK(listed.back().mtp_modules == 1);
  // DualPipe's device 1 holds stages 1 and 14.
  const auto held = device_stages(plan, listed, 1);
  REQUIRE(held.size() == 2);
  CHECK(held[0].layers() + held[1].layers() == 8);
  // Balanced, 1F1B: the head and the MTP module weigh h + 1 + h layers (h = the head's share, about 1.58 for this
  // model), so the last stage gets one layer and the others four: 15 x 4 + 1 = 61; the last carries 1 + 4.2 layers.
  ParallelPlan balanced{.pp = 16};
  balanced.layout = PipelineLayout::balanced;
  const double head = head_layer_equivalents(model);
  CHECK(head > 1.5);
  CHECK(head < 1.7);
  const auto layout = stage_layouts(model, balanced, 16);
  CHECK(layout.back().layers() == 1);
  CHECK(layout[7].layers() == 4);
}

TEST_CASE("FSDP without resharding holds the gathered weights, HSDP and bf16 moments shard less and store less",
          "[models][memory]") {
  auto scenario = test::scenario_from(nlohmann::json::parse(R"({
    "model": "llama3-70b",
    "cluster": {"chip": "h100-sxm", "chips": 64},
    "parallelism": {"tp": 8, "pp": 1, "zero": 3, "micro_batch": 1},
    "training": {"seq_len": 4096, "global_batch": 32, "tokens": 1e9}})"));
  const auto params = count_params(scenario.job.model);
  const auto& a = test::catalogs().assumptions;
  // dp 8: weights, gradients and optimizer states an eighth each; resharding after the forward holds two layers'
  // unsharded bf16 weights (the one in use and the prefetched one); without it, all of them (8 x the sharded ones).
  const auto reshard = training_memory(scenario.job, params, a);
  scenario.job.plan.reshard_after_forward = false;
  const auto kept = training_memory(scenario.job, params, a);
  CHECK_THAT(kept.gathered_weights_bytes, Catch::Matchers::WithinRel(8.0 * kept.weights_bytes, 1e-12));
  CHECK(reshard.gathered_weights_bytes < kept.gathered_weights_bytes / 10.0);
  // HSDP over groups of 4: every sharded part doubles.
  scenario.job.plan.shard_group = 4;
  const auto hybrid = training_memory(scenario.job, params, a);
  CHECK_THAT(hybrid.optimizer_bytes, Catch::Matchers::WithinRel(2.0 * kept.optimizer_bytes, 1e-12));
  // bf16 moments: 4 + 2 x 2 = 8 bytes per parameter instead of 4 + 2 x 4 = 12.
  scenario.job.plan.optimizer_moment_bytes = 2.0;
  const auto bf16_moments = training_memory(scenario.job, params, a);
  CHECK_THAT(bf16_moments.optimizer_bytes, Catch::Matchers::WithinRel(hybrid.optimizer_bytes * 8.0 / 12.0, 1e-12));
}

TEST_CASE("model states per chip against the ZeRO paper's figure 1", "[models][memory]") {
  // Rajbhandari et al. 2020 (arXiv:1910.02054), figure 1: a 7.5 B-parameter model on 64 GPUs with mixed-precision
  // Adam (2 bytes of fp16 weights, 2 of fp16 gradients, K = 12 of fp32 master weights and moments) holds
  //   baseline 16 x 7.5 GB = 120 GB; P_os (2 + 2 + 12/64) x 7.5 = 31.4 GB; P_os+g (2 + 14/64) x 7.5 = 16.6 GB;
  //   P_os+g+p 16/64 x 7.5 = 1.9 GB per GPU.
  // flopcast's ZeRO 0-3 with 2-byte gradients, per parameter of a model on 64 chips (dp 64), scaled to 7.5 B.
  auto scenario = test::scenario_from(nlohmann::json::parse(R"({
    "model": "llama3-8b",
    "cluster": {"chip": "h100-sxm", "chips": 64},
    "parallelism": {"tp": 1, "pp": 1, "zero": 0, "micro_batch": 1, "gradients": "bf16"},
    "training": {"seq_len": 4096, "global_batch": 64, "tokens": 1e9}})"));
  const auto params = count_params(scenario.job.model);
  const auto& a = test::catalogs().assumptions;
  const double published_gb[] = {120.0, 31.4, 16.6, 1.9};
  for (int zero = 0; zero <= 3; ++zero) {
    scenario.job.plan.zero = zero;
    const auto m = training_memory(scenario.job, params, a);
    const double states_per_param = (m.weights_bytes + m.gradients_bytes + m.optimizer_bytes) / params.total;
    CHECK_THAT(states_per_param * 7.5, Catch::Matchers::WithinAbs(published_gb[zero], 0.05));
  }
}

TEST_CASE("PyTorch's loss holds three fp32 copies of the logits where a fused one holds one", "[models][memory]") {
  // Llama 3 8B (vocab 128,256), one sequence of 8,192 tokens per micro-batch, tp 1, the head on the only stage:
  // 12 - 4 = 8 more bytes per logit, 8 x 8,192 x 128,256 = 8,405,385,216 bytes.
  auto scenario = test::scenario_from(nlohmann::json::parse(R"({
    "model": "llama3-8b",
    "cluster": {"chip": "h100-sxm", "chips": 8},
    "parallelism": {"tp": 1, "pp": 1, "zero": 3, "micro_batch": 1, "recompute": "full"},
    "training": {"seq_len": 8192, "global_batch": 8, "tokens": 1e9}})"));
  const auto params = count_params(scenario.job.model);
  const auto& a = test::catalogs().assumptions;
  const auto fused = training_memory(scenario.job, params, a);
  scenario.job.training.pytorch_cross_entropy = true;
  const auto pytorch = training_memory(scenario.job, params, a);
  CHECK(pytorch.activations_bytes - fused.activations_bytes == 8405385216.0);
  CHECK(loss_bytes_per_logit(scenario.job.training) == 12.0);
}

TEST_CASE("FSDP2 under a pipeline schedule holds its stage's gradients unsharded", "[models][memory]") {
  // Llama 3 70B, tp 8, pp 4, dp 2, ZeRO-3: a chip holds P parameters of its stage, its bf16 weights sharded over
  // dp 2: weights_bytes = 2 x P / 2 = P. fp32 gradients: sharded 4 x P / 2 = 2 P; accumulated unsharded over the
  // step's 4 micro-batches 4 P, so 2 P = 2 x weights_bytes more.
  auto scenario = test::scenario_from(nlohmann::json::parse(R"({
    "model": "llama3-70b",
    "cluster": {"chip": "h100-sxm", "chips": 64},
    "parallelism": {"tp": 8, "pp": 4, "sp": true, "zero": 3, "reshard_after_forward": false, "micro_batch": 1},
    "training": {"seq_len": 4096, "global_batch": 8, "tokens": 1e9}})"));
  const auto params = count_params(scenario.job.model);
  const auto& a = test::catalogs().assumptions;
  const auto sharded = training_memory(scenario.job, params, a);
  CHECK_THAT(sharded.gradients_bytes, Catch::Matchers::WithinRel(2.0 * sharded.weights_bytes, 1e-12));
  scenario.job.plan.unsharded_gradient_accumulation = true;
  const auto unsharded = training_memory(scenario.job, params, a);
  CHECK_THAT(unsharded.gradients_bytes, Catch::Matchers::WithinRel(4.0 * sharded.weights_bytes, 1e-12));
  CHECK_THAT(unsharded.total_bytes - sharded.total_bytes,
             Catch::Matchers::WithinRel(2.0 * sharded.weights_bytes, 1e-12));
  // One micro-batch per step accumulates nothing: the gradients are reduce-scattered as they come.
  scenario.job.training.global_batch = 2;
  const auto one = training_memory(scenario.job, params, a);
  CHECK_THAT(one.gradients_bytes, Catch::Matchers::WithinRel(2.0 * one.weights_bytes, 1e-12));
}

TEST_CASE("bf16 gradients halve the gradient buffer and the data-parallel gradient traffic", "[models][memory]") {
  auto scenario = test::scenario_from(nlohmann::json::parse(R"({
    "model": "llama3-70b",
    "cluster": {"chip": "h100-sxm", "chips": 64},
    "parallelism": {"tp": 8, "pp": 1, "sp": true, "zero": 1, "micro_batch": 1},
    "training": {"seq_len": 4096, "global_batch": 32, "tokens": 1e9}})"));
  const auto params = count_params(scenario.job.model);
  const auto& a = test::catalogs().assumptions;
  const auto fp32 = training_memory(scenario.job, params, a);
  // pp 1, tp 8, ZeRO-1: every parameter / 8 held, its fp32 gradient 4 bytes (twice the bf16 weights' 2 bytes).
  CHECK_THAT(fp32.gradients_bytes, Catch::Matchers::WithinRel(2.0 * fp32.weights_bytes, 1e-12));
  scenario.job.plan.gradient_bytes = 2.0;
  const auto bf16 = training_memory(scenario.job, params, a);
  CHECK_THAT(bf16.gradients_bytes, Catch::Matchers::WithinRel(fp32.weights_bytes, 1e-12));
  CHECK_THAT(bf16.total_bytes, Catch::Matchers::WithinRel(fp32.total_bytes - fp32.weights_bytes, 1e-12));
  CHECK(bf16.optimizer_bytes == fp32.optimizer_bytes);  // fp32 master weights and moments stay
}

TEST_CASE("expert tensor parallelism splits each expert's weights and gathers its tokens", "[models][memory]") {
  // Mixtral 8x7B on 8 chips, tp 8, ep 1 (MindSpeed-LLM 1.0's layout). Routed experts: 32 layers x 8 experts x
  // 3 x 4096 x 14336 = 45.10 B parameters; etp 1 holds all of them on every chip, etp 8 an eighth.
  auto scenario = test::scenario_from(nlohmann::json::parse(R"({
    "model": "mixtral-8x7b",
    "cluster": {"chip": "h100-sxm", "chips": 8},
    "parallelism": {"tp": 8, "sp": true, "zero": 1, "micro_batch": 1},
    "training": {"seq_len": 4096, "global_batch": 8, "tokens": 1e9}})"));
  const auto params = count_params(scenario.job.model);
  const auto& a = test::catalogs().assumptions;
  const double routed = 32.0 * 8.0 * 3.0 * 4096.0 * 14336.0;
  const auto whole = training_memory(scenario.job, params, a);
  scenario.job.plan.etp = 8;
  const auto split = training_memory(scenario.job, params, a);
  // bf16 weights: 2 x 45.10 B x (1 - 1/8) = 78.9 GB fewer.
  CHECK_THAT(whole.weights_bytes - split.weights_bytes, Catch::Matchers::WithinRel(2.0 * routed * 7.0 / 8.0, 1e-9));
  // Activations of one MoE layer: each chip's s/t = 512 tokens x top-2 routed copies; with etp 8 it gathers the
  // 8 x 1024 copies' inputs (h = 4096, 2 bytes) and keeps 1/8 of each copy's FFN tensors, so the input term grows
  // by 7 x 1024 x 4096 x 2 bytes = 58.7 MB and the FFN terms stay.
  ParallelPlan plan = scenario.job.plan;
  const double with_etp = activation_bytes_per_layer(scenario.job.model, true, plan, scenario.job.training);
  plan.etp = 1;
  const double without = activation_bytes_per_layer(scenario.job.model, true, plan, scenario.job.training);
  CHECK_THAT(with_etp - without, Catch::Matchers::WithinRel(7.0 * 1024.0 * 4096.0 * 2.0, 1e-9));
}

TEST_CASE("optimizer states in host memory leave the chip, and a CPU Adam takes the step at host DRAM speed",
          "[models][memory]") {
  const auto json = nlohmann::json::parse(R"({
    "model": "llama3-70b",
    "cluster": {"chip": "h100-sxm", "chips": 64},
    "parallelism": {"tp": 8, "pp": 1, "sp": true, "zero": 1, "micro_batch": 1, "optimizer_offload_fraction": 0.5},
    "training": {"seq_len": 4096, "global_batch": 32, "tokens": 1e9}})");
  auto scenario = test::scenario_from(json);
  const auto params = count_params(scenario.job.model);
  const auto& a = test::catalogs().assumptions;
  const auto half = training_memory(scenario.job, params, a);
  scenario.job.plan.optimizer_offload_fraction = 0;
  const auto none = training_memory(scenario.job, params, a);
  // Half of the shard's fp32 master weights and moments (12 bytes a parameter) in host memory; the rest unchanged.
  CHECK_THAT(half.optimizer_bytes, Catch::Matchers::WithinRel(none.optimizer_bytes / 2, 1e-12));
  CHECK_THAT(half.total_bytes, Catch::Matchers::WithinRel(none.total_bytes - none.optimizer_bytes / 2, 1e-12));
  CHECK(half.gradients_bytes == none.gradients_bytes);

  // The step on an HGX H100 node (PCIe 5.0 x16 at 63 GB/s per direction, 614.4 GB/s of host DRAM for 8 GPUs, half of
  // it reached), fp32 moments and gradients, 1e9 parameters in the shard, 10 ms for all of them on the chip:
  //   offloaded        0.5 x 1e9 = 5e8 parameters
  //   gradients out    5e8 x 4 B / 63 GB/s = 31.7 ms; weights back 5e8 x 4 B / 63 GB/s = 31.7 ms
  //   CPU Adam         5e8 x (8 + 4 x 4 + 4 = 28 B) / (614.4 / 8 x 0.5 = 38.4 GB/s) = 364.6 ms
  //   on the chip      10 ms x 0.5 = 5 ms, beside the host's part: 364.6 ms
  scenario.job.plan.optimizer_offload_fraction = 0.5;
  REQUIRE(a.host_optimizer_bandwidth_fraction == 0.5);
  CHECK_THAT(optimizer_step_s(scenario.job, 0.010, 1e9, a), Catch::Matchers::WithinRel(5e8 * 28 / 38.4e9, 1e-12));
  scenario.job.plan.optimizer_offload_fraction = 0;
  CHECK(optimizer_step_s(scenario.job, 0.010, 1e9, a) == 0.010);

  // Megatron's optimizer (ZeRO 0 or 1) runs it, on a node with both host figures.
  auto zero3 = json;
  zero3["parallelism"]["zero"] = 3;
  CHECK_THROWS_WITH(test::scenario_from(zero3), Catch::Contains("/parallelism/optimizer_offload_fraction") &&
                                                    Catch::Contains("needs zero 0 or 1"));
  auto ascend = json;
  ascend["cluster"]["chip"] = "ascend-910b";
  CHECK_THROWS_WITH(test::scenario_from(ascend), Catch::Contains("/parallelism/optimizer_offload_fraction") &&
                                                     Catch::Contains("has no host_link_bandwidth_per_direction"));
}
