#pragma once
// The work of one training step, as both fidelity tiers see it: per-layer compute times (GEMMs at a shape-dependent
// efficiency, attention at FlashAttention efficiency, memory-bound kernels at HBM bandwidth) and the collectives each
// layer, pipeline hop and data-parallel synchronisation needs. The analytical tier adds these up with closed-form
// overlap and bubble rules; the discrete-event tiers (sim/) replay them op by op through a schedule and a network.

#include <vector>

#include "flopcast/hardware/topology.hpp"
#include "flopcast/models/assumptions.hpp"
#include "flopcast/models/collectives.hpp"
#include "flopcast/models/memory.hpp"
#include "flopcast/models/plan.hpp"

namespace flopcast {

// Compute time of one block for one micro-batch on one chip, in seconds.
struct Pass {
  double gemm_s = 0;
  double attention_s = 0;
  double memory_s = 0;
  double compute_s() const { return gemm_s + attention_s + memory_s; }
  Pass& operator+=(const Pass& other);
  Pass scaled(double factor) const;
};
Pass operator+(Pass a, const Pass& b);

// One layer for one micro-batch on one chip. The forward runs attention block, TP collective, EP dispatch, FFN block,
// EP combine, TP collective; the backward runs the mirror image. A hybrid model's layers have one of the two blocks:
// the mixer (attention, or a Mamba-2 mixer in the attention passes) or the FFN, and one TP collective a pass.
struct LayerWork {
  bool mixer_block = true;
  bool ffn_block = true;
  int blocks() const { return (mixer_block ? 1 : 0) + (ffn_block ? 1 : 0); }
  Pass attention_forward;
  Pass ffn_forward;
  Pass attention_backward;
  Pass ffn_backward;
  Pass core_attention;     // the forward's attention core (scores to context)
  Pass recompute;          // what selective recomputation redoes before the backward (the plan's modules)
  bool recompute_dispatch = false;  // it recomputes the routed experts: dispatch and combine run again
  Collective tp;           // one tensor-parallel collective (a pass has one per block)
  // Context parallel: ring attention's exchange of K and V (a forward has cp - 1, a backward 2 (cp - 1)), hidden
  // behind the attention kernels; or Ulysses' all-to-alls of Q, K, V and the output (one set each way), which block.
  Collective cp;
  int cp_exchanges = 0;           // in a forward
  int cp_backward_exchanges = 0;  // in a backward
  bool cp_behind_attention = true;
  Collective ep_dispatch;  // expert-parallel all-to-all before the experts
  Collective ep_combine;   // and after them
  Pass forward() const { return attention_forward + ffn_forward; }
  Pass backward() const { return attention_backward + ffn_backward; }
};

// What one device does for the data-parallel part of a step.
struct DeviceSync {
  Collective gradients;   // reduce-scatter (all-reduce without a sharded optimizer) of this device's gradients
  Collective parameters;  // all-gather of the updated parameters (sharded optimizer)
  double optimizer_s = 0;  // the optimizer step (optimizer_step_s)
};

struct StepWork {
  int pp = 1;
  int vpp = 1;
  long micro_batches = 1;
  int node_chips = 1;
  LinkClass scaleup;
  LinkClass scaleout;
  LayerWork dense;
  LayerWork moe;          // MoE models; MTP modules use it too
  LayerWork mamba;        // hybrid models' single-block layers
  LayerWork attention;
  LayerWork experts;
  LayerWork mlp;
  bool moe_model = false;
  Pass head;              // output head and loss, per head
  Pass mtp_projection;    // an MTP module's 2h -> h projection
  Collective pp_hop;      // one activation (or its gradient) to the neighbouring stage
  // Virtual stages in model order: pp x vpp for interleaved, pp otherwise (DualPipe runs two model copies, each
  // over all pp stages, in opposite directions). Virtual stage v lives on device v % pp (DualPipe: v and pp-1-v).
  std::vector<StageLayout> chunks;
  std::vector<DeviceSync> sync;  // per device
  double tp_overlap_hidden_fraction = 0;  // of each TP collective, with tp_comm_overlap on
  double ep_overlap_hidden_fraction = 0;  // of each expert all-to-all, with ep_comm_overlap on
  double per_layer_overhead_s = 0;      // every layer and MTP module, per micro-batch, forward + backward
  double per_moe_layer_overhead_s = 0;  // more for an MoE layer (an MoE model's MTP modules are MoE layers)
  double per_step_overhead_s = 0;
  double peak_bf16_flop_per_s = 0;
  // Activation offloading (pp 1): the host copies' time per micro-batch beyond the compute they hide behind.
  double offload_stall_s = 0;

