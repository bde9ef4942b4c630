#include "flopcast/models/step_work.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "flopcast/models/accounting.hpp"

namespace flopcast {

Pass& Pass::operator+=(const Pass& other) {
  gemm_s += other.gemm_s;
  attention_s += other.attention_s;
  memory_s += other.memory_s;
  return *this;
}

Pass Pass::scaled(double factor) const { return {gemm_s * factor, attention_s * factor, memory_s * factor}; }

Pass operator+(Pass a, const Pass& b) { return a += b; }

double gemm_efficiency(double m, double n, double k, double peak_fraction, double half_dim) {
  const auto fill = [half_dim](double x) { return x / (x + half_dim); };
  return peak_fraction * fill(m) * fill(n) * fill(k);
}

double attention_shape(double seq_len, double head_dim, const KernelEfficiency& k) {
  const auto fill = [](double x, double half) { return x / (x + half); };
  constexpr double kReferenceSeq = 16384;
  constexpr double kReferenceHeadDim = 128;
  return fill(seq_len, k.attention_half_seq) / fill(kReferenceSeq, k.attention_half_seq) *
         fill(head_dim, k.attention_half_head_dim) / fill(kReferenceHeadDim, k.attention_half_head_dim);
}

DataType gemm_data_type(const TrainingJob& job) { return gemm_data_type(job.training.precision); }

RingAttentionBytes ring_attention_bytes(int cp, double q_elements, double kv_elements, double out_elements) {
  // Transformer Engine's P2P ring (AttnFuncWithCPAndKVP2P, v1.9 to v2.4), causal with the load-balanced split, bf16
  // accumulators. Rank r runs one causal step over its own chunks, r steps of all its queries against the first half
  // of a neighbour's keys and cp - 1 - r steps of its second half of queries against all of them; averaged over the
  // ranks, half of the n = cp - 1 later steps are of each kind. Forward: K and V concatenated into the send buffer
  // once (read and write, 4 B an element); the per-step outputs merged after the ring, the first copied (4 B an
  // element), a full-query step's read with the sum's read and write (6 B), a half-query step's half of that (3 B).
  // Backward: K and V copied into the ring's buffer once (4 B); dQ summed over the steps as the forward merges the
  // output (the first copied, then 6 B or 3 B); dK and dV summed into the buffer that travels on, the causal step's
  // copied (4 B), a step against half the keys adding 3 B and one against all of them 6 B.
  const double n = cp - 1.0;
  const double summed = 4.0 + n / 2.0 * (6.0 + 3.0);  // bytes an element, over the steps
  return {4.0 * kv_elements + summed * out_elements, 4.0 * kv_elements + summed * (q_elements + kv_elements)};
}

namespace {

constexpr double kBf16Bytes = 2.0;
constexpr double kFp32Bytes = 4.0;
// Transformer Engine's userbuffers overlap, as the configurations Megatron-Bridge and NeMo ship run it
// (src/megatron/bridge/training/comm_overlap.py, userbuffers_{bf16,fp8}_h100_h8192_tp4_mbs1_seqlen8192; the
// other shapes' configurations differ by a few SMs): SMs each overlap's communication kernels take from the GEMM
// beside it (set_sm_margin), and the pipelined reduce-scatter's splits.
constexpr double kQkvDgradSms = 4;    // bulk all-gather of the input beside QKV's input gradient
constexpr double kQkvWgradSms = 24;   // bulk reduce-scatter of that gradient beside QKV's weight gradient
constexpr double kFc1DgradSms = 2;
constexpr double kFc1WgradSms = 4;
constexpr double kProjFpropSms = 24;  // bf16: the output projection's pipelined reduce-scatter
constexpr double kFc2FpropSms = 16;
constexpr double kRingExchangeSms = 1;  // fp8: the forward reduce-scatters as ring exchanges
constexpr double kPipelineSplits = 4;
// Adam's HBM traffic per parameter: fp32 master weight read + write (8 B), both moments read + write (4 x the moment
// size: 16 B in fp32), the main gradient read (4 B in fp32), bf16 weight write (2 B): 30 B with fp32 moments and
// gradients.
double optimizer_bytes_per_param(const ParallelPlan& plan) {
  return 8.0 + 4.0 * plan.optimizer_moment_bytes + plan.gradient_bytes + 2.0;
}

// Kernel and link rates for one job.
class Machine {
 public:
  Machine(const TrainingJob& job, const TopologySummary& topology, const Assumptions& a)
      : kernel_(a.kernel(job.cluster.chip.family)), links_(cluster_links(job.cluster, topology, a)) {
    const auto& chip = job.cluster.chip;
    gemm_type_ = gemm_data_type(job);
    sustained_gemm_ = chip.sustained_flop_per_s(gemm_type_);
    sustained_bf16_ = chip.sustained_flop_per_s(DataType::bf16);
    peak_bf16_ = chip.peak_flop_per_s(DataType::bf16);
    sm_count_ = chip.sm_count ? chip.sm_count->value : 0.0;
    gemm_fraction_ = gemm_type_ == DataType::bf16    ? kernel_.gemm_bf16
                     : gemm_type_ == DataType::nvfp4 ? kernel_.gemm_fp4
                                                     : kernel_.gemm_fp8;
    hbm_rate_ = chip.hbm_bandwidth.value * kernel_.memory_bound;
    // Ring attention runs one kernel a ring step over this chip's share of the sequence (its queries against one
    // neighbour's keys, or half of either): each as long, in work, as causal attention over seq / cp tokens.
    const int ring = job.plan.cp_algo == ContextParallelAlgo::ring ? job.plan.cp : 1;
    const double kernel_tokens = static_cast<double>(job.training.seq_len) / ring;
    attention_rate_ = attention_shape(kernel_tokens, job.model.qk_head_dim(), kernel_) *
                      (job.training.flash2 ? kernel_.flash2_fraction : 1.0);
  }

