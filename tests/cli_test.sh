#!/usr/bin/env bash
# CLI behaviour as a user sees it, for run, catalog, import-hf, validate, calibrate, claims and sweep: exit codes,
# required and forbidden output (the plan search is in cli_plan_test.sh, serving and fleets in cli_serve_test.sh).
# Usage: cli_test.sh FLOPCAST SOURCE_ROOT
source "$(dirname "$0")/cli_lib.sh"

expect help 0 "Examples:" "" -- "$flopcast" --help
# Every command's help keeps to 100 columns (descriptions wrapped under their column, examples continued with \).
for command in "" run serve validate calibrate claims sweep plan compare report fleet catalog import-hf; do
  "$flopcast" $command --help >"$work/help.txt" 2>&1  # word splitting: "" is no command
  expect "help-width-${command:-flopcast}" 0 "^ok$" "" -- python3 -c "import sys; print('ok' if max(len(l.rstrip('\n')) for l in open('$work/help.txt')) <= 100 else 'wide')"
done
expect help-continued 0 "^  flopcast report .* \\\\$" "" -- "$flopcast" report --help
once run -- "$flopcast" run "$shipped"
expect run-summary 0 "step time +[0-9.]+ s" "nan|inf" -- @run
expect run-units 0 "MFU [0-9.]+ %.*TFLOP/s" "" -- @run
expect run-memory 0 "GiB of [0-9.]+ GiB usable" "" -- @run
expect run-cost 0 "per M tokens" "" -- @run
expect run-compare 0 "Comparison of 2 scenarios" "" -- "$flopcast" run --tier analytical "$shipped" scenarios/shipped/deepseek-v3-h20.json
"$flopcast" run --json "$shipped" >"$work/run.json"
for key in step_time_s tokens_per_s tokens_per_s_per_chip mfu hfu model_tflops_per_chip memory_per_chip_bytes \
           fits_memory train_days chip_hours energy_kwh cost_usd usd_per_mtok breakdown resolved_scenario assumptions \
           step_time_s_p10 step_time_s_p90 train_days_p10 train_days_p90 cost_usd_p10 cost_usd_p90 usd_per_mtok_p10 \
           usd_per_mtok_p90 uncertainty; do
  expect "json-$key" 0 "\"$key\":" "" -- cat "$work/run.json"
done
# The interval brackets the central value.
expect json-interval 0 "^ok" "" -- python3 -c "import json; d = json.load(open('$work/run.json')); print('ok' if all(d[k + '_p10'] < d[k] < d[k + '_p90'] for k in ('step_time_s', 'train_days', 'cost_usd', 'usd_per_mtok', 'tokens_per_s_per_chip', 'mfu', 'hfu', 'model_tflops_per_chip')) else 'bad')"
expect run-interval 0 "p10-p90 +step time [0-9.]+ to [0-9.]+ s," "" -- "$flopcast" run --tier analytical "$shipped"
expect run-interval-inputs 0 "ascend-910b peak_dense.bf16 320 \(280 to 400 TFLOP/s\)" "" -- "$flopcast" run --tier analytical scenarios/shipped/deepseek-v3-ascend-910b.json
expect json-array 0 "^\[" "" -- "$flopcast" run --json --tier analytical "$shipped" scenarios/shipped/deepseek-v3-h20.json
expect missing-file 2 "does not exist|no such file" "" -- "$flopcast" run "$work/nothing.json"
printf '{"model": "deepseek-v3", "cluster": {"chip": "h100-sxn", "chips": 8}, "parallelism": {}, "training": {"seq_len": 4096, "global_batch": 8}}' >"$work/bad.json"
expect bad-chip 2 "bad.json: /cluster/chip: unknown chip \"h100-sxn\" \(did you mean \"h100-sxm\"\?\)" "" -- "$flopcast" run "$work/bad.json"
printf '{"model": ' >"$work/broken.json"
expect bad-json 2 "broken.json: invalid JSON at line 1" "" -- "$flopcast" run "$work/broken.json"
: >"$work/empty.json"
expect empty-file 2 "empty.json: is empty" "" -- "$flopcast" run "$work/empty.json"
expect directory 2 "is a directory" "" -- "$flopcast" run "$work"
expect no-command 2 "subcommand" "" -- "$flopcast"
expect catalog-chips 0 "ascend-910b +320 \(280-400\)" "" -- "$flopcast" catalog chips
for key in '"id"' '"peak_flop_per_s"' '"hbm_bytes"' '"hbm_bytes_per_s"' '"tdp_w"' '"tpp"' '"performance_density"' '"export_control"'; do
  expect "chips-json-$key" 0 "$key:" "" -- "$flopcast" catalog chips --json
