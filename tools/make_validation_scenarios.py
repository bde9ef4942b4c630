#!/usr/bin/env python3
"""Turns every training run in calibration_runs.json into a scenario under scenarios/validation/.

Each scenario is built by fixed rules from the run's published description (no tuning to the published numbers)
and carries the published measurement it is checked against, with its source, in a "published" block:

  step_time_s            -> step_time_s
  tokens_per_s_per_chip  -> tokens_per_s_per_chip
  tflops_per_chip        -> model_tflops_per_chip (bloom runs: hardware_tflops_per_chip, because their published
                            TFLOP/s count the recompute forward pass); megatron2021 runs, which give no step time:
                            step_time_s derived with the paper's own FLOP count (PUBLICATION_FLOP_COUNT)
  mfu                    -> mfu
  hfu                    -> hfu

Where the publication leaves out something a scenario needs, the rule used is written into the scenario's
"published.assumed" list:
  - no plan: the plan of the same source's run of the same model with a published plan;
  - no global batch: the same source's run of the same model, scaled by the data-parallel width;
  - no micro-batch size: 1, except where the run has no pipeline and states that its gradient reduction was
    overlapped (--overlap-grad-reduce), or shards with FSDP: then the whole per-replica batch is one micro-batch
    (see infer_micro_batch);
  - no tensor-parallel degree where the FSDP text names tensor parallelism: the node's GPUs;
  - no recomputation: recompute "auto", the least under which the plan fits (the run ran), which flopcast picks
    and lists in its defaults used;
  - a global batch that is not a multiple of dp x micro_batch: the nearest multiple;
  - pipeline communication overlap stated but no virtual pipeline size: the interleaved schedule (Megatron and
    NeMo overlap pipeline communication only in it), with the layers per virtual stage of the file's runs that
    publish a virtual pipeline size (their median);
  - an inter-node network named as Omni-Path with "N links per node": the opa-100 fabric and N NICs per node;
  - an interleaved schedule named without its vpp: left for flopcast to pick (the fastest that fits);
  - layers that do not split over pp x vpp but do with the embedding and the loss counted as a layer each: that layout
    (Megatron's account_for_embedding/loss_in_pipeline_split), in stage_layers;
  - TorchTitan runs without a global batch: the local batch (the micro-batch) x dp;
  - TorchTitan's December 2024 pipelined runs without a micro-batch: the local batch in pp micro-batches, and 2
    virtual stages per rank in its interleaved schedule (TORCHTITAN_MICROBATCHES_ARE_PP: that commit's defaults);
  - Megatron-Bridge runs: their performance recipe's recompute modules (MBRIDGE_RECIPE_RECOMPUTE; none where the
    recipe has none), MoE communication settings (MBRIDGE_RECIPE_MOE_COMM: expert all-to-all overlap,
    full-iteration CUDA graph), MoE token dispatcher (MBRIDGE_RECIPE_DISPATCHER), CPU activation offloading
    (MBRIDGE_RECIPE_OFFLOAD), tensor-parallel overlap and gradient-accumulation fusion where the recipe turns them
    off (MBRIDGE_RECIPE_NO_TP_OVERLAP, MBRIDGE_RECIPE_UNFUSED_GRADIENT_ACCUMULATION) and, for DeepSeek-V3, layers per
    pipeline stage (MBRIDGE_DEEPSEEK_V3_LAYOUT);
  - NeMo 2.0 performance runs of Mixtral: the recipe's capacity-padded routing (parallelism.moe_capacity_factor 1)
    and no tensor-parallel overlap (NEMO_PERF_TOKEN_DROP);
  - backward tensor-parallel collectives that all block for the trainers that ran no asynchronous ones
    (TP_BACKWARD_BLOCKS: parallelism.tp_async_backward false);
  - gradient precision: bf16 where the trainer's performance scripts reduce in bf16 (GRADIENTS_BF16), bf16
    gradients and Adam moments where a NeMo launcher config states them (NEMO_LAUNCHER_OPTIMIZER);
  - MoE runs with tp > 1 on Megatron-Core 0.6 (MindSpeed-LLM 1.0): experts split over the TP group (etp = tp).

PyTorch-native runs (PYTORCH_SAC) compute their loss with torch.nn.functional.cross_entropy on fp32 logits where it is
not compiled (training.cross_entropy "pytorch"; TORCHTITAN_LOSS_NOT_COMPILED), and FSDP2 under a pipeline schedule
accumulates unsharded gradients (parallelism.unsharded_gradient_accumulation). An H100 named as the 96 GB HBM2e part
(TorchTitan's Grand Teton hosts) is the catalog's h100-sxm-96gb.

The chip and the model come from the record's hardware.chip_id and model.catalog_id; a record without a catalog id
takes the one catalog model whose architecture it states field for field (with the record's layer count, for a known
architecture cut down as a benchmark proxy), else its model is written inline from its fields; the precision from its text (MXFP8, NVFP4, per-tensor FP8, else bf16), the sharding from its FSDP
text (see sharding()). Runs whose architecture flopcast cannot express (no layers in the record and no catalog model)
are listed as skipped.

A published peak memory per GPU in the record's notes ("Memory 77.0 GiB", as TorchTitan's benchmark tables give
PyTorch's peak reserved bytes) goes into published.peak_memory_gib, which flopcast validate compares with its memory
per chip.

Framework behaviour of the time is set by source: FlashAttention and dropout (PRE_FLASH_ATTENTION), Transformer
Engine's tensor-parallel overlap (TE_COMM_OVERLAP), gradients reduced after the pipeline flush
(GRADIENTS_AFTER_FLUSH), interleaved schedules whose pipeline sends block (PIPELINE_SENDS_BLOCK), pipeline sends split
over the tensor-parallel ranks (PIPELINE_SCATTER_GATHER), the SC21 paper's launch script for Megatron-LM's 2021 runs
(SC21_TABLE1_SCRIPT: micro-batch, DDP, virtual stages) and MegaScale's parallel block with its TP overlap
(MEGASCALE_ROWS).

`flopcast validate` runs the files and compares. Usage:
  python3 tools/make_validation_scenarios.py [--runs FILE] [--out DIR]

Standard library only.
"""

import argparse
import functools
import json
import os
import re
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The shared data folder sits beside the checkout: ../shared/data/calibration_runs.json from the repository root.
DEFAULT_RUNS = os.path.join(os.path.dirname(REPO_ROOT), "shared", "data", "calibration_runs.json")
MODEL_CATALOG = os.path.join(REPO_ROOT, "models", "data", "models")
DEFAULT_OUT = os.path.join(REPO_ROOT, "scenarios", "validation")

PRE_FLASH_ATTENTION = ("megatron2021", "korthikanti2022", "bloom", "opt")  # also trained with dropout
TE_COMM_OVERLAP = ("mcore", "nemo", "mbridge")
# Trainers whose backward tensor-parallel collectives all block (parallelism.tp_async_backward false): PyTorch's tensor
# parallelism (TorchTitan, torchao: functional collectives in line), Megatron-LM of the 2021 paper (the asynchronous
# all-reduce beside the weight-gradient GEMM, async_tensor_model_parallel_allreduce, came with commit 16c90445 of
# 2021-09-02, after its runs), and the trainers built on Megatron of that time (BLOOM's Megatron-DeepSpeed, OPT's
# metaseq). Megatron-LM from the sequence-parallel release (Korthikanti et al. 2022; MegaScale's 2023 baseline),
# Megatron-Core, NeMo, Megatron-Bridge and MindSpeed run LinearWithGradAccumulationAndAsyncCommunication or Transformer
# Engine's Linear, which overlap them.
TP_BACKWARD_BLOCKS = ("torchtitan", "torchao", "megatron2021", "bloom", "opt")
# Gradients reduced after the pipeline flush, not behind the backward pass: Megatron-LM before --overlap-grad-reduce
# (commit 2d5220a4, 2023-09-05) all-reduced them in train_step after forward_backward_func returned, and DeepSpeed's
# pipeline engine (Megatron-DeepSpeed, BLOOM) issues ReduceGrads only after the last micro-batch
# (runtime/pipe/schedule.py). MegaScale's Megatron-LM baseline is commit 285068c8 (2023-01-11), before it.
GRADIENTS_AFTER_FLUSH = ("megatron2021", "korthikanti2022", "bloom", "megascale2024-megatronlm")
# Interleaved schedules whose pipeline sends block (parallelism.pp_comm_overlap false): Megatron-LM before
# --overlap-p2p-communication (commit f9283c5a, 2023-05-31) waited on every batched isend/irecv and then called
# torch.cuda.synchronize() (megatron/p2p_communication.py _communicate), in the interleaved schedule as in 1F1B.
# Korthikanti et al. 2022 ran the sequence-parallel release; MegaScale's baseline is commit 285068c8 (2023-01-11).
PIPELINE_SENDS_BLOCK = ("megatron2021", "korthikanti2022", "megascale2024-megatronlm")
# Pipeline sends split over the tensor-parallel ranks without sequence parallelism (parallelism.pp_scatter_gather):
# Megatron-LM's scatter_gather_tensors_in_pipeline, on by default from commit 72e4230b (2021-02-16) until Megatron-Core
# (Narayanan et al. 2021, sec. 4.1), and DeepSpeed's pipeline engine, which partitions its activations over the
# model-parallel group (is_pipe_partitioned; BLOOM's Megatron-DeepSpeed).
PIPELINE_SCATTER_GATHER = ("megatron2021", "korthikanti2022", "megascale2024-megatronlm", "bloom")
# The SC21 paper's own launch script for its Table 1 (NVIDIA/Megatron-LM examples/sc21/run_table_1.sh and CONFIG.sh,
# commit 6985e589, 2021-08-18), by hidden size: micro-batch, DDP implementation (torch: PyTorch's DDP, whose bucketed
# all-reduce runs behind the backward; local: Megatron's, all-reduced after the pipeline flush) and layers per virtual
# pipeline stage (--num-layers-per-virtual-pipeline-stage: the interleaved schedule), all with --fp16 and no
# --accumulate-allreduce-grads-in-fp32 (gradients reduced in fp16, 2 bytes) and no distributed optimizer (ZeRO 0: it
# came to Megatron-LM in 2022). Nor had Megatron-LM gradient-accumulation fusion yet (commit 83b1e42f, 2022-02-13):
# its local DDP added each micro-batch's weight gradients to the main gradient in a hook (param.main_grad.add_,
# megatron/model/distributed.py at 2021-04), PyTorch's DDP copied them into its buckets
# (training.gradient_accumulation_fusion false).
SC21_TABLE1_SCRIPT = {
    2304: (16, "torch", None),
    3072: (16, "torch", None),
    4096: (16, "torch", None),
    6144: (8, "torch", None),
    8192: (4, "local", None),
    10240: (2, "local", 5),
    12288: (2, "local", 5),
    16384: (1, "local", 3),
    20480: (1, "local", 1),
    25600: (1, "local", None),
}
# Catalog models whose rotary embedding Megatron-Core applies unfused (training.rope_fusion false): gpt-oss's YaRN
# (factor 32, yarn_mscale unset) scales the rotary terms by mscale = 0.1 ln 32 + 1 = 1.35, and
# megatron/core/models/common/embeddings/rope_utils.py (apply_rotary_pos_emb) falls back to the unfused
# _apply_rotary_pos_emb_bshd whenever mscale is not 1, whatever apply_rope_fusion says (Megatron-Core 458c8d0 and
# later, as Megatron-Bridge 0.5 pins it).
MEGATRON_UNFUSED_ROPE_MODELS = ("gpt-oss-120b",)
MEGATRON_TRAINERS = ("mcore", "nemo", "mbridge")
# MegaScale (Jiang et al. 2024, sec. 3.1-3.2 and Table 3): its rows run the parallel transformer block, whose one
# all-gather and one reduce-scatter per layer MegaScale fuses into the FFN path's linears in pipelined chunks
# (tensor-parallel overlap), with pipeline and data-parallel overlap. Its sliding-window attention's window is not
# stated: full attention is modelled (the attention core is about 2 % of the step at 2,048 tokens).
MEGASCALE_ROWS = "megascale2024-megascale"
# PyTorch-native trainers: their selective recomputation is per-operator checkpointing (torch.utils.checkpoint), and
# their attention is scaled_dot_product_attention's FlashAttention-2 backend.
PYTORCH_SAC = ("torchtitan", "torchao")
# Validated but not fitted in the shipped calibration: the PyTorch-native trainers' host-side overheads (eager
# launches, FSDP2 hooks and copy-in/copy-out), FSDP2's prefetch scheduling and torch.distributed.pipelining's exposed
# transfers are not modelled, and 18 of their 21 runs are predicted 6-92 % too fast. Fitted, they drive Hopper's
# attention-backward efficiency to its bound and the per-step overhead to 160 ms, which slows every Megatron run.
VALIDATE_ONLY = {
    PYTORCH_SAC: "PyTorch-native trainer (FSDP2, torch.distributed.pipelining, torch.compile): its host overheads "
                 "and communication scheduling are not modelled, so kernel and collective efficiencies are not "
                 "fitted to it",
}
HARDWARE_TFLOPS = ("bloom",)  # published TFLOP/s include the recompute forward pass


