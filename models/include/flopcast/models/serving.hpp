#pragma once
// Serving: the deployment (pools of model instances, their parallel plans and batching limits), the workload, and
// the cost of one engine step from the same kernel model as training. A step runs one continuous batch: decode
// tokens of running sequences and prefill chunks of new ones. GEMMs take the longer of their FLOPs at the large-
// GEMM efficiency and their weight and activation bytes over HBM (so small-batch decode is bound by reading the
// weights); decode attention reads each sequence's KV cache; MoE layers read only the experts the batch touches.
// The request-level simulation (sim/serve_sim) and the plan search use this.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "flopcast/hardware/topology.hpp"
#include "flopcast/models/accounting.hpp"
#include "flopcast/models/memory.hpp"
#include "flopcast/models/assumptions.hpp"
#include "flopcast/models/plan.hpp"
#include "flopcast/models/step_work.hpp"

namespace flopcast {

// How one model instance spreads over chips: tp x dp_attention x pp chips. Attention runs tensor-parallel over
// tp inside each of dp_attention data-parallel attention ranks (each with its own requests and KV cache); MoE
// layers run expert-parallel over all tp x dp_attention chips of a stage (ep = tp x dp_attention) or tensor-
// parallel with every expert split tp ways (ep = 1); dense FFNs are tensor-parallel over tp.
struct ServingPlan {
  int tp = 1;
  int pp = 1;
  int dp_attention = 1;
  int ep = 1;
  int chips() const { return tp * pp * dp_attention; }
  // The ways each routed expert's width is split: tp with ep 1; 1 when the experts spread over every chip of a stage
  // (ep = tp x dp_attention); tp / ep when ep groups of chips each hold E / ep experts split over the group
  // (TensorRT-LLM's moe_tp_size under tensor-parallel attention, e.g. TP8 with EP2 splits each expert 4 ways).
  int expert_tp() const { return ep > 1 ? tp * dp_attention / ep : tp; }
};

// Continuous batching limits of one instance.
struct Batching {
  long max_batch_tokens = 8192;     // tokens per step, decode and prefill together, per attention rank
  int max_running = 256;            // sequences per attention rank
  long prefill_chunk_tokens = 8192; // longest prefill chunk of one sequence in one step
  // false: a prompt prefills whole in one step, or waits (with every request behind it) for a step with room for it;
  // one longer than max_batch_tokens runs alone, cut at it (TensorRT-LLM without enable_chunked_prefill, whose
  // MicroBatchScheduler stops at the first context that does not fit).
  bool chunked_prefill = true;
  // Admit a request only when the KV cache can hold its prompt and its whole output (TensorRT-LLM's default
  // GUARANTEED_NO_EVICT scheduler); otherwise admit on the prompt and preempt when the cache fills (vLLM, SGLang).
  bool reserve_output = false;
  // Batch sizes captured as CUDA graphs, ascending (empty: none). A step in which every attention rank only decodes
  // replays the smallest graph that holds the busiest rank's sequences, each rank padded to it with dummy
  // sequences that go through every GEMM, the router and the experts like real ones (TensorRT-LLM's
  // cuda_graph_config enable_padding; vLLM and SGLang pad to their captured sizes too). Larger steps, and steps with
  // a prefill, run eagerly at their own size.
  std::vector<int> graph_batch_sizes;
  // The sequences per rank a decode-only step of `seqs` on the busiest rank computes.
  double graph_padded_seqs(double seqs) const;
};

enum class PoolRole { both, prefill, decode };
std::string_view to_string(PoolRole role);

struct ServingPool {
  PoolRole role = PoolRole::both;
  int chips = 1;
  ServingPlan plan;
  Batching batching;
  int instances() const { return chips / plan.chips(); }
};

// offline: every request queued at time zero, the engine takes them as fast as it can (trtllm-bench's throughput
// mode, an infinite request rate); it is the closed loop with as many clients as requests.
enum class ArrivalKind { poisson, concurrency, trace, offline };
enum class LengthDistribution { fixed, exponential };

struct TraceRequest {
  double arrival_s = 0;
  long input_tokens = 1;
  long output_tokens = 1;
};

struct Workload {
  ArrivalKind arrival = ArrivalKind::poisson;
  double rate_per_s = 1;    // poisson
  int concurrency = 1;      // closed loop: this many clients, each sends its next request when the last finishes
                            // (offline: the number of requests)
  long requests = 1000;     // poisson and concurrency
  double input_tokens = 1000;   // mean
  double output_tokens = 200;   // mean
  LengthDistribution lengths = LengthDistribution::fixed;
  std::vector<TraceRequest> trace;
  std::uint64_t seed = 1;
  // Random token ids, as benchmarks' synthetic datasets feed (trtllm-bench's token-norm-dist): they route unevenly
  // over the experts (Assumptions::serving_synthetic_expert_load_cv); text routes as the model was trained to.
  bool synthetic_tokens = false;
  bool closed_loop() const { return arrival == ArrivalKind::concurrency || arrival == ArrivalKind::offline; }
};

struct Slo {
  double ttft_s = 2.0;
  double tpot_s = 0.1;
};

// Multi-token prediction used for speculative decoding: each decode step verifies `draft_tokens` drafted tokens
// per sequence; each is accepted with `acceptance_rate` if all before it were.
struct Mtp {
  int draft_tokens = 0;
  double acceptance_rate = 0;
  // Tokens a sequence gains per step on average: 1 + a + a^2 + ... + a^d.
  double expected_tokens_per_step() const;
};

struct ServingSetup {
  // Weights as stored: bf16, fp8, int8, nvfp4 or mxfp4. The routed experts may be stored in their own type (gpt-oss
  // ships its experts in MXFP4, NVIDIA's DeepSeek-R1 checkpoints theirs in NVFP4 beside FP8 attention). A 4-bit type
  // the chip has no tensor-core units for is weight-only quantisation: read in 4 bits, multiplied in the chip's 8-bit
  // type (or bf16).
  DataType weight_type = DataType::bf16;
  DataType expert_weight_type = DataType::bf16;
  DataType kv_type = DataType::bf16;      // KV cache elements
  std::vector<ServingPool> pools;         // one (role both), or a prefill pool and a decode pool
  Workload workload;
  Slo slo;
  Mtp mtp;
  double prefix_cache_hit_rate = 0;  // share of input tokens found in the prefix cache (no prefill compute)
  bool two_batch_overlap = false;    // each step split in two micro-batches so communication hides behind compute
  // A sliding-window layer's KV cache holds its window (vLLM's hybrid allocator, SGLang) or, false, every token
  // like a full-attention layer (TensorRT-LLM unless kv_cache_config.max_attention_window is set per layer; its
  // attention kernel still reads the window only).
  bool window_kv_only = true;
  // How the expert-parallel group moves tokens to their experts: an all-to-all of each token to the ranks holding its
  // experts, once per rank (DeepEP, TensorRT-LLM's NVLink one-sided all-to-all), or an all-gather of every rank's
  // tokens to every rank and a reduce-scatter of the experts' outputs (TensorRT-LLM's attention-DP MoE without an
  // all-to-all backend).
  enum class MoeDispatch { all_to_all, allgather };
  MoeDispatch moe_dispatch = MoeDispatch::all_to_all;
  // Experts placed by their measured load, the popular ones copied (DeepSeek's EPLB, SGLang's and vLLM's
  // --enable-eplb): every rank's mean load is the same, and only a batch's sampling spread is left.
  bool balanced_experts = false;
  // The type the dispatch sends; unset: 8-bit when the expert weights are narrower than 16 bits, else bf16. The
  // combine is always bf16.
  std::optional<DataType> dispatch_type;
  bool disaggregated() const { return pools.size() == 2; }
};

struct ServingJob {
  std::string name;
  ModelArch model;
  ClusterSetup cluster;
  CostSetup costs;
  ServingSetup serving;
};

// The work of one engine step of one instance. Per-rank quantities are the busiest attention-DP rank's.
struct BatchShape {
  double decode_seqs = 0;      // sequences decoding (each verifies 1 + draft tokens)
  double decode_context = 0;   // sum of their context lengths (KV entries read)
  double prefill_tokens = 0;   // new prefill tokens
  double prefill_seqs = 0;     // sequences those tokens belong to
  double prefill_pairs = 0;    // causal attention pairs: sum over chunks of chunk x (earlier context + chunk / 2)
  // The same two in a sliding-window layer (each query sees at most the window); equal to the above without one.
  double decode_window_context = 0;
  double prefill_window_pairs = 0;
  double instance_tokens = 0;  // tokens of all attention-DP ranks of the instance (what the experts see); 0: ranks x this rank's
};

struct StepCost {
  double time_s = 0;
  double prefill_share = 0;  // share of the step's time spent on prefill (cost attribution)
};

// Memory of one chip of an instance: weights, workspace, and what is left for the KV cache.
struct ServingMemory {
  double weights_bytes = 0;
  double workspace_bytes = 0;
  double reserved_bytes = 0;
  double usable_bytes = 0;
  double kv_bytes = 0;               // usable - weights - workspace - reserved
  double kv_bytes_per_token = 0;     // on this chip, for one token of one sequence (its layers, its KV heads)
  // What a sequence's sliding-window layers hold (their window of keys), in tokens of kv_bytes_per_token: a fixed
  // share of the cache each running sequence takes besides its context. The full-attention layers are the ones
  // counted per token; with no full-attention layer, every layer is counted per token and this is 0.
  long kv_window_tokens = 0;
  long kv_capacity_tokens = 0;       // per attention-DP rank
  bool fits() const { return kv_capacity_tokens > 0; }
};

// How a GEMM against weights of one stored type runs on a chip: in the type the engines pair with those weights
// (MXFP4 weights with MXFP8 activations, NVFP4 with NVFP4, the others with their own type) where the chip has units
// for it; otherwise a 4-bit type is dequantised in the kernel against bf16 activations (weight-only), an 8-bit one
// multiplies in fp8 where the chip has it, or in bf16.
struct GemmPath {
  double peak_flop_per_s = 0;  // of the type it multiplies in, at the sustained clock
  double efficiency = 0;       // of large GEMMs of that type (int8 shares fp8's, the FP4 formats NVFP4's)
  double weight_bytes = 2;     // per parameter, as stored
  double input_bytes = 2;      // per activation element fed to it (the type it multiplies in)
};
GemmPath gemm_path(const Chip& chip, const KernelEfficiency& kernel, DataType stored);

// The step-time model of one pool's instances.
class ServingModel {
 public:
  ServingModel(const ServingJob& job, const ServingPool& pool, const TopologySummary& topology,
               const Assumptions& assumptions);