  // One GEMM (m x k) x (k x n) in the job's GEMM precision, or bf16.
  double gemm_s(double m, double n, double k, bool force_bf16 = false) const {
    if (m <= 0 || n <= 0 || k <= 0) return 0.0;
    const double rate = force_bf16 ? sustained_bf16_ : sustained_gemm_;
    const double fraction = force_bf16 ? kernel_.gemm_bf16 : gemm_fraction_;
    return 2.0 * m * n * k / (rate * gemm_efficiency(m, n, k, fraction, kernel_.gemm_half_dim));
  }
  // One group's problem of a grouped GEMM (the routed experts'), at the grouped kernel's share of the dense rate.
  double grouped_gemm_s(double m, double n, double k) const { return gemm_s(m, n, k) / kernel_.grouped_gemm; }
  double attention_forward_s(double flop) const {
    return flop / (sustained_bf16_ * std::min(1.0, kernel_.attention_forward * attention_rate_));
  }
  double attention_backward_s(double flop) const {
    return flop / (sustained_bf16_ * std::min(1.0, kernel_.attention_backward * attention_rate_));
  }
  double memory_s(double bytes) const { return bytes / hbm_rate_; }
  // How much longer a kernel runs on the SMs that `taken` of them leave it (0 on chips without SMs in the catalog).
  double sm_margin_share(double taken) const { return sm_count_ > taken ? taken / (sm_count_ - taken) : 0.0; }

  // The link a group with this stride uses for point-to-point (neighbours).
  const LinkClass& neighbour_link(int stride) const { return links_.neighbour(stride); }
  Collective group_all_reduce(double bytes, int ranks, int stride) const {
    return flopcast::group_all_reduce(bytes, ranks, stride, links_.node_chips, links_.scaleup, links_.scaleout);
  }
  Collective group_all_gather(double bytes, int ranks, int stride) const {
    return flopcast::group_all_gather(bytes, ranks, stride, links_.node_chips, links_.scaleup, links_.scaleout);
  }
  const ClusterLinks& links() const { return links_; }
  const LinkClass& scaleup() const { return links_.scaleup; }
  const LinkClass& scaleout() const { return links_.scaleout; }
  int node_chips() const { return links_.node_chips; }
  double peak_bf16() const { return peak_bf16_; }

 private:
  const KernelEfficiency& kernel_;
  DataType gemm_type_ = DataType::bf16;
  double sustained_gemm_ = 0;  // flop/s at the clock the chip sustains (Chip::sustained_flop_per_s)
  double sustained_bf16_ = 0;
  double peak_bf16_ = 0;  // as quoted (the MFU's denominator)
  double sm_count_ = 0;   // streaming multiprocessors (Chip::sm_count), 0 where the catalog has none
  double gemm_fraction_ = 0;
  double hbm_rate_ = 0;
  double attention_rate_ = 1;
  ClusterLinks links_;
};

class LayerModel {
 public:
  LayerModel(const TrainingJob& job, const Machine& machine, const ParamCounts& params)
      : job_(job), m_(job.model), plan_(job.plan), hw_(machine), params_(params) {
    tokens_ = static_cast<double>(job.training.seq_len) / plan_.cp * plan_.micro_batch;
  }

  double tokens() const { return tokens_; }

  // The extra time, over plain GEMMs, of a TP group's projections under tp_comm_overlap (Transformer Engine's
  // userbuffers; MindSpeed's MC2 and MegaScale's overlap split the GEMM around its collective the same way). Per
  // comm_gemm_overlap.cpp: an all-gather side runs as a ring exchange, tp GEMMs of T / tp rows as the chunks arrive;
  // a bulk overlap and a pipelined reduce-scatter run their GEMM on the SMs the communication kernels leave, the
  // pipeline in 4 splits of the output columns. A column-parallel layer (QKV, FC1, Mamba's in_proj: T x k into n)
  // gathers in the forward and overlaps both backward GEMMs in bulk. Seconds added to the forward and the backward.
  struct OverlapExtra {
    double forward_s = 0;
    double backward_s = 0;
  };
  OverlapExtra column_parallel_overlap(double n, double k, double dgrad_sms, double wgrad_sms) const {
    const double plain = hw_.gemm_s(tokens_, n, k);
    return {ring_exchange_s(n, k) - plain, plain * (hw_.sm_margin_share(dgrad_sms) + hw_.sm_margin_share(wgrad_sms))};
  }
  // A row-parallel layer (the attention output projection, FC2, out_proj: T x k into n) reduce-scatters in the
  // forward (bf16: pipelined on fewer SMs; fp8: a ring exchange) and gathers its output gradient in the backward (a
  // GEMM of the same shape: T x n into k).
  OverlapExtra row_parallel_overlap(double n, double k, double fprop_sms) const {
    const double plain = hw_.gemm_s(tokens_, n, k);
    const double ring = ring_exchange_s(n, k);
    const double forward = job_.training.precision != Precision::bf16
                               ? ring * (1.0 + hw_.sm_margin_share(kRingExchangeSms))
                               : kPipelineSplits * hw_.gemm_s(tokens_, n / kPipelineSplits, k) *
                                     (1.0 + hw_.sm_margin_share(fprop_sms));
    return {forward - plain, ring - plain};
  }

  LayerWork layer(bool moe_layer) const { return layer(moe_layer ? LayerKind::moe : LayerKind::dense); }

