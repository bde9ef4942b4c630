#!/usr/bin/env bash
# Runs one libFuzzer target for a while. Usage: run_fuzz.sh TARGET SECONDS WORK_DIR SEED_DIR...
# New inputs go to WORK_DIR/corpus (never into the committed seeds); a crash leaves its input in WORK_DIR/crashes
# and fails the test. Reproduce one with: TARGET WORK_DIR/crashes/crash-...
set -euo pipefail
target="$1" seconds="$2" work="$3"
shift 3
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$work/corpus" "$work/crashes"
# -timeout: one input taking 20 s is a hang worth reporting; -max_len: 64 kB, past the few kB of a scenario (fleet
# files and traces run larger, and bounds on size are part of what is tested); the dictionary holds the schema's
# keys and ids so the fuzzer reaches past "unknown key".
exec "$target" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2560 -max_len=65536 -seed=1 \
  -dict="$here/scenario.dict" -artifact_prefix="$work/crashes/" -print_final_stats=1 "$work/corpus" "$@"
