#include "flopcast/models/plan.hpp"

namespace flopcast {

std::string_view to_string(Recompute recompute) {
  switch (recompute) {
    case Recompute::none: return "none";
    case Recompute::selective: return "selective";
    case Recompute::full: return "full";
  }
  return "?";
}

std::string_view to_string(Schedule schedule) {
  switch (schedule) {
    case Schedule::gpipe: return "gpipe";
    case Schedule::one_f_one_b: return "1f1b";
    case Schedule::interleaved: return "interleaved";
    case Schedule::dualpipe: return "dualpipe";
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

std::string_view to_string(Precision precision) { return precision == Precision::fp8 ? "fp8" : "bf16"; }

}  // namespace flopcast