  StepCost step(const BatchShape& shape) const;
  // Useful FLOPs of a batch (2 x active parameters per token, and the attention core), for utilisation. `shape`
  // covers the whole instance here, every rank's tokens added up.
  double model_flop(const BatchShape& shape) const;
  const ServingMemory& memory() const { return memory_; }
  const ServingPool& pool() const { return pool_; }
  // Decode tokens one sequence verifies per step (1 + MTP drafts).
  double tokens_per_decode_step() const { return 1.0 + mtp_.draft_tokens; }
  // Keys a sliding-window layer's query sees (0: the model has no window).
  double window_tokens() const { return model_.window_tokens(); }
  // Bytes of one token's KV cache for the whole model (what disaggregation sends from prefill to decode).
  double kv_transfer_bytes_per_token() const { return kv_model_bytes_per_token_; }
  // Seconds of one GEMM of m rows against an n x k weight on one of the pool's chips.
  double gemm_s(double m, double n, double k, const GemmPath& path) const;
  // Seconds of one grouped GEMM over `groups` experts' n x k weights with `rows` token rows in all (the routed
  // experts' FC1 or FC2 in one launch): the longer of its FLOPs, at the grouped kernel's share of the dense
  // efficiency for rows / groups tokens per expert (as training's), and its weights and activations streamed at the
  // grouped kernel's measured share of HBM bandwidth.
  double grouped_gemm_s(double rows, double groups, double n, double k, const GemmPath& path) const;
  // Seconds of an MoE layer's token shuffle on one chip, the memory-bound kernels around its grouped GEMMs
  // (TensorRT-LLM's expand and finalize, vLLM's and SGLang's permute and un-permute): the routed copies gathered into
  // expert order (read in bf16, written in the type the experts multiply in) and, after FC2, read back by the kernel
  // that weights and sums each token's copies (one bf16 write per token). `copies` rows reach this chip's experts
  // for `tokens` tokens.
  double expert_shuffle_s(double copies, double tokens) const;
  // The expert-parallel exchange of one MoE layer on one attention rank with `tokens` tokens of an instance with
  // `instance_tokens` in all: the dispatch and the bf16 combine, as all-to-alls of the rank's routed copies or as an
  // all-gather of every rank's tokens and a reduce-scatter (ServingSetup::moe_dispatch). Empty without ep.
  Collective expert_exchange(double tokens, double instance_tokens) const;