  // One layer of `kind`: a transformer's attention block and FFN, or a hybrid model's one block (its mixer, attention
  // or Mamba-2, in the attention passes; its FFN in the FFN passes).
  LayerWork layer(LayerKind kind) const {
    LayerWork out;
    const bool attention = has_attention(kind);
    const bool mamba = kind == LayerKind::mamba;
    const bool moe_layer = has_experts(kind);
    const bool ffn = kind != LayerKind::attention && !mamba;
    out.mixer_block = attention || mamba;
    out.ffn_block = ffn;
    const double blocks = (out.mixer_block ? 1.0 : 0.0) + (ffn ? 1.0 : 0.0);
    const double t = plan_.tp;
    const double h = m_.hidden;
    const double T = tokens_;
    const double replicated = plan_.sp ? t : 1.0;
    auto& a = out.attention_forward;
    auto& f = out.ffn_forward;
    // Attention projections.
    if (attention && m_.mla) {
      const auto& mla = *m_.mla;
      const double qk = mla.qk_nope_head_dim + mla.qk_rope_head_dim;
      if (mla.q_lora_rank > 0) {
        a.gemm_s += hw_.gemm_s(T, mla.q_lora_rank, h) + hw_.gemm_s(T, m_.heads * qk / t, mla.q_lora_rank);
      } else {
        a.gemm_s += hw_.gemm_s(T, m_.heads * qk / t, h);
      }
      a.gemm_s += hw_.gemm_s(T, mla.kv_lora_rank + mla.qk_rope_head_dim, h) +
                  hw_.gemm_s(T, m_.heads * (mla.qk_nope_head_dim + mla.v_head_dim) / t, mla.kv_lora_rank);
    } else if (attention) {
      a.gemm_s += hw_.gemm_s(T, (m_.heads + 2.0 * m_.kv_heads) * m_.head_dim / t, h);
    }
    if (attention) a.gemm_s += hw_.gemm_s(T, h, m_.heads * m_.v_head_dim() / t);
    // Attention core: causal QK^T and AV over the whole sequence for this chip's queries, in one fused
    // FlashAttention kernel; or, before FlashAttention, batched GEMMs per head over the full (masked) score matrix
    // with the scores written, softmaxed, dropped out and read back through HBM.
    const bool fused = job_.training.flash_attention;
    const double attention_flop =
        fused && attention ? attention_core_forward_flop_per_token(m_, job_.training.seq_len) * T / t : 0.0;
    Pass& core = out.core_attention;
    if (attention && fused) {
      core.attention_s = hw_.attention_forward_s(attention_flop);
    } else if (attention) {
      const double queries = T / plan_.micro_batch;  // per sequence (a CP shard of it)
      const double keys = job_.training.seq_len;
      const double batches = m_.heads / t * plan_.micro_batch;
      core.gemm_s = batches * (hw_.gemm_s(queries, keys, m_.qk_head_dim()) + hw_.gemm_s(queries, m_.v_head_dim(), keys));
      // Scaled masked softmax: read the scores, write the probabilities; dropout: read them, write the result and
      // a one-byte mask.
      const double per_score = 2.0 * kBf16Bytes + (job_.training.dropout ? 2.0 * kBf16Bytes + 1.0 : 0.0);
      core.memory_s = hw_.memory_s(batches * queries * keys * per_score);
    }
    a += core;

    // Selective recomputation redoes some of the forward before the backward (the plan's modules).
    const RecomputeModules redo = plan_.recomputed();
    if (redo.core_attn && !fused) out.recompute += core;  // with FlashAttention only its statistics are kept
    if (redo.layernorm) {
      // A norm per block, read and write h each (MLA: and its two latent norms).
      double norm_bytes = blocks * 2.0 * kBf16Bytes * T * h / replicated;
      if (m_.mla && attention) norm_bytes += 2.0 * kBf16Bytes * T * (m_.mla->q_lora_rank + m_.mla->kv_lora_rank);
      out.recompute.memory_s += hw_.memory_s(norm_bytes);
    }
    if (redo.mla_up_proj && m_.mla && attention) {
      const auto& mla = *m_.mla;
      const double qk = mla.qk_nope_head_dim + mla.qk_rope_head_dim;
      if (mla.q_lora_rank > 0) out.recompute.gemm_s += hw_.gemm_s(T, m_.heads * qk / t, mla.q_lora_rank);
      out.recompute.gemm_s += hw_.gemm_s(T, m_.heads * (mla.qk_nope_head_dim + mla.v_head_dim) / t, mla.kv_lora_rank);
    }

    // Memory-bound kernels: two norms (read + write h), two residual adds (read 2h, write h), rotary on q and k;
    // half of the norms and adds belong to each block.
    const double kv_heads = m_.mla ? m_.heads : m_.kv_heads;
    const double rope_dim = m_.mla ? m_.mla->qk_rope_head_dim : m_.head_dim;
    // A parallel block's layer has one norm and one add of both outputs to the residual (read 3, write 1): 6 passes
    // over the layer's activation against 10, 3 per block.
    const double norm_and_add = kBf16Bytes * T * h / replicated * (m_.parallel_block ? 3.0 : 2.0 + 3.0);
    double attention_bytes = 0;
    const double rope_passes = job_.training.rope_fusion ? 1.0 : kRopeUnfusedPasses;
    if (attention) {
      attention_bytes = norm_and_add + rope_passes * 2.0 * kBf16Bytes * T * (m_.heads + kv_heads) * rope_dim / t;
    }
    double ffn_bytes = ffn ? norm_and_add : 0.0;
    const bool fp8 = job_.training.precision == Precision::fp8;
    // Quantisation of GEMM inputs (fp8, MXFP8, NVFP4), bytes per element through HBM.
    const double cast = quantise_bytes_per_element(job_.training.precision);
    if (attention) attention_bytes += cast * T * (h + m_.heads * m_.v_head_dim() / t);
    double ssd_flop = 0;
    double ssd_backward_flop = 0;
    if (mamba) {
      // Megatron-Core's MambaMixer, heads split over TP: in_proj (column-parallel) and out_proj (row-parallel); the
      // SSD scan (mamba_ssm's chunked kernels: products of chunk-sized tiles on the tensor cores, as FlashAttention
      // runs, so at the attention kernels' rate, an estimate); through HBM, the norm and residual add, the causal
      // convolution (read and write x, B and C), the scan's intermediates (its five kernels' chunk states and C B^T)
      // and the gated RMSNorm (read y and z, write its output).
      const auto& s = *m_.mamba;
      a.gemm_s += hw_.gemm_s(T, s.in_proj_width() / t, h) + hw_.gemm_s(T, h, s.inner() / t);
      ssd_flop = ssd_forward_flop_per_token(s) * T / t;
      ssd_backward_flop = ssd_backward_flop_per_token(s) * T / t;
      a.attention_s += hw_.attention_forward_s(ssd_flop);
      attention_bytes = norm_and_add + kBf16Bytes * T * (2.0 * s.conv_channels() + 3.0 * s.inner()) / t +
                        cast * T * (h + s.inner() / t) + ssd_hbm_bytes_per_token(s) * T / t;
    }

    const double act_tensors = m_.ffn_act == FfnActivation::swiglu ? 3.0 : 2.0;  // activation kernel: in + out
    const double up_width = m_.ffn_up_width();
    double routed_gemm_s = 0;  // the routed experts' grouped GEMMs
    if (moe_layer && m_.moe) {
      const auto& e = *m_.moe;
      const double local_tokens = T / t;  // SP splits tokens across TP ranks before the router
      f.gemm_s += hw_.gemm_s(local_tokens, e.experts, h, /*force_bf16=*/true);  // router
      // Expert tensor parallelism: the etp ranks gather their copies and each runs 1/etp of every expert's width.
      const double etp = plan_.etp;
      const double experts_here = static_cast<double>(e.experts) / plan_.ep;
      const double load = plan_.expert_load(e);
      const double tokens_per_expert = local_tokens * etp * e.top_k * plan_.ep / e.experts * load;
      const double copies = local_tokens * e.top_k * load;
      const double width = e.expert_ffn / etp;
      const double routed = e.routed_width(m_.hidden);  // what the experts read and write, per copy
      Pass experts;
      experts.gemm_s = experts_here * (hw_.grouped_gemm_s(tokens_per_expert, up_width * width, routed) +
                                       hw_.grouped_gemm_s(tokens_per_expert, routed, width));
      double expert_act_bytes = act_tensors * kBf16Bytes * copies * e.expert_ffn;  // expert activation
      // Without a fused grouped MLP (experts.py), a clamped activation first clamps each half of FC1's output and
      // concatenates them (read and write 2 f per copy, twice) before the compiled activation; FC2's bias is added,
      // weighted by the routing probability, in an eager loop over the local experts and concatenated (about five
      // passes over each copy's output).
      double eager_bytes = 0;
      if (!job_.training.fused_expert_mlp) {
        if (e.clamped_activation) expert_act_bytes += 8.0 * kBf16Bytes * copies * e.expert_ffn;
        if (e.expert_bias) eager_bytes = 5.0 * kBf16Bytes * copies * etp * routed;
      }
      // Permutation passes per direction, each a read and a write of every copy (plan.hpp, MoeDispatcher).
      const bool gathered = gathers_tokens();
      const double passes = plan_.dispatcher == MoeDispatcher::alltoall && plan_.ep > 1 && experts_here > 1 ? 2.0 : 1.0;
      double permutation_bytes = 2.0 * passes * 2.0 * kBf16Bytes * etp * copies * routed;
      if (gathered) permutation_bytes = all_gather_dispatch_bytes(local_tokens, copies, experts_here);
      experts.memory_s = hw_.memory_s(permutation_bytes + expert_act_bytes + eager_bytes +
                                      cast * copies * (etp * routed + e.expert_ffn));
      f += experts;
      if (e.latent > 0) {
        // LatentMoE: the local tokens down to the latent width before the dispatch and back up after the combine,
        // weights replicated on every rank.
        f += Pass{hw_.gemm_s(local_tokens, e.latent, h) + hw_.gemm_s(local_tokens, h, e.latent), 0.0,
                  hw_.memory_s(cast * local_tokens * (h + e.latent))};
      }
      routed_gemm_s = experts.gemm_s;
      if (redo.moe) {
        out.recompute += experts;
        out.recompute_dispatch = true;
      } else if (redo.moe_act) {
        out.recompute.memory_s += hw_.memory_s(expert_act_bytes);
      }
      if (e.shared_experts > 0) {
        const double shared = static_cast<double>(e.shared_experts) * e.expert_ffn;
        const Pass shared_mlp{hw_.gemm_s(T, up_width * shared / t, h) + hw_.gemm_s(T, h, shared / t), 0.0,
                              hw_.memory_s(act_tensors * kBf16Bytes * T * shared / t + cast * T * (h + shared / t))};
        f += shared_mlp;
        if (redo.mlp) out.recompute += shared_mlp;
      }
      if (gathered) {
        // The group's tokens all-gathered (in bf16) before the experts; the buffer of all of them reduce-scattered
        // after: the same bytes.
        const double group = etp * plan_.ep;
        out.ep_dispatch = hw_.group_all_gather(kBf16Bytes * local_tokens * group * routed, static_cast<int>(group), 1);
        out.ep_combine = out.ep_dispatch;
      } else {
        out.ep_dispatch = all_to_all(local_tokens, fp8 ? 1.0 : kBf16Bytes);
        out.ep_combine = all_to_all(local_tokens, kBf16Bytes);
      }
    } else if (ffn) {
      const Pass mlp{hw_.gemm_s(T, up_width * m_.ffn / t, h) + hw_.gemm_s(T, h, m_.ffn / t), 0.0,
                     hw_.memory_s(act_tensors * kBf16Bytes * T * m_.ffn / t + cast * T * (h + m_.ffn / t))};
      f += mlp;
      if (redo.mlp) out.recompute += mlp;
    }
    a.memory_s += hw_.memory_s(attention_bytes);
    f.memory_s += hw_.memory_s(ffn_bytes);
    if (plan_.recompute == Recompute::per_op) out.recompute = per_op_recompute(moe_layer, a.memory_s + f.memory_s, routed_gemm_s);

    // Backward: twice the forward GEMM work (input and weight gradients), FlashAttention's backward, and about
    // twice the memory-bound traffic.
    out.attention_backward = {2.0 * a.gemm_s,
                              hw_.attention_backward_s(kAttentionBackwardFlopRatio * attention_flop +
                                                       ssd_backward_flop),
                              2.0 * a.memory_s};
    out.ffn_backward = {2.0 * f.gemm_s, 0.0, 2.0 * f.memory_s};
    if (plan_.tp_comm_overlap && plan_.tp > 1) {
      // Each block's projections as the userbuffers overlap runs them (column_parallel_overlap): the forward's extra
      // time joins the forward (and any recomputation of it), the backward's the backward.
      const auto mixer = [&](OverlapExtra e) {
        out.attention_forward.gemm_s += e.forward_s;
        out.attention_backward.gemm_s += e.backward_s;
      };
      const auto mlp = [&](OverlapExtra e) {
        out.ffn_forward.gemm_s += e.forward_s;
        out.ffn_backward.gemm_s += e.backward_s;
      };
      if (attention && !m_.mla) {
        mixer(column_parallel_overlap((m_.heads + 2.0 * m_.kv_heads) * m_.head_dim / t, h, kQkvDgradSms, kQkvWgradSms));
      }
      if (attention) mixer(row_parallel_overlap(h, m_.heads * m_.v_head_dim() / t, kProjFpropSms));
      if (mamba) {
        mixer(column_parallel_overlap(m_.mamba->in_proj_width() / t, h, kFc1DgradSms, kFc1WgradSms));
        mixer(row_parallel_overlap(h, m_.mamba->inner() / t, kFc2FpropSms));
      }
      if (ffn && !moe_layer) {
        mlp(column_parallel_overlap(up_width * m_.ffn / t, h, kFc1DgradSms, kFc1WgradSms));
        mlp(row_parallel_overlap(h, m_.ffn / t, kFc2FpropSms));
      }
    }
    if (!job_.training.gradient_accumulation_fusion) {
      // Unfused gradient accumulation: per micro-batch, main_grad += grad over each weight this chip holds (read the
      // bf16 gradient, read and write the main gradient), in the backward of the block that owns the weight.
      const double add_bytes = kBf16Bytes + 2.0 * plan_.gradient_bytes;
      const auto [mixer_params, ffn_params] = block_params_here(kind);
      out.attention_backward.memory_s += hw_.memory_s(add_bytes * mixer_params);
      out.ffn_backward.memory_s += hw_.memory_s(add_bytes * ffn_params);
    }

    // Tensor parallel: one collective after each block on the full activation (all-gather + reduce-scatter with
    // SP, else all-reduce).
    if (plan_.tp > 1) {
      const double activation = kBf16Bytes * T * h;
      out.tp = plan_.sp ? hw_.group_all_gather(activation, plan_.tp, 1).repeated(2)
                        : hw_.group_all_reduce(activation, plan_.tp, 1);
      // A parallel block gathers its one input once and reduces the sum of both outputs once: one block's worth of
      // collectives per layer, half of it after each block (without SP, half an all-reduce's bytes each, with its
      // latency twice).
      if (m_.parallel_block) {
        out.tp = plan_.sp ? hw_.group_all_gather(activation, plan_.tp, 1) : out.tp.scaled(0.5);
      }
    }
    // Expert tensor parallelism behind an all-to-all: the dispatched copies all-gathered over the etp ranks before
    // the experts and reduce-scattered after (Megatron's alltoall dispatcher): one all-gather's worth in `tp`, which
    // a pass runs twice. Without expert parallelism the experts' input is the TP block's own all-gathered
    // activation, counted above.
    if (moe_layer && m_.moe && plan_.etp > 1 && plan_.ep > 1 && !gathers_tokens()) {
      const double dispatched = kBf16Bytes * T / plan_.tp * plan_.etp * m_.moe->top_k * plan_.expert_load(*m_.moe) *
                                m_.moe->routed_width(m_.hidden);
      // A layer of the FFN alone runs `tp` once a pass: both halves there.
      out.tp.then(hw_.group_all_gather(dispatched, plan_.etp, 1).repeated(out.blocks() == 1 ? 2 : 1));
    }
    // Context parallel (ring attention): cp - 1 exchanges of this chip's K and V shards.
    if (!attention) return out;
    if (plan_.cp > 1 && plan_.cp_algo == ContextParallelAlgo::ring) {
      const double kv_elements = T * kv_heads * (m_.qk_head_dim() + m_.v_head_dim()) / t;
      out.cp = point_to_point(kBf16Bytes * kv_elements, hw_.neighbour_link(plan_.tp * plan_.cp));
      out.cp_exchanges = plan_.cp - 1;
      out.cp_backward_exchanges = 2 * (plan_.cp - 1);
      const auto [forward_bytes, backward_bytes] = ring_attention_bytes(
          plan_.cp, T * m_.heads * m_.qk_head_dim() / t, kv_elements, T * m_.heads * m_.v_head_dim() / t);
      out.attention_forward.memory_s += hw_.memory_s(forward_bytes);
      out.attention_backward.memory_s += hw_.memory_s(backward_bytes);
    }
    // Ulysses: before the attention core, all-to-alls over the cp ranks turn this chip's tokens of all its heads
    // into all tokens of 1/cp of its heads, for Q, K and V; after it, one for the output. Each chip keeps 1/cp of
    // each tensor and sends the rest. The backward runs the same all-to-alls on the gradients.
    if (plan_.cp > 1 && plan_.cp_algo == ContextParallelAlgo::ulysses) {
      const double widths = (m_.heads + kv_heads) * (m_.qk_head_dim() + m_.v_head_dim());  // Q and O, K and V
      const double sent = kBf16Bytes * T * widths / t * (plan_.cp - 1.0) / plan_.cp;
      const auto& links = hw_.links();
      out.cp = point_to_point(sent, plan_.tp * plan_.cp <= links.node_chips ? links.a2a_up : links.a2a_out);
      out.cp_exchanges = 1;
      out.cp_backward_exchanges = 1;
      out.cp_behind_attention = false;
    }
    return out;
  }

