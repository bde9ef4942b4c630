#!/usr/bin/env python3
"""Uncalibrated accuracy of flopcast's analytical tier against published training runs.

Reads the published runs in calibration_runs.json (entries with "kind": "training"), builds one flopcast
scenario per run by fixed rules (no tuning to the published numbers), runs `flopcast run --json` on each,
and compares the prediction with the first published metric available, in this order:

  step_time_s            -> step_time_s
  tokens_per_s_per_chip  -> tokens_per_s_per_chip
  tflops_per_chip        -> model_tflops_per_chip (megatron2021 and bloom runs: hfu * bf16 peak, because
                            their published TFLOP/s count the recompute forward pass)
  mfu                    -> mfu
  hfu                    -> hfu

Error % = (predicted - published) / published * 100, sign kept. Prints a Markdown table and a summary.

Usage:
  python3 tools/calibration_baseline.py [--runs FILE] [--flopcast BIN] [--write-scenarios DIR]

Standard library only.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_RUNS = "/work/shared/data/calibration_runs.json"
DEFAULT_BINARY = os.path.join(REPO_ROOT, "build", "dev", "app", "flopcast")

# Dense BF16 peaks used to turn a predicted HFU into hardware TFLOP/s (same values as the chip catalog).
BF16_PEAK = {"a100-sxm-80gb": 312e12, "h100-sxm": 989.4e12}

PRE_FLASH_ATTENTION = ("megatron2021", "korthikanti2022", "bloom", "opt")  # also trained with dropout
TE_COMM_OVERLAP = ("mcore", "nemo", "mbridge")
HARDWARE_TFLOPS = ("megatron2021", "bloom")  # published TFLOP/s include the recompute forward pass
DEFAULT_VOCAB = 51200


class Skip(Exception):
    """The run cannot be turned into a scenario; the message is the reason."""


def or_default(value, default):
    return default if value is None else value


def chip_id(chip_text):
    if "A100" in chip_text:
        return "a100-sxm-80gb"
    if "H100" in chip_text:
        return "h100-sxm"
    raise Skip(f"no catalog chip for \"{chip_text}\"")


def is_moe(run):
    return bool(run["model"].get("moe"))


def build_model(run):
    m = run["model"]
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


def recompute_mode(text):
    text = (text or "").lower()
    if "full" in text:
        return "full"
    if "selective" in text:
        return "selective"
    return "none"


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
    vpp = or_default(p.get("virtual_pipeline_stages"), 1)
    if vpp > 1:
        plan["vpp"] = vpp
        plan["schedule"] = "interleaved"
    else:
        plan["vpp"] = 1
        plan["schedule"] = "1f1b"
    # flopcast requires sequence parallelism when a MoE model uses tp > 1.
    plan["sp"] = bool(p.get("sequence_parallel")) or (tp > 1 and is_moe(run))
    plan["zero"] = or_default(p.get("zero_stage"), 1)
    plan["micro_batch"] = or_default(p.get("micro_batch_size"), 1)
    plan["recompute"] = recompute_mode(p.get("activation_recompute"))
    plan["tp_comm_overlap"] = run["id"].startswith(TE_COMM_OVERLAP)
    return plan


def build_training(run):
    p = run["parallelism"]
    pre_2023 = run["id"].startswith(PRE_FLASH_ATTENTION)
    training = {"seq_len": run["model"]["sequence_length"]}
    if p.get("global_batch_size_sequences") is not None:
        training["global_batch"] = p["global_batch_size_sequences"]
    # else: left out, so flopcast itself reports the missing field and the run is listed as skipped.
    training["precision"] = "fp8" if "FP8" in (p.get("precision") or "") else "bf16"
    training["tokens"] = 1e9
    training["flash_attention"] = not pre_2023
    training["dropout"] = pre_2023
    return training


def build_scenario(run):
    hw = run["hardware"]
    return {
        "name": run["id"],
        "description": f"Calibration baseline scenario generated from calibration_runs.json entry {run['id']} "
                       f"({run.get('source', {}).get('title', 'unknown source')}).",
        "model": build_model(run),
        "cluster": {"chip": chip_id(hw["chip"]), "chips": hw["num_chips"]},
        "parallelism": build_parallelism(run),
        "training": build_training(run),
    }


def pick_metric(run, chip):
    """(metric label, published value, function of the flopcast result giving the prediction) or None."""
    measured = run["measured"]
    if measured.get("step_time_s") is not None:
        return "step_time_s", measured["step_time_s"], lambda r: r["step_time_s"]
    if measured.get("tokens_per_s_per_chip") is not None:
        return "tokens_per_s_per_chip", measured["tokens_per_s_per_chip"], lambda r: r["tokens_per_s_per_chip"]
    if measured.get("tflops_per_chip") is not None:
        if run["id"].startswith(HARDWARE_TFLOPS):
            peak = BF16_PEAK[chip]
            return "hw_tflops_per_chip", measured["tflops_per_chip"], lambda r: r["hfu"] * peak / 1e12
        return "model_tflops_per_chip", measured["tflops_per_chip"], lambda r: r["model_tflops_per_chip"]
    if measured.get("mfu") is not None:
        return "mfu", measured["mfu"], lambda r: r["mfu"]
    if measured.get("hfu") is not None:
        return "hfu", measured["hfu"], lambda r: r["hfu"]
    return None


def run_flopcast(binary, scenario_path, tier):
    """The parsed JSON result, or raise Skip with flopcast's error message."""
    proc = subprocess.run([binary, "run", "--json", "--quiet", "--tier", tier, scenario_path], cwd=REPO_ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        message = " ".join((proc.stderr.strip() or proc.stdout.strip() or f"exit code {proc.returncode}").split())
        message = message.replace(scenario_path, os.path.basename(scenario_path))  # hide the temporary folder
        raise Skip(f"flopcast exited {proc.returncode}: {message}")
    result = json.loads(proc.stdout)
    return result[0] if isinstance(result, list) else result


def fmt_value(value):
    if value is None:
        return "-"
    if abs(value) < 1:
        return f"{value:.3f}"
    if abs(value) < 100:
        return f"{value:.2f}"
    return f"{value:,.0f}"


def summary_stats(label, errors):
    if not errors:
        return f"- {label}: no runs compared"
    return (f"- {label}: n = {len(errors)}, median |error| = {statistics.median(errors):.1f}%, "
            f"mean |error| = {statistics.mean(errors):.1f}%")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default=DEFAULT_RUNS, help=f"published runs (default {DEFAULT_RUNS})")
    parser.add_argument("--flopcast", default=DEFAULT_BINARY, help="flopcast binary (default build/dev/app/flopcast)")
    parser.add_argument("--write-scenarios", metavar="DIR", help="also save the generated scenario files in DIR")
    parser.add_argument("--tier", default="replica", choices=["analytical", "replica", "full"],
                        help="fidelity tier (default replica, as flopcast run)")
    args = parser.parse_args()

    with open(args.runs) as f:
        runs = [r for r in json.load(f) if r.get("kind") == "training"]
    if args.write_scenarios:
        os.makedirs(args.write_scenarios, exist_ok=True)

    rows = []      # compared runs
    skipped = []   # (run id, reason)
    with tempfile.TemporaryDirectory(prefix="flopcast-calibration-") as tmp:
        for run in runs:
            run_id = run["id"]
            try:
                scenario = build_scenario(run)
            except Skip as reason:
                skipped.append((run_id, str(reason)))
                continue
            text = json.dumps(scenario, indent=2) + "\n"
            path = os.path.join(tmp, f"{run_id}.json")
            with open(path, "w") as f:
                f.write(text)
            if args.write_scenarios:
                with open(os.path.join(args.write_scenarios, f"{run_id}.json"), "w") as f:
                    f.write(text)
            chip = scenario["cluster"]["chip"]
            metric = pick_metric(run, chip)
            if metric is None:
                skipped.append((run_id, "no published metric to compare"))
                continue
            try:
                result = run_flopcast(args.flopcast, path, args.tier)
            except Skip as reason:
                skipped.append((run_id, str(reason)))
                continue
            label, published, predict = metric
            predicted = predict(result)
            rows.append({
                "id": run_id,
                "chip": chip,
                "chips": scenario["cluster"]["chips"],
                "metric": label,
                "published": published,
                "predicted": predicted,
                "error": (predicted - published) / published * 100.0,
                "fits": bool(result.get("fits_memory")),
                "moe": is_moe(run),
            })

    print("| run id | chip | chips | metric | published | predicted | error % | fits memory |")
    print("|---|---|---:|---|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['id']} | {r['chip']} | {r['chips']} | {r['metric']} | {fmt_value(r['published'])} | "
              f"{fmt_value(r['predicted'])} | {r['error']:+.1f} | {'yes' if r['fits'] else 'NO'} |")

    errors = [abs(r["error"]) for r in rows]
    print()
    print(f"Summary (uncalibrated, tier {args.tier}):")
    print(f"- compared: {len(rows)} of {len(runs)} training runs ({len(skipped)} skipped)")
    if errors:
        worst = max(rows, key=lambda r: abs(r["error"]))
        print(f"- median |error| = {statistics.median(errors):.1f}%")
        print(f"- mean |error| = {statistics.mean(errors):.1f}%")
        print(f"- max |error| = {abs(worst['error']):.1f}% ({worst['id']})")
    for label, chip in (("A100", "a100-sxm-80gb"), ("H100", "h100-sxm")):
        print(summary_stats(label, [abs(r["error"]) for r in rows if r["chip"] == chip]))
    print(summary_stats("dense", [abs(r["error"]) for r in rows if not r["moe"]]))
    print(summary_stats("MoE", [abs(r["error"]) for r in rows if r["moe"]]))
    not_fitting = [r["id"] for r in rows if not r["fits"]]
    print(f"- predicted not to fit memory: {len(not_fitting)}" + (f" ({', '.join(not_fitting)})" if not_fitting else ""))
    print()
    print("Skipped runs:")
    if not skipped:
        print("- none")
    for run_id, reason in skipped:
        print(f"- {run_id}: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