def megatron2021_flop_per_iteration(run):
    """Narayanan et al. 2021 (arXiv:2104.04473), eq. (3), the count behind its Table 1's TFLOP/s (activation
    recomputation included): 96 B s l h^2 (1 + s / 6h + V / 16 l h)."""
    m = run["model"]
    b, s = run["parallelism"]["global_batch_size_sequences"], m["sequence_length"]
    l, h, v = m["layers"], m["hidden_size"], m["vocab_size"]
    return 96 * b * s * l * h * h * (1 + s / (6 * h) + v / (16 * l * h))


# Publications that give a FLOP rate computed with their own FLOP count and no step time: the step time that count
# implies is what is compared, so that no FLOP convention mixes into the error (flopcast's count of the same model
# differs from eq. (3) by up to a few percent).
PUBLICATION_FLOP_COUNT = {
    "megatron2021": (megatron2021_flop_per_iteration, "the paper's eq. (3), 96 B s l h^2 (1 + s / 6h + V / 16 l h)"),
}
# Main gradients kept and reduced in bf16 by the trainer's performance scripts: Megatron-Bridge's set every model
# family's mixed_precision.grad_reduce_in_fp32 and ddp.grad_reduce_in_fp32 to False (scripts/performance/configs/
# <family>/*_llm_pretrain.py from v0.2.2, perf_recipes/_common.py _benchmark_common at v0.6.0), and NeMo 2.0's
# pretrain_<model>.py scripts set recipe.trainer.plugins.grad_reduce_in_fp32 = False for FP8 runs (NVIDIA/NeMo v2.2.0,
# scripts/llm/performance). Megatron-Core then holds the gradient buffer in bf16 (param_and_grad_buffer.py: fp32 only
# with grad_reduce_in_fp32).
GRADIENTS_BF16 = ("mbridge", "nemo2502", "nemo2504")
# Experts split over the whole tensor-parallel group: MindSpeed-LLM 1.0 (2024) runs on Megatron-Core 0.6, whose
# GroupedMLP and SequentialMLP divide every expert's width by the TP size (--expert-tensor-parallel-size arrived in
# Megatron-Core 0.10), and MindSpeed-LLM turns MindSpeed's --moe-tp-extend-ep off (modellink/arguments.py).
# Megatron-Bridge's and NeMo's MoE recipes set expert_tensor_parallel_size 1, flopcast's default.
EXPERTS_SPLIT_OVER_TP = ("mindspeed24",)
# MindSpeed-LLM example scripts (named in a run's source.location), each read at the commit its record names (1ea3922
# for the Oct 2024 table, 506c93e for the Mar 2025 packing runs, 9d6963b for Qwen3-30B), with the flags it passes that
# the builder acts on; the rules below say what passing or leaving out each one does.
#   --no-gradient-accumulation-fusion (without MindSpeed's own --gemm-gradient-accumulation-fusion, which the qwen3_moe
#     script passes): every weight gradient is written in bf16 and added to the fp32 main gradient by a separate kernel
#     each micro-batch. The packing scripts of 506c93e keep the fused default: the flag left them with commits
#     d77ddc5e and f477d2e8 (Nov and Dec 2024).
#   --reuse-fp32-param: the optimizer's fp32 master weight kept as the bf16 weight plus a 16-bit residual
#     (parallelism.master_weights "bf16_residual"; MindSpeed docs/features/reuse-fp32-param.md).
#   --use-distributed-optimizer: without it Megatron keeps every optimizer state on every data-parallel rank (zero 0).
#   --overlap-grad-reduce: without it Megatron's DDP reduces the gradients after the step's last backward and the
#     distributed optimizer gathers the updated weights after its step (parallelism.dp_overlap false: both on the
#     critical path; no script passes --overlap-param-gather without it). The 7B packing script passes it without
#     --overlap-param-gather; its weight gather stays counted as overlapped.
#   --moe-token-dispatcher-type allgather: Megatron-Core's all-gather dispatcher as MindSpeed patches it
#     (parallelism.moe_dispatcher "allgather"). The qwen3_moe script passes alltoall_seq; the Mixtral one runs no
#     expert parallelism.
NO_GRAD_ACC_FUSION = "--no-gradient-accumulation-fusion"
REUSE_FP32_PARAM = "--reuse-fp32-param"
DISTRIBUTED_OPTIMIZER = "--use-distributed-optimizer"
OVERLAP_GRAD_REDUCE = "--overlap-grad-reduce"
ALLGATHER_DISPATCHER = "--moe-token-dispatcher-type allgather"
MINDSPEED_SCRIPT_FLAGS = {
    "examples/mcore/llama2/pretrain_llama2_70b_ptd.sh": {NO_GRAD_ACC_FUSION},
    "examples/mcore/llama31/pretrain_llama31_8b_128k_ptd.sh": {NO_GRAD_ACC_FUSION},
    "examples/gpt3/pretrain_gpt3_175B_ptd.sh": {NO_GRAD_ACC_FUSION, OVERLAP_GRAD_REDUCE},
    "examples/mcore/qwen2_moe/pretrain_qwen2_57b_a14b_4K_ptd.sh": {NO_GRAD_ACC_FUSION, DISTRIBUTED_OPTIMIZER,
                                                                   ALLGATHER_DISPATCHER},
    "examples/mcore/deepseek2/pretrain_deepseek2_60b_8k_ptd.sh": {NO_GRAD_ACC_FUSION, REUSE_FP32_PARAM,
                                                                  DISTRIBUTED_OPTIMIZER, ALLGATHER_DISPATCHER},
    "examples/mcore/mixtral/pretrain_mixtral_8x7b_ptd.sh": {DISTRIBUTED_OPTIMIZER, OVERLAP_GRAD_REDUCE},
    "examples/mcore/llama2/pretrain_llama2_13b_pack_ptd.sh": {REUSE_FP32_PARAM, DISTRIBUTED_OPTIMIZER},
    "examples/mcore/llama2/pretrain_llama2_7b_pack_ptd.sh": {DISTRIBUTED_OPTIMIZER, OVERLAP_GRAD_REDUCE},
    "examples/mcore/qwen3_moe/pretrain_qwen3_30b_a3b_4K_ptd.sh": {DISTRIBUTED_OPTIMIZER},
}
# MindSpeed-LLM's October 2024 table (README at 1ea3922, the note under it) was measured with MC2 on: the fused
# matmul-and-collective kernels that run the tensor-parallel all-gather and reduce-scatter inside the GEMMs, which its
# scripts pass (--use-mc2) and its code turned off unless a user re-enabled it. Its runs with tensor parallelism (and
# SP, which MC2 needs) overlap their TP collectives as Transformer Engine's userbuffers do.
MC2_TABLES = ("mindspeed2410",)
# NeMo-Framework-Launcher configs that state their optimizer's precisions (launcher_scripts/conf/training/, tags
# 24.07 to 24.12): keyed by the id's source and the catalog model.
NEMO_LAUNCHER_OPTIMIZER = {
    # nemotron/nemotron_340b.yaml: optim distributed_fused_adam (mcore_distributed_optim at 24.12) with
    # grad_sync_dtype bf16 and dtype bf16 (the optimizer state's precision).
    ("nemo2407", "nemotron4-340b"): {"gradients": "bf16", "optimizer_moments": "bf16"},
}
DEFAULT_VOCAB = 51200


class Skip(Exception):
    """The run cannot be turned into a scenario; the message is the reason."""


def or_default(value, default):
    return default if value is None else value


def chip_id(hardware):
    """The record's catalog chip (hardware.chip_id), or one read from the chip's name for older records; an H100 whose
    name says it is the 96 GB HBM2e part (TorchTitan's Grand Teton hosts) is that catalog variant."""
    chip_text = hardware.get("chip") or ""
    if "H100" in chip_text and "96 GB HBM2e" in chip_text:
        return "h100-sxm-96gb"
    if hardware.get("chip_id"):
        return hardware["chip_id"]
    if "A100" in chip_text:
        return "a100-sxm-80gb"
    if "H100" in chip_text:
        return "h100-sxm"
    raise Skip(f"no catalog chip for \"{chip_text}\"")


@functools.lru_cache(maxsize=None)
def catalog_entries():
    """The model catalog's entries by id, read once."""
    entries = {}
    for name in sorted(os.listdir(MODEL_CATALOG)):
        with open(os.path.join(MODEL_CATALOG, name)) as f:
            entry = json.load(f)
        entries[entry["id"]] = entry
    return entries


