#pragma once
// A training job as the estimator sees it: the model, the hardware, the parallel plan, the training setup and the
// prices, all resolved and validated (scenarios/ builds it from a file; nothing here reads JSON).

#include <optional>
#include <string>
#include <vector>

#include "flopcast/hardware/catalog.hpp"
#include "flopcast/hardware/topology.hpp"
#include "flopcast/models/architecture.hpp"

namespace flopcast {

enum class Recompute { none, selective, full };
enum class Schedule { gpipe, one_f_one_b, interleaved, dualpipe };
enum class Precision { bf16, fp8 };

std::string_view to_string(Recompute recompute);
std::string_view to_string(Schedule schedule);
std::string_view to_string(Precision precision);

// Whether a schedule runs its pipeline sends behind computation: the interleaved and DualPipe schedules do; 1F1B and
// GPipe exchange activations and gradients synchronously between passes (Megatron's send_forward_recv_backward waits
// for its requests; DeepSpeed's pipeline engine sends in line). Every tier follows it.
bool overlaps_pipeline_sends(Schedule schedule);

struct ParallelPlan {
  int tp = 1;   // tensor parallel
  int pp = 1;   // pipeline stages
  int dp = 1;   // data parallel replicas
  int ep = 1;   // expert parallel (carved out of tp x cp x dp; experts are not tensor-split)
  int cp = 1;   // context parallel
  int vpp = 1;  // virtual stages per pipeline rank (interleaved schedule)
  bool sp = false;  // sequence parallel (with tp)
  int zero = 1;     // 0: replicated optimizer; 1: sharded optimizer states; 2: + gradients; 3: + weights
  int micro_batch = 1;  // sequences per micro-batch
  Recompute recompute = Recompute::none;
  Schedule schedule = Schedule::one_f_one_b;
  bool tp_comm_overlap = false;  // TP collectives overlapped with GEMMs (Transformer Engine userbuffers)
  bool dp_overlap = true;        // gradient reduce-scatter behind backward, parameter all-gather ahead of forward
};

struct TrainingSetup {
  int seq_len = 4096;
  long global_batch = 1;  // sequences per optimizer step
  Precision precision = Precision::bf16;
  double tokens = 0;      // tokens to train on
  bool dropout = false;   // dropout masks are stored (GPT-3-era models); modern LLMs train without
  bool flash_attention = true;  // no attention score matrix is stored
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