  const LayerWork& layer(bool moe_layer) const { return moe_layer ? moe : dense; }
  const LayerWork& layer(LayerKind kind) const;
  LayerWork& layer(LayerKind kind);
  // The fixed overheads of one micro-batch's forward and backward through a (virtual) stage, with the offloading
  // stall (only without a pipeline, where the one stage is the whole model). A hybrid model's single-block layer
  // launches about half a transformer layer's kernels: half the per-layer overhead.
  double overhead_s(const StageLayout& layout) const {
    const int moe_layers = layout.expert_bearing_layers() + (moe_model ? layout.mtp_modules : 0);
    const int single_block = layout.mamba_layers + layout.attention_layers + layout.expert_layers + layout.mlp_layers;
    const double layers = layout.layers() - 0.5 * single_block + layout.mtp_modules;
    return per_layer_overhead_s * layers + per_moe_layer_overhead_s * moe_layers + offload_stall_s;
  }
};

// The link classes of a cluster as one chip sees them: the scale-up fabric, its share of the NICs (after the
// fabric's bisection), and all-to-all traffic on each.
struct ClusterLinks {
  LinkClass scaleup;
  LinkClass scaleout;
  LinkClass a2a_up;
  LinkClass a2a_out;
  int node_chips = 1;
  // The link a group with this stride uses for point-to-point (neighbours).
  const LinkClass& neighbour(int stride) const { return stride < node_chips ? scaleup : scaleout; }
};
ClusterLinks cluster_links(const ClusterSetup& cluster, const TopologySummary& topology, const Assumptions& assumptions);

// What one token costs an expert-parallel exchange. per_expert: a row for each routed copy (Megatron's all-to-all
// dispatcher permutes the copies before the all-to-all, so two experts on one rank get two rows). per_destination:
// a row for each rank that holds some of its experts, and over the NIC one for each node, forwarded inside it
// (DeepEP's and HybridEP's dispatch and combine; the copies are made, and summed, on the receiving rank).
enum class ExpertCopies { per_expert, per_destination };

// How many ranks and nodes a token's experts land on, uniform routing over `ep` ranks of `node_chips` chips
// (node-limited routing first picks moe.node_limit of the nodes).
struct ExpertDestinations {
  double ranks = 0;         // ranks holding at least one of its top-k experts, its own included
  double remote_nodes = 0;  // nodes other than its own holding at least one
};
ExpertDestinations expert_destinations(const MoeDims& moe, int ep, int node_chips);

// Expert-parallel dispatch or combine of one chip's `local_tokens` tokens over `ep` ranks, `element_bytes` per
// hidden element, the busiest rank carrying `load` times the mean (ParallelPlan::expert_load): the NIC part and the
// scale-up part at the same time.
Collective expert_all_to_all(const MoeDims& moe, int ep, double hidden, double local_tokens, double load,
                             double element_bytes, const ClusterLinks& links, ExpertCopies copies);

StepWork build_step_work(const TrainingJob& job, const TopologySummary& topology, const Assumptions& assumptions);

// One chip's optimizer step over `shard_params` parameters, `on_chip_s` when all of them update on the chip. With
// plan.optimizer_offload_fraction f, Megatron's optimizer CPU offload with its copies overlapped: the slowest of the
// gradient copies to the host, the CPU Adam (host DRAM shared by the node's chips) and the copies back, each over f of
// the shard, beside the chip's step over the rest.
double optimizer_step_s(const TrainingJob& job, double on_chip_s, double shard_params, const Assumptions& assumptions);

// The work of each pipeline device: one StepWork for a single chip type, one per stage for a mixed fleet (each
// stage's chip and node swapped in). `of_device(works, d)` picks device d's.
std::vector<StepWork> build_stage_works(const TrainingJob& job, const TopologySummary& topology,
                                        const Assumptions& assumptions);

// Device d's entry of something kept once for a single chip type or once per device for a mixed fleet.
template <typename T>
const T& of_device(const std::vector<T>& per_device_or_one, int device) {
  return per_device_or_one[per_device_or_one.size() == 1 ? 0 : static_cast<std::size_t>(device)];
}

// Efficiency of one GEMM of m x k by k x n: peak_fraction x f(m) f(n) f(k), f(x) = x / (x + half_dim).
double gemm_efficiency(double m, double n, double k, double peak_fraction, double half_dim);

// FlashAttention's efficiency at sequence length `seq_len` and head size `head_dim`, relative to the reference shape
// (16K tokens, head size 128) at which the kernel efficiencies are stated: the product of s / (s + half_seq) and
// d / (d + half_head_dim), each over its value at the reference.
double attention_shape(double seq_len, double head_dim, const KernelEfficiency& k);

// The HBM traffic ring attention adds to a layer's attention beyond its kernels (the K and V buffers, the per-step
// outputs' merge, the gradients' sums over the steps), in bytes a chip, from its elements of Q, K and V together, and
// the output.
struct RingAttentionBytes {
  double forward = 0;
  double backward = 0;
};
RingAttentionBytes ring_attention_bytes(int cp, double q_elements, double kv_elements, double out_elements);

// The precision GEMMs run in on this chip for this setup: fp8 when asked for (validation ensures the chip has it).
DataType gemm_data_type(const TrainingJob& job);

// FlashAttention's backward recomputes the scores and computes dQ, dK, dV: 2.5x the forward matmul FLOPs
// (Dao 2023, FlashAttention-2, section 3.2: 5 matmuls in the backward against 2 in the forward).
inline constexpr double kAttentionBackwardFlopRatio = 2.5;
// Megatron-Core's unfused RoPE (rope_utils.py, _apply_rotary_pos_emb_bshd) against the fused kernel's one read and one
// write of Q and K: t * cos (read, write), rotate_half's negated half and concatenation (read 1.5, write 1.5), * sin
// (read, write) and the sum (read 2, write 1): 10 element passes against 2.
inline constexpr double kRopeUnfusedPasses = 5.0;

}  // namespace flopcast