def catalog_model(run):
    """The record's model.catalog_id where flopcast's model catalog has it; for a record that states no architecture,
    the catalog model it names (catalog_model_named); else None (the model is written inline)."""
    model_id = run["model"].get("catalog_id")
    if model_id in catalog_entries():
        return model_id
    return catalog_model_named(run)


def name_stem(name):
    """A model name before its parenthesis, lower case: "Nemotron 3 Nano 30B-A3B (hybrid ...)" -> "nemotron 3 nano
    30b-a3b"."""
    return (name or "").split("(")[0].strip().lower()


def catalog_model_named(run):
    """A record that states no architecture (no hidden size: a hybrid model's layers do not fit the record's fields)
    but names its model: the one catalog model with that name, whose MoE routed experts and top-k agree where the
    record states them (the shared experts are left out: a catalog may write one wide shared expert as several of
    the experts' width)."""
    m = run["model"]
    if m.get("hidden_size") is not None or not name_stem(m.get("name")):
        return None
    matches = []
    for model_id, entry in catalog_entries().items():
        if entry.get("hypothetical") or name_stem(entry.get("name")) != name_stem(m.get("name")):
            continue
        stated = m.get("moe") or {}
        known = entry.get("moe") or {}
        if any(stated.get(ours) not in (None, known.get(theirs)) for ours, theirs in (("routed_experts", "experts"),
                                                                                          ("top_k", "top_k"))):
            continue
        matches.append(model_id)
    return matches[0] if len(matches) == 1 else None


# The record's stated architecture fields and the catalog's names for them (model/ and model/moe/).
ARCHITECTURE_FIELDS = (("hidden_size", "hidden"), ("attention_heads", "heads"), ("kv_heads", "kv_heads"),
                       ("vocab_size", "vocab"), ("ffn_size", "ffn"))
MOE_FIELDS = (("routed_experts", "experts"), ("top_k", "top_k"), ("shared_experts", "shared_experts"),
              ("expert_ffn_size", "expert_ffn"), ("dense_layers", "dense_layers"))
CATALOG_ONLY_KEYS = ("id", "source", "published", "hypothetical", "notes")


def catalog_architecture(run):
    """The one catalog model whose architecture the record states field for field (hidden, heads, KV heads, vocab,
    FFN width, attention kind, and the MoE's experts, top-k, shared experts, expert width and dense layers, each
    where the record gives it), or None when none or several match. A record without a catalog_id often describes a
    known model (a benchmark table's "Llama 2 70B", or a known architecture cut to fewer layers as a proxy); the
    catalog then supplies what the record leaves out (MLA's head dimensions, the activation, biases)."""
    m = run["model"]
    if m.get("hidden_size") is None or m.get("attention_heads") is None:
        return None
    attention_text = (m.get("attention_type") or "").upper()
    matches = []
    for entry in catalog_entries().values():
        if entry.get("hypothetical") or bool(entry.get("moe")) != bool(m.get("moe")):
            continue
        if "MLA" in attention_text and entry.get("attention") != "mla":
            continue
        pairs = [(m.get(ours), entry.get(theirs)) for ours, theirs in ARCHITECTURE_FIELDS]
        if m.get("moe"):
            pairs += [(m["moe"].get(ours), entry["moe"].get(theirs, 0)) for ours, theirs in MOE_FIELDS]
        if all(stated is None or stated == known for stated, known in pairs):
            matches.append(entry)
    return matches[0] if len(matches) == 1 else None


def catalog_model_with_layers(entry, layers):
    """The catalog entry's architecture written inline with the record's layer count."""
    model = {k: v for k, v in entry.items() if k not in CATALOG_ONLY_KEYS}
    model["name"] = f"{entry['name']}, {layers} of its {entry['layers']} layers"
    model["layers"] = layers
    return model


def model_layers(run):
    """The record's layer count, or its catalog model's."""
    layers = run["model"].get("layers")
    model_id = catalog_model(run)
    if layers is None and model_id:
        layers = catalog_entries()[model_id].get("layers")
    if layers is None:
        raise Skip("model layers not in the record and no catalog model")
    return layers


def precision(text):
    """flopcast's training precision for the record's precision text: block-scaled MXFP8 and NVFP4, per-tensor FP8
    (Transformer Engine, torchao Float8), else bf16 (FP16 mixed precision runs at the same tensor-core rate)."""
    text = (text or "").lower()
    if "nvfp4" in text:
        return "nvfp4"
    if "mxfp8" in text and "value in parentheses" not in text:
        return "mxfp8"
    if "fp8" in text or "float8" in text or "f8" in text:
        return "fp8"
    return "bf16"


def sharding(parallelism):
    """(zero, reshard_after_forward or None) from the record's FSDP text. PyTorch FSDP2 and Megatron-FSDP shard
    weights, gradients and optimizer states (ZeRO-3). TorchTitan reshards after the forward by default only without a
    pipeline (fsdp_reshard_after_forward "default": torchtitan/distributed/fsdp.py); with one, its pipeline stages keep
    the gathered weights for the step, accumulate the gradients unsharded and reduce-scatter once
    (torch.distributed.pipelining: FSDP2's gradient sync is off for every backward but the last). Megatron-FSDP
    (optim_grads_params) gathers each layer before every forward and backward. "Distributed optimizer" and DDP runs
    shard only the optimizer states (ZeRO-1)."""
    text = (parallelism.get("fsdp") or "")
    if parallelism.get("zero_stage") is not None:
        return parallelism["zero_stage"], None
    lowered = text.lower()
    if not text or "column = 0" in lowered or lowered.startswith("ddp") or "distributed optimizer" in lowered:
        return 1, None
    if "fsdp2" in lowered or "fully_shard" in lowered:
        return 3, (parallelism.get("pp") or 1) <= 1
    return 3, True


def is_moe(run):
    return bool(run["model"].get("moe"))


def build_model(run, assumed):
    model_id = catalog_model(run)
    if model_id and run["model"].get("catalog_id") != model_id:
        assumed.append(f"model not named by a catalog id: catalog model {model_id}, which the record names (its "
                       f"architecture fields are not stated)")
    if model_id:
        return model_id
    m = run["model"]
    entry = catalog_architecture(run)
    if entry:
        layers = or_default(m.get("layers"), entry["layers"])
        if layers == entry["layers"]:
            assumed.append(f"model not named by a catalog id: catalog model {entry['id']}, whose architecture the "
                           f"record states field for field")
            return entry["id"]
        assumed.append(f"model not named by a catalog id: catalog model {entry['id']}'s architecture, whose fields "
                       f"the record states, with the record's {layers} of its {entry['layers']} layers")
        return catalog_model_with_layers(entry, layers)
    missing = [key for key in ("layers", "hidden_size", "attention_heads") if m.get(key) is None]
    if missing:
        raise Skip(f"model architecture not in the record ({', '.join(missing)} missing) and no catalog model: "
                   f"{m.get('name')}")
    attention_text = (m.get("attention_type") or "").upper()
    name_text = (m.get("name") or "").lower()
    heads = m["attention_heads"]
    kv_heads = or_default(m.get("kv_heads"), heads)
    gqa_family = any(word in name_text for word in ("llama", "qwen", "nemotron"))
    gqa = "GQA" in attention_text or gqa_family or kv_heads != heads
    model = {
        "name": m.get("name") or run["id"],
        "layers": m["layers"],
        "hidden": m["hidden_size"],
        "heads": heads,
        "kv_heads": kv_heads,
        "vocab": or_default(m.get("vocab_size"), DEFAULT_VOCAB),
    }
    if gqa:
        # Llama / Qwen / GQA runs: gated SwiGLU MLP. Nemotron-4 uses a non-gated squared-ReLU MLP, which has
        # the FLOP and parameter count of a GELU MLP.
        squared_relu = "nemotron" in name_text or "SQUARED-RELU" in attention_text
        model["ffn_act"] = "gelu" if squared_relu else "swiglu"
        model["attention"] = "gqa"
    else:
        model["ffn_act"] = "gelu"
        model["attention"] = "mha"
    moe = m.get("moe")
    if moe:
        model["ffn"] = moe["expert_ffn_size"]
        model["moe"] = {
            "experts": moe["routed_experts"],
            "top_k": moe["top_k"],
            "shared_experts": or_default(moe.get("shared_experts"), 0),
            "expert_ffn": moe["expert_ffn_size"],
            "dense_layers": or_default(moe.get("dense_layers"), 0),
        }
    else:
        model["ffn"] = or_default(m.get("ffn_size"), 4 * m["hidden_size"])
    return model


def block_recompute_layers(text):
    """Megatron's block method as a record states it ("full, block, 1 layer"): the layers of each pipeline stage
    that full recomputation redoes (parallelism.recompute_layers), or None (every layer: the uniform method)."""
    match = re.search(r"\bblock\b\D*(\d+)\s+layers?\b", (text or "").lower())
    return int(match.group(1)) if match else None


def recompute_mode(text):
    text = (text or "").lower()
    if "full" in text:
        return "full"
    if "per-op" in text:
        return "per_op"
    if "selective" in text:
        return "selective"
    return "none"


# Megatron-Bridge's performance recipes recompute modules the published tables do not restate (NVIDIA-NeMo/
# Megatron-Bridge, scripts/performance/configs/<family>/*_workload_base_configs.py up to the 26.06 container, then
# src/megatron/bridge/perf_recipes/<family>/<gpu>/*.py; the "v2" variants the tables ran). Keyed by container (the id's
# source), catalog model, chip and flopcast precision; Qwen3 and Llama 3 recipes recompute nothing.
MBRIDGE_RECIPE_RECOMPUTE = {
    # deepseek_workload_base_configs.py (r0.2.0): GB200 selective ["mla_up_proj"]
    ("mbridge2511", "deepseek-v3", "gb200", "bf16"): ["mla_up_proj"],
    # r0.4.0 B200_FP8_MX_V2 (PP8 VP2 EP32): ["mla_up_proj", "mlp"]
    ("mbridge260401", "deepseek-v3", "b200", "mxfp8"): ["mla_up_proj", "mlp"],
    # B300_V2 (MBS 2, PP8, EP8): ["mla_up_proj"]
    ("mbridge2606", "deepseek-v3", "b300", "mxfp8"): ["mla_up_proj"],
    # perf_recipes/deepseek/gb200/deepseek_v3.py, MXFP8 full-iteration CUDA graph config: ["mla_up_proj"]
    ("mbridge2608", "deepseek-v3", "gb200", "mxfp8"): ["mla_up_proj"],
    # gpt_oss_workload_base_configs.py (r0.4.0) B200_V2 and GB200_BF16_V2: ["layernorm", "moe_act"]
    ("mbridge260401", "gpt-oss-120b", "b200", "bf16"): ["layernorm", "moe_act"],
    ("mbridge260401", "gpt-oss-120b", "gb200", "bf16"): ["layernorm", "moe_act"],
    # nemotronh/nemotron_3_workload_base_configs.py (26.06): NEMOTRON_3_NANO_PRETRAIN_CONFIG_H100_FP8_CS_V1
    ("mbridge2606", "nemotron3-nano", "h100-sxm", "fp8"): ["moe", "layernorm", "core_attn", "moe_act"],
    # perf_recipes/nemotronh/gb200/nemotronh.py (26.08), nemotron_3_ultra_pretrain_256gpu_gb200_fp8mx_config:
    # selective ["moe_act"]; Nemotron 3 Super on B300 (26.06, NEMOTRON_3_SUPER_PRETRAIN_CONFIG_B300_FP8_MX_V1 and
    # recipes/nemotronh/nemotron_3_super.py) recomputes nothing.
    ("mbridge2608", "nemotron3-ultra", "gb200", "mxfp8"): ["moe_act"],
}