  // The output head and loss (last stage), in bf16: FP8 recipes keep the head in higher precision.
  Pass head_forward() const {
    Pass p;
    const double vocab_share = static_cast<double>(m_.vocab) / plan_.tp;
    p.gemm_s = hw_.gemm_s(tokens_, vocab_share, m_.hidden, /*force_bf16=*/true);
    p.memory_s = hw_.memory_s(3.0 * kFp32Bytes * tokens_ * vocab_share);  // logits: write, softmax read + write
    return p;
  }

  // An MTP module's projection (2h -> h), beyond its layer and its head.
  Pass mtp_projection_forward() const { return {hw_.gemm_s(tokens_, m_.hidden, 2.0 * m_.hidden), 0, 0}; }

 private:
  // The weights of one layer of `kind` this chip holds, by block: its mixer (attention or Mamba-2, with the block's
  // norm) and its FFN (with its norm; the routed experts after expert parallelism), TP-split.
  std::pair<double, double> block_params_here(LayerKind kind) const {
    const double layer = layer_params(m_, params_, kind, false);
    const double routed = routed_params(m_, params_, kind);
    const double norm = params_.norms_per_layer / 2.0;
    const double mixer = has_attention(kind)          ? norm + params_.attention_per_layer
                         : kind == LayerKind::mamba ? norm + params_.mamba_mixer
                                                      : 0.0;
    const double ffn_dense = layer - routed - mixer;
    return {mixer / plan_.tp, ffn_dense / plan_.tp + routed / (static_cast<double>(plan_.ep) * plan_.etp)};
  }

