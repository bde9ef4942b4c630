#pragma once
// Memory per chip for training: weights, gradients, optimizer states, activations (Korthikanti et al. 2022,
// "Reducing Activation Recomputation in Large Transformer Models", section 4, generalised to GQA, MLA, SwiGLU and
// MoE), and a reserve for the runtime. Computed for every pipeline stage; the report is the fullest stage.

#include <vector>

#include "flopcast/models/accounting.hpp"
#include "flopcast/models/assumptions.hpp"
#include "flopcast/models/plan.hpp"

namespace flopcast {

// What one pipeline stage holds: layers in order (leading dense layers first), the embedding on the first stage,
// the output head and the MTP modules on the last.
struct StageLayout {
  int dense_layers = 0;
  int moe_layers = 0;
  bool embedding = false;
  bool head = false;
  int mtp_modules = 0;
  int layers() const { return dense_layers + moe_layers; }
};

// Splits the layers as evenly as possible; the first `layers % pp` stages take one more.
std::vector<StageLayout> stage_layouts(const ModelArch& model, int pp);

// Parameters one chip of a stage holds: the tensor-parallel share of the non-expert weights and the
// expert-parallel share of the routed experts.
struct StageParams {
  double dense = 0;   // per chip, after TP
  double expert = 0;  // per chip, after EP
  double total() const { return dense + expert; }
};
StageParams stage_params(const ModelArch& model, const ParamCounts& params, const StageLayout& stage,
                         const ParallelPlan& plan);

// Activation bytes one chip stores for one layer and one micro-batch, with nothing recomputed except what `plan`
// says. `moe_layer` picks the FFN kind.
double activation_bytes_per_layer(const ModelArch& model, bool moe_layer, const ParallelPlan& plan,
                                  const TrainingSetup& training);

// Micro-batches whose activations the first stage keeps alive at once under the schedule.
double micro_batches_in_flight(const ParallelPlan& plan, long micro_batches);

struct MemoryReport {
  int stage = 0;  // the fullest stage
  double weights_bytes = 0;
  double gradients_bytes = 0;
  double optimizer_bytes = 0;
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

}  // namespace flopcast