def mbridge_recipe(run):
    """The recipe tables' key: container (the id's source), catalog model and chip."""
    return run["id"].split("-")[0], catalog_model(run), run["hardware"].get("chip_id")


def infer_recipe_recompute(scenario, run, assumed):
    """A Megatron-Bridge run that does not state its recomputation gets its recipe's recompute modules, or none
    where its recipe recomputes nothing (every recipe not in the table)."""
    if run["parallelism"].get("activation_recompute") or not run["id"].startswith("mbridge"):
        return
    key = (*mbridge_recipe(run), scenario["training"]["precision"])
    modules = MBRIDGE_RECIPE_RECOMPUTE.get(key)
    if modules is None:
        scenario["parallelism"]["recompute"] = "none"
        assumed.append("recomputation not published: none, as the Megatron-Bridge performance recipe sets it")
        return
    scenario["parallelism"]["recompute"] = "selective"
    scenario["parallelism"]["recompute_modules"] = modules
    assumed.append(f"recomputation not published: the Megatron-Bridge performance recipe's recompute_modules "
                   f"{', '.join(modules)}")


# Megatron-Bridge's performance recipes' MoE communication settings, which the published tables do not restate (same
# files as above, at the release tags v0.2.2 (25.11), v0.4.2 (26.04), v0.5.x (26.06) and v0.6.0 (26.08); the container
# of each tag from docs/performance-summary.md). "overlap": overlap_moe_expert_parallel_comm (with
# delay_wgrad_compute), Megatron's combined 1F1B. "full_iteration": cuda_graph_impl "full_iteration", which turns
# the overlap on too, with HybridEP and a fixed per-rank expert capacity (moe_expert_rank_capacity_factor 1.5).
# Recipes not listed turn neither on (a partial Transformer Engine graph of attention and router is left out: it
# still launches and synchronises per layer). Left out as ambiguous: DeepSeek-V3 on B300 in 26.06 (v0.5.0 runs
# neither, v0.5.1 the full-iteration graph).
MBRIDGE_RECIPE_MOE_COMM = {
    ("mbridge2511", "qwen3-235b-a22b", "h100-sxm"): "overlap",        # alltoall + A2A overlap, TP2 PP8 VP4 EP32
    ("mbridge260401", "qwen3-235b-a22b", "h100-sxm"): "overlap",
    ("mbridge260401", "deepseek-v3", "b200"): "overlap",             # DeepEP + A2A overlap, PP8 VP2 EP32
    ("mbridge260401", "gpt-oss-120b", "gb200"): "overlap",           # alltoall + A2A overlap, EP64
    ("mbridge2606", "qwen3-30b-a3b", "b300"): "full_iteration",
    ("mbridge2608", "deepseek-v3", "gb200"): "full_iteration",       # _enable_deepseek_full_iteration_mxfp8
    ("mbridge2608", "gpt-oss-120b", "gb200"): "full_iteration",
    ("mbridge2608", "qwen3-235b-a22b", "gb200"): "full_iteration",   # the 256-GPU config
    ("mbridge2608", "qwen3-30b-a3b", "gb200"): "full_iteration",
}


# Megatron-Bridge's performance recipes' MoE token dispatchers, which the published tables do not restate: their
# workload base configs (scripts/performance/configs/<family>/*workload_base_configs.py, the V2 variants where they
# exist) at the release each container ran, 25.11 = d863c658f, 26.04.01 = 2b82f6f17, 26.06 = a0faf081e, 26.06.01 =
# cba825fdd, and perf_recipes/<family>/<gpu>/*.py at 26.08 = 5796c06a1. A config without a flex backend runs
# Megatron's all-to-all dispatcher (scripts/performance/utils/overrides.py set_workload_base_configs); one with it
# the flex dispatcher with that backend. No recipe here fuses HybridEP's permutation into its kernels
# (moe_permute_fusion_into_hybridep). Runs not listed keep flopcast's default (deepep: one permutation pass each way;
# with one local expert, as Mixtral's EP8 runs have, the all-to-all dispatcher sorts nothing either).
MBRIDGE_RECIPE_DISPATCHER = {
    ("mbridge2511", "deepseek-v3", "gb200"): "hybridep",          # DEEPSEEK_V3_GB200_BASE_CONFIG
    ("mbridge2511", "qwen3-235b-a22b", "gb200"): "hybridep",      # QWEN3_235B_A22B_GB200_BF16_BASE_CONFIG
    ("mbridge2511", "qwen3-235b-a22b", "h100-sxm"): "alltoall",   # QWEN3_235B_A22B_H100_FP8_CS_BASE_CONFIG
    ("mbridge260401", "deepseek-v3", "b200"): "deepep",           # DEEPSEEK_V3_..._B200_FP8_MX_V2
    ("mbridge260401", "gpt-oss-120b", "b200"): "alltoall",        # GPT_OSS_120B_..._B200_BF16_V2
    ("mbridge260401", "qwen3-235b-a22b", "b200"): "alltoall",     # QWEN3_235B_..._B200_FP8_MX_V2
    ("mbridge260401", "qwen3-30b-a3b", "b200"): "hybridep",       # QWEN3_30B_A3B_..._B200_FP8_MX_V1
    ("mbridge260401", "qwen3-235b-a22b", "b300"): "hybridep",     # QWEN3_235B_..._B300_FP8_MX_V2
    ("mbridge260401", "gpt-oss-120b", "gb200"): "alltoall",       # GPT_OSS_120B_..._GB200_BF16_V2
    ("mbridge260401", "qwen3-235b-a22b", "h100-sxm"): "alltoall", # QWEN3_235B_..._H100_FP8_CS_V2
    ("mbridge2606", "deepseek-v3", "b300"): "hybridep",
    ("mbridge2606", "gpt-oss-120b", "b300"): "hybridep",
    ("mbridge2606", "nemotron3-super", "b300"): "hybridep",
    ("mbridge2606", "qwen3-30b-a3b", "b300"): "hybridep",
    ("mbridge2606", "nemotron3-nano", "h100-sxm"): "hybridep",
    ("mbridge2606", "qwen3-30b-a3b", "h100-sxm"): "hybridep",
    ("mbridge260601", "nemotron3-nano", "gb200"): "hybridep",
    ("mbridge2608", "deepseek-v3", "gb200"): "hybridep",
    ("mbridge2608", "gpt-oss-120b", "gb200"): "hybridep",
    ("mbridge2608", "nemotron3-ultra", "gb200"): "hybridep",
    ("mbridge2608", "qwen3-235b-a22b", "gb200"): "hybridep",
    ("mbridge2608", "qwen3-30b-a3b", "gb200"): "hybridep",
}
DISPATCHER_TEXT = {
    "alltoall": "all-to-all dispatcher (a permutation before the all-to-all and, with several local "
                "experts, a sort by expert after it; both mirrored after the experts)",
    "deepep": "flex dispatcher with DeepEP (one permutation each way outside its kernels)",
    "hybridep": "flex dispatcher with HybridEP (its own permutation stage each way)",
}


# Megatron-Bridge performance recipes that offload activations to the host (Transformer Engine's CPU offloading,
# cpu_offloading True, cpu_offloading_weights False): scripts/performance/configs/llama/llama3_workload_base_configs.py
# at v0.4.2 (26.04), LLAMA3_70B_PRETRAIN_CONFIG_GB200_FP8_CS_V1/V2: Megatron-FSDP, MBS 2, cpu_offloading_num_layers 40;
# scripts/performance/utils/overrides.py sets cpu_offloading and leaves the weights on the GPU.
MBRIDGE_RECIPE_OFFLOAD = {
    ("mbridge260401", "llama3-70b", "gb200"): 40,
}


# Megatron-Bridge performance recipes that shard with Megatron-FSDP inside a group and replicate across groups (HSDP):
# perf_recipes/nemotronh/common.py (26.08), _apply_nemotron_3_ultra_fsdp_hsdp: optim_grads_params sharding inside
# each 64-GPU NVLink domain (_GB300_NVLINK_DOMAIN_GPUS), num_distributed_optimizer_instances = GPUs / 64 (its outer
# "optim" sharding of the optimizer states across the domains is not modelled: flopcast keeps them sharded 64 ways).
MBRIDGE_RECIPE_SHARD_GROUP = {
    ("mbridge2608", "nemotron3-ultra", "gb200"): 64,
}
# Megatron-Bridge performance recipes that run the routed experts' MLP as Transformer Engine's fused grouped MLP
# (use_transformer_engine_op_fuser with the CuTe kernels, NVTE_CUTEDSL_FUSED_GROUPED_MLP=1): perf_recipes/gpt_oss/
# common.py (26.08), _apply_gpt_oss_120b_full_iter_fp8mx_configs, for GB200/GB300 MXFP8; the Nemotron 3 Ultra GB200
# recipe ("CuteDSL fused grouped MLP"). B200 and B300 recipes and every BF16 one leave the op fuser off.
MBRIDGE_RECIPE_FUSED_EXPERT_MLP = (
    ("mbridge2608", "gpt-oss-120b", "gb200"),
    ("mbridge2608", "nemotron3-ultra", "gb200"),
)
# Megatron-Bridge performance recipes that run tensor parallelism without Transformer Engine's communication overlap
# (every other recipe with TP > 1 keeps the userbuffers overlap its base recipe sets), by container, catalog model,
# chip and training precision: scripts/performance/configs/qwen/qwen3_llm_pretrain.py sets
# CommOverlapConfig(tp_comm_overlap=False) for the H100 Qwen3-235B runs (v0.2.0, 25.11; v0.4.2, 26.04.01); the Llama
# performance scripts turn it off for NVFP4 (llama3_llm_pretrain.py at v0.4.2, llama31_llm_pretrain.py at v0.5.0,
# 26.06: tp_comm_overlap = False if precision == "nvfp4"); the Nemotron 3 Ultra recipe creates no CommOverlapConfig
# (recipes/common.py comm_overlap None; perf_recipes/nemotronh/gb200/nemotronh.py at v0.6.0, 26.08), and the model's
# default is off.
MBRIDGE_RECIPE_NO_TP_OVERLAP = (
    ("mbridge2511", "qwen3-235b-a22b", "h100-sxm", "fp8"),
    ("mbridge260401", "qwen3-235b-a22b", "h100-sxm", "fp8"),
    ("mbridge260401", "llama3-70b", "gb200", "nvfp4"),
    ("mbridge2606", "llama3-405b", "gb200", "nvfp4"),
    ("mbridge2608", "nemotron3-ultra", "gb200", "mxfp8"),
)
# Megatron-Bridge performance recipes that turn gradient-accumulation fusion off: perf_recipes/nemotronh/common.py
# (v0.6.0, 26.08) sets gradient_accumulation_fusion False for Nemotron 3 Ultra on GB200 ("incompatible with BF16 FSDP
# main grads"). The others keep the default, on where Transformer Engine imports (v0.4.0 on, 26.04); 25.11 (v0.2.0)
# turned it on only where APEX's fused_weight_gradient_mlp_cuda imports, which the source alone does not settle, so
# its runs keep the default too.
MBRIDGE_RECIPE_UNFUSED_GRADIENT_ACCUMULATION = (
    ("mbridge2608", "nemotron3-ultra", "gb200"),
)
# NeMo 2.0's performance recipes for Mixtral (pretrain_recipe(performance_mode=True) in recipes/mixtral_8x7b.py,
# mixtral_8x22b.py and mixtral_8x22b_64k.py; NVIDIA/NeMo v2.2.1 for the 25.02 container, v2.3.0 for 25.04) add
# MegatronTokenDropCallback, whose defaults (callbacks/moe_token_drop.py) are moe_expert_capacity_factor 1.0 with
# moe_pad_expert_input_to_capacity; neither asks MegatronCommOverlapCallback for tensor-parallel overlap (its default
# off), by container and catalog model.
NEMO_PERF_TOKEN_DROP = (
    ("nemo2502", "mixtral-8x7b"),
    ("nemo2502", "mixtral-8x22b"),
    ("nemo2504", "mixtral-8x7b"),
    ("nemo2504", "mixtral-8x22b"),
)
NEMO_PERF_CAPACITY_FACTOR = 1.0
# Recipe options flopcast does not model, stated in the scenario's assumed list.
MBRIDGE_RECIPE_UNMODELLED = {
    ("mbridge2608", "nemotron3-ultra", "gb200"): "the recipe's fine-grained activation offloading of the expert "
    "MLP's activation input (offload_modules fused_group_mlp, tensors over 350M elements) is not modelled: those "
    "activations stay on the chip",
}


