#!/usr/bin/env python3
"""Measure kernel efficiency tables on one NVIDIA GPU through PyTorch, for flopcast's kernel data.

What it times, each with CUDA events (graph replays where the kernel is short, so launch gaps stay out):
  - dense GEMMs (bf16, fp8 with tensor-wise scales) against each dimension and at transformer shapes;
  - grouped GEMMs (torch._grouped_mm, the kernel TorchTitan's MoE runs) against tokens per expert and expert shape,
    beside one dense GEMM of a group's shape and beside a loop of one GEMM per expert (Megatron's SequentialMLP);
  - attention forward and backward (PyTorch's FlashAttention-2 and cuDNN backends) against sequence and head size;
  - memory-bound kernels (copy, add, SwiGLU, RMSNorm, LayerNorm, softmax, fp8 cast, fused AdamW) against size;
  - MoE bookkeeping kernels (router top-k, permutation gather, un-permutation scatter-add, histogram) and the cost
    of a device-to-host synchronisation (dropless routing reads the token counts on the host);
  - serving's regime: grouped GEMMs of 1 to 256 tokens per expert (bf16 and fp8), and the MoE layer's small kernels
    at decode batch sizes.

Writes kernels.json (every number with its unit in its name) into the folder given as the first argument, else $OUT,
else the current folder; MEASURE_DEADLINE_S (default 330) skips the sections not started by then, and
MEASURE_SECTIONS (comma-separated function names, e.g. grouped_gemm_decode,moe_bookkeeping_decode) runs only those.
Usage: python3 tools/measure_kernels.py /tmp/out     (needs a CUDA GPU and PyTorch; about 90 s on an H200)
"""
import json
import os
import statistics
import sys
import time
import traceback

import torch
import torch.nn.functional as F

OUT = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("OUT", ".")
DEADLINE_S = float(os.environ.get("MEASURE_DEADLINE_S", "330"))
START = time.time()
DEV = torch.device("cuda")
RESULT = {"provenance": {}, "errors": []}


def log(*args):
    print(f"[{time.time() - START:6.1f} s]", *args, flush=True)


def save():
    path = os.path.join(OUT, "kernels.json")
    with open(path + ".tmp", "w") as f:
        json.dump(RESULT, f, indent=1)
    os.replace(path + ".tmp", path)


def out_of_time():
    return time.time() - START > DEADLINE_S


def gpu_seconds(fn, target_ms=4.0, graph=True, repeats=5):
    """Median GPU seconds of one fn() call: a warm-up, then `repeats` timings of n back-to-back calls."""
    fn()
    torch.cuda.synchronize()
    st, en = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    st.record()
    for _ in range(3):
        fn()
    en.record()
    en.synchronize()
    estimate_ms = max(st.elapsed_time(en) / 3, 1e-3)
    n = int(min(400, max(2, target_ms / estimate_ms)))
    if graph:
        try:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                fn()
            torch.cuda.current_stream().wait_stream(side)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                for _ in range(n):
                    fn()
            g.replay()
            torch.cuda.synchronize()
            times = []
            for _ in range(repeats):
                st.record()
                g.replay()
                en.record()
                en.synchronize()
                times.append(st.elapsed_time(en) / n)
            del g
            return statistics.median(times) / 1e3
        except Exception:  # a kernel that cannot be captured: time it eagerly
            torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        st.record()
        for _ in range(n):
            fn()
        en.record()
        en.synchronize()
        times.append(st.elapsed_time(en) / n)
    return statistics.median(times) / 1e3


def section(name):
    def wrap(body):
        def run():
            if out_of_time():
                RESULT["errors"].append(f"{name}: skipped, out of time")
                return
            log("section", name)
            RESULT[name] = []
            try:
                body(RESULT[name])
            except Exception:
                RESULT["errors"].append(f"{name}: {traceback.format_exc(limit=3)}")
                log("error in", name, traceback.format_exc(limit=3))
            torch.cuda.empty_cache()
            save()
        run.__name__ = name
        return run
    return wrap


def randn(*shape, dtype=torch.bfloat16):
    return torch.randn(*shape, device=DEV, dtype=torch.float32).to(dtype)