done
for key in '"params_total"' '"params_active"' '"layers"' '"moe"'; do
  expect "models-json-$key" 0 "$key:" "" -- "$flopcast" catalog models --json
done
expect show-chip 0 "source: " "" -- "$flopcast" catalog show h800-sxm
expect show-model 0 "parameters: 671 B total" "" -- "$flopcast" catalog show deepseek-v3
expect show-unknown 2 "did you mean \"h800-sxm\"" "" -- "$flopcast" catalog show h800-sx
expect import-hf 0 "\"kv_lora_rank\": 512" "" -- "$flopcast" import-hf tests/data/hf/deepseek-v3.json

# Tiers: replica is the default; each tier names itself; the trace is a file that parses.
expect tier-default 0 "tier 2, discrete-event" "" -- @run
expect tier-devices 0 "stage 15 +[0-9.]+ " "" -- @run
expect tier-links 0 "busiest during the step" "" -- @run
expect tier-analytical 0 "step time" "discrete-event" -- "$flopcast" run --tier analytical "$shipped"
expect tier-json 0 '"tier": "replica"' "" -- cat "$work/run.json"
expect tier-json-devices 0 '"busy_fraction"' "" -- cat "$work/run.json"
expect tier-json-engine 0 '"network/model:CM02"' "" -- cat "$work/run.json"
expect tier-unknown 2 "--tier" "" -- "$flopcast" run --tier fastest "$shipped"
expect tier-full-too-big 2 "more than its limit of 1024" "" -- "$flopcast" run --tier full "$shipped"
expect trace-two-scenarios 2 "exactly one scenario" "" -- "$flopcast" run --trace "$work/t.json" "$shipped" "$shipped"
expect trace-analytical 2 "tier replica or full" "" -- "$flopcast" run --tier analytical --trace "$work/t.json" "$shipped"
expect trace-written 0 "trace of one step written" "" -- "$flopcast" run --trace "$work/trace.json" "$shipped"
expect trace-parses 0 "traceEvents" "" -- python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(list(d))" "$work/trace.json"
# A mixed fleet: each stage group on its own line, priced at its own chips' rates, and in the JSON.
mixed="scenarios/shipped/llama3-70b-h800-h20-mixed.json"
expect mixed-groups 0 "stages 2, 3: 256 x h20 in 32 x hgx-h20" "" -- "$flopcast" run "$mixed"
expect mixed-cost 0 "per chip-hour on average" "" -- "$flopcast" run --tier analytical "$mixed"
expect mixed-json 0 '"stage_chips"' "" -- "$flopcast" run --json --tier analytical "$mixed"
expect mixed-compare 0 "h800-sxm\+h20" "" -- "$flopcast" run --tier analytical "$mixed" "$shipped"
echo '{"model": "llama3-70b", "cluster": {"chip": "h800-sxm", "chips": 64, "stage_chips": [{"stages": [4], "chip": "h20"}]}, "parallelism": {"tp": 8, "pp": 2}, "training": {"seq_len": 4096, "global_batch": 64, "tokens": 1e9}}' >"$work/mixed-bad.json"
expect mixed-bad-stage 2 "/cluster/stage_chips/0/stages: stage 4 does not exist" "" -- "$flopcast" run "$work/mixed-bad.json"
# Validation: a folder of scenarios with a "published" block; the table, the summary and the two files.
mkdir -p "$work/val" "$work/val-out"
cp scenarios/validation/korthikanti2022-22B-seqsel.json scenarios/validation/mbridge2511-h100-llama3-8B-8gpu.json "$work/val/"
once validate -- "$flopcast" validate --quiet --out "$work/val-out" "$work/val"
expect validate-table 0 "korthikanti2022-22B-seqsel +step time +1.10 s" "nan|inf" -- @validate
# A run name too long for its column goes on a line of its own, its cells below: the tables keep to 100 columns
# (lines that print the test's own long temporary paths aside).
mkdir -p "$work/val-long"
cp scenarios/validation/korthikanti2022-22B-seqsel.json "$work/val-long/"
python3 -c "import json; d = json.load(open('scenarios/validation/korthikanti2022-22B-seqsel.json')); d['name'] = d['published']['run'] = 'korthikanti2022-22B-seqsel-a-name-longer-than-the-column'; json.dump(d, open('$work/val-long/long.json', 'w'))"
"$flopcast" validate --quiet --out "$work/val-long-out" "$work/val-long" >"$work/val-long.txt" 2>&1
expect validate-long-name 0 "^  korthikanti2022-22B-seqsel-a-name-longer-than-the-column$" "" -- cat "$work/val-long.txt"
expect validate-width 0 "^ok$" "" -- python3 -c "print('ok' if max(len(l.rstrip('\\n')) for l in open('$work/val-long.txt') if '$work' not in l) <= 100 else 'wide')"
expect validate-summary 0 "all +2 +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+" "" -- @validate
expect validate-csv 0 "^run,chip,family,moe,metric,published" "" -- cat "$work/val-out/validation.csv"
expect validate-md 0 "\| group \| runs \|" "" -- cat "$work/val-out/validation.md"
expect validate-no-dir 2 "no-such-folder: no such folder" "" -- "$flopcast" validate "$work/no-such-folder"
expect validate-empty 2 "no scenario with a \"published\" block" "" -- "$flopcast" validate --quiet "$work/val-out"
expect calibrate-dry 0 "tier-1 \|error\| on these runs: median" "written:" -- "$flopcast" calibrate --dry-run --quiet "$work/val"
expect calibrate-write 0 "written: $work/cal.json" "" -- "$flopcast" calibrate --quiet --out "$work/cal.json" "$work/val"
expect calibrate-json 0 '"parameters"' "" -- cat "$work/cal.json"
# Without --out calibrate replaces the calibration it was loaded with: the one output allowed over an input.
mkdir "$work/data" && cp -r "$root/hardware" "$root/models" "$root/scenarios" "$work/data/"
expect calibrate-in-place 0 "written: $work/data/models/data/calibration.json" "is an input" -- env FLOPCAST_DATA_DIR="$work/data" "$flopcast" calibrate --quiet "$work/val"
expect calibrate-spread 0 '"uncertainty"' "" -- cat "$work/cal.json"
# A validate_only run is validated but left out of the fit, and the output says so.
mkdir -p "$work/val-only"
cp "$work/val/"*.json scenarios/validation/torchao-b200-llama3-8b-fsdp8-bf16.json "$work/val-only/"
expect calibrate-validate-only 0 "Calibration on 2 published runs .*; 1 more validated, not fitted \(published.validate_only\)" "" -- "$flopcast" calibrate --dry-run --quiet "$work/val-only"
# A user's own runs in calibration_runs.json's format: calibrated into a file of their own, used with --calibration.
python3 -c 'import json, sys; runs = json.load(open(sys.argv[1])); json.dump([r for r in runs if r["id"] in ("mcore-h100-weak-1.7B", "mcore-h100-weak-16B", "mcore-h100-weak-70B")], open(sys.argv[2], "w"))' "$root/../shared/data/calibration_runs.json" "$work/my-runs.json"
once calibrate-runs -- "$flopcast" calibrate --quiet --runs "$work/my-runs.json" --out "$work/my-cal.json"
expect calibrate-runs 0 "mcore-h100-weak-16B +-?[0-9.]+ % +-?[0-9.]+ %" "nan|inf" -- @calibrate-runs
expect calibrate-runs-use 0 "use it with flopcast run --calibration" "" -- @calibrate-runs
expect run-calibration 0 '"source": "calibrated \(.*my-cal.json\)' "" -- "$flopcast" run --json --tier analytical --calibration "$work/my-cal.json" "$shipped"
expect run-calibration-missing 2 "no-such.json: no such calibration file" "" -- "$flopcast" run --calibration "$work/no-such.json" "$shipped"
expect calibrate-runs-missing 2 "no-such-runs.json: no such file" "" -- "$flopcast" calibrate --runs "$work/no-such-runs.json"
echo '[{"id": "x", "kind": "training"}]' >"$work/bad-runs.json"
expect calibrate-runs-bad 2 "bad-runs.json: the runs could not be turned into scenarios" "" -- "$flopcast" calibrate --runs "$work/bad-runs.json"
expect validate-cv 0 "leave one family out" "nan|inf" -- "$flopcast" validate --cv --quiet --out "$work/cv-out/new" "$work/val"
expect validate-cv-csv 0 "^run,family,moe,in_sample_error_pct_tier1" "" -- cat "$work/cv-out/new/cross_validation.csv"
expect validate-cv-md 0 "### Leave one out" "" -- cat "$work/cv-out/new/cross_validation.md"
# Claims: the shipped ones with computed verdicts.
once claims -- "$flopcast" claims --quiet --tier analytical
expect claims 0 "verdict +(consistent|holds|plausible|above the predicted range|below the predicted range|does not hold)" "nan|inf" -- @claims
expect claims-units 0 "predicted [0-9.]+ M chip-hours \(p10-p90" "" -- @claims
expect claims-json 0 '"what_would_have_to_be_true"' "" -- "$flopcast" claims --quiet --json --tier analytical
expect claims-no-dir 2 "no-such-folder: no such folder" "" -- "$flopcast" claims "$work/no-such-folder"
expect claims-empty 2 "no claim file" "" -- "$flopcast" claims "$work/val"
# Sweeps: rows stream in point order; the same output on one or two workers; a stopped sweep resumes to the same files.
sweep="scenarios/sweeps/chips-and-prices.json"
expect sweep 0 "56 points: 56 ok, 0 infeasible" "" -- "$flopcast" sweep --quiet --jobs 2 --out "$work/sw/two" "$sweep"
expect sweep-csv 0 "^index,/cluster/chip,/costs/usd_per_chip_hour,status,reason,step_time_s" "" -- head -1 "$work/sw/two.csv"
expect sweep-rows 0 "^57 " "" -- wc -l "$work/sw/two.csv"
expect sweep-one-worker 0 "56 points" "" -- "$flopcast" sweep --quiet --jobs 1 --out "$work/sw/one" "$sweep"
expect sweep-deterministic 0 "" "" -- cmp "$work/sw/one.jsonl" "$work/sw/two.jsonl"
expect sweep-no-overwrite 2 "exists; --resume continues that sweep, --force starts it over" "" -- "$flopcast" sweep --quiet --out "$work/sw/one" "$sweep"
head -c 2500 "$work/sw/one.jsonl" >"$work/sw/cut.jsonl"
expect sweep-resume 0 "resuming after [0-9]+" "" -- "$flopcast" sweep --resume --out "$work/sw/cut" "$sweep"
expect sweep-resumed-jsonl 0 "" "" -- cmp "$work/sw/cut.jsonl" "$work/sw/one.jsonl"
expect sweep-resumed-csv 0 "" "" -- cmp "$work/sw/cut.csv" "$work/sw/one.csv"
printf '{"base": "%s/scenarios/shipped/deepseek-v3-h800.json", "axes": [{"path": "/cluster/chip", "values": ["h100-sxn"]}, {"path": "/nope/x", "values": [1]}]}' "$(pwd)" >"$work/sw-bad.json"
expect sweep-bad-value 2 "sw-bad.json: /axes/0/values/0: \"h100-sxn\" at /cluster/chip: unknown chip" "" -- "$flopcast" sweep "$work/sw-bad.json"
expect sweep-bad-path 2 "sw-bad.json: /axes/1/path: \"/nope/x\" is not a field" "" -- "$flopcast" sweep "$work/sw-bad.json"
# Across ranks: mpirun splits the points and rank 0 writes the same files as one process does.
if command -v mpirun >/dev/null; then
  mpi_env
  expect sweep-mpi 0 "^56 evaluated in [0-9.]+ s wall on 2 MPI ranks" "" -- mpirun -np 2 --oversubscribe "$flopcast" sweep --quiet --out "$work/sw/mpi" "$sweep"
  expect sweep-mpi-same 0 "" "" -- cmp "$work/sw/mpi.jsonl" "$work/sw/one.jsonl"
  expect sweep-mpi-same-csv 0 "" "" -- cmp "$work/sw/mpi.csv" "$work/sw/one.csv"
  expect sweep-mpi-error 2 "exists; --resume continues that sweep" "" -- mpirun -np 2 --oversubscribe "$flopcast" sweep --quiet --out "$work/sw/mpi" "$sweep"
  export ASAN_OPTIONS="${ASAN_OPTIONS%detect_leaks=0}"
