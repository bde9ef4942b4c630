#include "flopcast/models/plan.hpp"

#include <fmt/format.h>

namespace flopcast {

const std::vector<std::string>& plan_dimensions() {
  static const std::vector<std::string> kDimensions{
      "tp",         "cp",        "cp_algo", "pp", "dp", "ep", "schedule", "vpp", "layout", "zero", "reshard_after_forward",
      "micro_batch", "recompute", "tp_comm_overlap", "ep_comm_overlap", "offload_activation_layers",
      "optimizer_offload_fraction"};
  return kDimensions;
}

std::string_view to_string(PipelineLayout layout) {
  switch (layout) {
    case PipelineLayout::even: return "even";
    case PipelineLayout::balanced: return "balanced";
    case PipelineLayout::listed: return "listed";
  }
  return "?";
}

std::string_view to_string(ContextParallelAlgo algo) {
  switch (algo) {
    case ContextParallelAlgo::ring: return "ring";
    case ContextParallelAlgo::ulysses: return "ulysses";
  }
  return "?";
}

std::string_view to_string(Recompute recompute) {
  switch (recompute) {
    case Recompute::none: return "none";
    case Recompute::selective: return "selective";
    case Recompute::per_op: return "per_op";
    case Recompute::full: return "full";
  }
  return "?";
}

std::string recompute_text(const ParallelPlan& plan) {
  std::string text(to_string(plan.recompute));
  if (plan.recompute == Recompute::full && plan.recompute_layers > 0) {
    text += fmt::format(" (first {} layer{} of each stage)", plan.recompute_layers, plan.recompute_layers == 1 ? "" : "s");
  }
  return text;
}

std::string_view to_string(Schedule schedule) {
  switch (schedule) {
    case Schedule::gpipe: return "gpipe";
    case Schedule::one_f_one_b: return "1f1b";
    case Schedule::interleaved: return "interleaved";
    case Schedule::dualpipe: return "dualpipe";
    case Schedule::zero_bubble: return "zb-h1";
    case Schedule::zero_bubble_v: return "zb-v";
  }
  return "?";
}

std::string_view to_string(MoeDispatcher dispatcher) {
  switch (dispatcher) {
    case MoeDispatcher::deepep: return "deepep";
    case MoeDispatcher::alltoall: return "alltoall";
    case MoeDispatcher::hybridep: return "hybridep";
    case MoeDispatcher::allgather: return "allgather";
  }
  return "?";
}

bool overlaps_pipeline_sends(Schedule schedule) {
  return schedule == Schedule::interleaved || schedule == Schedule::dualpipe;
}

const StageChips* ClusterSetup::stage_group(int stage) const {
  for (const auto& group : stage_chips) {
    for (int s : group.stages) {
      if (s == stage) return &group;
    }
  }
  return nullptr;
}

ClusterSetup ClusterSetup::for_stage(int stage) const {
  ClusterSetup out = *this;
  out.stage_chips.clear();
  if (const auto* group = stage_group(stage)) {
    out.chip = group->chip;
    out.node = group->node;
    out.nics_per_node = group->node.nic_count();
  }
  return out;
}

TopologySpec topology_spec(const ClusterSetup& cluster) {
  return {.kind = cluster.topology,
          .nodes = cluster.nodes,
          .nics_per_node = cluster.nics_per_node,
          .nic_bytes_per_s = cluster.fabric.port_bandwidth.value,
          .switch_radix = static_cast<int>(cluster.fabric.switch_radix.value),
          .oversubscription = cluster.oversubscription};
}

namespace {
// The flags of RecomputeModules in the order of kRecomputeModuleNames.
constexpr std::array<bool RecomputeModules::*, 6> kModuleFlags{
    &RecomputeModules::core_attn, &RecomputeModules::layernorm, &RecomputeModules::mla_up_proj,
    &RecomputeModules::moe_act,   &RecomputeModules::mlp,       &RecomputeModules::moe};
}  // namespace

std::vector<std::string> recompute_module_names(const RecomputeModules& m) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < kModuleFlags.size(); ++i) {
    if (m.*kModuleFlags[i]) names.push_back(kRecomputeModuleNames[i]);
  }
  return names;
}

bool set_recompute_module(RecomputeModules& m, std::string_view name) {
  for (std::size_t i = 0; i < kModuleFlags.size(); ++i) {
    if (kRecomputeModuleNames[i] == name) {
      m.*kModuleFlags[i] = true;
      return true;
    }
  }
  return false;
}

// A training precision is named by the tensor-core data type its GEMMs run in.
std::string_view to_string(Precision precision) { return to_string(gemm_data_type(precision)); }

std::optional<Precision> parse_precision(std::string_view name) {
  for (auto precision : kAllPrecisions) {
    if (to_string(precision) == name) return precision;
  }
  return std::nullopt;
}

DataType gemm_data_type(Precision precision) {
  switch (precision) {
    case Precision::bf16: return DataType::bf16;
    case Precision::fp8: return DataType::fp8;
    case Precision::mxfp8: return DataType::mxfp8;
    case Precision::nvfp4: return DataType::nvfp4;
  }
  return DataType::bf16;
}

std::optional<std::string> unsupported_precision(const Chip& chip, Precision precision) {
  const DataType type = gemm_data_type(precision);
  if (chip.peak(type)) return std::nullopt;
  return fmt::format("{} has no {} tensor cores (no {} peak in the catalog)", chip.id, to_string(precision),
                     to_string(type));
}

double saved_gemm_input_bytes(Precision precision) {
  return precision == Precision::bf16 ? 2.0 : bytes_per_element(gemm_data_type(precision));
}

double quantise_bytes_per_element(Precision precision) {
  constexpr double kRead = 2.0;
  switch (precision) {
    case Precision::bf16: return 0.0;
    case Precision::fp8: return kRead + 1.0;
    case Precision::mxfp8: return kRead + 2.0 * bytes_per_element(DataType::mxfp8);
    case Precision::nvfp4: {
      const double copies = 2.0 * bytes_per_element(DataType::nvfp4);
      const double hadamard = kRead + bytes_per_element(DataType::nvfp4);
      return kRead + copies + hadamard;
    }
  }
  return 0.0;
}

std::vector<PlanProblem> hybrid_plan_problems(const ModelArch& model, const ParallelPlan& plan) {
  std::vector<PlanProblem> out;
  if (!model.is_hybrid()) return out;
  if (model.mamba && model.layer_count(LayerKind::mamba) > 0) {
    if (model.mamba->heads % plan.tp != 0 || model.mamba->groups % plan.tp != 0) {
      out.push_back({"tp", fmt::format("tp {} must divide the model's {} Mamba heads and {} groups", plan.tp,
                                       model.mamba->heads, model.mamba->groups)});
    }
    if (plan.cp > 1) out.push_back({"cp", "context parallelism of Mamba layers is not modelled: use cp 1"});
  }
  if (plan.recompute == Recompute::per_op) {
    out.push_back({"recompute", "per-operator checkpointing is not modelled for hybrid models"});
  }
  if (plan.offload_activation_layers > 0) {
    out.push_back({"offload_activation_layers", "activation offloading is not modelled for hybrid models"});
  }
  return out;
}

}  // namespace flopcast