def infer_recipe_options(scenario, run, assumed):
    """A Megatron-Bridge run whose recipe shards with HSDP gets its shard group; one whose recipe fuses the expert
    MLP says so; options the recipe sets and flopcast does not model are listed."""
    key = mbridge_recipe(run)
    group = MBRIDGE_RECIPE_SHARD_GROUP.get(key)
    if group is not None and scenario["parallelism"].get("zero", 0) >= 1:
        scenario["parallelism"]["shard_group"] = group
        assumed.append(f"sharding group not published: the Megatron-Bridge performance recipe's HSDP, ZeRO states "
                       f"sharded over {group} data-parallel ranks (one NVLink domain) and replicated across the rest")
    if key in MBRIDGE_RECIPE_UNMODELLED:
        assumed.append(MBRIDGE_RECIPE_UNMODELLED[key])
    if key in MBRIDGE_RECIPE_FUSED_EXPERT_MLP:
        scenario["training"]["fused_expert_mlp"] = True
        assumed.append("expert MLP kernels not published: the Megatron-Bridge performance recipe's fused grouped MLP "
                       "(Transformer Engine's op fuser)")


def infer_recipe_comm_overlap(scenario, run, assumed):
    """A Megatron-Bridge run with tensor parallelism whose recipe runs it without Transformer Engine's overlap, or
    without gradient-accumulation fusion, says so."""
    if not run["id"].startswith("mbridge"):
        return
    key = mbridge_recipe(run)
    if scenario["parallelism"]["tp"] > 1 and (*key, scenario["training"]["precision"]) in MBRIDGE_RECIPE_NO_TP_OVERLAP:
        scenario["parallelism"]["tp_comm_overlap"] = False
        assumed.append("tensor-parallel communication overlap not published: off, as the Megatron-Bridge performance "
                       "recipe sets it (no userbuffers overlap; each TP collective waits for its GEMM)")
    if key in MBRIDGE_RECIPE_UNFUSED_GRADIENT_ACCUMULATION:
        scenario["training"]["gradient_accumulation_fusion"] = False
        assumed.append("gradient accumulation not published: unfused, as the Megatron-Bridge performance recipe sets "
                       "gradient_accumulation_fusion False (each micro-batch's weight gradients added to the main "
                       "gradient by a separate kernel)")


def sc21_script(run):
    """The SC21 Table 1 launch settings of a megatron2021 run (SC21_TABLE1_SCRIPT), or None."""
    if not run.get("id", "").startswith("megatron2021"):
        return None
    return SC21_TABLE1_SCRIPT.get(run.get("model", {}).get("hidden_size"))


def infer_sc21_script(scenario, run, assumed):
    """A Megatron-LM 2021 Table 1 run takes what the paper's launch script sets."""
    script = sc21_script(run)
    if script is None:
        return
    micro_batch, ddp, chunk = script
    plan = scenario["parallelism"]
    plan["micro_batch"] = micro_batch
    plan["zero"] = 0
    plan["gradients"] = "bf16"
    scenario["training"]["gradient_accumulation_fusion"] = False
    settings = [f"micro-batch {micro_batch}", "fp16 gradients reduced in fp16 (2 bytes, as flopcast's bf16)",
                "no distributed optimizer (zero 0)",
                "no gradient-accumulation fusion (Megatron-LM had none before February 2022)"]
    if ddp == "torch":
        plan.pop("dp_overlap", None)
        settings.append("PyTorch DDP (gradient all-reduce behind the backward)")
    else:
        settings.append("Megatron's local DDP (gradients all-reduced after the pipeline flush)")
    if chunk is not None and plan["pp"] > 1:
        plan["vpp"] = model_layers(run) // plan["pp"] // chunk
        plan["schedule"] = "interleaved"
        settings.append(f"{chunk} layers per virtual pipeline stage (vpp {plan['vpp']})")
    assumed.append("not published in the table: the paper's launch script examples/sc21/run_table_1.sh sets "
                   + ", ".join(settings))


def infer_pipeline_sends(scenario, run):
    """An interleaved schedule on a Megatron-LM older than --overlap-p2p-communication blocks on its sends
    (PIPELINE_SENDS_BLOCK); trainers that split their sends over the TP ranks without sequence parallelism say so
    (PIPELINE_SCATTER_GATHER)."""
    plan = scenario["parallelism"]
    if plan.get("schedule") == "interleaved" and plan["pp"] > 1 and run["id"].startswith(PIPELINE_SENDS_BLOCK):
        plan["pp_comm_overlap"] = False
    if plan["pp"] > 1 and plan["tp"] > 1 and not plan["sp"] and run["id"].startswith(PIPELINE_SCATTER_GATHER):
        plan["pp_scatter_gather"] = True


def infer_rope_fusion(scenario, run, assumed):
    """Megatron-Core runs of a model whose rotary scale is not 1 apply RoPE unfused (MEGATRON_UNFUSED_ROPE_MODELS)."""
    model = run["model"].get("catalog_id")
    if not run["id"].startswith(MEGATRON_TRAINERS) or model not in MEGATRON_UNFUSED_ROPE_MODELS:
        return
    scenario["training"]["rope_fusion"] = False
    assumed.append("rotary embedding unfused: Megatron-Core falls back from its fused RoPE whenever YaRN's mscale is "
                   "not 1 (gpt-oss: 1.35)")


def infer_megascale_block(scenario, run, assumed):
    """MegaScale's rows: the parallel transformer block with its tensor-parallel overlap (MEGASCALE_ROWS)."""
    if not run["id"].startswith(MEGASCALE_ROWS):
        return
    scenario["model"]["parallel_block"] = True
    scenario["parallelism"]["tp_comm_overlap"] = True
    assumed.append("MegaScale's parallel transformer block (sec. 3.1), its all-gather and reduce-scatter overlapped "
                   "with the FFN linears (sec. 3.2)")
    assumed.append("sliding-window attention's window not stated: full causal attention modelled")


def infer_nemo_token_drop(scenario, run, assumed):
    """A NeMo performance-recipe Mixtral run routes with a padded capacity and without TP overlap."""
    if (run["id"].split("-")[0], run["model"].get("catalog_id")) not in NEMO_PERF_TOKEN_DROP:
        return
    scenario["parallelism"]["moe_capacity_factor"] = NEMO_PERF_CAPACITY_FACTOR
    assumed.append(f"MoE routing not published: capacity factor {NEMO_PERF_CAPACITY_FACTOR:g} with inputs padded to "
                   "it, as NeMo's performance recipe sets it (MegatronTokenDropCallback: static shapes, no host "
                   "synchronisation)")
    if scenario["parallelism"]["tp"] > 1:
        scenario["parallelism"]["tp_comm_overlap"] = False
        assumed.append("tensor-parallel communication overlap not published: off, as NeMo's Mixtral recipe leaves "
                       "it (MegatronCommOverlapCallback's default)")


def infer_recipe_offload(scenario, run, assumed):
    """A Megatron-Bridge run whose recipe offloads activations to the host gets its layer count."""
    layers = MBRIDGE_RECIPE_OFFLOAD.get(mbridge_recipe(run))
    if layers is None or scenario["parallelism"]["pp"] != 1:
        return
    scenario["parallelism"]["offload_activation_layers"] = layers
    assumed.append(f"activation offloading not published: the Megatron-Bridge performance recipe's "
                   f"cpu_offloading_num_layers {layers} (activations of {layers} layers to host memory)")


def infer_recipe_dispatcher(scenario, run, assumed):
    """A Megatron-Bridge MoE run gets its recipe's token dispatcher."""
    dispatcher = MBRIDGE_RECIPE_DISPATCHER.get(mbridge_recipe(run))
    if dispatcher is None:
        return
    scenario["parallelism"]["moe_dispatcher"] = dispatcher
    assumed.append(f"MoE token dispatcher not published: the Megatron-Bridge performance recipe's "
                   f"{DISPATCHER_TEXT[dispatcher]}")


def infer_recipe_moe_comm(scenario, run, assumed):
    """A Megatron-Bridge MoE run gets its recipe's expert all-to-all overlap and full-iteration CUDA graph."""
    setting = MBRIDGE_RECIPE_MOE_COMM.get(mbridge_recipe(run))
    if setting is None:
        return
    scenario["parallelism"]["ep_comm_overlap"] = True
    text = "expert all-to-all overlap (combined 1F1B)"
    if setting == "full_iteration":
        scenario["training"]["cuda_graphs"] = "full_iteration"
        text = "full-iteration CUDA graph, which brings " + text
    assumed.append(f"MoE communication not published: the Megatron-Bridge performance recipe's {text}")


