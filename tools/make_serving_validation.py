#!/usr/bin/env python3
"""Turns every serving run in calibration_runs.json into a deployment under scenarios/serving/validation/.

Each deployment is built by fixed rules from the run's published description (no tuning to the published numbers)
and carries the published figure it is checked against, with its source, in a "published" block. The figure is the
run's measured output tokens/s per chip (or input tokens/s per chip for a prefill-only run).

Rules, and what the records leave out (written into each file's "published.assumed"):
  - plan: attention data parallelism ("dp_attention": true, TensorRT-LLM's DEP) is tp 1 x dp_attention ranks with the
    experts over all of them (ep = ranks); otherwise tp as published with the experts over the TP group (ep = tp)
    when the run names expert parallelism of that width, else split tp ways (ep 1). TP8 with EP2 or EP4 (experts
    in groups, each group's experts split over its chips) is written as experts split tp ways: the same bytes and
    FLOPs per chip, an all-reduce instead of the all-to-all.
  - weights: from the precision text. NVIDIA's NVFP4 DeepSeek-R1 checkpoints hold the routed experts in NVFP4 and
    the attention in FP8 (the vLLM GB200 record states this split for the same checkpoint); its Llama and Qwen3 FP4
    checkpoints quantise every linear layer of the transformer blocks. gpt-oss holds its experts in MXFP4 and the
    rest in bf16 (its checkpoint's quantization_config); on Hopper the MXFP4 experts run weight-only.
  - KV cache: fp8 where the record says FP8 KV; fp8 for NVIDIA's ModelOpt checkpoints (nvidia/..., FP8 or FP4),
    whose hf_quant_config.json carries "kv_cache_quant_algo": "FP8", which TensorRT-LLM's KV dtype "auto" and
    vLLM's take; else bf16.
  - workload: trtllm-bench's throughput mode (every request queued at the start) where the record says infinite
    rate or gives no concurrency; a closed loop of the published concurrency otherwise. Request counts as
    published, at most MAX_REQUESTS (a steady state long before that); MAX_REQUESTS where a run that filled GPU
    memory with its batch gives none, 1,000 where another gives none.
  - batching: TensorRT-LLM admits a request only when the KV cache holds its whole output (GUARANTEED_NO_EVICT,
    "reserve_output"); max batch and max tokens as published. Where trtllm-bench chose them (its throughput mode
    without --max_batch_size and --max_num_tokens), what it computes: for the checkpoint quantisations it tunes
    (NVFP4, FP8, FP8 block scales, none; tensorrt_llm/bench/build/build.py; a checkpoint that mixes two, as
    gpt-oss's and NVIDIA's NVFP4 DeepSeek-R1 do, is not among them) its heuristic
    (tensorrt_llm/bench/build/tuning.py calc_engine_setting and finetune_setting: the requests whose input and
    output fit a KV cache it estimates from the checkpoint's stored elements and the HF config's KV heads and head
    size, rounded up), else BuildConfig's defaults (2,048 sequences, 8,192 tokens); without chunked prefill (its
    default, benchmark/utils/general.py get_settings) a step takes at least one whole prompt beside a full batch.
    Other TensorRT-LLM runs: 4,096 sequences (the KV cache binds first) and 8,192 tokens per step; vLLM's defaults
    (1,024 sequences, 8,192 tokens) unless the run says it sized its batch to fill GPU memory. vLLM admits on the
    prompt. TensorRT-LLM keeps every token on sliding-window layers too (KVCacheManager: max_attention_window
    defaults to max_seq_len for every layer). Its attention-DP MoE on Hopper all-gathers the tokens and
    reduce-scatters the outputs (the NVLink all-to-all needs multi-node NVLink): in bf16 for block-scaled FP8 and
    weight-only MXFP4, else quantised. On a TensorRT-LLM commit from before its NVLink all-to-all ran on x86 hosts
    (TRTLLM_BEFORE_X86_MNNVL) it does so on every chip, in the experts' input type (NVFP4 gathered after routing).
    trtllm-bench runs pad decode-only steps to the CUDA graph sizes it captures (1, 2, 4, multiples of 8 to 128,
    powers of two, the batch limit; llm_args.py CudaGraphConfig with enable_padding, which get_settings sets).
  - tokens: synthetic (random token ids, which route unevenly over the experts) where the record's dataset says
    synthetic or random; text otherwise.
  - MTP: the published draft count; for DeepSeek-R1 on TensorRT-LLM the acceptance per draft whose chain gives the
    tokens per step TensorRT-LLM measured with that many drafts (its tech blog 1: 2.82 with three), else 0.85 per
    draft (DeepSeek-V3 report section 5.4.3: 85-90 % for the second token); the records leave it out.
  - disaggregated runs are measured on one side: a prefill-only run as one output token per request, a decode-only
    run as prompts 99 % in the prefix cache (the pool's own KV cache still holds them).

Runs that cannot be expressed are listed as skipped with the reason; a run already covered by a hand-written
deployment (its published.run) is left to it. Usage:
  python3 tools/make_serving_validation.py [--runs FILE] [--out DIR]

Standard library only.
"""