# ----------------------------------------------------------------------------------------------------------------
def provenance():
    p = torch.cuda.get_device_properties(0)
    RESULT["provenance"] = {
        "device": torch.cuda.get_device_name(0),
        "multiprocessors": p.multi_processor_count,
        "memory_bytes": p.total_memory,
        "compute_capability": f"{p.major}.{p.minor}",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "method": "CUDA events around CUDA-graph replays of n back-to-back calls (eager for attention), median of 5; "
                  "random normal data; inputs reused between calls (operands larger than the 60 MB L2 except "
                  "where noted by their size)",
    }
    try:
        import subprocess
        RESULT["provenance"]["nvidia_smi"] = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,power.limit,clocks.max.sm,clocks.max.mem",
             "--format=csv,noheader"], capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception as e:
        RESULT["provenance"]["nvidia_smi"] = str(e)
    save()


def gemm_row(m, n, k, seconds, **extra):
    flop = 2.0 * m * n * k
    return {"m": m, "n": n, "k": k, "seconds": seconds, "flop_per_s": flop / seconds, **extra}


@section("gemm_bf16")
def gemm_bf16(rows):
    # out[m, n] = a[m, k] @ w[k, n] with w stored [n, k] (nn.Linear's layout, as cuBLAS sees a forward).
    def one(m, n, k, layout="linear"):
        a = randn(m, k)
        w = randn(n, k)
        if layout == "linear":
            out = torch.empty(m, n, device=DEV, dtype=torch.bfloat16)
            fn = lambda: torch.mm(a, w.t(), out=out)
        elif layout == "dgrad":  # da[m, k] = dy[m, n] @ w[n, k]
            dy = randn(m, n)
            out = torch.empty(m, k, device=DEV, dtype=torch.bfloat16)
            fn = lambda: torch.mm(dy, w, out=out)
        else:  # wgrad: dw[n, k] = dy[m, n]^T @ a[m, k]
            dy = randn(m, n)
            out = torch.empty(n, k, device=DEV, dtype=torch.bfloat16)
            fn = lambda: torch.mm(dy.t(), a, out=out)
        # m, n, k name the forward GEMM in every layout: the FLOPs are the same.
        rows.append(gemm_row(m, n, k, gpu_seconds(fn), layout=layout))

    sweep = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
    for x in sweep:  # one dimension at a time, the other two at 8192
        one(x, 8192, 8192)
        one(8192, x, 8192)
        one(8192, 8192, x)
    grid = [256, 1024, 4096, 16384]
    for m in grid:
        for n in grid:
            for k in grid:
                one(m, n, k)
    # Transformer shapes: 8192 tokens; QKV, output projection, FC1 (SwiGLU, 2 x ffn), FC2 at TP 1, 2, 4, 8.
    for h, ffn in [(4096, 14336), (8192, 28672), (16384, 53248), (5120, 13824), (7168, 18432)]:
        for tp in [1, 2, 4, 8]:
            for n, k in [(3 * h // tp, h), (h, h // tp), (2 * ffn // tp, h), (h, ffn // tp)]:
                for layout in ["linear", "dgrad", "wgrad"]:
                    one(8192, n, k, layout)
        if out_of_time():
            return


@section("gemm_fp8")
def gemm_fp8(rows):
    def one(m, n, k):
        a = randn(m, k, dtype=torch.float8_e4m3fn)
        w = randn(n, k, dtype=torch.float8_e4m3fn)
        sa = torch.ones((), device=DEV, dtype=torch.float32)
        sw = torch.ones((), device=DEV, dtype=torch.float32)
        fn = lambda: torch._scaled_mm(a, w.t(), scale_a=sa, scale_b=sw, out_dtype=torch.bfloat16)
        rows.append(gemm_row(m, n, k, gpu_seconds(fn), scales="tensor-wise"))

    for x in [16, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]:
        one(x, 8192, 8192)
        one(8192, x, 8192)
        one(8192, 8192, x)
    for m in [1024, 4096, 16384]:
        for n in [1024, 4096, 16384]:
            for k in [1024, 4096, 16384]:
                one(m, n, k)


def grouped_offsets(counts):
    return torch.tensor(counts, device=DEV, dtype=torch.int32).cumsum(0, dtype=torch.int32)


@section("grouped_gemm_bf16")
def grouped_gemm_bf16(rows):
    # Expert shapes (hidden, expert FFN width) of catalog MoE models; FC1 is SwiGLU's fused gate and up (2 x ffn).
    shapes = [(2048, 1408), (2048, 768), (4096, 1536), (2880, 2880), (7168, 2048), (4096, 14336)]
    gen = torch.Generator(device="cpu").manual_seed(0)
    for h, ffn in shapes:
        for groups in [4, 16, 64]:
            for tpe in [32, 64, 128, 256, 512, 1024, 2048, 4096]:
                tokens = groups * tpe
                if tokens * max(h, 2 * ffn) > 2**31 or groups * h * 2 * ffn > 2**31:
                    continue
                for name, n, k in [("fc1", 2 * ffn, h), ("fc2", h, ffn)]:
                    x = randn(tokens, k)
                    w = randn(groups, n, k)
                    wt = w.transpose(-2, -1)  # [groups, k, n], column-major per group, as TorchTitan passes it
                    balanced = grouped_offsets([tpe] * groups)
                    # Uneven routing: multinomial counts around tpe, rounded to 16 rows, same total.
                    p = torch.ones(groups) / groups
                    raw = torch.multinomial(p, tokens, replacement=True, generator=gen).bincount(minlength=groups)
                    uneven = [int(c) // 16 * 16 for c in raw]
                    uneven[-1] += tokens - sum(uneven)
                    uneven_offs = grouped_offsets(uneven)
                    g_bal = gpu_seconds(lambda: torch._grouped_mm(x, wt, offs=balanced))
                    g_unev = gpu_seconds(lambda: torch._grouped_mm(x, wt, offs=uneven_offs))
                    # One dense GEMM of a group's shape, times groups: the dense kernel's rate at that shape.
                    xa = x[:tpe]
                    dense = gpu_seconds(lambda: torch.mm(xa, w[0].t())) * groups
                    # One GEMM per expert, eagerly launched (Megatron's SequentialMLP without grouped GEMM).
                    def loop():
                        for g in range(groups):
                            torch.mm(x[g * tpe:(g + 1) * tpe], w[g].t())
                    seq = gpu_seconds(loop, graph=False, repeats=3)
                    # Weight gradient of all groups: dw[g] = dy_g^T x_g, the grouped kernel with offsets along k.
                    dy = None
                    try:
                        # mat_a row-major [n, tokens], mat_b column-major [tokens, k], as PyTorch's tests lay them.
                        dy = randn(n, tokens)
                        xt = x.t().contiguous().t()
                        wgrad = gpu_seconds(lambda: torch._grouped_mm(dy, xt, offs=balanced))
                    except Exception as e:
                        wgrad = None
                        if len(RESULT["errors"]) < 20:
                            RESULT["errors"].append(f"grouped wgrad: {e}")
                    flop = 2.0 * tokens * n * k
                    rows.append({"hidden": h, "expert_ffn": ffn, "gemm": name, "groups": groups,
                                 "tokens_per_group": tpe, "m": tpe, "n": n, "k": k, "flop": flop,
                                 "grouped_balanced_seconds": g_bal, "grouped_uneven_seconds": g_unev,
                                 "uneven_counts": uneven, "dense_same_shape_seconds": dense,
                                 "sequential_eager_seconds": seq, "grouped_wgrad_seconds": wgrad,
                                 "grouped_flop_per_s": flop / g_bal})
                    del x, w, wt, dy
                if out_of_time():
                    return


@section("attention")
def attention(rows):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    backends = {"flash2": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}
    for label, backend in backends.items():
        for d_qk, d_v in [(64, 64), (128, 128), (192, 128)]:
            for seq in [512, 1024, 2048, 4096, 8192, 16384, 32768]:
                heads = 32 if d_qk <= 128 else 16
                batch = max(1, 32768 // seq)
                q = randn(batch, heads, seq, d_qk).requires_grad_()
                k = randn(batch, heads, seq, d_qk).requires_grad_()
                v = randn(batch, heads, seq, d_v).requires_grad_()
                go = randn(batch, heads, seq, d_v)
                # Causal: half the score matrix. Forward 2 GEMMs (QK^T, PV), backward 5 (2.5x forward).
                fwd_flop = 2.0 * batch * heads * seq * seq * (d_qk + d_v) / 2
                try:
                    with sdpa_kernel([backend]):
                        fwd = gpu_seconds(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                                          target_ms=20, graph=False, repeats=3)

                        def both():
                            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
                            torch.autograd.grad(o, (q, k, v), go)
                        total = gpu_seconds(both, target_ms=40, graph=False, repeats=3)
                    rows.append({"backend": label, "causal": True, "batch": batch, "heads": heads, "seq": seq,
                                 "head_dim_qk": d_qk, "head_dim_v": d_v, "forward_flop": fwd_flop,
                                 "forward_seconds": fwd, "backward_seconds": total - fwd,
                                 "forward_flop_per_s": fwd_flop / fwd,
                                 "backward_flop_per_s": 2.5 * fwd_flop / (total - fwd)})
                except Exception as e:
                    rows.append({"backend": label, "seq": seq, "head_dim_qk": d_qk, "head_dim_v": d_v,
                                 "error": str(e).splitlines()[0][:200]})
                del q, k, v, go
            if out_of_time():
                return


@section("memory_bound")
def memory_bound(rows):
    def add(name, bytes_moved, fn, elements, graph=True):
        s = gpu_seconds(fn, graph=graph)
        rows.append({"kernel": name, "elements": elements, "bytes": bytes_moved, "seconds": s,
                     "bytes_per_s": bytes_moved / s})

    for log2 in [18, 20, 22, 24, 26, 28, 30]:  # copy against size: 0.5 MiB to 2 GiB bf16 read + write
        n = 2**log2
        a, b = randn(n), torch.empty(n, device=DEV, dtype=torch.bfloat16)
        add("copy", 4 * n, lambda: b.copy_(a), n)
    n = 2**28
    a, b, c = randn(n), randn(n), torch.empty(n, device=DEV, dtype=torch.bfloat16)
    add("add", 6 * n, lambda: torch.add(a, b, out=c), n)
    add("swiglu_eager", 6 * n + 4 * n, lambda: F.silu(a) * b, n)  # silu: r+w; mul: 2r+w (10 bytes/element)
    add("cast_fp8", 3 * n, lambda: a.to(torch.float8_e4m3fn), n)
    for h in [4096, 8192]:
        x = randn(n // h, h)
        wn = randn(h)
        add(f"rms_norm_h{h}", 4 * n, lambda: F.rms_norm(x, (h,), wn), n)
        add(f"layer_norm_h{h}", 4 * n, lambda: F.layer_norm(x, (h,), wn), n)
        add(f"softmax_{h}", 4 * n, lambda: torch.softmax(x, dim=-1), n)
    del a, b, c, x
    # Fused AdamW over 2^28 fp32 parameters in 64 tensors: param r/w, grad r, two moments r/w = 28 bytes each.
    params = [torch.nn.Parameter(torch.randn(2**22, device=DEV)) for _ in range(64)]
    for p in params:
        p.grad = torch.randn_like(p)
    opt = torch.optim.AdamW(params, lr=1e-4, fused=True)
    opt.step()
    add("adamw_fused_fp32", 28 * 2**28, lambda: opt.step(), 2**28, graph=False)
    del params, opt


@section("moe_bookkeeping")
def moe_bookkeeping(rows):
    for tokens, experts, topk, h in [(16384, 256, 8, 7168), (16384, 64, 6, 2048), (16384, 8, 2, 4096),
                                     (65536, 128, 4, 2880)]:
        logits = torch.randn(tokens, experts, device=DEV, dtype=torch.float32)
        x = randn(tokens, h)
        t_topk = gpu_seconds(lambda: torch.topk(torch.softmax(logits, -1), topk, dim=-1))
        _, idx = torch.topk(logits, topk, dim=-1)
        flat = idx.flatten()
        t_sort = gpu_seconds(lambda: torch.sort(flat, stable=True))
        order = torch.sort(flat, stable=True).indices
        src = order // topk
        t_hist = gpu_seconds(lambda: torch.bincount(flat, minlength=experts), graph=False)  # syncs
        t_gather = gpu_seconds(lambda: x.index_select(0, src))
        permuted = x.index_select(0, src)
        out = torch.zeros(tokens, h, device=DEV, dtype=torch.bfloat16)
        t_scatter = gpu_seconds(lambda: out.index_add_(0, src, permuted))
        routed_bytes = 2.0 * tokens * topk * h
        rows.append({"tokens": tokens, "experts": experts, "topk": topk, "hidden": h,
                     "softmax_topk_seconds": t_topk, "sort_seconds": t_sort, "histogram_seconds": t_hist,
                     "gather_seconds": t_gather, "gather_bytes_per_s": 2 * routed_bytes / t_gather,
                     "scatter_add_seconds": t_scatter,
                     "scatter_add_bytes_per_s": (routed_bytes + 2 * 2.0 * tokens * h) / t_scatter})
    # Host synchronisation: a short kernel then reading 64 counts on the host, against the kernel alone.
    small = torch.randn(1 << 20, device=DEV)
    counts = torch.zeros(64, device=DEV, dtype=torch.int64)
    st = time.perf_counter()
    for _ in range(200):
        small.mul_(1.0001)
    torch.cuda.synchronize()
    alone = (time.perf_counter() - st) / 200
    st = time.perf_counter()
    for _ in range(200):
        small.mul_(1.0001)
        counts.tolist()
    synced = (time.perf_counter() - st) / 200
    rows.append({"kernel": "device_to_host_sync", "host_seconds_per_iteration_without": alone,
                 "host_seconds_per_iteration_with": synced, "sync_seconds": synced - alone})
    # Host launch cost of a small eager kernel (the floor of a layer's launch gaps on this host's processor).
    tiny = torch.randn(1024, device=DEV)
    torch.cuda.synchronize()
    st = time.perf_counter()
    for _ in range(2000):
        tiny.add_(1.0)
    launch = (time.perf_counter() - st) / 2000
    torch.cuda.synchronize()
    rows.append({"kernel": "eager_launch", "host_seconds_per_launch": launch})


@section("grouped_gemm_fp8")
def grouped_gemm_fp8(rows):
    for h, ffn in [(7168, 2048), (2048, 1408)]:
        for groups in [16]:
            for tpe in [64, 256, 1024, 4096]:
                n, k = 2 * ffn, h
                tokens = groups * tpe
                x = randn(tokens, k, dtype=torch.float8_e4m3fn)
                w = randn(groups, n, k, dtype=torch.float8_e4m3fn)
                sx = torch.ones(tokens, device=DEV, dtype=torch.float32)
                sw = torch.ones(groups, n, device=DEV, dtype=torch.float32)
                offs = grouped_offsets([tpe] * groups)
                s = gpu_seconds(lambda: torch._scaled_grouped_mm(x, w.transpose(-2, -1), sx, sw, offs=offs,
                                                                 out_dtype=torch.bfloat16))
                flop = 2.0 * tokens * n * k
                rows.append({"hidden": h, "expert_ffn": ffn, "groups": groups, "tokens_per_group": tpe,
                             "m": tpe, "n": n, "k": k, "seconds": s, "flop_per_s": flop / s,
                             "scales": "row-wise"})


@section("grouped_gemm_decode")
def grouped_gemm_decode(rows):
    # Serving's regime: a decode step gives each expert a few tokens to a few hundred, and the kernel mostly reads
    # the weights. Expert shapes and experts per chip of the serving runs (DeepSeek-V3 at EP 8 and 4, Qwen3-235B at EP
    # 4, gpt-oss-120b at EP 2 and 1), bf16 and fp8 (row-wise scales), routing drawn uniformly (some experts empty at
    # the smallest sizes). bytes_read counts each group's weight once and the activations in and out.
    gen = torch.Generator(device="cpu").manual_seed(1)
    for h, ffn, groups in [(7168, 2048, 32), (7168, 2048, 64), (4096, 1536, 32), (2880, 2880, 64),
                           (2880, 2880, 128)]:
        for dtype in ["bf16", "fp8"]:
            for tpe in [1, 2, 4, 8, 16, 32, 64, 128, 256]:
                tokens = groups * tpe
                for name, n, k in [("fc1", 2 * ffn, h), ("fc2", h, ffn)]:
                    p = torch.ones(groups) / groups
                    counts = torch.multinomial(p, tokens, replacement=True, generator=gen).bincount(minlength=groups)
                    offs = grouped_offsets([int(c) for c in counts])
                    if dtype == "bf16":
                        x = randn(tokens, k)
                        wt = randn(groups, n, k).transpose(-2, -1)
                        s = gpu_seconds(lambda: torch._grouped_mm(x, wt, offs=offs))
                        elem = 2
                    else:
                        x = randn(tokens, k, dtype=torch.float8_e4m3fn)
                        wt = randn(groups, n, k, dtype=torch.float8_e4m3fn).transpose(-2, -1)
                        sx = torch.ones(tokens, device=DEV, dtype=torch.float32)
                        sw = torch.ones(groups, n, device=DEV, dtype=torch.float32)
                        s = gpu_seconds(lambda: torch._scaled_grouped_mm(x, wt, sx, sw, offs=offs,
                                                                         out_dtype=torch.bfloat16))
                        elem = 1
                    touched = int((counts > 0).sum())
                    bytes_read = touched * n * k * elem + tokens * k * elem + tokens * n * 2
                    rows.append({"hidden": h, "expert_ffn": ffn, "gemm": name, "dtype": dtype, "groups": groups,
                                 "groups_touched": touched, "tokens_per_group": tpe, "m": tpe, "n": n, "k": k,
                                 "flop": 2.0 * tokens * n * k, "bytes_read": bytes_read, "seconds": s,
                                 "bytes_per_s": bytes_read / s})
                    del x, wt
            if out_of_time():
                return


@section("moe_bookkeeping_decode")
def moe_bookkeeping_decode(rows):
    # The MoE layer's small kernels at decode batch sizes, unfused PyTorch (an upper bound on what fused engines pay):
    # the router GEMM, sigmoid and top-k, the sort that groups tokens by expert, the permutation gather and the
    # un-permutation scatter-add, and one empty-ish elementwise kernel (the floor of any kernel in a graph).
    for experts, topk, h in [(256, 8, 7168), (128, 8, 4096), (128, 4, 2880)]:
        wr = randn(experts, h)
        for tokens in [16, 64, 256, 1024, 4096]:
            x = randn(tokens, h)
            t_router = gpu_seconds(lambda: torch.mm(x, wr.t()))
            logits = torch.mm(x, wr.t()).float()
            t_topk = gpu_seconds(lambda: torch.topk(torch.sigmoid(logits), topk, dim=-1))
            _, idx = torch.topk(logits, topk, dim=-1)
            flat = idx.flatten()
            t_sort = gpu_seconds(lambda: torch.sort(flat, stable=True))
            src = torch.sort(flat, stable=True).indices // topk
            t_gather = gpu_seconds(lambda: x.index_select(0, src))
            permuted = x.index_select(0, src)
            out = torch.zeros(tokens, h, device=DEV, dtype=torch.bfloat16)
            t_scatter = gpu_seconds(lambda: out.index_add_(0, src, permuted))
            rows.append({"experts": experts, "topk": topk, "hidden": h, "tokens": tokens,
                         "router_gemm_seconds": t_router, "sigmoid_topk_seconds": t_topk, "sort_seconds": t_sort,
                         "gather_seconds": t_gather, "scatter_add_seconds": t_scatter})
    tiny = torch.randn(1024, device=DEV)
    rows.append({"kernel": "tiny_elementwise", "seconds": gpu_seconds(lambda: tiny.add_(1.0))})


def summary():
    def best(rows, key):
        return max((r[key] for r in rows if r.get(key)), default=0)
    lines = []
    if RESULT.get("gemm_bf16"):
        lines.append(f"bf16 GEMM best {best(RESULT['gemm_bf16'], 'flop_per_s') / 1e12:.0f} TFLOP/s")
    if RESULT.get("gemm_fp8"):
        lines.append(f"fp8 GEMM best {best(RESULT['gemm_fp8'], 'flop_per_s') / 1e12:.0f} TFLOP/s")
    if RESULT.get("grouped_gemm_bf16"):
        lines.append(f"grouped bf16 best {best(RESULT['grouped_gemm_bf16'], 'grouped_flop_per_s') / 1e12:.0f}")
    if RESULT.get("memory_bound"):
        lines.append(f"memory best {best(RESULT['memory_bound'], 'bytes_per_s') / 1e12:.2f} TB/s")
    for line in lines:
        log(line)
    log("errors:", len(RESULT["errors"]))
    for e in RESULT["errors"][:10]:
        log(e[:300])


if __name__ == "__main__":
    torch.backends.cuda.matmul.allow_tf32 = False
    provenance()
    every = [gemm_bf16, grouped_gemm_bf16, attention, memory_bound, moe_bookkeeping, gemm_fp8, grouped_gemm_fp8,
             grouped_gemm_decode, moe_bookkeeping_decode]
    chosen = os.environ.get("MEASURE_SECTIONS")  # comma-separated section names; default every section
    for body in every:
        if not chosen or body.__name__ in chosen.split(","):
            body()
    RESULT["provenance"]["elapsed_seconds"] = time.time() - START
    save()
    summary()