def note_recompute_auto(scenario, assumed):
    """Recomputation still unknown after the recipe tables: flopcast picks the least that fits."""
    if scenario["parallelism"]["recompute"] == "auto":
        assumed.append("recomputation not published: the least under which the plan fits, since the run ran "
                       "(recompute \"auto\")")


def infer_expert_tensor_parallel(scenario, run, assumed):
    """A MoE run with tp > 1 on a Megatron-Core older than expert tensor parallelism splits its experts over tp."""
    plan = scenario["parallelism"]
    if plan["tp"] > 1 and is_moe(run) and run["id"].startswith(EXPERTS_SPLIT_OVER_TP):
        plan["etp"] = plan["tp"]
        assumed.append(f"experts split over the tensor-parallel group (etp {plan['tp']}): Megatron-Core 0.6 under "
                       f"MindSpeed-LLM 1.0 has no separate expert tensor parallelism")


def infer_gradient_precision(scenario, run, assumed):
    """Trainers whose performance scripts reduce gradients in bf16, and launcher configs that state the optimizer's."""
    plan = scenario["parallelism"]
    stated = NEMO_LAUNCHER_OPTIMIZER.get((run["id"].split("-")[0], run["model"].get("catalog_id")))
    if stated:
        plan.update(stated)
        assumed.append("gradient and optimizer-state precision not published: the NeMo launcher config's "
                       "grad_sync_dtype bf16 and optimizer dtype bf16 (bf16 gradients and Adam moments)")
    elif run["id"].startswith(GRADIENTS_BF16):
        plan["gradients"] = "bf16"
        assumed.append("gradient precision not published: bf16, as the trainer's performance scripts set it "
                       "(grad_reduce_in_fp32 false)")


def launch_scripts(run):
    """The example scripts (examples/...sh) a run's source location names."""
    return re.findall(r"examples/\S+?\.sh", run["source"].get("location") or "")


def mindspeed_script(run):
    """The first read MindSpeed-LLM example script the run's source names, and the flags it passes; (None, {})."""
    script = next((s for s in launch_scripts(run) if s in MINDSPEED_SCRIPT_FLAGS), None)
    return script, MINDSPEED_SCRIPT_FLAGS.get(script, set())


def infer_gradient_accumulation(scenario, run, assumed):
    """A run whose launch script turns gradient-accumulation fusion off adds each weight gradient in its own kernel."""
    script, flags = mindspeed_script(run)
    if NO_GRAD_ACC_FUSION in flags:
        scenario["training"]["gradient_accumulation_fusion"] = False
        assumed.append(f"gradient accumulation not published: unfused, as the example script {script} "
                       f"passes --no-gradient-accumulation-fusion (each micro-batch's weight gradients added to "
                       f"the main gradient by a separate kernel)")


def infer_script_memory(scenario, run, assumed):
    """A run whose launch script keeps the master weights as a residual of the bf16 weights."""
    script, flags = mindspeed_script(run)
    if REUSE_FP32_PARAM in flags:
        scenario["parallelism"]["master_weights"] = "bf16_residual"
        assumed.append(f"master weights not published: the bf16 weight plus a 16-bit residual, as the example script "
                       f"{script} passes --reuse-fp32-param")


def infer_script_data_parallel(scenario, run, assumed):
    """A run whose launch script leaves out Megatron's distributed optimizer or its gradient-reduction overlap."""
    script, flags = mindspeed_script(run)
    if script is None:
        return
    plan = scenario["parallelism"]
    if DISTRIBUTED_OPTIMIZER not in flags and run.get("parallelism", {}).get("zero_stage") is None:
        plan["zero"] = 0
        assumed.append(f"optimizer sharding not published: none (zero 0), as the example script {script} does "
                       f"not pass --use-distributed-optimizer")
    if OVERLAP_GRAD_REDUCE not in flags:
        plan["dp_overlap"] = False
        assumed.append(f"gradient reduction not published: after the step's last backward (dp_overlap false), as the "
                       f"example script {script} does not pass --overlap-grad-reduce")


def infer_mc2(scenario, run, assumed):
    """MindSpeed's MC2 on the runs of a table measured with it: TP collectives fused into the GEMMs."""
    plan = scenario["parallelism"]
    if run["id"].startswith(MC2_TABLES) and (plan.get("tp") or 1) > 1 and plan.get("sp"):
        plan["tp_comm_overlap"] = True
        assumed.append("tensor-parallel overlap: MC2 (the collectives fused into the GEMMs), with which the README "
                       "states the table was measured; counted as Transformer Engine's userbuffers overlap")


def infer_script_dispatcher(scenario, run, assumed):
    """A MoE run whose launch script picks Megatron-Core's all-gather token dispatcher."""
    script, flags = mindspeed_script(run)
    if ALLGATHER_DISPATCHER in flags and (scenario["parallelism"].get("ep") or 1) > 1:
        scenario["parallelism"]["moe_dispatcher"] = "allgather"
        assumed.append(f"MoE token dispatcher not published: all-gather, as the example script {script} "
                       f"passes --moe-token-dispatcher-type allgather")


def infer_attention_kernel(scenario, run, assumed):
    """PyTorch-native trainers call scaled_dot_product_attention, whose flash backend is FlashAttention-2."""
    if not run["id"].startswith(PYTORCH_SAC) or not scenario["training"].get("flash_attention", True):
        return
    scenario["training"]["attention_kernel"] = "flash2"
    assumed.append("attention kernel of a PyTorch-native trainer: FlashAttention-2 (scaled_dot_product_attention's "
                   "flash backend), not Transformer Engine's cuDNN kernel")


# TorchTitan's December 2024 benchmark ran before torchtitan compiled its loss (its train.py at commit 9dec370: "compiling
# loss function causes CUDA errors, turning off for now"); from April 2025 (commit bbb1b616e) --training.compile
# compiles the loss too, and the compiled kernel holds about what a fused one does.
TORCHTITAN_LOSS_NOT_COMPILED = ("torchtitan-h100-",)


# TorchTitan's pipeline schedules at the same commit: with no micro-batch count set, the local batch splits into pp
# micro-batches (torchtitan/parallelisms/pipelining_utils.py, build_pipeline_schedule: n_microbatches defaults to
# pipeline_parallel_degree), and a looped schedule such as Interleaved 1F1B runs 2 stages per rank
# (generate_split_points: num_stages_per_rank = 2). Later versions split it into micro-batches of
# pipeline_parallel_microbatch_size (default 1) instead.
TORCHTITAN_MICROBATCHES_ARE_PP = TORCHTITAN_LOSS_NOT_COMPILED


def infer_torchtitan_stages(scenario, run, assumed):
    """TorchTitan's December 2024 interleaved schedule without its stage count: 2 stages per rank."""
    plan = scenario["parallelism"]
    if (not run.get("id", "").startswith(TORCHTITAN_MICROBATCHES_ARE_PP) or plan["schedule"] != "interleaved"
            or plan.get("vpp") is not None):
        return
    plan["vpp"] = 2
    assumed.append("virtual stages not published: 2 per rank, TorchTitan's default for a looped schedule "
                   "(generate_split_points at commit 9dec370)")


def infer_cross_entropy(scenario, run):
    """PyTorch-native trainers compute the loss with torch.nn.functional.cross_entropy on logits.float(), eagerly
    where the loss is not compiled."""
    compiled = "compile" in json.dumps(run).lower() and not run["id"].startswith(TORCHTITAN_LOSS_NOT_COMPILED)
    if run["id"].startswith(PYTORCH_SAC) and not compiled:
        scenario["training"]["cross_entropy"] = "pytorch"


# "Memory 77.0 GiB" / "memory 82.5 GiB (max over ranks)" in a record's notes: TorchTitan's benchmark tables, whose
# memory column is PyTorch's peak reserved bytes (torchtitan/metrics.py, reserved_bytes.all.peak).
PEAK_MEMORY = re.compile(r"\b[Mm]emory (\d+(?:\.\d+)?) GiB")
PEAK_MEMORY_COUNTS = ("PyTorch's peak reserved bytes per GPU (torch.cuda.memory_stats reserved_bytes.all.peak, as "
                      "TorchTitan logs it): tensors and the caching allocator's slack, without the CUDA context and "
                      "NCCL's buffers")


def published_peak_memory(run):
    """The peak memory per GPU a record's notes publish, GiB, or None."""
    found = PEAK_MEMORY.search(run.get("notes") or "")
    return float(found.group(1)) if found and run["id"].startswith(PYTORCH_SAC) else None


def infer_per_op(scenario, run, assumed):
    """TorchTitan's selective mode without its option: per-operator, as its Llama configs set it."""
    plan = scenario["parallelism"]
    if plan["recompute"] != "selective" or not run["id"].startswith(PYTORCH_SAC):
        return
    plan["recompute"] = "per_op"
    assumed.append("selective recomputation of a TorchTitan run without its option: per-operator "
                   "(selective_ac_option = \"op\", as TorchTitan's Llama 3 configs set it)")


def build_parallelism(run):
    p = run["parallelism"]
    if p.get("tp") is None and p.get("pp") is None:
        raise Skip("plan not published")
    tp = or_default(p.get("tp"), 1)
    plan = {
        "tp": tp,
        "pp": or_default(p.get("pp"), 1),
    }
    if p.get("dp") is not None:
        plan["dp"] = p["dp"]
    plan["ep"] = or_default(p.get("ep"), 1)
    plan["cp"] = or_default(p.get("cp"), 1)
    if plan["cp"] > 1 and "ulysses" in (p.get("context_parallel_algo") or "").lower():
        plan["cp_algo"] = "ulysses"
    vpp = or_default(p.get("virtual_pipeline_stages"), 1)
    if vpp > 1:
        plan["vpp"] = vpp
        plan["schedule"] = "interleaved"
    elif "interleaved" in (p.get("pipeline_schedule") or "").lower() and plan["pp"] > 1:
        plan["schedule"] = "interleaved"  # vpp not published: flopcast picks it and lists it in its defaults
    else:
        plan["vpp"] = 1
        plan["schedule"] = "1f1b"
    # flopcast requires sequence parallelism when a MoE model uses tp > 1.
    plan["sp"] = bool(p.get("sequence_parallel")) or (tp > 1 and is_moe(run))
    plan["zero"], reshard = sharding(p)
    if reshard is not None:
        plan["reshard_after_forward"] = reshard
    if reshard is False:  # FSDP2 under torch.distributed.pipelining (see sharding)
        plan["unsharded_gradient_accumulation"] = True
    plan["micro_batch"] = or_default(p.get("micro_batch_size"), 1)  # see infer_micro_batch
    # Not published: flopcast picks the least recomputation under which the plan fits (the run ran), listed in its
    # defaults used; Megatron-Bridge runs take their recipe's modules instead (infer_recipe_recompute).
    stated = p.get("activation_recompute")
    plan["recompute"] = recompute_mode(stated) if stated else "auto"
    if plan["recompute"] == "full" and (layers := block_recompute_layers(stated)):
        plan["recompute_layers"] = layers
    plan["tp_comm_overlap"] = run["id"].startswith(TE_COMM_OVERLAP)
    if tp > 1 and run["id"].startswith(TP_BACKWARD_BLOCKS):
        plan["tp_async_backward"] = False
    if run["id"].startswith(GRADIENTS_AFTER_FLUSH):
        plan["dp_overlap"] = False
    return plan


