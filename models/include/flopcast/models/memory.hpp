#pragma once
// Memory per chip for training: weights, gradients, optimizer states, activations (Korthikanti et al. 2022,
// "Reducing Activation Recomputation in Large Transformer Models", section 4, generalised to GQA, MLA, SwiGLU and
// MoE), and a reserve for the runtime. Computed for every pipeline stage; the report is the fullest stage.

#include <vector>

#include <boost/container/small_vector.hpp>

#include "flopcast/models/accounting.hpp"
#include "flopcast/models/assumptions.hpp"
#include "flopcast/models/plan.hpp"

namespace flopcast {

// What one pipeline stage holds: layers in order (leading dense layers first), the embedding on the first stage,
// the output head and the MTP modules on the last.
struct StageLayout {
  int dense_layers = 0;
  int moe_layers = 0;
  // A hybrid model's single-block layers (see LayerKind).
  int mamba_layers = 0;
  int attention_layers = 0;
  int expert_layers = 0;
  int mlp_layers = 0;
  bool embedding = false;
  bool head = false;
  int mtp_modules = 0;
  int count(LayerKind kind) const;
  int& count(LayerKind kind);
  int layers() const { return dense_layers + moe_layers + mamba_layers + attention_layers + expert_layers + mlp_layers; }
  // Layers with routed experts.
  int expert_bearing_layers() const { return moe_layers + expert_layers; }
  bool operator==(const StageLayout&) const = default;
};

// Splits the layers as evenly as possible over `stages`; the first `layers % stages` stages take one more.
std::vector<StageLayout> stage_layouts(const ModelArch& model, int stages);
// The plan's layout over `stages` (pp, or pp x vpp virtual stages): even as above, balanced (the output head and the
// MTP modules, on the last stage, counted as the layers of work they are; the split that minimises the busiest
// stage, extra layers on the first stages), or the plan's listed layer counts.
std::vector<StageLayout> stage_layouts(const ModelArch& model, const ParallelPlan& plan, int stages);
// The output head's forward work in layers of the model (its GEMM's parameters over a layer's active GEMM
// parameters): what the balanced layout counts the last stage's head as.
double head_layer_equivalents(const ModelArch& model);

// The virtual stages pipeline device `device` holds, of `chunks` (the plan's layout over pp x vpp virtual stages, or
// pp): every pp-th from `device` (interleaved), its own, or DualPipe's pair `device` and pp - 1 - `device`.
boost::container::small_vector<StageLayout, 8> device_stages(const ParallelPlan& plan,
                                                             const std::vector<StageLayout>& chunks, int device);

// Parameters one chip of a stage holds: the tensor-parallel share of the non-expert weights and the
// expert-parallel share of the routed experts.
struct StageParams {
  double dense = 0;   // per chip, after TP
  double expert = 0;  // per chip, after EP
  double total() const { return dense + expert; }
};
StageParams stage_params(const ModelArch& model, const ParamCounts& params, const StageLayout& stage,
                         const ParallelPlan& plan);
// Parameters one chip of pipeline device `device` holds: the sum over its virtual stages (device_stages above).
StageParams device_params(const ModelArch& model, const ParamCounts& params, const ParallelPlan& plan,
                          const std::vector<StageLayout>& chunks, int device);

// One aten.mm of a transformer block's forward as PyTorch runs it (TorchTitan's separate wq, wk, wv; w1, w3, w2),
// per token on one chip: output and input widths after tensor parallelism, and whether the backward needs its output
// (the attention inputs, the residual stream the next norm reads, the activation function's inputs; not the block's
// last projection, which only feeds the residual add).
struct BlockMatmul {
  double out = 0;
  double in = 0;
  bool needed = true;
};
// The block's aten.mm calls in forward order. The routed experts' grouped GEMMs are not aten.mm, and TorchTitan forces
// the router gate's mm to be recomputed without counting it; both are left out.
std::vector<BlockMatmul> block_matmuls(const ModelArch& model, bool moe_layer, int tp);
// Per-operator selective checkpointing (TorchTitan's activation_checkpoint.py, selective_ac_option "op"): the block's
// forward saves the outputs of aten.mm, attention, reduce-scatter and all-to-all, except every second aten.mm in
// forward order (the 2nd, 4th, ...); everything else is recomputed when the backward needs it. In every precision:
// torchao's Float8Linear and MXLinear call torch.mm on their quantised tensor subclasses, and the checkpoint's
// dispatch mode sees that aten.mm before the subclass turns it into _scaled_mm (TorchTitan's published peaks agree:
// Llama 3.1 8B keeps 77.0 GiB in BF16 and 76.8 GiB in FP8).
bool per_op_saves(std::size_t index);

// Bytes per logit (per token and vocabulary entry of this chip's shard) that the loss holds at its peak, beside every
// stored activation (it comes at the end of the last stage's forward): 4 for a fused vocab-parallel cross-entropy,
// 12 for PyTorch's cross_entropy on fp32 logits.
double loss_bytes_per_logit(const TrainingSetup& training);

// Activation bytes one chip stores for one layer and one micro-batch, with nothing recomputed except what `plan`
// says. `moe_layer` picks the FFN kind.
double activation_bytes_per_layer(const ModelArch& model, bool moe_layer, const ParallelPlan& plan,
                                  const TrainingSetup& training);
// The same for one layer of any kind (a hybrid model's single-block layers: one norm, and the one block's tensors).
double activation_bytes_per_layer(const ModelArch& model, LayerKind kind, const ParallelPlan& plan,
                                  const TrainingSetup& training);

// Micro-batches whose activations the first stage keeps alive at once under the schedule, never more than the
// step's micro-batches.
double micro_batches_in_flight(const ParallelPlan& plan, long micro_batches);
// The same for pipeline device `device` (0 = first): 1F1B's stage i holds min(m, pp - i); the interleaved schedule's
// holds min(m vpp, 2 (pp - i - 1) + (vpp - 1) pp + 1) chunks of 1/vpp stage each (Megatron's warm-up count plus the
// one in flight); DualPipe's device holds pp + 1 (DeepSeek-V3 report, table 2); GPipe holds all m.
double micro_batches_in_flight(const ParallelPlan& plan, long micro_batches, int device);

struct MemoryReport {
  int stage = 0;  // the fullest pipeline device (DualPipe: it holds stages `stage` and pp - 1 - `stage`)
  double weights_bytes = 0;
  double gradients_bytes = 0;
  double optimizer_bytes = 0;
  double gathered_weights_bytes = 0;  // ZeRO-3 / FSDP: unsharded bf16 weights held while they are used
  double activations_bytes = 0;
  double reserved_bytes = 0;
  double total_bytes = 0;
  double capacity_bytes = 0;  // HBM
  double usable_bytes = 0;    // HBM x usable fraction
  double margin_bytes = 0;    // usable - total (negative: does not fit)
  double in_flight = 0;       // micro-batches held
  bool fits = false;
};

MemoryReport training_memory(const TrainingJob& job, const ParamCounts& params, const Assumptions& assumptions);

// The layers whose activations a plan offloads to the host: the model's first `offload_activation_layers`, dense
// layers first (they come first in the model).
struct OffloadedLayers {
  int dense = 0;
  int moe = 0;
};
OffloadedLayers offloaded_layers(const ModelArch& model, const ParallelPlan& plan);

// The layers of `kind` in virtual stage `stage` that full recomputation redoes: every one with the uniform method;
// with the block method (plan.recompute_layers) the stage's first ones, its kinds taken in kLayerKinds order as the
// simulator runs them (leading dense layers first, as in the model); none without full recomputation.
int fully_recomputed_layers(const StageLayout& stage, LayerKind kind, const ParallelPlan& plan);

}  // namespace flopcast