import argparse
import functools
import json
import math
import os
import re
import sys

from make_validation_scenarios import DEFAULT_RUNS, MODEL_CATALOG, REPO_ROOT

DEFAULT_OUT = os.path.join(REPO_ROOT, "scenarios", "serving", "validation")
MAX_REQUESTS = 20000
TRTLLM_BENCH_MAX_BATCH = 4096  # tensorrt_llm/bench/build/tuning.py finetune_setting: min(kv requests, 4096)
TRTLLM_DEFAULT_MAX_TOKENS = 8192  # TensorRT-LLM LLM API default max_num_tokens
VLLM_MAX_RUNNING = 1024  # vLLM's default max_num_seqs on a data-centre GPU (vllm/engine/arg_utils.py)
VLLM_MAX_TOKENS = 8192  # vLLM's default max_num_batched_tokens for online serving on a data-centre GPU
MTP_ACCEPTANCE = 0.85
# TensorRT-LLM's measured mean tokens per step of DeepSeek-R1's MTP (one module applied autoregressively) by draft
# count, strict acceptance, 1K/2K prompts from a real dataset on 8 B200: "Pushing Latency Boundaries: Optimizing
# DeepSeek-R1 Performance on NVIDIA B200 GPUs" (TensorRT-LLM docs/source/blogs/tech_blog/blog1_..., table
# "Autoregressive MTP Layers", "Acceptance Rate" column; 1.00 without MTP).
TRTLLM_DSR1_MTP_TOKENS_PER_STEP = {1: 1.92, 2: 2.58, 3: 2.82, 4: 2.99, 5: 3.01}
CHIP_CATALOG = os.path.join(REPO_ROOT, "hardware", "data", "chips.json")
GIB = 1024 ** 3
# trtllm-bench (tensorrt_llm/bench/build): BuildConfig's defaults, the quantisations its heuristic tunes and their
# bytes per element, the KV-cache share it plans with (the perf overview's --kv_cache_free_gpu_mem_fraction).
TRTLLM_BUILD_DEFAULT_BATCH = 2048
TRTLLM_BUILD_DEFAULT_TOKENS = 8192
TRTLLM_TUNED_BYTES = {"nvfp4": 0.5, "fp8": 1.0, "bf16": 2.0}
# TensorRT-LLM commits a record names that predate its NVLink all-to-all on x86 hosts: MnnvlMemory.supports_mnnvl()
# returned False off aarch64 until the POSIX file-descriptor handles of PR #6645 (August 2025), so an attention-DP MoE
# on an HGX B200 all-gathered its tokens (NVFP4 after routing: fused_moe_cutlass.py quantises before the all-gather)
# and reduce-scattered the bf16 outputs; its select_alltoall_method_type also needed moe_ep_size > top_k, which no
# run here has. b6261862: the DeepSeek-R1 best-practice blog's runs (TensorRT-LLM 0.20/0.21, mid-2025).
TRTLLM_BEFORE_X86_MNNVL = ("b6261862",)
NVFP4_STORED_PER_PARAM = 1 / 2 + 1 / 16  # two values per uint8 element, one fp8 scale per 16 values