def build_training(run):
    p = run["parallelism"]
    pre_2023 = run["id"].startswith(PRE_FLASH_ATTENTION)
    training = {"seq_len": run["model"]["sequence_length"]}
    if p.get("global_batch_size_sequences") is not None:
        training["global_batch"] = p["global_batch_size_sequences"]
    # else: left out, so flopcast itself reports the missing field and the run is listed as skipped.
    training["precision"] = precision(p.get("precision"))
    # Required by the schema; it only scales run length and cost, which validation does not compare.
    training["tokens"] = 1e9
    training["flash_attention"] = not pre_2023
    training["dropout"] = pre_2023
    return training


def build_scenario(run, assumed):
    hw = run["hardware"]
    return {
        "name": run["id"],
        "model": build_model(run, assumed),
        "cluster": {"chip": chip_id(hw), "chips": hw["num_chips"]},
        "parallelism": build_parallelism(run),
        "training": build_training(run),
    }


def pick_metric(run, assumed):
    """(metric, published value) or None."""
    measured = run["measured"]
    if measured.get("step_time_s") is not None:
        return "step_time_s", measured["step_time_s"]
    if measured.get("tokens_per_s_per_chip") is not None:
        return "tokens_per_s_per_chip", measured["tokens_per_s_per_chip"]
    count = next((c for prefix, c in PUBLICATION_FLOP_COUNT.items() if run["id"].startswith(prefix)), None)
    if measured.get("tflops_per_chip") is not None and count is not None:
        flop_per_step, formula = count
        step_s = flop_per_step(run) / (measured["tflops_per_chip"] * 1e12 * run["hardware"]["num_chips"])
        assumed.append(f"step time {step_s:.4g} s derived from the published {measured['tflops_per_chip']:g} TFLOP/s "
                       f"per chip with {formula} (the publication states no step time)")
        return "step_time_s", round(step_s, 6)
    if measured.get("tflops_per_chip") is not None:
        if run["id"].startswith(HARDWARE_TFLOPS):
            return "hardware_tflops_per_chip", measured["tflops_per_chip"]
        return "model_tflops_per_chip", measured["tflops_per_chip"]
    if measured.get("mfu") is not None:
        return "mfu", measured["mfu"]
    if measured.get("hfu") is not None:
        return "hfu", measured["hfu"]
    return None


def same_model_runs(run, runs):
    """Other runs from the same source of the same model (by total parameters), nearest first in chip count."""
    others = [r for r in runs if r is not run and r["source"].get("title") == run["source"].get("title")
              and r["model"].get("params_total_b") == run["model"].get("params_total_b")]
    return sorted(others, key=lambda r: abs(r["hardware"]["num_chips"] - run["hardware"]["num_chips"]))


def record_data_parallel(run):
    """A record's data-parallel width: its own, or what the chips leave after tp x pp x cp."""
    p = run["parallelism"]
    return p.get("dp") or run["hardware"]["num_chips"] // ((p.get("tp") or 1) * (p.get("pp") or 1) * (p.get("cp") or 1))


MICRO_BATCH_CONFLICT = re.compile(r"micro_batch_size \((\d+) vs (\d+) conflict\)")


def resolve_stated_micro_batch_conflict(run, assumed):
    """Where the record says its sources state two micro-batch sizes for one table, the smaller one.

    A run that ran fit in its chips' memory, and activations grow with the micro-batch: the larger of two
    contradicting figures is the one more likely to be a typo or another configuration (TorchTitan's Llama 4 Scout
    table: 10 sequences of 8,192 tokens without recomputation need several times a GB200's memory; the torchao
    README states 1 for the same table). `flopcast validate` then says whether the smaller one fits."""
    for field in run.get("unverified_fields") or []:
        match = MICRO_BATCH_CONFLICT.search(field)
        if not match:
            continue
        stated = sorted({int(match.group(1)), int(match.group(2))})
        p = run["parallelism"]
        if p.get("micro_batch_size") != stated[0]:
            assumed.append(f"micro-batch: the sources state {stated[1]} and {stated[0]} for this run; "
                           f"{stated[0]}, the one that needs less memory (a run that ran fit its chips)")
            p["micro_batch_size"] = stated[0]
        return


def fill_gaps(run, runs, assumed):
    """A copy of the run with a missing plan or batch taken from a sibling run, each step noted in `assumed`."""
    run = json.loads(json.dumps(run))
    p = run["parallelism"]
    resolve_stated_micro_batch_conflict(run, assumed)
    siblings = same_model_runs(run, runs)
    if p.get("tp") is None and p.get("pp") is None:
        donor = next((r for r in siblings if r["parallelism"].get("tp") is not None), None)
        if donor is None:
            raise Skip("plan not published, and no run of the same model in the same source has one")
        for key in ("tp", "pp", "ep", "cp", "sequence_parallel", "virtual_pipeline_stages", "zero_stage",
                    "activation_recompute", "micro_batch_size", "precision", "comm_overlap"):
            if p.get(key) is None:
                p[key] = donor["parallelism"].get(key)
        p["dp"] = None
        assumed.append(f"plan not published: taken from {donor['id']} (tp {p['tp']}, pp {p['pp']}); "
                       f"dp = chips / (tp x pp)")
    if p.get("tp") is None and "tensor parallel" in (p.get("fsdp") or "").lower():
        # The record names Megatron-LM tensor parallelism without its degree: within a node, where Megatron puts it.
        p["tp"] = run["hardware"].get("chips_per_node") or 8
        assumed.append(f"tp not published, tensor parallelism named: the node's {p['tp']} GPUs")
    for key in ("tp", "pp"):
        if p.get(key) is None:
            p[key] = 1
            assumed.append(f"{key} not published: 1")
    if (p.get("global_batch_size_sequences") is None and p.get("micro_batch_size") is not None
            and p.get("gradient_accumulation_steps") is None and run["id"].startswith("torchtitan")):
        # TorchTitan's local batch is the micro-batch, and its configs accumulate no gradients unless they say so.
        dp = record_data_parallel(run)
        p["global_batch_size_sequences"] = dp * p["micro_batch_size"]
        assumed.append(f"global batch not published: TorchTitan's local batch {p['micro_batch_size']} x dp {dp} "
                       f"(no gradient accumulation stated)")
    if p.get("global_batch_size_sequences") is None:
        donor = next((r for r in siblings if r["parallelism"].get("global_batch_size_sequences") is not None), None)
        if donor is None:
            raise Skip("global batch not published, and no run of the same model in the same source has one")
        dp_run, dp_donor = record_data_parallel(run), record_data_parallel(donor)
        batch = donor["parallelism"]["global_batch_size_sequences"] * dp_run // dp_donor
        p["global_batch_size_sequences"] = batch
        assumed.append(f"global batch not published: {donor['id']}'s {donor['parallelism']['global_batch_size_sequences']} "
                       f"sequences x dp {dp_run} / {dp_donor} = {batch}")
    return run


def data_parallel(scenario):
    """The scenario's data-parallel width: its own, or what the chips leave after tp x pp x cp."""
    plan = scenario["parallelism"]
    return plan.get("dp") or scenario["cluster"]["chips"] // (plan["tp"] * plan["pp"] * plan["cp"])


def stated_overlap(run):
    """The run's communication-overlap text, lower case ("" when not published)."""
    return (run["parallelism"].get("comm_overlap") or "").lower()