  // Per-operator selective checkpointing redoes, before each layer's backward, the aten.mm calls whose outputs it did
  // not save and the backward needs, every memory-bound kernel of the forward (`memory_s`: norms, rotary, activation
  // functions, residual adds, casts), and in MoE layers the router gate and the routed experts' grouped GEMMs (not
  // on its list); the all-to-alls' outputs are saved, so dispatch and combine do not run again.
  Pass per_op_recompute(bool moe_layer, double memory_s, double routed_gemm_s) const {
    Pass redo;
    redo.memory_s = memory_s;
    const auto matmuls = block_matmuls(m_, moe_layer, plan_.tp);
    for (std::size_t i = 0; i < matmuls.size(); ++i) {
      if (matmuls[i].needed && !per_op_saves(i)) {
        redo.gemm_s += hw_.gemm_s(tokens_, matmuls[i].out, matmuls[i].in);
      }
    }
    if (moe_layer && m_.moe) {
      redo.gemm_s += hw_.gemm_s(tokens_ / plan_.tp, m_.moe->experts, m_.hidden, /*force_bf16=*/true) + routed_gemm_s;
    }
    return redo;
  }

  // The all-gather dispatcher over more than one expert rank: the etp x ep group's tokens gathered, no all-to-all.
  bool gathers_tokens() const { return plan_.dispatcher == MoeDispatcher::allgather && plan_.ep > 1; }