class Skip(Exception):
    """The run cannot be turned into a deployment; the message is the reason."""


def engine(run):
    text = (run["parallelism"].get("engine") or "") + " " + run["source"]["title"]
    for name in ("TensorRT-LLM", "vLLM", "SGLang"):
        if name.lower() in text.lower():
            return name
    raise Skip("serving engine not named")


def weights(run, model_id):
    """(weights, expert_weights, assumed) from the precision text."""
    text = run["parallelism"].get("precision") or ""
    if "MXFP4" in text or model_id.startswith("gpt-oss"):
        return "bf16", "mxfp4", ["gpt-oss's checkpoint: MXFP4 experts, bf16 elsewhere"]
    if "NVFP4" in text:
        if model_id.startswith("deepseek"):
            return "fp8", "nvfp4", ["NVIDIA's NVFP4 DeepSeek-R1 checkpoint: NVFP4 experts, FP8 attention"]
        return "nvfp4", "nvfp4", []
    if "FP8" in text:
        return "fp8", "fp8", []
    raise Skip(f"precision {text!r} not recognised")


def kv_cache(run):
    text = run["parallelism"].get("precision") or ""
    if re.search(r"FP8 KV", text):
        return "fp8", []
    if re.search(r"BF16.*KV|KV auto", text):
        return "bf16", []
    if re.search(r"\(nvidia/", text):
        return "fp8", ["fp8 KV cache: the ModelOpt checkpoint's hf_quant_config.json sets kv_cache_quant_algo FP8"]
    return "bf16", ["bf16 KV cache (the record states none)"]


def plan(run, chips, is_moe):
    p = run["parallelism"]
    assumed = []
    if p.get("dp_attention"):
        ranks = p.get("dp") or p.get("tp") or chips
        if chips % ranks:
            raise Skip(f"{ranks} attention ranks do not divide {chips} chips")
        return {"tp": 1, "dp_attention": ranks, "ep": ranks if is_moe else 1}, assumed
    tp = p.get("tp") or 1
    ep = p.get("ep") or 1
    if is_moe and tp % ep:
        assumed.append(f"TP{tp} with EP{ep} written as experts split {tp} ways (ep 1)")
        ep = 1
    return {"tp": tp, "ep": ep if is_moe else 1}, assumed


def chain_acceptance(drafts, tokens_per_step):
    """The per-draft acceptance a of flopcast's chain (each draft kept with a if all before it were), whose mean
    tokens per step 1 + a + ... + a^drafts is the measured one: bisection, the mean rising with a."""
    low, high = 0.0, 1.0
    for _ in range(60):
        a = (low + high) / 2
        if sum(a ** i for i in range(drafts + 1)) < tokens_per_step:
            low = a
        else:
            high = a
    return round((low + high) / 2, 4)


def mtp(run):
    spec = run["parallelism"].get("speculative") or ""
    m = re.search(r"MTP, (\d+) next-n", spec)
    if not m:
        return None, []
    drafts = int(m.group(1))
    measured = TRTLLM_DSR1_MTP_TOKENS_PER_STEP.get(drafts)
    if engine(run) == "TensorRT-LLM" and run["model"].get("catalog_id") == "deepseek-v3" and measured:
        rate = chain_acceptance(drafts, measured)
        return {"draft_tokens": drafts, "acceptance_rate": rate}, [
            f"MTP acceptance {rate} per draft token: {measured} tokens per step with {drafts} drafts, TensorRT-LLM's "
            "measurement on DeepSeek-R1 (tech blog 1, table \"Autoregressive MTP Layers\", strict acceptance)"]
    return {"draft_tokens": drafts, "acceptance_rate": MTP_ACCEPTANCE}, [
        f"MTP acceptance {MTP_ACCEPTANCE} per draft token (DeepSeek-V3 report, section 5.4.3: 85-90 % for the second token)"]