else
  echo "SKIP sweep-mpi: mpirun not installed (./flopcast.sh installs openmpi-bin)"
fi
# The whole run: failures, checkpoints, spares and stragglers, printed with units and in the JSON.
failures="scenarios/shipped/llama3-405b-h100-failures.json"
once whole-run -- "$flopcast" run --tier analytical "$failures"
expect whole-run 0 "whole run +[0-9.]+ days / [0-9.]+ days / [0-9.]+ days wall-clock \(p10 / p50 / p90" "nan|inf" -- @whole-run
expect whole-run-goodput 0 "goodput [0-9.]+ %, [0-9.]+ [kMB]? ?chip-hours lost" "" -- @whole-run
expect whole-run-interval 0 "best interval simulated [0-9.]+ (s|min|h),( |$)" "" -- @whole-run
expect whole-run-young-daly 0 "Young/Daly sqrt\(2 x write x MTBF\) [0-9.]+ (s|min|h)$" "" -- @whole-run
expect whole-run-stragglers 0 "stragglers +every step x1\.[0-9]+" "" -- @whole-run
expect whole-run-days 0 "training .* days \(median with failures\)" "" -- @whole-run
expect whole-run-absent 0 "step time" "whole run" -- "$flopcast" run --tier analytical scenarios/shipped/llama3-405b-h100.json
"$flopcast" run --json --tier analytical "$failures" >"$work/whole.json"
expect whole-run-json 0 "^ok" "" -- python3 -c "import json; w = json.load(open('$work/whole.json'))['whole_run']; print('ok' if w['wall_days_p10'] <= w['wall_days_p50'] <= w['wall_days_p90'] and 0 < w['goodput'] < 1 and w['best_interval_s'] > 0 and w['young_daly_interval_s'] > 0 and w['lost_chip_hours'] > 0 else 'bad')"
python3 -c "import json; d = json.load(open('$failures')); d['failures']['restart_sec'] = 60; json.dump(d, open('$work/failures-bad.json', 'w'))"
expect whole-run-bad-key 2 "failures-bad.json: /failures/restart_sec: unknown key \(did you mean \"restart_s\"\?\)" "" -- "$flopcast" run --tier analytical "$work/failures-bad.json"
expect trace-unwritable 2 "error: .*cannot write" "internal" -- "$flopcast" run --trace /nonexistent-dir/t.json "$shipped"

finish cli