  // MindSpeed's all-gather dispatcher (token_dispatcher.py, allgather_token_permutation and _unpermutation, the
  // index and index_put path): bytes through HBM around the experts in one forward, for `local_tokens` on this chip
  // and `copies` of them routed, over its etp x ep group. Per element of each copy the experts here take: picking
  // the rows from the gathered tokens (read and write, 2 B each), sorting them by expert and back (with more than one
  // local expert: read and write, then zero, read and write), scaling by the routing probability (read and write),
  // and accumulating into the fp32 buffer (read 2 B, write 4 B as fp32, then read the fp32 row and the buffer's row
  // and write it: 18 B). Per element of every gathered token: zeroing the buffer (4 B) and casting it to bf16 for
  // the reduce-scatter (read 4 B, write 2 B).
  double all_gather_dispatch_bytes(double local_tokens, double copies, double experts_here) const {
    const auto& e = *m_.moe;
    const double etp = plan_.etp;
    const double routed = e.routed_width(m_.hidden);
    const double sort = experts_here > 1 ? 2.0 * kBf16Bytes + 3.0 * kBf16Bytes : 0.0;
    const double scale = e.top_k > 1 ? 2.0 * kBf16Bytes : 0.0;
    const double per_copy = 2.0 * kBf16Bytes + sort + scale + (kBf16Bytes + kFp32Bytes) + 3.0 * kFp32Bytes;
    const double per_gathered = kFp32Bytes + kFp32Bytes + kBf16Bytes;
    return per_copy * etp * copies * routed + per_gathered * local_tokens * etp * plan_.ep * routed;
  }

  Collective all_to_all(double local_tokens, double element_bytes) const {
    const bool deduplicates = plan_.dispatcher == MoeDispatcher::deepep || plan_.dispatcher == MoeDispatcher::hybridep;
    const auto& e = *m_.moe;
    return expert_all_to_all(e, plan_.ep, e.routed_width(m_.hidden), local_tokens, plan_.expert_load(e),
                             element_bytes, hw_.links(),
                             deduplicates ? ExpertCopies::per_destination : ExpertCopies::per_expert);
  }

