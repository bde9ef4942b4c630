#pragma once
// A training job as the estimator sees it: the model, the hardware, the parallel plan, the training setup and the
// prices, all resolved and validated (scenarios/ builds it from a file; nothing here reads JSON).

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "flopcast/hardware/catalog.hpp"
#include "flopcast/hardware/topology.hpp"
#include "flopcast/models/architecture.hpp"

namespace flopcast {

// selective: Megatron-Core's module recomputation (`recompute_modules`); per_op: PyTorch's per-operator selective
// checkpointing as TorchTitan applies it (selective_ac_option "op", see block_matmuls in memory.hpp).
enum class Recompute { none, selective, per_op, full };
// zero_bubble: ZB-H1 (Qi et al. 2024, "Zero Bubble Pipeline Parallelism", section 3.1): 1F1B with each backward
// split into its input-gradient pass and its weight-gradient pass, the latter delayed to fill the drain.
// zero_bubble_v: ZB-V (Qi et al. 2024, section 6; PyTorch's ScheduleZBVZeroBubble, TorchTitan's "ZBVZeroBubble"):
// two virtual stages per device in a V (device d holds stages d and 2 pp - 1 - d), backwards split the same way.
enum class Schedule { gpipe, one_f_one_b, interleaved, dualpipe, zero_bubble, zero_bubble_v };
// How an MoE layer's tokens reach its experts' grouped GEMMs and come back, which decides the permutation passes
// through HBM (each a read and a write of every routed copy). deepep: DeepEP's dispatch moves each token once per
// destination rank; one permute into expert order after it, one un-permute before the combine (Megatron's flex
// dispatcher, token_dispatcher.py _DeepepManager). hybridep: HybridEP permutes as a stage of its own dispatch and
// combine (dispatch_with_permute, combine_with_unpermute), one pass each way too; fusing it into the communication
// kernels (Megatron-LM's moe_permute_fusion_into_hybridep, off by default) is not modelled. alltoall: Megatron's
// all-to-all dispatcher permutes by destination before the all-to-all and, with more than one local expert, sorts
// the received chunks by expert after it (permute, then sort_chunks_by_idxs), and mirrors both after the experts:
// two passes each way. allgather: Megatron-Core's all-gather dispatcher as MindSpeed runs it
// (--moe-token-dispatcher-type allgather; mindspeed/core/transformer/moe/token_dispatcher.py): every rank of the
// etp x ep group gathers all the group's tokens, picks the rows its local experts take and sorts them by expert; after
// the experts it puts them back in order, scales them by their routing probability and accumulates them into an fp32
// buffer of all the gathered tokens, which is cast to bf16 and reduce-scattered over the group.
enum class MoeDispatcher { deepep, alltoall, hybridep, allgather };
// The GEMMs' number format in training: bf16; fp8 with per-tensor scaling (Transformer Engine's delayed or current
// scaling, torchao's tensorwise float8); MXFP8 (a scale per 32 elements); NVFP4 (a scale per 16 elements).
enum class Precision { bf16, fp8, mxfp8, nvfp4 };
inline constexpr std::array kAllPrecisions{Precision::bf16, Precision::fp8, Precision::mxfp8, Precision::nvfp4};

std::string_view to_string(Recompute recompute);
std::string_view to_string(Schedule schedule);
std::string_view to_string(Precision precision);
std::string_view to_string(MoeDispatcher dispatcher);
std::optional<Precision> parse_precision(std::string_view name);

// The tensor-core data type a training precision runs its GEMMs in (whose peak the chip must list).
DataType gemm_data_type(Precision precision);
// Why `chip` cannot run its GEMMs in `precision` ("h100-sxm has no mxfp8 tensor cores (no mxfp8 peak in the
// catalog)"), or none where it can.
std::optional<std::string> unsupported_precision(const Chip& chip, Precision precision);
// Bytes per element of a GEMM input as the backward keeps it: the quantised copy with its scales (bf16: 2).
double saved_gemm_input_bytes(Precision precision);
// HBM bytes per element to quantise a bf16 GEMM input: read 2 bytes, write the quantised copies. Per-tensor fp8 writes
// one copy (1 byte; the transpose for the weight gradient comes from the same scale); MXFP8 scales along one axis,
// so Transformer Engine writes a row-wise and a column-wise copy (2 x (1 + 1/32)); NVFP4 writes both copies
// (2 x (0.5 + 1/16)) and applies a 16-point random Hadamard transform to the weight-gradient inputs (read 2, write
// 0.5625 more). bf16: 0.
double quantise_bytes_per_element(Precision precision);
// Whether a schedule runs its pipeline sends behind computation: the interleaved and DualPipe schedules do; 1F1B and
// GPipe exchange activations and gradients synchronously between passes (Megatron's send_forward_recv_backward waits
// for its requests; DeepSpeed's pipeline engine sends in line). Every tier follows it, through
// ParallelPlan::overlaps_sends (a plan may turn the overlap off: pp_comm_overlap).
bool overlaps_pipeline_sends(Schedule schedule);

// What selective recomputation redoes in the backward instead of storing, by Megatron-Core's --recompute-modules
// names: the attention core (scores to context), the norms (their outputs, the GEMM inputs after them), MLA's
// up-projections (Q, K, V from the latents), the MoE experts' activation function, the dense MLP (and shared
// experts), and the routed experts with their dispatch and combine.
struct RecomputeModules {
  bool core_attn = false;
  bool layernorm = false;
  bool mla_up_proj = false;
  bool moe_act = false;
  bool mlp = false;
  bool moe = false;
  bool any() const { return core_attn || layernorm || mla_up_proj || moe_act || mlp || moe; }
};
// Their names, in the order above ("core_attn", "layernorm", "mla_up_proj", "moe_act", "mlp", "moe").
std::vector<std::string> recompute_module_names(const RecomputeModules& modules);
// Sets the module named `name`; false for an unknown name.
bool set_recompute_module(RecomputeModules& modules, std::string_view name);
inline const std::vector<std::string> kRecomputeModuleNames{"core_attn", "layernorm", "mla_up_proj",
                                                            "moe_act",   "mlp",       "moe"};

// How layers are split over pipeline stages: evenly (Megatron's default: the first layers % stages take one more;
// the embedding, the output head and MTP modules ride along), balanced (the output head and each MTP module count as
// the layers of work they are, and the split minimises the busiest stage), or as listed (`stage_layers`).
enum class PipelineLayout { even, balanced, listed };

// Context parallelism: ring attention (Megatron's, K and V passed round the ring behind the attention kernels), or
// DeepSpeed-Ulysses (all-to-alls turn the sequence split into a head split for the attention core, and back).
enum class ContextParallelAlgo { ring, ulysses };
std::string_view to_string(PipelineLayout layout);
std::string_view to_string(ContextParallelAlgo algo);

struct ParallelPlan {
  int tp = 1;   // tensor parallel
  int pp = 1;   // pipeline stages
  int dp = 1;   // data parallel replicas
  int ep = 1;   // expert parallel (carved out of tp x cp x dp)
  // Expert tensor parallel: each routed expert's FFN split over etp ranks (Megatron-Core's
  // --expert-tensor-parallel-size; before it existed, experts were split over the whole TP group). ep x etp ranks
  // hold one copy of the experts, carved out of tp x cp x dp.
  int etp = 1;
  int cp = 1;   // context parallel
  ContextParallelAlgo cp_algo = ContextParallelAlgo::ring;
  int vpp = 1;  // virtual stages per pipeline rank (interleaved schedule)
  bool sp = false;  // sequence parallel (with tp)
  int zero = 1;     // 0: replicated optimizer; 1: sharded optimizer states; 2: + gradients; 3: + weights
  int micro_batch = 1;  // sequences per micro-batch
  Recompute recompute = Recompute::none;
  Schedule schedule = Schedule::one_f_one_b;
  bool tp_comm_overlap = false;  // TP collectives overlapped with GEMMs (Transformer Engine userbuffers)
  bool dp_overlap = true;        // gradient reduce-scatter behind backward, parameter all-gather ahead of forward
  // Without userbuffers overlap, the backward's TP collectives of the column-parallel layers (QKV, FC1) run beside
  // their GEMMs: the input gradient's reduce-scatter (all-reduce without SP) behind the weight-gradient GEMM and, with
  // SP, the input's re-gather behind the input-gradient GEMM (Megatron's
  // LinearWithGradAccumulationAndAsyncCommunication, Transformer Engine's Linear with async_op). false: every
  // backward collective blocks (PyTorch's TP, Megatron-LM 2021).
  bool tp_async_backward = true;
  // Megatron's --overlap-p2p-communication: the schedules that can run their pipeline sends behind computation
  // (interleaved, DualPipe) do so. false: every send blocks until it completes, as 1F1B's do (Megatron-LM before
  // commit f9283c5a of 2023-05-31 waited on each batched isend/irecv, then called torch.cuda.synchronize()).
  bool pp_comm_overlap = true;
  // Without sequence parallelism, each TP rank sends only its 1/tp slice of the activation (or gradient) to the next
  // stage, which all-gathers it over the TP group (Megatron-LM's scatter_gather_tensors_in_pipeline, on from
  // 2021-02-16 until Megatron-Core; DeepSpeed's partitioned pipeline tensors). The all-gather inside the node is not
  // timed (tens of microseconds over NVLink against the inter-node send). With sp the activations are split already.
  bool pp_scatter_gather = false;
  // Megatron's --overlap-moe-expert-parallel-comm (combined 1F1B): each steady-state forward runs with an earlier
  // micro-batch's backward and their expert all-to-alls hide behind each other's kernels; one more warm-up forward.
  // Interleaved schedule or pp 1.
  bool ep_comm_overlap = false;
  MoeDispatcher dispatcher = MoeDispatcher::deepep;
  // Megatron's --moe-expert-capacity-factor with --moe-pad-expert-input-to-capacity: each expert takes at most this
  // factor times its mean share of the routed copies, drops the rest and pads up to it, so every expert computes and
  // exchanges exactly that many rows and the token counts are known on the host: no device-to-host synchronisation
  // per MoE layer (per_moe_layer_overhead). 0: dropless routing (each expert takes what the router sends it).
  double moe_capacity_factor = 0;
  RecomputeModules recompute_modules{};  // with Recompute::selective
  // Full recomputation by Megatron's block method (--recompute-method block --recompute-num-layers N): only the first
  // N layers of each virtual stage (model chunk) are recomputed, the others keep every activation; MTP modules are not
  // recomputed (multi_token_prediction.py skips the block method). 0: every layer (the uniform method, MTP included).
  int recompute_layers = 0;
  // ZeRO-3 / FSDP: true gathers each stage's weights before every micro-batch's forward and again before its backward
  // (FSDP's default); false gathers them once per step and keeps them until the step's last backward (FSDP2's
  // reshard_after_forward=False, Megatron-FSDP without resharding, Meta's Llama 3 runs).
  bool reshard_after_forward = true;
  // ZeRO-2/3 with several micro-batches: each chip accumulates its stage's gradients unsharded, in the gradient
  // precision, and reduce-scatters them once per step (PyTorch's pipelining schedules turn FSDP2's gradient sync off
  // for every backward but the last: torch.distributed.pipelining, PipelineStage.backward_maybe_with_nosync).
  bool unsharded_gradient_accumulation = false;
  // Ranks a ZeRO shard spans (hybrid sharding, HSDP): states shard over shard_group data-parallel ranks and are
  // replicated across dp / shard_group groups. 0: all of dp x cp.
  int shard_group = 0;
  double optimizer_moment_bytes = 4.0;  // Adam's first and second moments: fp32 (4) or bf16 (2) each
  // Bytes of the optimizer's master copy of each weight it holds beyond the bf16 weight: fp32 (4), or 2 where the
  // master is the bf16 weight plus a 16-bit residual of its low bits (MindSpeed's --reuse-fp32-param, which rebuilds
  // the fp32 value before each update: docs/features/reuse-fp32-param.md, sizeof(bf16) x parameters / DP saved).
  double master_weight_bytes = 4.0;
  // Main gradients, accumulated and reduced over data parallel in fp32 (4, Megatron's default with bf16 training) or
  // bf16 (2: Megatron's --grad-reduce-in-bf16, NeMo's grad_sync_dtype bf16).
  double gradient_bytes = 4.0;
  // Transformer Engine's CPU offloading (Megatron's --cpu-offloading-num-layers): the activations of the first this
  // many layers go to host memory during the forward and come back before their backward, on a side stream. pp 1.
  int offload_activation_layers = 0;
  // Megatron's optimizer CPU offload (--optimizer-cpu-offload, --optimizer-offload-fraction, with
  // --overlap-cpu-optimizer-d2h-h2d): this fraction of each chip's optimizer shard (fp32 master weights and Adam's
  // moments) lives in host memory and is updated there by a CPU Adam, its gradients copied over the host link and
  // the updated weights copied back. ZeRO 0 or 1 (Megatron's optimizer, distributed or not).
  double optimizer_offload_fraction = 0;
  PipelineLayout layout = PipelineLayout::even;
  std::vector<int> stage_layers{};  // layers per virtual stage in model order, with PipelineLayout::listed
  // Data-parallel ranks over which ZeRO shards the dense weights, gradients and optimizer states.
  int dense_shards() const { return shard_group > 0 ? shard_group : dp * cp; }
  // ZeRO-3 / FSDP that reshards after each pass gathers the weights again before every micro-batch's forward and
  // backward; without resharding (or below ZeRO-3) they are gathered once, at the start of the step. Every tier.
  bool gathers_weights_per_pass() const { return zero >= 3 && reshard_after_forward; }
  // DualPipe's two model copies in opposite directions (with one stage it is a plain forward and backward).
  bool dualpipe() const { return schedule == Schedule::dualpipe && pp > 1; }
  // ZB-V's two virtual stages per device, in a V: device d holds stages d and 2 pp - 1 - d.
  bool v_shape() const { return schedule == Schedule::zero_bubble_v && pp > 1; }
  // The virtual stages (model chunks) each device holds: vpp with the interleaved schedule, 2 with ZB-V, else 1.
  int chunks_per_device() const { return schedule == Schedule::interleaved ? vpp : v_shape() ? 2 : 1; }
  // What keeps combined 1F1B (ep_comm_overlap) from running with this plan, the first of: experts not split over
  // ranks, a pipeline schedule other than interleaved, full recomputation (Megatron refuses it). The scenario
  // checks and the planner ask this one rule; make_schedule guards the schedule part for its own callers.
  enum class ExpertOverlapBlock { none, no_expert_parallelism, schedule, full_recompute };
  ExpertOverlapBlock expert_overlap_block() const {
    if (ep < 2) return ExpertOverlapBlock::no_expert_parallelism;
    if (pp > 1 && schedule != Schedule::interleaved) return ExpertOverlapBlock::schedule;
    if (recompute == Recompute::full) return ExpertOverlapBlock::full_recompute;
    return ExpertOverlapBlock::none;
  }
  bool can_overlap_expert_comm() const { return expert_overlap_block() == ExpertOverlapBlock::none; }
  // Whether the pipeline sends run behind computation: the schedule can (overlaps_pipeline_sends) and the plan lets it.
  bool overlaps_sends() const { return pp_comm_overlap && overlaps_pipeline_sends(schedule); }
  // Whether a schedule that could run its pipeline sends behind computation is told not to (they block).
  bool sends_block() const { return pp > 1 && !pp_comm_overlap && overlaps_pipeline_sends(schedule); }
  // Whether full recomputation redoes the layer at `index` (forward order) of a virtual stage of `layers` layers;
  // indices from `layers` on are the stage's MTP modules.
  bool recomputes_layer(int index, int layers) const {
    if (recompute != Recompute::full) return false;
    return recompute_layers == 0 || index < std::min(recompute_layers, layers);
  }
  // Groups that each hold a full copy of the ZeRO states (hybrid sharding; 1 without it).
  int shard_replicas() const { return std::max(1, dp * cp / dense_shards()); }
  // Ranks the routed experts' states shard over: the expert-data-parallel ranks (tp x cp x dp / ep), split into the
  // same replicas as the dense states.
  int expert_shards() const { return std::max(1, tp * cp * dp / (ep * etp) / shard_replicas()); }
  // What the backward recomputes beside full recomputation: the listed modules with selective recomputation (the
  // attention core where none are listed, as Megatron's --recompute-granularity selective does), else nothing.
  RecomputeModules recomputed() const {
    if (recompute != Recompute::selective) return {};
    if (recompute_modules.any()) return recompute_modules;
    RecomputeModules core;
    core.core_attn = true;
    return core;
  }
  // The busiest expert rank's load over the mean: the model's routing imbalance, or with a capacity factor every
  // expert's padded capacity.
  double expert_load(const MoeDims& moe) const { return moe_capacity_factor > 0 ? moe_capacity_factor : moe.imbalance; }
};

// The plan search's dimensions by their "parallelism" keys ("tp", "pp", ..., "ep_comm_overlap"), in its loop order:
// what `flopcast plan --pin` and a scenario's "parallelism.pin" name.
const std::vector<std::string>& plan_dimensions();

// The plan's recomputation as the CLI prints it: "none", "selective", "per_op", "full", or "full (first N layers of
// each stage)" with the block method.
std::string recompute_text(const ParallelPlan& plan);

struct TrainingSetup {
  int seq_len = 4096;
  long global_batch = 1;  // sequences per optimizer step
  Precision precision = Precision::bf16;
  double tokens = 0;      // tokens to train on
  bool dropout = false;   // dropout masks are stored (GPT-3-era models); modern LLMs train without
  bool flash_attention = true;  // no attention score matrix is stored
  // With flash_attention: FlashAttention-2 (PyTorch's SDPA flash backend, as TorchTitan runs it) instead of the
  // chip's fused kernel (cuDNN or FlashAttention-3 on Hopper, as Transformer Engine runs it).
  bool flash2 = false;
  // The whole forward-backward captured as one CUDA graph (Megatron's cuda_graph_impl "full_iteration", with a fixed
  // per-rank expert capacity so routing needs no host synchronisation): no per-layer launch gaps or host syncs.
  bool full_iteration_graph = false;
  // The routed experts' MLP as one fused kernel per GEMM with its bias, activation and routing weights (Transformer
  // Engine's op fuser with the CuTe fused grouped MLP, MXFP8 or NVFP4 on Blackwell); otherwise Megatron-Core runs a
  // clamped activation and the FC2 bias as separate element-wise passes.
  bool fused_expert_mlp = false;
  // Rotary embeddings of Q and K in one fused kernel (Megatron-Core's apply_rope_fusion, Transformer Engine's
  // fused RoPE): read and write once. false: Megatron-Core's unfused _apply_rotary_pos_emb_bshd, which it falls back
  // to whenever the rotary scale mscale is not 1 (YaRN, gpt-oss): x cos, the rotated half (negate, concatenate),
  // x sin and their sum, kRopeUnfusedPasses times the fused kernel's traffic.
  bool rope_fusion = true;
  // Each weight-gradient GEMM accumulates into the main gradient in its epilogue (Megatron's
  // gradient_accumulation_fusion, Transformer Engine's default). Without it (`--no-gradient-accumulation-fusion`) the
  // GEMM writes a bf16 gradient that a separate kernel adds to the main gradient, every micro-batch.
  bool gradient_accumulation_fusion = true;
  // The loss over the vocabulary: a fused kernel on one fp32 copy of the logits, overwritten in place by the softmax
  // and then its gradient (Megatron-Core's vocab-parallel cross-entropy, Transformer Engine's), or PyTorch's
  // cross_entropy on logits.float() as TorchTitan calls it, whose loss backward holds the saved log-softmax, its
  // incoming gradient and the outgoing one, all fp32.
  bool pytorch_cross_entropy = false;
};

// Pipeline stages that run on another chip type than the cluster's (a mixed fleet), in that chip's nodes. Their
// nodes hold as many chips as the cluster's and share its scale-out fabric.
struct StageChips {
  std::vector<int> stages;
  Chip chip;
  Node node;
  double usd_per_chip_hour = 0;  // rental
  double chip_capex_usd = 0;     // ownership
};

struct ClusterSetup {
  int chips = 1;
  int nodes = 1;
  Chip chip;
  Node node;
  Fabric fabric;
  TopologyKind topology = TopologyKind::fat_tree_2;
  double oversubscription = 1.0;
  int nics_per_node = 8;
  std::vector<StageChips> stage_chips;  // empty: one chip type