def requests_published(run):
    m = re.search(r"(\d+) requests|num_requests (\d+)", run["workload"].get("dataset") or "")
    if not m:
        return None
    return int(m.group(1) or m.group(2))


def metric(run):
    measured = run["measured"]
    for key in ("output_tokens_per_s_per_chip", "input_tokens_per_s_per_chip"):
        if measured.get(key):
            return key, measured[key]
    raise Skip("no per-chip throughput published")


@functools.lru_cache(maxsize=None)
def chip_entry(chip_id):
    """The chip's entry in hardware/data/chips.json (read once per chip)."""
    with open(CHIP_CATALOG) as f:
        chips = json.load(f)
    chips = chips.get("chips", chips) if isinstance(chips, dict) else chips
    for chip in chips:
        if chip.get("id") == chip_id:
            return chip
    raise Skip(f"chip {chip_id} not in the catalog")


def device_gib(chip_id):
    capacity = chip_entry(chip_id)["hbm_capacity"]
    if capacity["unit"] != "GiB":
        raise Skip(f"{chip_id}'s HBM capacity is not in GiB")
    return capacity["value"]


def stored_elements(run, model, checkpoint):
    """The checkpoint's stored elements (safetensors' parameter count, which trtllm-bench sizes the engine by): NVFP4
    packs two values per element and adds a scale per 16; the rest one element per parameter."""
    params = run["model"]["params_total_b"] * 1e9
    if checkpoint != "nvfp4":
        return params
    # Every linear layer of the transformer blocks, not the embedding or the output head.
    quantised = params - (1 if model.get("tied_embeddings") else 2) * model["vocab"] * model["hidden"]
    return quantised * NVFP4_STORED_PER_PARAM + params - quantised


def trtllm_bench_settings(run, model, checkpoint, kv_bytes, tp, chip_id, isl, osl):
    """(max_batch_size, max_num_tokens) trtllm-bench's throughput mode computes when the command gives neither."""
    if checkpoint not in TRTLLM_TUNED_BYTES:
        bs, tokens = TRTLLM_BUILD_DEFAULT_BATCH, TRTLLM_BUILD_DEFAULT_TOKENS
    else:
        # The HF config's view: KV heads as stated (MLA's config states every head) and head_dim, or hidden / heads
        # where the config has none (DeepSeek's MLA).
        head_size = model["hidden"] // model["heads"] if "mla" in model else model["head_dim"]
        per_token_gib = 2 * model["layers"] * max(tp, model["kv_heads"]) * head_size * kv_bytes / GIB
        engine_gib = stored_elements(run, model, checkpoint) * TRTLLM_TUNED_BYTES[checkpoint] / GIB
        # The perf overview passes 0.95 where it can (the records say "0.95 (fallback 0.90 on OOM)"), else
        # trtllm-bench's default 0.90.
        fraction = 0.95 if "0.95" in str(run["parallelism"].get("kv_cache_free_gpu_mem_fraction")) else 0.90
        cache_gib = (device_gib(chip_id) * tp - engine_gib) * fraction
        requests = cache_gib / (per_token_gib * (isl + osl))
        raw_bs = min(requests, 4096)
        raw_tokens = min(raw_bs * (1 + isl / osl), 32768)
        bs = round_up_in_bands(raw_bs, ((256, 32), (1024, 128), (math.inf, 256)), floor=64)
        tokens = round_up_in_bands(raw_tokens, ((4096, 256), (8192, 512), (math.inf, 1024)), floor=2048)
    return bs, max(tokens, isl + bs)


