#pragma once
// Efficiency, overhead, power and cost defaults with physical meaning, loaded from models/data/assumptions.json
// where each carries its source or its reasoning; `flopcast calibrate` refits some of them against published runs
// (models/data/calibration.json).

#include <array>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "flopcast/core/units.hpp"

namespace flopcast {

// Kernel efficiency of one chip family, as fractions of the dense peak (or of the HBM bandwidth).
struct KernelEfficiency {
  double gemm_bf16 = 0.8;         // large bf16 GEMMs
  double gemm_fp8 = 0.7;          // large fp8 GEMMs (per-tensor and MXFP8 scaling)
  double gemm_fp4 = 0.6;          // large NVFP4 GEMMs
  double gemm_half_dim = 64;      // a GEMM dimension of this size reaches half the large-GEMM efficiency
  // A grouped GEMM (the routed experts' one launch over many small, ragged problems) against one dense GEMM of the
  // same per-problem shape: the fraction of the dense efficiency it keeps (per-group scheduling, ragged tails).
  double grouped_gemm = 0.85;
  double attention_forward = 0.7;
  double attention_backward = 0.55;
  // Attention efficiency against sequence length s and head size d: x (s / (s + half_seq)) (d / (d + half_head_dim)),
  // relative to 16K tokens and head size 128, where attention_forward and attention_backward are stated.
  double attention_half_seq = 256;
  double attention_half_head_dim = 32;
  // FlashAttention-2's rate over the fused kernel attention_forward and attention_backward describe (cuDNN's or
  // FlashAttention-3's on Hopper, which Transformer Engine runs): what PyTorch's SDPA flash backend reaches.
  double flash2_fraction = 1.0;
  double memory_bound = 0.85;     // achieved / peak HBM bandwidth for elementwise and normalisation kernels
  // A grouped GEMM with a few tokens per expert streams the experts' weights: achieved / peak HBM bandwidth (below
  // memory_bound: many short ragged problems, each group's tiles loaded apart).
  double grouped_weight_read = 0.57;
  // A dense GEMM of a few rows streams its weight: achieved / peak HBM bandwidth (one launch of a contiguous weight,
  // closer to a copy than the element-wise kernels of memory_bound are).
  double weight_read = 0.82;
  // Decode attention streams every running sequence's KV cache once a step: achieved / peak HBM bandwidth of the
  // serving engine's decode attention kernel (paged blocks gathered per sequence; serving only). The default is
  // Hopper's value fitted to the serving runs (models/data/assumptions.json, which every family sets).
  double kv_read = 0.70;
  // Share of the chip's streaming multiprocessors (AI cores) that the expert all-to-all kernels hold while DualPipe
  // overlaps them with computation (DeepEP's dispatch and combine run on SMs of their own): the kernels of a
  // DualPipe step run on the rest.
  double all_to_all_sm_fraction = 0.0;
  // The expert (and context-parallel) all-to-all over the scale-up fabric: achieved / peak bytes per second per
  // direction of the rows it sends (DeepEP's and HybridEP's SM-limited kernels, TensorRT-LLM's NVLink all-to-all).
  double all_to_all_efficiency = 0.75;
};

// How far a prediction may be off: log(predicted / measured) ~ Normal(0, sigma). The spread for chip families with
// calibration runs and for the others, and per slice of the calibration runs; the prior is in assumptions.json, and
// `flopcast calibrate` replaces it with the cross-validated spread of each tier (leave one source out, and leave one
// chip family out).
struct PredictionSpread {
  double calibrated_log_sigma = 0.19;
  double uncalibrated_log_sigma = 0.3;
  // By slice of the calibration runs, spread_class(family, moe) ("hopper/dense", "blackwell/moe") or a family
  // ("ascend-910"): that slice's own cross-validated spread where the calibration had enough runs of it.
  std::map<std::string, double> by_class;
};

// The slice a prediction's spread is looked up by: "<chip family>/dense" or "<chip family>/moe".
std::string spread_class(const std::string& family, bool moe);

struct Assumptions {
  std::map<std::string, KernelEfficiency> kernels;  // by chip family
  double bus_efficiency_switch = 0.8;      // collective bus bandwidth / link bandwidth, switched scale-up
  double bus_efficiency_mesh = 0.7;        // full-mesh scale-up (HCCS)
  double bus_efficiency_supernode = 0.75;  // rack-scale switched domains (NVL72, CloudMatrix)
  double bus_efficiency_scaleout = 0.85;   // InfiniBand / RoCE NIC
  double all_to_all_efficiency_scaleout = 0.8;
  double tree_bandwidth_fraction = 0.92;   // double binary tree bus bandwidth / ring bus bandwidth, across nodes
  double tp_overlap_hidden_fraction = 0.7;  // share of TP communication hidden when overlap is on
  double ep_overlap_hidden_fraction = 0.7;  // share of each expert all-to-all hidden with ep_comm_overlap on
  double per_step_overhead_s = 0.1;
  double per_layer_overhead_s = 50e-6;      // per layer per micro-batch, forward + backward (launch gaps, syncs)
  // More per MoE layer per micro-batch, forward + backward: the router's small kernels (scores, top-k, auxiliary
  // loss), token permutation bookkeeping, and dropless routing's wait for the tokens-per-expert counts on the host.
  double per_moe_layer_overhead_s = 100e-6;
  double memory_reserved_bytes = 3.0 * kBytesPerGiB;
  double memory_usable_fraction = 0.95;
  // The share of the node's peak host DRAM bandwidth a CPU optimizer step streams at (optimizer CPU offload).
  double host_optimizer_bandwidth_fraction = 0.5;
  double chip_power_fraction_of_tdp = 0.8;
  double pue = 1.3;
  double electricity_usd_per_kwh = 0.08;
  double depreciation_years = 5;
  // Serving engines (forward only, CUDA graphs): scheduling, sampling and detokenisation per step; launch gaps per
  // layer per micro-batch; KV cache page size.
  double serving_per_step_overhead_s = 2e-3;
  double serving_per_layer_overhead_s = 10e-6;
  double serving_per_moe_layer_overhead_s = 45e-6;  // an MoE layer's routing kernels (top-k, sort), at decode sizes
  // Coefficient of variation of the experts' shares of routed tokens when a benchmark feeds random token ids
  // (Workload::synthetic_tokens; text is taken as evenly routed, as the models were trained to route it). With
  // expert parallelism the busiest rank's experts receive more than 1/ep of the copies, and every rank waits for it
  // (serving_expert_imbalance).
  double serving_synthetic_expert_load_cv = 0;
  // The serving model's error spread in log space, from its cross-validated errors on published serving runs (flopcast
  // serve --validate --cv): a figure's p10-p90 is its prediction x exp(-+1.2816 sigma). Dense and MoE models.
  double serving_log_sigma_dense = 0.1;
  double serving_log_sigma_moe = 0.3;
  double kv_block_tokens = 16;