  // The stage group that runs pipeline stage `stage`, or null where the stage runs on `chip`.
  const StageChips* stage_group(int stage) const;
  // This cluster as pipeline stage `stage` sees it: its chip and node (and the node's NIC count) swapped in.
  ClusterSetup for_stage(int stage) const;
};

// The scale-out topology of a cluster: its nodes, NIC rails, fabric port speed, switch radix and oversubscription.
TopologySpec topology_spec(const ClusterSetup& cluster);

// What a plan asks of a hybrid Mamba model that is not modelled here (Megatron-Core splits the Mamba heads and B/C
// groups over TP; context parallelism of the scan, per-operator checkpointing and activation offloading are not
// modelled for it): each problem's key under "parallelism" and its message; none for a transformer. The scenario
// reports them with their JSON paths; the estimator refuses a job (a planner's candidate) that has one.
struct PlanProblem {
  std::string key;
  std::string message;
};
std::vector<PlanProblem> hybrid_plan_problems(const ModelArch& model, const ParallelPlan& plan);

enum class CostMode { rental, ownership };

struct CostSetup {
  CostMode mode = CostMode::rental;
  double usd_per_chip_hour = 0;          // rental
  double chip_capex_usd = 0;             // ownership: per chip
  double node_capex_usd = 0;             // ownership: per node beyond the chips
  std::optional<double> network_capex_usd;  // ownership: the scale-out network; default ports x capex per port
  double depreciation_years = 5;         // ownership
  double electricity_usd_per_kwh = 0.08;
  double pue = 1.3;
};

struct TrainingJob {
  std::string name;
  ModelArch model;
  ClusterSetup cluster;
  ParallelPlan plan;
  TrainingSetup training;
  CostSetup costs;
};

}  // namespace flopcast