def trtllm_graph_batch_sizes(max_batch):
    """The batch sizes trtllm-bench captures as CUDA graphs with padding (bench/benchmark/utils/general.py get_settings:
    cuda_graph_config enable_padding, max_batch_size = the runtime's; llm_args.py CudaGraphConfig
    _generate_cuda_graph_batch_sizes): 1, 2, 4, multiples of 8 to 128, powers of two from 256 below the maximum,
    and the maximum."""
    sizes = [1, 2, 4] + [8 * i for i in range(1, 17)]
    sizes += [2 ** i for i in range(8, math.ceil(math.log2(max_batch)))] if max_batch > 1 else []
    sizes = sorted(size for size in sizes if size <= max_batch)
    if sizes[-1] != max_batch:
        sizes.append(max_batch)
    return sizes


def chip_family(chip_id):
    return chip_entry(chip_id).get("family")


def model_has_window(model_id):
    with open(os.path.join(MODEL_CATALOG, model_id + ".json")) as f:
        return "sliding_window" in json.load(f)


def round_up_in_bands(value, bands, floor):
    """finetune_setting's rounding: up to a multiple of the step of the first band whose limit the value is under."""
    for limit, step in bands:
        if value < limit:
            return max(floor, step * math.ceil(value / step))
    raise ValueError(value)


def attention_dp_exchange(run, chip_id, expert_w, assumed):
    """How TensorRT-LLM's attention-DP MoE moves tokens to the experts, where it does not run its NVLink all-to-all:
    an all-gather of every rank's tokens and a reduce-scatter of the experts' outputs ({} where it does)."""
    commit = re.search(r"TRT-LLM commit ([0-9a-f]{8})", run.get("notes") or "")
    if chip_family(chip_id) == "hopper":
        why = "all-gather of every rank's tokens and reduce-scatter of the experts' outputs"
        out = {"moe_dispatch": "allgather"}
        # Block-scaled FP8 (DeepSeek's own checkpoint) and Hopper's weight-only MXFP4 (Triton, gathered before the
        # gate) gather bf16 hidden states; per-tensor FP8 (ModelOpt) gathers them quantised.
        if expert_w == "mxfp4" or "deepseek-ai/" in (run["parallelism"].get("precision") or ""):
            out["moe_dispatch_type"] = "bf16"
            why += " in bf16"
        assumed.append(f"expert parallelism as an {why}: TensorRT-LLM's attention-DP MoE without an all-to-all "
                       "backend, which it enables only on multi-node NVLink (fused_moe select_alltoall_method_type)")
        return out
    if commit and commit.group(1) in TRTLLM_BEFORE_X86_MNNVL:
        out = {"moe_dispatch": "allgather"}
        if expert_w == "nvfp4":
            out["moe_dispatch_type"] = "nvfp4"
        assumed.append(f"expert parallelism as an all-gather of every rank's tokens (in the experts' input type) and a "
                       f"reduce-scatter of the experts' outputs: TensorRT-LLM at commit {commit.group(1)} had no "
                       f"NVLink all-to-all on x86 hosts (MnnvlMemory.supports_mnnvl, before PR #6645)")
        return out
    return {}