  // Per tier: [0] analytical, [1] discrete-event (tiers 2 and 3).
  std::array<PredictionSpread, 2> prediction_spread{};
  std::vector<std::string> calibrated_families;  // chip families the calibration saw; empty before any calibration
  std::string prediction_spread_source;          // where the spread comes from

  // A chip family with no calibration runs of its own takes the kernel efficiencies of a calibrated family (its
  // predecessor, or the nearest architecture): target family -> source family (assumptions.json, kernel_transfer).
  std::map<std::string, std::string> kernel_transfer;

  // Every value as read, with its provenance, for the results' assumptions list.
  std::vector<std::pair<std::string, Quantity>> provenance;
  // The value named `name` ("kernels.hopper.grouped_gemm") as read, or null.
  const Quantity* recorded(std::string_view name) const;

  const KernelEfficiency& kernel(const std::string& family) const;
  // The model's log spread at tier index `tier` ([0] analytical, [1] discrete-event) for a chip family and
  // architecture: the slice's own where the calibration has one, else the family's, else the calibrated or the
  // uncalibrated spread.
  double model_log_sigma(std::size_t tier, const std::string& family, bool moe) const;
  // The by_class key that model_log_sigma takes ("hopper/dense", or the family alone); empty when none applies.
  std::string spread_slice(std::size_t tier, const std::string& family, bool moe) const;

  // The value a calibration can fit, by its name in the assumptions list ("kernels.hopper.gemm_bf16",
  // "collectives.bus_efficiency_scaleout", "overheads.per_step" in seconds); null for an unknown name.
  double* field(std::string_view name);
  const double* field(std::string_view name) const { return const_cast<Assumptions*>(this)->field(name); }
};

// Gives every family without a fitted kernel parameter in `fitted` (the calibration's fitted names), and that
// kernel_transfer maps to one with them, the source family's calibration corrections: each kernel efficiency the
// source had fitted, as the fitted value over the source's prior (`prior`), times the family's own prior. The priors
// state how the families compare (A100's cuBLAS reaches a larger share of its peak than H100's); the calibration says
// how far they were off. A precision the source has no units for (so no fit) takes the correction of its next wider
// one (gemm_fp4 that of gemm_fp8, gemm_fp8 that of gemm_bf16), an unfitted attention_forward that of
// attention_backward; the family's own measured values stay. First, a family with a fitted attention_backward and an
// attention_forward neither fitted nor measured gives the forward the backward's correction (the same kernels both
// ways; no run separates them). Each value's provenance names the correction it took.
void transfer_kernels(Assumptions& a, const Assumptions& prior, const std::set<std::string>& fitted);

// models/data/assumptions.json, then the fitted values of a calibration over it unless `calibrated` is false (the prior
// a calibration starts from): `calibration_file` (what `flopcast calibrate` wrote; it must exist), or where it is
// empty the shipped models/data/calibration.json (where present).
Assumptions load_assumptions(const std::filesystem::path& root, bool calibrated = true,
                             const std::filesystem::path& calibration_file = {});

}  // namespace flopcast