 private:
  struct LayerTime {
    double compute_s = 0;
    double communication_s = 0;
  };
  double step_s(const BatchShape& shape) const;
  double stages_s(const BatchShape& micro_batch) const;
  LayerTime layer(const BatchShape& s, bool moe_layer, bool windowed) const;
  double layer_s(const BatchShape& s, bool moe_layer, bool windowed) const;
  // A dense or MoE layer averaged over the full-attention and sliding-window layers.
  double mean_layer_s(const BatchShape& s, bool moe_layer) const;
  double head_s(double rows) const;
  double mtp_s(double seqs) const;
  double memory_s(double bytes) const { return bytes / hbm_rate_; }
  Collective tp_all_reduce(double tokens) const;

  const ModelArch& model_;
  ServingPool pool_;
  Mtp mtp_;
  bool two_batch_overlap_ = false;
  ServingSetup::MoeDispatch moe_dispatch_ = ServingSetup::MoeDispatch::all_to_all;
  double dispatch_bytes_ = 1;
  KernelEfficiency kernel_;
  ClusterLinks links_;
  double peak_bf16_ = 0;
  GemmPath bf16_;     // router and output head
  GemmPath dense_;    // attention, dense FFNs, shared experts
  GemmPath experts_;  // routed experts
  double hbm_rate_ = 0;
  double kv_element_bytes_ = 2;
  double per_step_overhead_s_ = 0;
  double per_layer_overhead_s_ = 0;
  double per_moe_layer_overhead_s_ = 0;
  double expert_load_cv_ = 0;  // of the served tokens' routing; 0 for text or with balanced placement
  double busiest_rank_z_ = 0;  // expected_max_standard_normal(ep)
  double grouped_hbm_rate_ = 0;
  double weight_hbm_rate_ = 0;  // what a dense GEMM streams its weight at (KernelEfficiency::weight_read)
  double kv_hbm_rate_ = 0;      // what decode attention streams the KV cache at (KernelEfficiency::kv_read)
  double active_params_ = 0;
  double kv_model_bytes_per_token_ = 0;
  double window_share_ = 0;  // share of the attention layers that attend within a sliding window
  std::vector<StageLayout> stages_;
  ServingMemory memory_;
};

struct LatencyStats {
  double mean_s = 0;
  double p50_s = 0;
  double p90_s = 0;
  double p99_s = 0;
};
// Mean and percentiles (nearest rank) of `values`, which it sorts.
LatencyStats latency_stats(std::vector<double>& values);

struct ServingPoolResult {
  PoolRole role = PoolRole::both;
  int chips = 0;
  int instances = 0;
  ServingPlan plan;
  Batching batching;
  ServingMemory memory;
  double busy_fraction = 0;          // of the run, instances stepping
  double prefill_share = 0;          // of the busy time, spent on prefill
  double kv_occupancy_mean = 0;      // time-weighted, of the KV capacity
  double kv_occupancy_max = 0;
  double mean_batch_seqs = 0;        // sequences per step per attention rank
  long steps = 0;
};

struct ServingResult {
  std::string tier;  // "analytical" or "discrete-event"
  long requests = 0;
  long preemptions = 0;
  double duration_s = 0;  // from the start to the last completion
  double input_tokens = 0;
  double output_tokens = 0;
  double input_tokens_per_s = 0;
  double output_tokens_per_s = 0;
  double input_tokens_per_s_per_chip = 0;
  double output_tokens_per_s_per_chip = 0;
  double input_tokens_per_s_per_node = 0;
  double output_tokens_per_s_per_node = 0;
  LatencyStats ttft;
  LatencyStats tpot;
  LatencyStats e2e;
  double goodput_requests_per_s = 0;  // requests within both SLOs
  double goodput_fraction = 0;
  double goodput_output_tokens_per_s = 0;
  double arrival_rate_per_s = 0;          // requests completed / duration
  double mean_requests_in_system = 0;     // time-weighted (Little's law: = arrival rate x mean e2e)
  double mfu = 0;                         // model FLOP/s per chip / dense bf16 peak
  double facility_power_w = 0;
  double energy_kwh = 0;
  double kwh_per_mtok = 0;     // input and output tokens together
  double cost_usd = 0;
  double usd_per_hour = 0;
  double usd_per_m_input = 0;  // the prefill share of the cost over the input tokens
  double usd_per_m_output = 0; // the decode share over the output tokens
  double usd_per_m_tokens = 0; // all of it over all tokens
  // The model's error spread for this deployment (log space; the dense or MoE one): each figure's p10 and p90 are
  // its prediction x exp(-+1.2816 sigma), a rate's p10 the lower, a time's or a price's the higher.
  double log_sigma = 0;
  std::vector<ServingPoolResult> pools;
  long simulated_steps = 0;
  double wall_s = 0;
  std::vector<std::string> notes;
};

// Throughput per chip and node, goodput, power, energy and cost from the counts a tier filled in (requests,
// tokens, duration, pools' busy and prefill shares).
void complete_serving(ServingResult& result, const ServingJob& job, const TopologySummary& topology,
                      const Assumptions& assumptions);
// A figure's p10 and p90 under the result's spread: {low, high} of the prediction x exp(-+1.2816 sigma).
std::pair<double, double> serving_range(const ServingResult& result, double value);

// Tier 1: steady-state throughput and latency from the step-time model (decode batch from Little's law, prefill
// interference, the KV cache's limit on the batch). Microseconds; what the plan search uses.
ServingResult estimate_serving(const ServingJob& job, const TopologySummary& topology, const Assumptions& assumptions);

// KV cache bytes per token on one chip: the stage's share of the layers, the chip's share of the KV heads (MHA and
// GQA split KV heads over tp, up to one head per chip; MLA's latent is the same on every TP rank). Sliding-window
// layers are left out when they hold only their window (`windows_kept`), counted like the others when the engine
// gives every layer the whole sequence.
double kv_bytes_per_token_per_chip(const ModelArch& model, const ServingPlan& plan, double element_bytes,
                                   bool windows_kept = true);

// The expected largest of n independent standard normal draws (0 for n = 1; 1/sqrt(pi) for 2).
double expected_max_standard_normal(int n);

// The busiest of `ep` ranks' share of `copies` routed token copies over `experts` experts (E / ep on each), relative
// to the mean 1 / ep: 1 + z(ep) x the relative spread of a rank's load, sqrt(cv^2 ep / E + ep / copies), from the
// experts' popularity (coefficient of variation `load_cv`) and from sampling `copies` copies.
double serving_expert_imbalance(double experts, int ep, double copies, double load_cv);
// The same with z(ep) = expected_max_standard_normal(ep) already at hand.
double serving_expert_imbalance(double experts, int ep, double copies, double load_cv, double z);

// Distinct experts a batch of `tokens` touches among `experts`, each token picking `top_k`:
// E (1 - (1 - k / E)^tokens).
double experts_touched(double experts, double top_k, double tokens);

// Problems with a plan for this model and pool (empty when it is valid): divisibility, ep, dp_attention.
std::vector<std::string> serving_plan_problems(const ModelArch& model, const ServingPool& pool, int node_chips);

}  // namespace flopcast