def infer_micro_batch(scenario, run, assumed):
    """A micro-batch size the run does not publish. Megatron-Core reduces gradients behind the backward pass of
    the last micro-batch only (the others run under no_sync) and gathers parameters ahead of the first forward
    only, so without a pipeline the overlap a run states for --overlap-grad-reduce holds when the per-replica
    batch is one micro-batch: without a pipeline, gradient accumulation only saves activation memory. Such runs
    get one micro-batch per step; every other run without one gets 1 sequence per micro-batch."""
    p = run["parallelism"]
    if p.get("micro_batch_size") is not None or sc21_script(run) is not None:
        return
    plan = scenario["parallelism"]
    batch = scenario["training"].get("global_batch")
    one_pass = None  # why the replica's whole batch is one micro-batch, with {n} for its sequences
    if plan["pp"] == 1 and "overlap-grad-reduce" in stated_overlap(run):
        one_pass = ("micro-batch not published, but gradient-reduction overlap is, which Megatron gives only the "
                    "last micro-batch's backward: no pipeline, so one micro-batch of the {n} sequences per replica")
    elif plan["pp"] > 1 and run.get("id", "").startswith(TORCHTITAN_MICROBATCHES_ARE_PP) and batch is not None:
        per_replica = max(1, batch // data_parallel(scenario))
        plan["micro_batch"] = max(1, per_replica // plan["pp"])
        assumed.append(f"micro-batch not published: TorchTitan's {per_replica} sequences per replica in pp = "
                       f"{plan['pp']} micro-batches of {plan['micro_batch']} (n_microbatches defaults to the "
                       "pipeline degree at commit 9dec370)")
        return
    elif plan["pp"] == 1 and plan.get("zero", 1) >= 3:
        one_pass = ("micro-batch not published, FSDP without a pipeline: the replica's {n} sequences in one pass "
                    "(FSDP trainers accumulate gradients only when asked, e.g. metaseq's --update-freq 1)")
    if one_pass and batch is not None:
        per_replica = max(1, batch // data_parallel(scenario))
        plan["micro_batch"] = per_replica
        assumed.append(one_pass.format(n=per_replica))
        return
    assumed.append("micro-batch not published: 1 sequence")  # build_parallelism's default


def round_batch(scenario, assumed):
    """The global batch rounded to a multiple of dp x micro_batch, noted in `assumed`."""
    unit = data_parallel(scenario) * scenario["parallelism"]["micro_batch"]
    batch = scenario["training"].get("global_batch")
    if batch is None or unit <= 0 or batch % unit == 0:
        return
    rounded = max(unit, round(batch / unit) * unit)
    scenario["training"]["global_batch"] = rounded
    assumed.append(f"global batch {batch} is not a multiple of dp x micro_batch = {unit}: {rounded} used")


def infer_sequence_parallel(scenario, run, assumed):
    """Megatron's --tp-comm-overlap (TE userbuffers) works only with --sequence-parallel: where a run overlaps
    tensor-parallel communication with tp > 1 and does not state sequence parallelism, it had it on. TorchTitan's
    tensor-parallel plan always shards the norms and the residual stream along the sequence (SequenceParallel on
    attention_norm and ffn_norm in its apply_tp)."""
    plan = scenario["parallelism"]
    if plan["sp"] or plan["tp"] <= 1 or run["parallelism"].get("sequence_parallel") is not None:
        return
    if plan["tp_comm_overlap"]:
        plan["sp"] = True
        assumed.append("sequence parallelism not published: on, as tensor-parallel communication overlap requires it")
    elif run["id"].startswith(PYTORCH_SAC):
        plan["sp"] = True
        assumed.append("sequence parallelism not published: on, as TorchTitan's tensor-parallel plan always shards "
                       "the norms along the sequence")


def layers_per_virtual_stage(runs):
    """The median layers per virtual pipeline stage of the runs that publish an interleaved schedule."""
    sizes = []
    for r in runs:
        vpp = r["parallelism"].get("virtual_pipeline_stages") or 1
        if vpp > 1:
            try:
                sizes.append(model_layers(r) / ((r["parallelism"].get("pp") or 1) * vpp))
            except Skip:
                continue  # reported when the run itself is built
    sizes.sort()
    if not sizes:
        return None
    middle = len(sizes) // 2
    return sizes[middle] if len(sizes) % 2 else (sizes[middle - 1] + sizes[middle]) / 2


def infer_interleaving(scenario, run, chunk_layers, assumed):
    """Megatron-LM turns pipeline communication overlap off unless the schedule is interleaved
    (megatron/training/arguments.py: "Overlap P2P communication is disabled if not using the interleaved
    schedule"), and NeMo supports it "only with virtual pipelining" (NeMo performance docs). A run that states
    pipeline communication overlap with pp > 1 and no virtual pipeline size was interleaved: its virtual stage
    size is taken as the median of the runs that publish one, the nearest that divides the layers per stage."""
    plan = scenario["parallelism"]
    if plan["pp"] <= 1 or plan.get("vpp", 2) > 1 or "pp overlap" not in stated_overlap(run) or chunk_layers is None:
        return
    if run["parallelism"].get("virtual_pipeline_stages") is not None:
        return
    per_stage, uneven = divmod(model_layers(run), plan["pp"])
    if uneven:
        return
    divisors = [d for d in range(1, per_stage + 1) if per_stage % d == 0]
    chunk = min(divisors, key=lambda d: (abs(d - chunk_layers), -d))
    vpp = per_stage // chunk
    if vpp <= 1:
        return
    plan["vpp"] = vpp
    plan["schedule"] = "interleaved"
    layers = "1 layer" if chunk == 1 else f"{chunk} layers"
    assumed.append(f"virtual pipeline size not published, but pipeline communication overlap is, which Megatron "
                   f"runs only in the interleaved schedule: vpp {vpp} ({layers} per virtual stage; the median of "
                   f"the runs that publish vpp is {chunk_layers:g})")


# Megatron-Bridge's DeepSeek-V3 recipes place the decoder layers over the (virtual) pipeline stages themselves
# (pipeline_model_parallel_layout): set_deepseek_v3_pipeline_model_parallel_layout in
# src/megatron/bridge/recipes/deepseek/deepseek_v3.py picks by (pp, vpp) at every release read (25.11 = d863c658f,
# 26.04.01 = 2b82f6f17, 26.06 = a0faf081e, 26.08 = 5796c06a1 through the perf recipes), and the 26.04.01 B200 MXFP8
# base config states the same as "Et*4|(t*4|)*14tmL". The embedding shares the first stage; the MTP module and the
# loss share the last, which holds that many fewer decoder layers.
MBRIDGE_DEEPSEEK_V3_LAYOUT = {
    (4, 1): [16, 16, 16, 13],
    (8, 1): [8] * 7 + [5],
    (4, 2): [8] * 7 + [5],
    (16, 1): [4] * 15 + [1],
    (8, 2): [4] * 15 + [1],
    (4, 4): [4] * 15 + [1],
}


def infer_recipe_layout(scenario, run, assumed):
    """A Megatron-Bridge DeepSeek-V3 run gets its recipe's layers per (virtual) pipeline stage."""
    plan = scenario["parallelism"]
    if not run["id"].startswith("mbridge") or catalog_model(run) != "deepseek-v3" or "stage_layers" in plan:
        return
    counts = MBRIDGE_DEEPSEEK_V3_LAYOUT.get((plan["pp"], plan.get("vpp") or 1))
    if counts is None:
        return
    plan["stage_layers"] = counts
    assumed.append(f"pipeline layout not published: the Megatron-Bridge DeepSeek-V3 recipe's, decoder layers "
                   f"{', '.join(str(c) for c in counts)} per virtual stage (the MTP module and the loss with the last)")


def infer_layout(scenario, run, assumed):
    """Megatron-Bridge's recipes for models whose layers do not split over pp x vpp virtual stages count the embedding
    and the loss as a layer each (account_for_embedding_in_pipeline_split, account_for_loss_in_pipeline_split): where
    the layers plus two split evenly, the first virtual stage holds one layer fewer (the embedding takes its place) and
    so does the last (the output head and loss)."""
    plan = scenario["parallelism"]
    if plan["schedule"] == "interleaved" and "vpp" not in plan:
        return  # flopcast picks vpp; its even layout spreads the layers
    chunks = plan["pp"] * (plan.get("vpp") or 1)
    layers = model_layers(run)
    if chunks <= 1 or layers % chunks == 0 or (layers + 2) % chunks != 0:
        return
    per_chunk = (layers + 2) // chunks
    counts = [per_chunk] * chunks
    counts[0] -= 1
    counts[-1] -= 1
    plan["stage_layers"] = counts
    assumed.append(f"{layers} layers do not split over pp x vpp = {chunks} virtual stages: the embedding and the loss "
                   f"count as a layer each (Megatron's account_for_embedding/loss_in_pipeline_split), "
                   f"{per_chunk} per stage, {counts[0]} on the first and {counts[-1]} on the last")


def infer_network(scenario, run, assumed):
    """An inter-node network published as Omni-Path, with its links per node."""
    text = (run["hardware"].get("inter_node_network") or "")
    if "omni-path" not in text.lower():
        return
    network = {"fabric": "opa-100"}
    links = re.search(r"(\d+) links per node", text, re.IGNORECASE)
    if links:
        network["nics_per_node"] = int(links.group(1))
    scenario["cluster"]["network"] = network
    assumed.append(f"inter-node network published as \"{text}\": fabric opa-100 (100 Gb/s per link)"
                   + (f", {network['nics_per_node']} NICs per node" if "nics_per_node" in network else ""))


def validate_only_reason(run):
    """Why the shipped calibration leaves `run` out of its fit, or None."""
    for prefixes, reason in VALIDATE_ONLY.items():
        if run["id"].startswith(prefixes):
            return reason
    return None


def source_text(run):
    src = run.get("source", {})
    parts = [src.get("title"), src.get("location"), src.get("url")]
    if src.get("arxiv"):
        parts.insert(1, f"arXiv:{src['arxiv']}")
    return "; ".join(p for p in parts if p)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default=DEFAULT_RUNS, help=f"published runs (default {DEFAULT_RUNS})")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder for the scenarios (default scenarios/validation)")
    parser.add_argument("--fit-every-run", action="store_true",
                        help="mark no run validate_only (a user's own runs: flopcast calibrate --runs)")
    args = parser.parse_args()

    with open(args.runs) as f:
        runs = [r for r in json.load(f) if r.get("kind") == "training"]
    os.makedirs(args.out, exist_ok=True)
    chunk_layers = layers_per_virtual_stage(runs)
    written, skipped = 0, []
    for run in runs:
        assumed = []
        try:
            filled = fill_gaps(run, runs, assumed)
            scenario = build_scenario(filled, assumed)
        except Skip as reason:
            skipped.append((run["id"], str(reason)))
            continue
        metric = pick_metric(run, assumed)
        if metric is None:
            skipped.append((run["id"], "no published metric to compare"))
            continue
        infer_sequence_parallel(scenario, filled, assumed)
        infer_interleaving(scenario, filled, chunk_layers, assumed)
        infer_sc21_script(scenario, filled, assumed)
        infer_pipeline_sends(scenario, filled)
        infer_megascale_block(scenario, filled, assumed)
        infer_rope_fusion(scenario, filled, assumed)
        infer_torchtitan_stages(scenario, filled, assumed)
        infer_recipe_layout(scenario, filled, assumed)
        infer_layout(scenario, filled, assumed)
        infer_per_op(scenario, filled, assumed)
        infer_attention_kernel(scenario, filled, assumed)
        infer_cross_entropy(scenario, filled)
        infer_recipe_recompute(scenario, filled, assumed)
        infer_recipe_moe_comm(scenario, filled, assumed)
        infer_recipe_dispatcher(scenario, filled, assumed)
        infer_recipe_offload(scenario, filled, assumed)
        infer_recipe_options(scenario, filled, assumed)
        infer_recipe_comm_overlap(scenario, filled, assumed)
        infer_nemo_token_drop(scenario, filled, assumed)
        note_recompute_auto(scenario, assumed)
        infer_gradient_precision(scenario, filled, assumed)
        infer_gradient_accumulation(scenario, filled, assumed)
        infer_script_dispatcher(scenario, filled, assumed)
        infer_script_memory(scenario, filled, assumed)
        infer_script_data_parallel(scenario, filled, assumed)
        infer_mc2(scenario, filled, assumed)
        infer_expert_tensor_parallel(scenario, filled, assumed)
        infer_network(scenario, filled, assumed)
        infer_micro_batch(scenario, filled, assumed)
        round_batch(scenario, assumed)
        description = (f"Validation run {run['id']}, built by tools/make_validation_scenarios.py from "
                       f"shared/data/calibration_runs.json. {run.get('notes', '')}").strip()
        scenario = {"name": scenario["name"], "description": description,
                    **{k: v for k, v in scenario.items() if k != "name"}}
        scenario["published"] = {
            "run": run["id"],
            "metric": metric[0],
            "value": metric[1],
            "source": source_text(run),
        }
        if assumed:
            scenario["published"]["assumed"] = assumed
        reason = None if args.fit_every_run else validate_only_reason(run)
        if reason:
            scenario["published"]["validate_only"] = reason
        peak_memory = published_peak_memory(run)
        if peak_memory is not None:
            scenario["published"]["peak_memory_gib"] = peak_memory
            scenario["published"]["peak_memory_counts"] = PEAK_MEMORY_COUNTS
        with open(os.path.join(args.out, f"{run['id']}.json"), "w") as f:
            f.write(json.dumps(scenario, indent=2) + "\n")
        written += 1
    print(f"{written} scenarios written to {args.out}")
    for run_id, reason in skipped:
        print(f"skipped {run_id}: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
