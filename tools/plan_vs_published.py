#!/usr/bin/env python3
"""The plan search against the published plans (issue 24): for each validation scenario of the given sources,
`flopcast plan --json` at tier 2 and the published plan (the scenario's own) at the same tier, side by side.

    python3 tools/plan_vs_published.py [--flopcast PATH] [--top K] [PREFIX ...]

PREFIX selects scenarios/validation/PREFIX*.json (default: megatron2021, korthikanti2022, mbridge). Prints a
Markdown table and exits 1 if the search's best is slower than a published plan that ran in flopcast.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flopcast", default="build/release/app/flopcast")
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("prefixes", nargs="*", default=["megatron2021", "korthikanti2022", "mbridge"])
    args = parser.parse_args()
    files = sorted(f for p in args.prefixes for f in glob.glob(os.path.join("scenarios/validation", p + "*.json")))
    if not files:
        sys.exit("no scenarios match " + ", ".join(args.prefixes))
    print("| scenario | published plan, tier 2 (s) | best found, tier 2 (s) | found / published | best found |")
    print("|---|---:|---:|---:|---|")
    slower = 0
    started = time.time()
    for n, f in enumerate(files, 1):
        print(f"[{n}/{len(files)}] {f}", file=sys.stderr, flush=True)
        run = subprocess.run([args.flopcast, "plan", "--json", "--top", str(args.top), f], capture_output=True, text=True)
        name = os.path.basename(f)[:-5]
        if run.returncode != 0:
            print(f"| {name} | | | | error: {run.stderr.strip().splitlines()[-1]} |")
            continue
        d = json.loads(run.stdout)
        given = d.get("scenario_plan")
        best = d["best"][0] if d["best"] else None
        if best is None:
            print(f"| {name} | {given['step_time_s']:.4g} | | | no plan of the space fits |" if given else f"| {name} | | | | nothing fits |")
            continue
        if given is None:
            print(f"| {name} | (does not run) | {best['step_time_s']:.4g} | | {best['summary']} |")
            continue
        ratio = best["step_time_s"] / given["step_time_s"]
        if not given["fits_memory"]:
            print(f"| {name} | {given['step_time_s']:.4g} (does not fit) | {best['step_time_s']:.4g} | {ratio:.3f} | {best['summary']} |")
            continue
        slower += ratio > 1 + 1e-9
        print(f"| {name} | {given['step_time_s']:.4g} | {best['step_time_s']:.4g} | {ratio:.3f} | {best['summary']} |")
    print(f"\n{len(files)} scenarios in {time.time() - started:.0f} s; the best found is slower than the published "
          f"plan in {slower}.")
    sys.exit(1 if slower else 0)


if __name__ == "__main__":
    main()