  const TrainingJob& job_;
  const ModelArch& m_;
  const ParallelPlan& plan_;
  const Machine& hw_;
  const ParamCounts& params_;
  // A ring exchange: tp GEMMs of T / tp rows each.
  double ring_exchange_s(double n, double k) const { return plan_.tp * hw_.gemm_s(tokens_ / plan_.tp, n, k); }
  double tokens_ = 0;
};

}  // namespace

ClusterLinks cluster_links(const ClusterSetup& cluster, const TopologySummary& topology, const Assumptions& a) {
  const auto& node = cluster.node;
  ClusterLinks l;
  l.node_chips = node.chip_count();
  const double bus = node.fabric == NodeFabric::mesh        ? a.bus_efficiency_mesh
                     : node.fabric == NodeFabric::supernode ? a.bus_efficiency_supernode
                                                            : a.bus_efficiency_switch;
  l.scaleup = {node.scaleup_bandwidth_per_direction.value, node.scaleup_latency.value, bus, node.in_network_reduction,
               Path::scaleup};
  const double nic_rate = std::min(node.nic_bandwidth.value, cluster.fabric.port_bandwidth.value);
  const double nic_per_chip = cluster.nics_per_node * nic_rate / l.node_chips;
  const double latency =
      2.0 * cluster.fabric.nic_latency.value + topology.max_switch_hops * cluster.fabric.switch_latency.value;
  l.scaleout = {nic_per_chip * topology.bisection_ratio, latency, a.bus_efficiency_scaleout, false, Path::scaleout,
                a.tree_bandwidth_fraction};
  l.a2a_up = {l.scaleup.bytes_per_s, l.scaleup.latency_s, a.kernel(cluster.chip.family).all_to_all_efficiency, false,
              Path::scaleup};
  l.a2a_out = {l.scaleout.bytes_per_s, l.scaleout.latency_s, a.all_to_all_efficiency_scaleout, false, Path::scaleout};
  return l;
}

namespace {
// The chance that none of a token's k experts, drawn without replacement from `pool` equally likely ones, is among
// the `held` of them on one rank or node.
double none_held(double pool, double held, int k) {
  double p = 1.0;
  for (int i = 0; i < k; ++i) p *= std::max(0.0, (pool - held - i) / (pool - i));
  return p;
}
}  // namespace

ExpertDestinations expert_destinations(const MoeDims& e, int ep, int node_chips) {
  if (ep <= 1 || e.experts <= 0) return {1.0, 0.0};
  const double nodes = std::ceil(static_cast<double>(ep) / std::min(ep, node_chips));
  const double ranks_per_node = ep / nodes;  // on average: a group of 12 over 8-chip nodes has 6 in each
  // Node-limited routing (DeepSeek-V3 section 3.2.2) first picks `chosen` of the nodes, then the k experts among
  // theirs; the token's own node is one of them as often as any other.
  const double chosen = e.node_limit > 0 ? std::min<double>(e.node_limit, nodes) : nodes;
  const double per_node = e.experts / nodes;
  const double pool = chosen * per_node;
  ExpertDestinations d;
  d.ranks = chosen * ranks_per_node * (1.0 - none_held(pool, e.experts / static_cast<double>(ep), e.top_k));
  d.remote_nodes = chosen * (1.0 - none_held(pool, per_node, e.top_k)) * (nodes - 1.0) / nodes;
  return d;
}

Collective expert_all_to_all(const MoeDims& e, int ep, double hidden, double local_tokens, double load,
                             double element_bytes, const ClusterLinks& links, ExpertCopies copies) {
  if (ep <= 1) return {};
  double remote_copies = 0;
  double local_copies = 0;
  if (copies == ExpertCopies::per_destination) {
    // Once over the NIC to each node, then over the scale-up fabric to each rank there (and to the ranks of its own
    // node).
    const auto d = expert_destinations(e, ep, links.node_chips);
    remote_copies = d.remote_nodes;
    local_copies = d.ranks;
  } else {
    const double local_members = std::min(ep, links.node_chips);
    remote_copies = e.top_k * (1.0 - local_members / ep);
    local_copies = e.top_k * local_members / ep;
  }
  const double token_bytes = element_bytes * hidden * local_tokens * load;
  const Collective inter = remote_copies > 0 ? point_to_point(remote_copies * token_bytes, links.a2a_out) : Collective{};
  return concurrent(inter, point_to_point(local_copies * token_bytes, links.a2a_up));
}

double optimizer_step_s(const TrainingJob& job, double on_chip_s, double shard_params, const Assumptions& a) {
  const double fraction = job.plan.optimizer_offload_fraction;
  if (fraction <= 0) return on_chip_s;
  const auto& node = job.cluster.node;
  if (!node.host_link_bandwidth_per_direction || !node.host_memory_bandwidth) {
    throw ModelError(fmt::format("node {} has no host_link_bandwidth_per_direction or host_memory_bandwidth in the "
                                 "catalog: the optimizer's CPU offload needs both", node.id));
  }
  // Megatron's HybridDeviceOptimizer with --overlap-cpu-optimizer-d2h-h2d: one CPU Adam per parameter tensor, so the
  // gradient copies to the host, the CPU steps and the copies of the updated weights back pipeline tensor by tensor;
  // the slowest of the three sets the time, beside the on-chip step of the rest of the shard.
  const double offloaded = fraction * shard_params;
  const double link = node.host_link_bandwidth_per_direction->value;
  const double to_host_s = offloaded * job.plan.gradient_bytes / link;
  // The fp32 master copied into the chip's bf16 weight: PyTorch moves the source's 4 bytes, then converts.
  const double to_chip_s = offloaded * kFp32Bytes / link;
  // CPU Adam through host DRAM: master weight read and write, both moments read and write, the gradient read. The
  // node's chips share the host's DRAM.
  const double cpu_bytes = 2 * kFp32Bytes + 4.0 * job.plan.optimizer_moment_bytes + job.plan.gradient_bytes;
  const double host_rate =
      node.host_memory_bandwidth->value / std::max(1, node.chip_count()) * a.host_optimizer_bandwidth_fraction;
  const double cpu_s = offloaded * cpu_bytes / host_rate;
  return std::max(on_chip_s * (1.0 - fraction), std::max({to_host_s, cpu_s, to_chip_s}));
}

namespace {
double offload_stall_s(const TrainingJob& job, const StepWork& w) {
  const auto& plan = job.plan;
  if (plan.offload_activation_layers <= 0) return 0.0;
  const auto& link = job.cluster.node.host_link_bandwidth_per_direction;
  if (!link) {
    throw ModelError(fmt::format("node {} has no host_link_bandwidth_per_direction in the catalog: activation "
                                 "offloading needs it", job.cluster.node.id));
  }
  // Transformer Engine copies each offloaded layer's saved tensors to the host on a side stream during the forward
  // (offload of layer i due by the forward of layer layers - n + i: the copies queue behind the rest of the forward)
  // and reloads each one layer ahead of its backward (one layer's backward to hide behind).
  const auto& model = job.model;
  const auto off = offloaded_layers(model, plan);
  const double copy_dense = activation_bytes_per_layer(model, false, plan, job.training) / link->value;
  const double copy_moe = model.moe ? activation_bytes_per_layer(model, true, plan, job.training) / link->value : 0.0;
  const auto forward = [&](bool moe) { return w.layer(moe).forward().compute_s(); };
  const auto backward = [&](bool moe) { return (w.layer(moe).backward() + w.layer(moe).recompute).compute_s(); };
  const int moe_layers = model.moe_layer_count();
  const int dense_layers = model.layers - moe_layers;
  const double forward_after_first =
      dense_layers * forward(false) + moe_layers * forward(true) - forward(dense_layers == 0);
  const double offload = off.dense * copy_dense + off.moe * copy_moe;
  double stall = std::max(0.0, offload - forward_after_first);
  stall += off.dense * std::max(0.0, copy_dense - backward(false));
  if (off.moe > 0) stall += off.moe * std::max(0.0, copy_moe - backward(true));
  return stall;
}
}  // namespace

const LayerWork& StepWork::layer(LayerKind kind) const { return const_cast<StepWork*>(this)->layer(kind); }

LayerWork& StepWork::layer(LayerKind kind) {
  switch (kind) {
    case LayerKind::dense: return dense;
    case LayerKind::moe: return moe;
    case LayerKind::mamba: return mamba;
    case LayerKind::attention: return attention;
    case LayerKind::experts: return experts;
    case LayerKind::mlp: break;
  }
  return mlp;
}

StepWork build_step_work(const TrainingJob& job, const TopologySummary& topology, const Assumptions& a) {
  const auto& plan = job.plan;
  const auto& model = job.model;
  const Machine machine(job, topology, a);
  const auto params = count_params(model);  // once per plan: the layers' weights and the data-parallel traffic
  const LayerModel layers(job, machine, params);
  StepWork w;
  w.pp = plan.pp;
  w.vpp = plan.chunks_per_device();
  w.micro_batches = job.training.global_batch / (static_cast<long>(plan.dp) * plan.micro_batch);
  w.node_chips = machine.node_chips();
  w.scaleup = machine.scaleup();
  w.scaleout = machine.scaleout();
  // The kinds the model has; a transformer's dense and (MoE models) MoE layer in any case. MTP modules run the
  // transformer layer of the model's FFN kind (a hybrid model's attention and FFN layers, "*E", are its two blocks).
  const LayerKind mtp_kind = model.is_moe() ? LayerKind::moe : LayerKind::dense;
  for (const auto kind : kLayerKinds) {
    const bool transformer_kind = kind == LayerKind::dense || (kind == LayerKind::moe && model.is_moe());
    const bool needed = model.is_hybrid() ? model.layer_count(kind) > 0 || (model.mtp_modules > 0 && kind == mtp_kind)
                                          : transformer_kind;
    if (needed) w.layer(kind) = layers.layer(kind);
  }
  w.moe_model = model.is_moe();
  w.head = layers.head_forward();
  w.mtp_projection = layers.mtp_projection_forward();
  if (plan.dualpipe() && plan.ep > 1 && model.is_moe()) {
    // DualPipe overlaps each all-to-all with the other micro-batch's kernels by giving the all-to-all kernels SMs of
    // their own (DeepSeek-V3 report, section 3.2.2: 20 of the H800's 132): every kernel runs on the rest.
    const double slower = 1.0 / (1.0 - a.kernel(job.cluster.chip.family).all_to_all_sm_fraction);
    for (const auto kind : kLayerKinds) {
      auto& l = w.layer(kind);
      for (Pass* pass : {&l.attention_forward, &l.ffn_forward, &l.attention_backward, &l.ffn_backward,
                         &l.core_attention, &l.recompute}) {
        *pass = pass->scaled(slower);
      }
    }
    w.head = w.head.scaled(slower);
    w.mtp_projection = w.mtp_projection.scaled(slower);
  }
  w.chunks = stage_layouts(model, plan, plan.pp * w.vpp);
  // A full-iteration CUDA graph launches the whole forward-backward at once: no per-layer launch gaps or syncs.
  const bool graphed = job.training.full_iteration_graph;
  w.per_layer_overhead_s = graphed ? 0.0 : a.per_layer_overhead_s;
  // Capacity-padded routing knows its token counts on the host: no synchronisation to stall the launch queue.
  w.per_moe_layer_overhead_s = graphed || plan.moe_capacity_factor > 0 ? 0.0 : a.per_moe_layer_overhead_s;
  w.tp_overlap_hidden_fraction = a.tp_overlap_hidden_fraction;
  w.ep_overlap_hidden_fraction = plan.ep_comm_overlap ? a.ep_overlap_hidden_fraction : 0.0;
  w.per_step_overhead_s = a.per_step_overhead_s;
  w.peak_bf16_flop_per_s = machine.peak_bf16();
  w.offload_stall_s = offload_stall_s(job, w);
  if (plan.pp > 1) {
    const bool split = plan.sp || plan.pp_scatter_gather;  // each TP rank sends its slice
    const double activation = kBf16Bytes * layers.tokens() * model.hidden / (split ? plan.tp : 1);
    w.pp_hop = point_to_point(activation, machine.neighbour_link(plan.tp * plan.cp * plan.dp));
  }

  // Data parallel: gradients reduce-scattered (all-reduced without a sharded optimizer), parameters all-gathered,
  // over the shard group; with hybrid sharding the shard's gradients are then all-reduced across the replicas.
  const int dense_ranks = plan.dp * plan.cp;
  const int expert_ranks = std::max(1, plan.tp * plan.cp * plan.dp / (plan.ep * plan.etp));
  const int expert_stride = plan.ep * plan.etp;
  const int shard_ranks = plan.dense_shards();
  const int replicas = plan.shard_replicas();
  const int expert_shard_ranks = plan.expert_shards();
  const double grad = plan.gradient_bytes;
  StageParams last_held;
  w.sync.reserve(static_cast<std::size_t>(plan.pp));
  for (int device = 0; device < plan.pp; ++device) {
    const StageParams held = device_params(model, params, plan, w.chunks, device);
    if (device > 0 && held.dense == last_held.dense && held.expert == last_held.expert) {
      w.sync.push_back(w.sync.back());  // most devices hold the same layers: the same traffic
      continue;
    }
    last_held = held;
    DeviceSync sync;
    if (plan.zero == 0) {
      sync.gradients = machine.group_all_reduce(grad * held.dense, dense_ranks, plan.tp);
      sync.gradients.then(machine.group_all_reduce(grad * held.expert, expert_ranks, expert_stride));
    } else {
      sync.gradients = machine.group_all_gather(grad * held.dense, shard_ranks, plan.tp);
      sync.gradients.then(machine.group_all_gather(grad * held.expert, expert_shard_ranks, expert_stride));
      if (replicas > 1) {
        sync.gradients.then(machine.group_all_reduce(grad * held.dense / shard_ranks, replicas,
                                                     plan.tp * shard_ranks));
        sync.gradients.then(machine.group_all_reduce(grad * held.expert / expert_shard_ranks, replicas,
                                                     expert_stride * expert_shard_ranks));
      }
      sync.parameters = machine.group_all_gather(kBf16Bytes * held.dense, shard_ranks, plan.tp);
      sync.parameters.then(machine.group_all_gather(kBf16Bytes * held.expert, expert_shard_ranks, expert_stride));
    }
    const double shard =
        plan.zero >= 1 ? held.dense / shard_ranks + held.expert / expert_shard_ranks : held.total();
    sync.optimizer_s = optimizer_step_s(job, machine.memory_s(optimizer_bytes_per_param(plan) * shard), shard, a);
    w.sync.push_back(std::move(sync));
  }
  return w;
}

std::vector<StepWork> build_stage_works(const TrainingJob& job, const TopologySummary& topology, const Assumptions& a) {
  std::vector<StepWork> works;
  if (job.cluster.stage_chips.empty()) {
    works.push_back(build_step_work(job, topology, a));  // moved in: a braced list would copy it
    return works;
  }
  for (int stage = 0; stage < job.plan.pp; ++stage) {
    TrainingJob variant = job;
    variant.cluster = job.cluster.for_stage(stage);
    works.push_back(build_step_work(variant, topology, a));
  }
  return works;
}

}  // namespace flopcast
