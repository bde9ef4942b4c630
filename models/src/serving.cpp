#include "flopcast/models/serving.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <numbers>

#include <fmt/format.h>

namespace flopcast {

std::string_view to_string(PoolRole role) {
  switch (role) {
    case PoolRole::both: return "both";
    case PoolRole::prefill: return "prefill";
    case PoolRole::decode: return "decode";
  }
  return "?";
}

double Mtp::expected_tokens_per_step() const {
  double tokens = 1.0;
  double chain = 1.0;
  for (int i = 0; i < draft_tokens; ++i) {
    chain *= acceptance_rate;
    tokens += chain;
  }
  return tokens;
}

double Batching::graph_padded_seqs(double seqs) const {
  const auto fits = std::lower_bound(graph_batch_sizes.begin(), graph_batch_sizes.end(), seqs,
                                     [](int size, double n) { return static_cast<double>(size) < n; });
  return fits == graph_batch_sizes.end() ? seqs : static_cast<double>(*fits);
}

double kv_bytes_per_token_per_chip(const ModelArch& m, const ServingPlan& plan, double element_bytes,
                                   bool windows_kept) {
  // The fullest stage's layers that keep every token: all of them but the sliding-window ones (unless every layer
  // has a window, or the engine keeps every token on them too).
  const int windowed = windows_kept && m.windowed_layers() < m.attention_layer_count() ? m.windowed_layers() : 0;
  const double layers = std::ceil(static_cast<double>(m.layers - windowed) / plan.pp);
  if (m.mla) return layers * (m.mla->kv_lora_rank + m.mla->qk_rope_head_dim) * element_bytes;
  const double heads_here = std::ceil(static_cast<double>(m.kv_heads) / plan.tp);
  return layers * 2.0 * heads_here * m.head_dim * element_bytes;
}

double expected_max_standard_normal(int n) {
  if (n <= 1) return 0.0;
  // Each n is integrated once per process (a plan search builds thousands of models over a few ep widths).
  static std::mutex mutex;
  static std::map<int, double> known;
  const std::lock_guard lock(mutex);
  if (const auto it = known.find(n); it != known.end()) return it->second;
  // E[max] = integral of x n phi(x) Phi(x)^(n-1) dx, by the midpoint rule over [-8, 8] (the tails beyond add less
  // than 1e-12).
  constexpr int kSteps = 4000;
  constexpr double kFrom = -8.0;
  constexpr double kWidth = 16.0 / kSteps;
  double sum = 0;
  for (int i = 0; i < kSteps; ++i) {
    const double x = kFrom + (i + 0.5) * kWidth;
    const double pdf = std::exp(-0.5 * x * x) / std::sqrt(2.0 * std::numbers::pi);
    const double cdf = 0.5 * std::erfc(-x / std::sqrt(2.0));
    sum += x * n * pdf * std::pow(cdf, n - 1);
  }
  return known[n] = sum * kWidth;
}

double serving_expert_imbalance(double experts, int ep, double copies, double load_cv, double z) {
  if (ep <= 1 || experts <= 0 || copies <= 0) return 1.0;
  return 1.0 + z * std::sqrt(load_cv * load_cv * ep / experts + ep / copies);
}

double serving_expert_imbalance(double experts, int ep, double copies, double load_cv) {
  return serving_expert_imbalance(experts, ep, copies, load_cv, expected_max_standard_normal(ep));
}

double experts_touched(double experts, double top_k, double tokens) {
  if (experts <= 0 || tokens <= 0) return 0.0;
  return experts * (1.0 - std::pow(1.0 - top_k / experts, tokens));
}

std::vector<std::string> serving_plan_problems(const ModelArch& m, const ServingPool& pool, int node_chips) {
  std::vector<std::string> out;
  const auto& p = pool.plan;
  if (m.is_hybrid()) {
    out.push_back(fmt::format("serving a hybrid model ({}: Mamba state per sequence, single-block layers) is not "
                              "modelled yet",
                              m.name));
  }
  if (m.moe && m.moe->latent > 0) {
    out.push_back(fmt::format("serving a LatentMoE model ({}: experts and all-to-alls in the latent width) is not "
                              "modelled yet",
                              m.name));
  }
  if (pool.chips % p.chips() != 0) {
    out.push_back(fmt::format("an instance takes tp x pp x dp_attention = {} x {} x {} = {} chips, which does not "
                              "divide the pool's {} chips",
                              p.tp, p.pp, p.dp_attention, p.chips(), pool.chips));
  }
  if (m.heads % p.tp != 0) out.push_back(fmt::format("tp {} does not divide the {} attention heads", p.tp, m.heads));
  if (p.tp > node_chips) {
    out.push_back(fmt::format("tp {} spans more than one {}-chip node; serving keeps tensor parallelism inside a node",
                              p.tp, node_chips));
  }
  if (p.pp > m.layers) out.push_back(fmt::format("pp {} is more than the {} layers", p.pp, m.layers));
  if (p.ep > 1) {
    if (!m.moe) {
      out.push_back(fmt::format("ep {} needs a mixture-of-experts model; {} is dense", p.ep, m.name));
    } else if (p.ep != p.tp * p.dp_attention && (p.dp_attention > 1 || p.tp % p.ep != 0)) {
      out.push_back(fmt::format("ep must be 1, tp x dp_attention = {} (experts spread over every chip of a stage) or, "
                                "with dp_attention 1, a divisor of tp (ep groups of chips, each expert split over its "
                                "group)",
                                p.tp * p.dp_attention));
    } else if (p.ep > m.moe->experts) {
      out.push_back(fmt::format("ep {} is more than the {} routed experts", p.ep, m.moe->experts));
    }
  }
  return out;
}

namespace {

constexpr double kActivationBytes = 2.0;  // bf16 activations
constexpr double kLogitBytes = 4.0;       // fp32 logits

double fill(double x, double half) { return x / (x + half); }

BatchShape scaled(const BatchShape& s, double f) {
  return {.decode_seqs = s.decode_seqs * f,
          .decode_context = s.decode_context * f,
          .prefill_tokens = s.prefill_tokens * f,
          .prefill_seqs = s.prefill_seqs * f,
          .prefill_pairs = s.prefill_pairs * f,
          .decode_window_context = s.decode_window_context * f,
          .prefill_window_pairs = s.prefill_window_pairs * f,
          .instance_tokens = s.instance_tokens * f};
}

}  // namespace

ServingModel::ServingModel(const ServingJob& job, const ServingPool& pool, const TopologySummary& topology,
                           const Assumptions& a)
    : model_(job.model),
      pool_(pool),
      mtp_(job.serving.mtp),
      two_batch_overlap_(job.serving.two_batch_overlap),
      moe_dispatch_(job.serving.moe_dispatch),
      kernel_(a.kernel(job.cluster.chip.family)),
      links_(cluster_links(job.cluster, topology, a)) {
  const auto& chip = job.cluster.chip;
  peak_bf16_ = chip.sustained_flop_per_s(DataType::bf16);
  bf16_ = gemm_path(chip, kernel_, DataType::bf16);
  dense_ = gemm_path(chip, kernel_, job.serving.weight_type);
  experts_ = gemm_path(chip, kernel_, job.serving.expert_weight_type);
  hbm_rate_ = chip.hbm_bandwidth.value * kernel_.memory_bound;
  grouped_hbm_rate_ = chip.hbm_bandwidth.value * kernel_.grouped_weight_read;
  weight_hbm_rate_ = chip.hbm_bandwidth.value * kernel_.weight_read;
  kv_hbm_rate_ = chip.hbm_bandwidth.value * kernel_.kv_read;
  kv_element_bytes_ = bytes_per_element(job.serving.kv_type);
  dispatch_bytes_ = job.serving.dispatch_type ? bytes_per_element(*job.serving.dispatch_type)
                    : experts_.weight_bytes < 2.0 ? 1.0
                                                  : kActivationBytes;
  per_step_overhead_s_ = a.serving_per_step_overhead_s;
  per_layer_overhead_s_ = a.serving_per_layer_overhead_s;
  per_moe_layer_overhead_s_ = a.serving_per_moe_layer_overhead_s;
  expert_load_cv_ = job.serving.balanced_experts || !job.serving.workload.synthetic_tokens
                        ? 0.0
                        : a.serving_synthetic_expert_load_cv;
  busiest_rank_z_ = expected_max_standard_normal(pool.plan.ep);
  const auto params = count_params(model_);
  active_params_ = params.active_without_input_embedding;
  // Sliding-window layers hold only their window: a sequence's KV grows with the full-attention layers alone
  // (unless every layer has a window).
  const int attention = model_.attention_layer_count();
  window_share_ = model_.windowed_layers() > 0 ? static_cast<double>(model_.windowed_layers()) / attention : 0.0;
  const bool windows_some = window_share_ > 0 && window_share_ < 1 && job.serving.window_kv_only;
  kv_model_bytes_per_token_ = kv_cache_bytes_per_token(model_, kv_element_bytes_) * (windows_some ? 1.0 - window_share_ : 1.0);

  // Weights of the fullest stage: non-expert weights split tp ways; routed experts over the ep ranks, or split tp
  // ways when ep is 1. MTP modules are loaded only when they draft.
  const auto& plan = pool.plan;
  stages_ = stage_layouts(model_, plan.pp);
  if (mtp_.draft_tokens == 0) stages_.back().mtp_modules = 0;
  ParallelPlan split;
  split.tp = plan.tp;
  double weights = 0;
  for (const auto& stage : stages_) {
    const auto held = stage_params(model_, params, stage, split);
    // An ep that does not divide the experts leaves some chips one expert more (or a redundant copy, as
    // DeepSeek's EPLB places them).
    const double expert_share =
        plan.ep > 1 && model_.moe
            ? std::ceil(static_cast<double>(model_.moe->experts) / plan.ep) / model_.moe->experts / plan.expert_tp()
            : 1.0 / plan.tp;
    weights = std::max(weights, held.dense * dense_.weight_bytes + held.expert * expert_share * experts_.weight_bytes);
  }
  auto& mem = memory_;
  mem.weights_bytes = weights;
  // Workspace: a step's activations (input, attention output, norms: about 4 h per token, and the widest FFN
  // intermediate twice) and the logits of every running sequence.
  const double ffn_width = model_.moe ? std::max(static_cast<double>(model_.ffn) / plan.tp,
                                                 2.0 * model_.moe->expert_ffn * model_.moe->top_k)
                                      : 2.0 * model_.ffn / plan.tp;
  mem.workspace_bytes = static_cast<double>(pool.batching.max_batch_tokens) * kActivationBytes *
                            (4.0 * model_.hidden + 2.0 * ffn_width) +
                        static_cast<double>(pool.batching.max_running) * static_cast<double>(model_.vocab) /
                            plan.tp * kLogitBytes;
  mem.reserved_bytes = a.memory_reserved_bytes;
  mem.usable_bytes = chip.hbm_capacity.value * a.memory_usable_fraction;
  mem.kv_bytes = mem.usable_bytes - mem.weights_bytes - mem.workspace_bytes - mem.reserved_bytes;
  mem.kv_bytes_per_token = kv_bytes_per_token_per_chip(model_, plan, kv_element_bytes_, job.serving.window_kv_only);
  mem.kv_capacity_tokens = mem.kv_bytes > 0 ? static_cast<long>(mem.kv_bytes / mem.kv_bytes_per_token) : 0;
  if (windows_some) {
    mem.kv_window_tokens = static_cast<long>(std::ceil(model_.window_tokens() * window_share_ / (1.0 - window_share_)));
  }
}

GemmPath gemm_path(const Chip& chip, const KernelEfficiency& kernel, DataType stored) {
  // MXFP4 weights meet MXFP8 activations (W4A8: TensorRT-LLM's gpt-oss on Blackwell); NVFP4 checkpoints quantise
  // the activations to NVFP4 too (W4A4).
  DataType compute = stored == DataType::mxfp4 ? DataType::mxfp8 : stored;
  // Without units for that type, 4-bit weights are dequantised in the kernel against bf16 activations (W4A16:
  // Hopper runs gpt-oss's MXFP4 experts through Triton's upcasting kernels); 8-bit ones multiply in fp8 where the
  // chip has it.
  if (!chip.peak(compute)) {
    compute = bit_length(stored) == 4 || !chip.peak(DataType::fp8) ? DataType::bf16 : DataType::fp8;
  }
  GemmPath path;
  path.peak_flop_per_s = chip.sustained_flop_per_s(compute);
  path.efficiency = compute == DataType::bf16    ? kernel.gemm_bf16
                    : bit_length(compute) == 4 ? kernel.gemm_fp4
                                               : kernel.gemm_fp8;
  path.weight_bytes = bytes_per_element(stored);
  path.input_bytes = bytes_per_element(compute);
  return path;
}

// A GEMM of m rows against an n x k weight: the longer of its FLOPs at the large-GEMM efficiency (narrow n or k
// fill fewer tensor-core tiles) and its bytes over HBM (the weight once, activations in and out) at the measured
// share a GEMM streams its weight at.
double ServingModel::gemm_s(double m, double n, double k, const GemmPath& path) const {
  if (m <= 0 || n <= 0 || k <= 0) return 0.0;
  const double fraction = path.efficiency * fill(n, kernel_.gemm_half_dim) * fill(k, kernel_.gemm_half_dim);
  const double compute = 2.0 * m * n * k / (path.peak_flop_per_s * fraction);
  const double bytes = n * k * path.weight_bytes + kActivationBytes * m * (n + k);
  return std::max(compute, bytes / weight_hbm_rate_);
}

double ServingModel::grouped_gemm_s(double rows, double groups, double n, double k, const GemmPath& path) const {
  if (rows <= 0 || groups <= 0 || n <= 0 || k <= 0) return 0.0;
  const double fraction = kernel_.grouped_gemm * path.efficiency * fill(rows / groups, kernel_.gemm_half_dim) *
                          fill(n, kernel_.gemm_half_dim) * fill(k, kernel_.gemm_half_dim);
  const double compute = 2.0 * rows * n * k / (path.peak_flop_per_s * fraction);
  const double bytes = groups * n * k * path.weight_bytes + kActivationBytes * rows * (n + k);
  return std::max(compute, bytes / grouped_hbm_rate_);
}

double ServingModel::expert_shuffle_s(double copies, double tokens) const {
  const double per_copy = kActivationBytes + experts_.input_bytes + kActivationBytes;
  return memory_s(model_.hidden * (copies * per_copy + tokens * kActivationBytes));
}

Collective ServingModel::expert_exchange(double tokens, double instance_tokens) const {
  const auto& plan = pool_.plan;
  if (plan.ep <= 1 || !model_.moe || tokens <= 0) return {};
  const double h = model_.hidden;
  Collective out;
  if (moe_dispatch_ == ServingSetup::MoeDispatch::allgather) {
    // Every rank gathers the whole group's tokens and reduce-scatters the experts' bf16 outputs back.
    const double gathered = instance_tokens * h;
    out.then(group_all_gather(gathered * dispatch_bytes_, plan.ep, 1, links_.node_chips, links_.scaleup,
                              links_.scaleout));
    out.then(group_all_gather(gathered * kActivationBytes, plan.ep, 1, links_.node_chips, links_.scaleup,
                              links_.scaleout));
    return out;
  }
  // Dispatch and combine; each TP rank sends its share of the attention rank's tokens, once to each rank (and over
  // the NIC each node) that holds some of a token's experts: DeepEP in SGLang and vLLM, and TensorRT-LLM's NVLink
  // all-to-alls (moeA2ADispatchKernel skips a rank it has sent the token to; the combine returns one summed row).
  const auto copies = ExpertCopies::per_destination;
  const auto& e = *model_.moe;
  out.then(expert_all_to_all(e, plan.ep, h, tokens / plan.tp, e.imbalance, dispatch_bytes_, links_, copies));
  out.then(expert_all_to_all(e, plan.ep, h, tokens / plan.tp, e.imbalance, kActivationBytes, links_, copies));
  return out;
}

Collective ServingModel::tp_all_reduce(double tokens) const {
  if (pool_.plan.tp <= 1 || tokens <= 0) return {};
  return group_all_reduce(kActivationBytes * tokens * model_.hidden, pool_.plan.tp, 1, links_.node_chips,
                          links_.scaleup, links_.scaleout);
}

ServingModel::LayerTime ServingModel::layer(const BatchShape& s, bool moe_layer, bool windowed) const {
  const auto& m = model_;
  const auto& plan = pool_.plan;
  const double t = plan.tp;
  const double h = m.hidden;
  const auto& w = dense_;
  const double tokens = s.decode_seqs * tokens_per_decode_step() + s.prefill_tokens;
  LayerTime out;
  if (tokens <= 0) return out;
  double& c = out.compute_s;

  // Attention projections.
  if (m.mla) {
    const auto& mla = *m.mla;
    const double qk = mla.qk_nope_head_dim + mla.qk_rope_head_dim;
    c += mla.q_lora_rank > 0 ? gemm_s(tokens, mla.q_lora_rank, h, w) + gemm_s(tokens, m.heads * qk / t, mla.q_lora_rank, w)
                             : gemm_s(tokens, m.heads * qk / t, h, w);
    // Decode absorbs the latent up-projection into the query and output (same weights, same FLOPs per token).
    c += gemm_s(tokens, mla.kv_lora_rank + mla.qk_rope_head_dim, h, w) +
         gemm_s(tokens, m.heads * (mla.qk_nope_head_dim + mla.v_head_dim) / t, mla.kv_lora_rank, w);
  } else {
    c += gemm_s(tokens, (m.heads + 2.0 * m.kv_heads) * m.head_dim / t, h, w);
  }
  c += gemm_s(tokens, h, m.heads * m.v_head_dim() / t, w);

  // Attention core. Decode: every sequence reads its whole KV cache once per step, at the decode kernel's share of
  // the bandwidth (kv_read); MLA attends over the latent (kv_lora + rope wide for scores, kv_lora for values).
  // Prefill: causal FlashAttention over the chunk's pairs.
  const double heads = m.heads / t;
  const double decode_context = windowed ? s.decode_window_context : s.decode_context;
  const double prefill_pairs = windowed ? s.prefill_window_pairs : s.prefill_pairs;
  if (s.decode_seqs > 0) {
    const double queries = tokens_per_decode_step();
    double flop_per_entry = 0;
    double bytes_per_entry = 0;
    if (m.mla) {
      flop_per_entry = 2.0 * heads * (2.0 * m.mla->kv_lora_rank + m.mla->qk_rope_head_dim);
      bytes_per_entry = (m.mla->kv_lora_rank + m.mla->qk_rope_head_dim) * kv_element_bytes_;
    } else {
      flop_per_entry = 2.0 * heads * (m.qk_head_dim() + m.v_head_dim());
      bytes_per_entry = 2.0 * std::ceil(m.kv_heads / t) * m.head_dim * kv_element_bytes_;
    }
    const double flop = flop_per_entry * queries * decode_context;
    c += std::max(flop / (peak_bf16_ * kernel_.attention_forward), bytes_per_entry * decode_context / kv_hbm_rate_);
  }
  if (s.prefill_tokens > 0) {
    const double flop = 2.0 * heads * (m.qk_head_dim() + m.v_head_dim()) * prefill_pairs;
    const double context = 2.0 * prefill_pairs / s.prefill_tokens;
    const double efficiency = std::min(1.0, kernel_.attention_forward * attention_shape(context, m.qk_head_dim(), kernel_));
    c += flop / (peak_bf16_ * efficiency);
  }
  // Two norms and two residual adds (about 10 bytes per hidden element), rotary on q and k.
  c += memory_s(tokens * h * 5.0 * kActivationBytes);

  const double act_tensors = m.ffn_act == FfnActivation::swiglu ? 3.0 : 2.0;
  const double up = m.ffn_up_width();
  Collective comm = tp_all_reduce(tokens);
  if (moe_layer && m.moe) {
    const auto& e = *m.moe;
    c += gemm_s(tokens, e.experts, h, bf16_);  // router
    if (e.shared_experts > 0) {
      const double shared = static_cast<double>(e.shared_experts) * e.expert_ffn / t;
      c += gemm_s(tokens, up * shared, h, w) + gemm_s(tokens, h, shared, w) +
           memory_s(act_tensors * kActivationBytes * tokens * shared);
    }
    if (plan.ep > 1) {
      // The routed copies of every rank's tokens spread over the ep groups; a chip reads its share of the weights of
      // the experts its group holds that some token chose (the whole expert, or 1 / expert_tp of its width).
      const double instance_tokens = s.instance_tokens > 0 ? s.instance_tokens : tokens * plan.dp_attention;
      const double width = e.expert_ffn / plan.expert_tp();
      // The busiest rank's experts receive more than their share; every rank waits for it.
      const double imbalance =
          std::max(e.imbalance, serving_expert_imbalance(e.experts, plan.ep, instance_tokens * e.top_k, expert_load_cv_,
                                                         busiest_rank_z_));
      const double copies_here = instance_tokens * e.top_k / plan.ep * imbalance;
      const double touched_here = experts_touched(e.experts, e.top_k, instance_tokens) / plan.ep;
      c += grouped_gemm_s(copies_here, touched_here, up * width, h, experts_) +
           grouped_gemm_s(copies_here, touched_here, h, width, experts_) +
           memory_s(kActivationBytes * copies_here * act_tensors * width) +
           expert_shuffle_s(copies_here, copies_here / e.top_k);
      // Split experts under tensor-parallel attention: every chip already holds every token, and the partial outputs
      // are summed by the TP all-reduce, as without expert parallelism.
      comm.then(plan.expert_tp() > 1 ? tp_all_reduce(tokens) : expert_exchange(tokens, instance_tokens));
    } else {
      const double touched = experts_touched(e.experts, e.top_k, tokens);
      const double copies = tokens * e.top_k;
      const double width = e.expert_ffn / t;
      c += grouped_gemm_s(copies, touched, up * width, h, experts_) + grouped_gemm_s(copies, touched, h, width, experts_) +
           memory_s(kActivationBytes * copies * act_tensors * width) + expert_shuffle_s(copies, tokens);
      comm.then(tp_all_reduce(tokens));
    }
  } else {
    const double ffn = m.ffn / t;
    c += gemm_s(tokens, up * ffn, h, w) + gemm_s(tokens, h, ffn, w) + memory_s(act_tensors * kActivationBytes * tokens * ffn);
    comm.then(tp_all_reduce(tokens));
  }
  c += per_layer_overhead_s_ + (moe_layer && m.moe ? per_moe_layer_overhead_s_ : 0.0);
  out.communication_s = comm.time_s();
  return out;
}

double ServingModel::layer_s(const BatchShape& s, bool moe_layer, bool windowed) const {
  if (!two_batch_overlap_) {
    const auto l = layer(s, moe_layer, windowed);
    return l.compute_s + l.communication_s;
  }
  // Two micro-batches in turn: one computes while the other communicates (DeepSeek's and SGLang's two-batch
  // overlap); each reads the weights again.
  const auto half = layer(scaled(s, 0.5), moe_layer, windowed);
  return 2.0 * std::max(half.compute_s, half.communication_s);
}

double ServingModel::mean_layer_s(const BatchShape& s, bool moe_layer) const {
  const double full = layer_s(s, moe_layer, false);
  if (window_share_ <= 0) return full;
  return (1.0 - window_share_) * full + window_share_ * layer_s(s, moe_layer, true);
}

// The output head over the rows that need logits (in bf16), and the logits' softmax.
double ServingModel::head_s(double rows) const {
  if (rows <= 0) return 0.0;
  const double vocab = static_cast<double>(model_.vocab) / pool_.plan.tp;
  return gemm_s(rows, vocab, model_.hidden, bf16_) + memory_s(3.0 * kLogitBytes * rows * vocab);
}

// Drafting with the MTP modules: each draft token runs one module (a layer, its 2h -> h projection and the
// shared head) over one token per sequence.
double ServingModel::mtp_s(double seqs) const {
  if (mtp_.draft_tokens == 0 || seqs <= 0) return 0.0;
  BatchShape draft;
  draft.prefill_tokens = seqs;  // one new token per sequence, attending to its context like a decode token
  draft.prefill_seqs = seqs;
  draft.prefill_pairs = seqs;
  draft.prefill_window_pairs = seqs;
  const double one = layer_s(draft, model_.is_moe(), false) + gemm_s(seqs, model_.hidden, 2.0 * model_.hidden, dense_) +
                     head_s(seqs);
  return mtp_.draft_tokens * one;
}

double ServingModel::stages_s(const BatchShape& mb) const {
  const double dense = mean_layer_s(mb, false);
  const double moe = model_.is_moe() ? mean_layer_s(mb, true) : 0.0;
  const double rows = mb.decode_seqs * tokens_per_decode_step() + mb.prefill_seqs;
  double slowest = 0;
  for (const auto& stage : stages_) {
    double time = stage.dense_layers * dense + stage.moe_layers * moe;
    if (stage.head) time += head_s(rows) + mtp_s(mb.decode_seqs);
    slowest = std::max(slowest, time);
  }
  return slowest;
}

// With pp stages the batch runs as pp micro-batches in flight: a sequence advances one step per round of pp
// micro-batches through the slowest stage, plus the hops between stages.
double ServingModel::step_s(const BatchShape& shape) const {
  const int pp = pool_.plan.pp;
  if (pp == 1) return stages_s(shape) + per_step_overhead_s_;
  const BatchShape mb = scaled(shape, 1.0 / pp);
  const double tokens = mb.decode_seqs * tokens_per_decode_step() + mb.prefill_tokens;
  const double hop = point_to_point_s(kActivationBytes * tokens * model_.hidden,
                                      links_.neighbour(pool_.plan.tp * pool_.plan.dp_attention));
  return pp * stages_s(mb) + (pp - 1) * hop + per_step_overhead_s_;
}

StepCost ServingModel::step(const BatchShape& shape) const {
  StepCost out;
  out.time_s = step_s(shape);
  const bool decode = shape.decode_seqs > 0;
  const bool prefill = shape.prefill_tokens > 0;
  if (prefill && !decode) {
    out.prefill_share = 1.0;
  } else if (prefill && decode) {
    // Split by what each part alone would take: prefill is compute-bound, decode bound by reading weights and KV.
    const double tokens = shape.decode_seqs * tokens_per_decode_step() + shape.prefill_tokens;
    const double prefill_fraction = shape.prefill_tokens / tokens;
    BatchShape p = shape;
    p.decode_seqs = 0;
    p.decode_context = p.decode_window_context = 0;
    p.instance_tokens = shape.instance_tokens * prefill_fraction;
    BatchShape d = shape;
    d.prefill_tokens = d.prefill_seqs = d.prefill_pairs = d.prefill_window_pairs = 0;
    d.instance_tokens = shape.instance_tokens * (1.0 - prefill_fraction);
    const double tp = step_s(p);
    const double td = step_s(d);
    out.prefill_share = tp / (tp + td);
  }
  return out;
}

double ServingModel::model_flop(const BatchShape& s) const {
  const auto& m = model_;
  const double tokens = s.decode_seqs * tokens_per_decode_step() + s.prefill_tokens;
  const double per_entry = 2.0 * m.heads * (m.qk_head_dim() + m.v_head_dim()) * m.layers;
  const auto entries = [&](double pairs, double context) { return pairs + tokens_per_decode_step() * context; };
  return 2.0 * active_params_ * tokens +
         per_entry * ((1.0 - window_share_) * entries(s.prefill_pairs, s.decode_context) +
                      window_share_ * entries(s.prefill_window_pairs, s.decode_window_context));
}

}  // namespace flopcast