def build(run):
    hw, p, w = run["hardware"], run["parallelism"], run.get("workload")
    model_id = run["model"].get("catalog_id")
    if not model_id or not os.path.exists(os.path.join(MODEL_CATALOG, model_id + ".json")):
        raise Skip("no catalog model")
    chips = hw.get("num_chips")
    if not chips:
        raise Skip("the record gives no chip count")
    if not w or not w.get("input_tokens") or not w.get("output_tokens"):
        raise Skip("the record gives no input and output lengths")
    if "weight offloading" in (p.get("design") or ""):
        raise Skip("weights offloaded to host memory over NVLink-C2C (not modelled)")
    is_moe = bool(run["model"].get("moe"))
    assumed = []
    name_metric, value = metric(run)
    the_plan, a = plan(run, chips, is_moe)
    assumed += a
    dense_w, expert_w, a = weights(run, model_id)
    assumed += a
    kv, a = kv_cache(run)
    assumed += a
    eng = engine(run)
    trt = eng == "TensorRT-LLM"
    fills_memory = "fill GPU memory" in (p.get("design") or "")
    batching = {
        "max_batch_tokens": p.get("max_num_tokens") or (TRTLLM_DEFAULT_MAX_TOKENS if trt else VLLM_MAX_TOKENS),
        "max_running": p.get("max_batch_size") or (TRTLLM_BENCH_MAX_BATCH if trt or fills_memory else VLLM_MAX_RUNNING),
    }
    if trt:
        batching["reserve_output"] = True
    bench_chose = "trtllm-bench throughput" in (p.get("engine") or "") and not p.get("max_batch_size") \
        and not p.get("max_num_tokens")
    if bench_chose:
        with open(os.path.join(MODEL_CATALOG, model_id + ".json")) as f:
            model = json.load(f)
        # One quantisation for every linear layer, or a mixed checkpoint (gpt-oss's MXFP4 experts beside bf16,
        # NVIDIA's DeepSeek-R1 NVFP4 experts beside FP8 attention: ModelOpt's MIXED_PRECISION), which the heuristic
        # does not tune.
        checkpoint = dense_w if not is_moe or expert_w == dense_w else "mixed"
        kv_bytes = 1.0 if kv == "fp8" else 2.0
        bench_tp = the_plan.get("dp_attention", 1) * the_plan["tp"]
        bs, tokens = trtllm_bench_settings(run, model, checkpoint, kv_bytes, bench_tp, hw["chip_id"],
                                           w["input_tokens"], w["output_tokens"])
        batching["max_running"], batching["max_batch_tokens"] = bs, tokens
        how = (f"its heuristic for an {checkpoint.upper()} checkpoint" if checkpoint in TRTLLM_TUNED_BYTES
               else "BuildConfig's defaults, since its heuristic does not tune a mixed checkpoint")
        assumed.append(f"at most {bs} sequences per attention rank and {tokens} tokens per step with whole prompts, "
                       f"as trtllm-bench sets them: {how}, no chunked prefill")
    else:
        if not p.get("max_num_tokens"):
            assumed.append(f"{batching['max_batch_tokens']} tokens per step "
                           f"({'TensorRT-LLM' if trt else 'vLLM'}'s default)")
        if fills_memory and not p.get("max_batch_size"):
            assumed.append(f"at most {batching['max_running']} sequences per attention rank: the run sized its batch "
                           "to fill GPU memory, so the KV cache binds first")
        elif not p.get("max_batch_size"):
            assumed.append(f"at most {batching['max_running']} sequences per attention rank ({'TensorRT-LLM' if trt else 'vLLM'}"
                           f"'s {'cap; the KV cache binds first' if trt else 'default'})")
    if trt:
        # LlmArgs leaves enable_chunked_prefill off: a prompt prefills whole in one step, or waits.
        batching["chunked_prefill"] = False
    else:
        batching["prefill_chunk_tokens"] = batching["max_batch_tokens"]
    if "trtllm-bench" in (p.get("engine") or ""):
        batching["graph_batch_sizes"] = trtllm_graph_batch_sizes(batching["max_running"])
        assumed.append(f"decode-only steps padded to CUDA graphs of up to {batching['max_running']} sequences, as "
                       "trtllm-bench captures them (padding on, its maximum the batch limit)")

    published_requests = requests_published(run)
    # A run that sized its batch to fill GPU memory publishes a steady state: enough requests to keep it full.
    requests = min(published_requests or (MAX_REQUESTS if fills_memory else 1000), MAX_REQUESTS)
    if not published_requests:
        assumed.append(f"{requests} requests (the record gives no count"
                       + ("; enough to keep a batch that fills GPU memory full)" if fills_memory else ")"))
    elif published_requests > MAX_REQUESTS:
        assumed.append(f"{requests} of the {published_requests} requests (a steady state long before)")
    workload = {"input_tokens": w["input_tokens"], "output_tokens": w["output_tokens"], "requests": requests,
                "seed": 1}
    if re.search(r"synthetic|random", w.get("dataset") or "", re.IGNORECASE):
        workload["tokens"] = "synthetic"
    if w.get("concurrency"):
        workload = {"arrival": "concurrency", "concurrency": w["concurrency"], **workload}
    else:
        workload = {"arrival": "offline", **workload}
    serving = {"weights": dense_w}
    if expert_w != dense_w and is_moe:
        serving["expert_weights"] = expert_w
    serving.update({"kv_cache": kv, "plan": the_plan, "batching": batching, "workload": workload})
    if trt and is_moe and the_plan.get("dp_attention", 1) > 1:
        serving.update(attention_dp_exchange(run, hw["chip_id"], expert_w, assumed))
    if trt and model_has_window(model_id):
        serving["sliding_window_kv"] = "full"
        assumed.append("the sliding-window layers' KV cache as long as the full-attention ones: TensorRT-LLM gives "
                       "every layer max_seq_len unless kv_cache_config.max_attention_window is set, which the record "
                       "does not")
    m, a = mtp(run)
    assumed += a
    if m:
        serving["mtp"] = m
    phase = (run["measured"].get("other") or {}).get("phase", "")
    if phase.startswith("prefill"):
        workload["output_tokens"] = 1
        assumed.append("one output token per request stands for the prefill side of a disaggregated deployment")
    elif phase.startswith("decode"):
        serving["prefix_cache_hit_rate"] = 0.99
        assumed.append("prompts 99 % in the prefix cache stand for the decode side of a disaggregated deployment")
    serving["published"] = {
        "run": run["id"],
        "metric": name_metric,
        "value": value,
        "engine": eng,
        "source": f"{run['source']['title']}, {run['source']['location']}, {run['source']['url']}",
    }
    if assumed:
        serving["published"]["assumed"] = assumed
    chip = hw["chip_id"]
    lengths = f"{w['input_tokens']}/{w['output_tokens']}"
    return {
        "name": f"{run['model']['name'].split(' (')[0]} on {chips} {chip}, {lengths} ({eng})",
        "description": f"{run['source']['title']}: {p.get('design') or ''}. Precision: {p.get('precision')}. "
                       f"Workload: {w.get('dataset') or ''}. Built by tools/make_serving_validation.py.",
        "model": model_id,
        "cluster": {"chip": chip, "chips": chips},
        "serving": serving,
    }


def hand_written(out_dir):
    """Runs covered by deployments in out_dir that this tool did not write."""
    covered = set()
    for name in os.listdir(out_dir):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(out_dir, name)) as f:
            d = json.load(f)
        if "make_serving_validation" not in d.get("description", ""):
            covered.add(d["serving"]["published"]["run"])
    return covered


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default=DEFAULT_RUNS, help="the run records (default ../shared/data/calibration_runs.json)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="the folder to write (default scenarios/serving/validation)")
    args = parser.parse_args()
    with open(args.runs) as f:
        runs = [r for r in json.load(f) if r.get("kind") == "serving"]
    os.makedirs(args.out, exist_ok=True)
    covered = hand_written(args.out)
    written, skipped = 0, []
    for run in runs:
        if run["id"] in covered:
            continue
        try:
            scenario = build(run)
        except Skip as reason:
            skipped.append((run["id"], str(reason)))
            continue
        path = os.path.join(args.out, run["id"] + ".json")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(scenario, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
        written += 1
    print(f"{written} deployments written to {os.path.relpath(args.out)}, {len(covered)} runs left to hand-written "
          f"ones, {len(skipped)} skipped:")
    for run_id, reason in skipped:
        print(f"  {run_id}: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
