#!/usr/bin/env bash
# CLI behaviour as a user sees it: exit codes, required and forbidden output. Usage: cli_test.sh FLOPCAST SOURCE_ROOT
set -u
flopcast="$1"
root="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

# expect NAME CODE PATTERN [FORBIDDEN] -- COMMAND...
expect() {
  local name="$1" code="$2" pattern="$3" forbidden="$4"
  shift 5
  local output status
  output="$("$@" 2>&1)"
  status=$?
  if [ "$status" -ne "$code" ]; then
    echo "FAIL $name: exit $status, expected $code"; echo "$output" | head -20; failed=$((failed + 1)); return
  fi
  if ! grep -qE -- "$pattern" <<<"$output"; then
    echo "FAIL $name: output lacks /$pattern/"; echo "$output" | head -20; failed=$((failed + 1)); return
  fi
  if [ -n "$forbidden" ] && grep -qE -- "$forbidden" <<<"$output"; then
    echo "FAIL $name: output has forbidden /$forbidden/"; failed=$((failed + 1)); return
  fi
  passed=$((passed + 1))
}

cd "$root" || exit 1
shipped="scenarios/shipped/deepseek-v3-h800.json"

expect help 0 "Examples:" "" -- "$flopcast" --help
# Every command's help keeps to 100 columns (descriptions wrapped under their column, examples continued with \).
for command in "" run serve validate calibrate claims sweep plan compare report fleet catalog import-hf; do
  "$flopcast" $command --help >"$work/help.txt" 2>&1  # word splitting: "" is no command
  expect "help-width-${command:-flopcast}" 0 "^ok$" "" -- python3 -c "import sys; print('ok' if max(len(l.rstrip('\n')) for l in open('$work/help.txt')) <= 100 else 'wide')"
done
expect help-continued 0 "^  flopcast report .* \\\\$" "" -- "$flopcast" report --help
expect run-summary 0 "step time +[0-9.]+ s" "nan|inf" -- "$flopcast" run "$shipped"
expect run-units 0 "MFU [0-9.]+ %.*TFLOP/s" "" -- "$flopcast" run "$shipped"
expect run-memory 0 "GiB of [0-9.]+ GiB usable" "" -- "$flopcast" run "$shipped"
expect run-cost 0 "per M tokens" "" -- "$flopcast" run "$shipped"
expect run-compare 0 "Comparison of 2 scenarios" "" -- "$flopcast" run "$shipped" scenarios/shipped/deepseek-v3-h20.json
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
expect json-array 0 "^\[" "" -- "$flopcast" run --json "$shipped" scenarios/shipped/deepseek-v3-h20.json
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
expect tier-default 0 "tier 2, discrete-event" "" -- "$flopcast" run "$shipped"
expect tier-devices 0 "stage 15 +[0-9.]+ " "" -- "$flopcast" run "$shipped"
expect tier-links 0 "busiest during the step" "" -- "$flopcast" run "$shipped"
expect tier-analytical 0 "step time" "discrete-event" -- "$flopcast" run --tier analytical "$shipped"
expect tier-json 0 '"tier": "replica"' "" -- "$flopcast" run --json "$shipped"
expect tier-json-devices 0 '"busy_fraction"' "" -- "$flopcast" run --json "$shipped"
expect tier-json-engine 0 '"network/model:CM02"' "" -- "$flopcast" run --json "$shipped"
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
expect validate-table 0 "korthikanti2022-22B-seqsel +step time +1.10 s" "nan|inf" -- "$flopcast" validate --quiet --out "$work/val-out" "$work/val"
# A run name too long for its column goes on a line of its own, its cells below: the tables keep to 100 columns
# (lines that print the test's own long temporary paths aside).
mkdir -p "$work/val-long"
cp scenarios/validation/korthikanti2022-22B-seqsel.json "$work/val-long/"
python3 -c "import json; d = json.load(open('scenarios/validation/korthikanti2022-22B-seqsel.json')); d['name'] = d['published']['run'] = 'korthikanti2022-22B-seqsel-a-name-longer-than-the-column'; json.dump(d, open('$work/val-long/long.json', 'w'))"
"$flopcast" validate --quiet --out "$work/val-long-out" "$work/val-long" >"$work/val-long.txt" 2>&1
expect validate-long-name 0 "^  korthikanti2022-22B-seqsel-a-name-longer-than-the-column$" "" -- cat "$work/val-long.txt"
expect validate-width 0 "^ok$" "" -- python3 -c "print('ok' if max(len(l.rstrip('\\n')) for l in open('$work/val-long.txt') if '$work' not in l) <= 100 else 'wide')"
expect validate-summary 0 "all +2 +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+" "" -- "$flopcast" validate --quiet --out "$work/val-out" "$work/val"
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
expect calibrate-runs 0 "mcore-h100-weak-16B +-?[0-9.]+ % +-?[0-9.]+ %" "nan|inf" -- "$flopcast" calibrate --quiet --runs "$work/my-runs.json" --out "$work/my-cal.json"
expect calibrate-runs-use 0 "use it with flopcast run --calibration" "" -- "$flopcast" calibrate --quiet --runs "$work/my-runs.json" --out "$work/my-cal.json"
expect run-calibration 0 '"source": "calibrated \(.*my-cal.json\)' "" -- "$flopcast" run --json --tier analytical --calibration "$work/my-cal.json" "$shipped"
expect run-calibration-missing 2 "no-such.json: no such calibration file" "" -- "$flopcast" run --calibration "$work/no-such.json" "$shipped"
expect calibrate-runs-missing 2 "no-such-runs.json: no such file" "" -- "$flopcast" calibrate --runs "$work/no-such-runs.json"
echo '[{"id": "x", "kind": "training"}]' >"$work/bad-runs.json"
expect calibrate-runs-bad 2 "bad-runs.json: the runs could not be turned into scenarios" "" -- "$flopcast" calibrate --runs "$work/bad-runs.json"
expect validate-cv 0 "leave one family out" "nan|inf" -- "$flopcast" validate --cv --quiet --out "$work/cv-out/new" "$work/val"
expect validate-cv-csv 0 "^run,family,moe,in_sample_error_pct_tier1" "" -- cat "$work/cv-out/new/cross_validation.csv"
expect validate-cv-md 0 "### Leave one out" "" -- cat "$work/cv-out/new/cross_validation.md"
# Claims: the shipped ones with computed verdicts.
expect claims 0 "verdict +(consistent|holds|plausible|above the predicted range|below the predicted range|does not hold)" "nan|inf" -- "$flopcast" claims --quiet --tier analytical
expect claims-units 0 "predicted [0-9.]+ M chip-hours \(p10-p90" "" -- "$flopcast" claims --quiet --tier analytical
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
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
  # OpenMPI keeps allocations until exit, some from plugins it has unloaded, which LeakSanitizer reports without a
  # name to suppress: leak checking is off under mpirun only (every other command here runs with it).
  export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0"
  expect sweep-mpi 0 "^56 evaluated in [0-9.]+ s wall on 2 MPI ranks" "" -- mpirun -np 2 --oversubscribe "$flopcast" sweep --quiet --out "$work/sw/mpi" "$sweep"
  expect sweep-mpi-same 0 "" "" -- cmp "$work/sw/mpi.jsonl" "$work/sw/one.jsonl"
  expect sweep-mpi-same-csv 0 "" "" -- cmp "$work/sw/mpi.csv" "$work/sw/one.csv"
  expect sweep-mpi-error 2 "exists; --resume continues that sweep" "" -- mpirun -np 2 --oversubscribe "$flopcast" sweep --quiet --out "$work/sw/mpi" "$sweep"
  # The plan search split across ranks finds the same plans, with the same counts, as one process.
  "$flopcast" plan --json --tier analytical scenarios/claims/scenarios/llama3-70b-h100-1024.json >"$work/plan1.json"
  mpirun -np 2 --oversubscribe "$flopcast" plan --json --tier analytical scenarios/claims/scenarios/llama3-70b-h100-1024.json >"$work/plan2.json"
  expect plan-mpi-same 0 "^same$" "" -- python3 -c "import json; a, b = (json.load(open(f)) for f in ('$work/plan1.json', '$work/plan2.json')); key = lambda d: ([d[k] for k in ('enumerated', 'out_of_memory', 'invalid', 'evaluated')], [(c['parallelism'], round(c['step_time_s'], 9)) for c in d['best']]); print('same' if key(a) == key(b) else 'different')"
  export ASAN_OPTIONS="${ASAN_OPTIONS%detect_leaks=0}"
else
  echo "SKIP sweep-mpi: mpirun not installed (./flopcast.sh installs openmpi-bin)"
fi
# The plan search: the space accounted for, ranked plans with units, the file's plan compared; JSON; mixed fleets refused.
expect plan 0 "space +[0-9]+ plans in [0-9.]+ s \([0-9]+ plans/s, tier 1\):$" "nan|inf" -- "$flopcast" plan --tier analytical --top 3 scenarios/claims/scenarios/llama3-70b-h100-1024.json
expect plan-memory 0 "^ +[0-9]+ out of memory \([0-9]+ of them known from a smaller micro-batch\), [0-9]+ not runnable$" "" -- "$flopcast" plan --tier analytical --top 3 scenarios/claims/scenarios/llama3-70b-h100-1024.json
expect plan-bound 0 "^ +[0-9]+ estimated: [0-9]+ with the pipeline's fill and drain walked, the rest bounded$" "" -- "$flopcast" plan --tier analytical --top 3 scenarios/claims/scenarios/llama3-70b-h100-1024.json
expect plan-dominated 0 "^ +[0-9]+ without TP overlap, never faster than with it \(not modelled\)$" "" -- "$flopcast" plan --tier analytical --top 3 scenarios/claims/scenarios/llama3-70b-h100-1024.json
# --pin keeps dimensions at the scenario's values; a mistyped one is named with a suggestion.
expect plan-pin 0 "plans with tp, pp pinned in" "" -- "$flopcast" plan --tier analytical --top 3 --pin tp,pp scenarios/claims/scenarios/llama3-70b-h100-1024.json
expect plan-pin-bad 2 '"micro_batches" is not a dimension of the plan search \(did you mean "micro_batch"\?\)' "" -- "$flopcast" plan --tier analytical --pin micro_batches scenarios/claims/scenarios/llama3-70b-h100-1024.json
expect plan-rows 0 "^ +1 +[0-9.]+ s +[0-9.]+ s .* %.*GiB$" "" -- "$flopcast" plan --tier analytical --top 3 scenarios/claims/scenarios/llama3-70b-h100-1024.json
expect plan-file 0 "^ +file " "" -- "$flopcast" plan --tier analytical scenarios/claims/scenarios/llama3-70b-h100-1024.json
expect plan-row-plan 0 "^ {9}tp [0-9]+" "" -- "$flopcast" plan --tier analytical --top 3 scenarios/claims/scenarios/llama3-70b-h100-1024.json
# plan --all --csv: every plan of the space, one row each; the estimated rows are the plans the search says fit and run.
"$flopcast" plan --tier analytical --all --csv "$work/all-plans.csv" --json scenarios/claims/scenarios/llama3-70b-h100-1024.json >"$work/all-plans.json"
expect plan-all-csv 0 "^ok$" "" -- python3 -c "import csv, json; rows = list(csv.DictReader(open('$work/all-plans.csv'))); d = json.load(open('$work/all-plans.json')); est = [float(r['step_time_s']) for r in rows if r['status'] == 'estimated']; print('ok' if len(rows) == d['enumerated'] and len(est) == d['evaluated'] and sum(r['status'] == 'out of memory' for r in rows) == d['out_of_memory'] and abs(min(est) / d['best'][0]['step_time_s'] - 1) < 1e-5 else 'bad')"
# compare: the answer leads (cheapest, fastest, by how much, how sure, at what price the next would tie); every chip
# with a plan that fits, in its own node and fabric; nothing wider than 100 columns.
"$flopcast" compare --tier analytical scenarios/claims/scenarios/llama3-70b-h100-1024.json --chips h100-sxm,h20,ascend-910b >"$work/compare.txt" 2>&1
echo "compare exit $?" >>"$work/compare.txt"
expect compare-exit 0 "^compare exit 0$" "" -- cat "$work/compare.txt"
expect compare-cheapest 0 "^  cheapest   [a-z0-9-]+: [$][0-9.]+ [kMB]? ?\(p10-p90 [$]" "nan|inf" -- cat "$work/compare.txt"
expect compare-odds 0 "% less than [a-z0-9-]+ .*(over 99|[0-9]+) % likely to stay the cheaper of the two" "" -- cat "$work/compare.txt"
expect compare-breakeven 0 "would cost as much at [$][0-9.]+ per chip-hour \(now [$][0-9.]+\)" "" -- cat "$work/compare.txt"
expect compare-fabric 0 "^ +fabric roce-200$" "" -- cat "$work/compare.txt"
expect compare-width 0 "^ok$" "" -- python3 -c "import sys; print('ok' if max(len(l.rstrip('\n')) for l in open('$work/compare.txt')) <= 100 else 'wide')"
"$flopcast" compare --tier analytical --json scenarios/claims/scenarios/llama3-70b-h100-1024.json --chips h100-sxm,ascend-910b >"$work/compare.json"
expect compare-json 0 "^ok$" "" -- python3 -c "import json; d = json.load(open('$work/compare.json')); o = d['options']; print('ok' if d['answer']['cheapest']['chip'] in ('h100-sxm', 'ascend-910b') and 0 < d['answer']['cheapest']['odds'] <= 1 and all(x['cost_usd']['p10'] < x['cost_usd']['value'] < x['cost_usd']['p90'] for x in o) else 'bad')"
# The comparison as a report: the answer is the first section, naming the cheapest chip and its odds.
QT_QPA_PLATFORM=offscreen "$flopcast" report --quiet --tier analytical scenarios/claims/scenarios/llama3-70b-h100-1024.json --chips h100-sxm,ascend-910b -o "$work/which-chip" >/dev/null 2>&1
expect compare-report-first 0 "^ok$" "" -- python3 -c "import re; t = open('$work/which-chip/report.md').read(); s = re.findall(r'^## (.+)$', t, re.M); print('ok' if s[0] == 'The answer' and re.search(r'The cheapest is the (h100-sxm|ascend-910b): ', t) and 'the odds that it stays the cheaper of the two' in t else 'bad')"
expect plan-json 0 '"tier1_step_time_s"' "" -- "$flopcast" plan --json --tier analytical --top 2 scenarios/claims/scenarios/llama3-70b-h100-1024.json
small="scenarios/claims/scenarios/llama3-70b-h100-1024.json"
expect plan-deadline 0 "^  h100-sxm +[0-9]+ +[0-9.]+ days +\\$" "" -- "$flopcast" plan "$small" --deadline-days 60 --tokens 2e12 --chips h100-sxm --max-chips 4096
expect plan-budget 0 "^  h20 +[0-9.]+ [TMB] +[0-9.]+ days" "" -- "$flopcast" plan "$small" --budget-usd 1e6 --chips h100-sxm,h20
# Every table keeps to 100 columns: the inverse questions' and the serving search's plans go on their own lines.
{
  "$flopcast" plan "$small" --deadline-days 60 --tokens 2e12 --chips h100-sxm,h20 --max-chips 4096
  "$flopcast" plan "$small" --budget-usd 1e6 --chips h100-sxm,h20
  "$flopcast" serve --tier analytical --search scenarios/serving/deepseek-v3-h800.json --chips h800-sxm,h20
  "$flopcast" catalog chips
  "$flopcast" claims --quiet --tier analytical
} >"$work/wide.txt" 2>/dev/null
expect tables-width 0 "^ok$" "" -- python3 -c "print('ok' if max(len(l.rstrip('\\n')) for l in open('$work/wide.txt')) <= 100 else 'wide')"
expect plan-pareto 0 "the Pareto front" "" -- "$flopcast" plan "$small" --chips h100-sxm,h20 --max-chips 2048
expect plan-unknown-chip 2 "--chips: unknown chip \"h100-sxn\" \(did you mean \"h100-sxm\"\?\)" "" -- "$flopcast" plan "$small" --chips h100-sxn
expect plan-mixed 2 "/cluster/stage_chips: the plan search does not cover mixed fleets yet" "" -- "$flopcast" plan "$mixed"
# The whole run: failures, checkpoints, spares and stragglers, printed with units and in the JSON.
failures="scenarios/shipped/llama3-405b-h100-failures.json"
expect whole-run 0 "whole run +[0-9.]+ days / [0-9.]+ days / [0-9.]+ days wall-clock \(p10 / p50 / p90" "nan|inf" -- "$flopcast" run --tier analytical "$failures"
expect whole-run-goodput 0 "goodput [0-9.]+ %, [0-9.]+ [kMB]? ?chip-hours lost" "" -- "$flopcast" run --tier analytical "$failures"
expect whole-run-interval 0 "best interval simulated [0-9.]+ (s|min|h),( |$)" "" -- "$flopcast" run --tier analytical "$failures"
expect whole-run-young-daly 0 "Young/Daly sqrt\(2 x write x MTBF\) [0-9.]+ (s|min|h)$" "" -- "$flopcast" run --tier analytical "$failures"
expect whole-run-stragglers 0 "stragglers +every step x1\.[0-9]+" "" -- "$flopcast" run --tier analytical "$failures"
expect whole-run-days 0 "training .* days \(median with failures\)" "" -- "$flopcast" run --tier analytical "$failures"
expect whole-run-absent 0 "step time" "whole run" -- "$flopcast" run --tier analytical scenarios/shipped/llama3-405b-h100.json
"$flopcast" run --json --tier analytical "$failures" >"$work/whole.json"
expect whole-run-json 0 "^ok" "" -- python3 -c "import json; w = json.load(open('$work/whole.json'))['whole_run']; print('ok' if w['wall_days_p10'] <= w['wall_days_p50'] <= w['wall_days_p90'] and 0 < w['goodput'] < 1 and w['best_interval_s'] > 0 and w['young_daly_interval_s'] > 0 and w['lost_chip_hours'] > 0 else 'bad')"
python3 -c "import json; d = json.load(open('$failures')); d['failures']['restart_sec'] = 60; json.dump(d, open('$work/failures-bad.json', 'w'))"
expect whole-run-bad-key 2 "failures-bad.json: /failures/restart_sec: unknown key \(did you mean \"restart_s\"\?\)" "" -- "$flopcast" run --tier analytical "$work/failures-bad.json"
expect trace-unwritable 2 "error: .*cannot write" "internal" -- "$flopcast" run --trace /nonexistent-dir/t.json "$shipped"

# Serving.
served="scenarios/serving/deepseek-v3-h800.json"
expect serve-summary 0 "TPOT +p50 [0-9.]+ ms" "nan|inf" -- "$flopcast" serve "$served"
expect serve-cost 0 '^ +\$[0-9.]+ per M output tokens \(\$[0-9.]+ per M tokens overall\)' "" -- "$flopcast" serve "$served"
expect serve-cost-input 0 'per M input tokens,$' "" -- "$flopcast" serve "$served"
expect serve-throughput 0 "output +[0-9.]+ k? ?tokens/s \\([0-9.]+ k? ?per chip" "" -- "$flopcast" serve "$served"
expect serve-compare 0 '\$/M output' "" -- "$flopcast" serve "$served" scenarios/serving/llama3-405b-h100.json
expect serve-analytical 0 "\\(analytical\\)" "" -- "$flopcast" serve --tier analytical "$served"
expect serve-search 0 "plans and batch sizes estimated" "" -- "$flopcast" serve --search "$served" --chips h800-sxm,h20
expect serve-validation 0 "published +sglang-deepseek-96xH100-pd-ep" "" -- "$flopcast" serve scenarios/serving/validation/sglang-deepseek-prefill-32xh100.json
validated=(scenarios/serving/validation/sglang-deepseek-prefill-32xh100.json scenarios/serving/validation/deepseek-v2-prompt-8xh800.json scenarios/serving/validation/trtllm-perfov-llama3.3-70b-h200-sxm-tp2-1024-1024.json)
expect serve-curve 0 "^h20: [0-9]+ points on the front" "nan|inf" -- "$flopcast" serve --curve "$served" --chips h800-sxm,h20
expect serve-curve-columns 0 "^ +tok/s/user +out tok/s/chip +TPOT +TTFT +plan +batch +\\\$/M output$" "" -- "$flopcast" serve --curve "$served"
"$flopcast" serve --curve --json "$served" --chips h800-sxm,h20 >"$work/curve.json"
expect serve-curve-json 0 "^ok 2$" "" -- python3 -c "
import json
c = json.load(open('$work/curve.json'))['curves']
ok = all(len(x['points']) > 2 and all(a['tokens_per_s_per_user'] > b['tokens_per_s_per_user'] and a['output_tokens_per_s_per_chip'] < b['output_tokens_per_s_per_chip'] for a, b in zip(x['points'], x['points'][1:])) for x in c)
print('ok' if ok else 'bad', len(c))"
expect serve-curve-search 2 "--search excludes --curve|--curve excludes --search" "" -- "$flopcast" serve --curve --search "$served"
expect serve-validate-rows 0 "^trtllm-perfov-llama3.3-70b-h200-sxm-tp2-1024-1024 +TensorRT-LLM +balanced +2.58 k +[0-9.]+ k +[-+][0-9.]+ %$" "nan|inf" -- "$flopcast" serve --validate "${validated[@]}"
expect serve-validate-bound 0 "> 100 k .*\((bound met|below the bound)\)$" "" -- "$flopcast" serve --validate "${validated[@]}"
expect serve-validate-slices 0 "^engine SGLang +1 +[0-9.]+ % +[0-9.]+ % +[-+][0-9.]+ %$" "" -- "$flopcast" serve --validate "${validated[@]}"
expect serve-validate-unpublished 2 "deepseek-v3-h800.json: /serving/published: is required to validate against" "" -- "$flopcast" serve --validate "$served"
expect serve-validate-search 2 "--search excludes --validate|--validate excludes --search" "" -- "$flopcast" serve --validate --search "$served"
"$flopcast" serve --json "$served" >"$work/serve.json"
expect serve-json 0 "^ok" "" -- python3 -c "import json; r = json.load(open('$work/serve.json'))['result']; print('ok' if r['requests'] > 0 and r['ttft']['p99_s'] >= r['ttft']['p50_s'] > 0 and r['usd_per_m_output'] > 0 and r['kwh_per_mtok'] > 0 else 'bad')"
expect serve-json-ranges 0 "^ok" "" -- python3 -c "import json; r = json.load(open('$work/serve.json'))['result']; lo, hi = r['p10_p90']['output_tokens_per_s_per_chip']; print('ok' if lo < r['output_tokens_per_s_per_chip'] < hi and r['log_sigma'] > 0 else 'bad')"
expect serve-range 0 "^  80 % range   output [0-9.]+ k? ?to [0-9.]+ k? ?tokens/s per chip; TTFT p50 [0-9.]+ to [0-9.]+ (ms|s);" "nan|inf" -- "$flopcast" serve "$served"
expect serve-cv-needs-validate 2 "--cv requires --validate" "" -- "$flopcast" serve --cv "$served"
expect serve-cv 0 "^Spread \(log space, 80 % of the errors within p10-p90\): dense [0-9.]+, MoE [0-9.]+; inside p10-p90 when the spread is made without the run's table: [0-9]+ % of 2 runs$" "nan|inf" -- "$flopcast" serve --validate --cv "${validated[@]}"
QT_QPA_PLATFORM=offscreen "$flopcast" report --quiet "$served" scenarios/serving/llama3-405b-h100.json -o "$work/serving-report" >/dev/null 2>&1
expect serve-report-curve 0 "^ok$" "" -- python3 -c "import os, re; t = open('$work/serving-report/report.md').read(); print('ok' if os.path.exists('$work/serving-report/charts/serving-curve-deepseek-v3.svg') and 'Throughput against interactivity: deepseek-v3' in t and re.search(r'[0-9] \\(\\\$[0-9.]+-[0-9.]+\\) \\|', t) else 'bad')"
expect serve-training-file 2 "describes a deployment to serve|is required to serve" "" -- "$flopcast" serve "$shipped"
expect run-serving-file 2 "/serving: describes a deployment to serve: use flopcast serve" "" -- "$flopcast" run "$served"
printf '{"model": "llama3-8b", "cluster": {"chip": "h100-sxm", "chips": 1}, "serving": {"plan": {"tp": 1}, "workload": {"arrival": "poisson", "rate_per_s": 1, "input_tokens": 10, "output_tokens": 10, "burst": 2}}}' >"$work/bad-serve.json"
expect serve-unknown-key 2 "/serving/workload/burst: unknown key" "" -- "$flopcast" serve "$work/bad-serve.json"
printf '{"model": "llama3-405b", "cluster": {"chip": "h100-sxm", "chips": 1}, "serving": {"plan": {"tp": 1}, "workload": {"arrival": "poisson", "rate_per_s": 1, "input_tokens": 10, "output_tokens": 10}}}' >"$work/big-serve.json"
expect serve-does-not-fit 2 "does not fit: per chip [0-9.]+ GiB of weights" "" -- "$flopcast" serve "$work/big-serve.json"
printf 'arrival_s,input_tokens,output_tokens\n0,100,20\n0.5,200,10\n1.0,50,5\n' >"$work/trace.csv"
printf '{"model": "llama3-8b", "cluster": {"chip": "h100-sxm", "chips": 1}, "serving": {"plan": {"tp": 1}, "workload": {"arrival": "trace", "trace": "trace.csv"}}}' >"$work/trace-serve.json"
expect serve-trace 0 "3 requests, [0-9]+ engine steps" "" -- "$flopcast" serve "$work/trace-serve.json"
printf 'arrival_s,input_tokens,output_tokens\n1.0,100,20\n0.5,200,10\n' >"$work/trace.csv"
expect serve-bad-trace 2 "trace.csv line 3: expected" "" -- "$flopcast" serve "$work/trace-serve.json"

# Fleets.
fleet="tests/data/fleet/small-fleet.json"
expect fleet-summary 0 "delivered +[0-9.]+e\+[0-9]+ model FLOP within the horizon = [0-9.e+]+ FLOP/s-years" "nan|inf" -- "$flopcast" fleet "$fleet"
expect fleet-dates 0 "^  run #2 +h100 +64 2025-01-02 2025-01-03  finished$" "" -- "$flopcast" fleet "$fleet"
expect fleet-width 0 "^ok$" "" -- python3 -c "import subprocess; t = subprocess.run(['$flopcast', 'fleet', 'scenarios/fleet/hopper-50k.json'], capture_output=True, text=True).stdout; print('ok' if max(map(len, t.splitlines())) <= 100 else 'wide')"
expect fleet-power 0 "dc +0\.50 MW +0\.[0-9]+ MW" "" -- "$flopcast" fleet "$fleet"
"$flopcast" fleet --json "$fleet" >"$work/fleet.json"
expect fleet-json 0 "^ok" "" -- python3 -c "import json; d = json.load(open('$work/fleet.json')); s = d['sites'][0]; ok = all(p[1] <= s['capacity_mw'] * (1 + 1e-9) for p in s['power_mw']) and all(j['start_days'] >= j['arrival_days'] for j in d['jobs'] if 'start_days' in j) and d['flop'] > 0 and d['energy_mwh'] > 0 and 'resolved_fleet' in d; print('ok' if ok else 'bad')"
expect fleet-out 0 "wrote $work/fleet-out.json" "" -- "$flopcast" fleet "$fleet" --out "$work/fleet-out.json"
expect fleet-out-same 0 "^ok" "" -- python3 -c "import json; a = json.load(open('$work/fleet.json')); b = json.load(open('$work/fleet-out.json')); print('ok' if a == b else 'bad')"
python3 -c "import json; d = json.load(open('$fleet')); d['sites'][0]['powr_mw'] = 8; d['training'][0]['scenario'] = '$PWD/tests/data/fleet/llama8b-h100.json'; d['serving'][0]['scenario'] = '$PWD/tests/data/fleet/llama8b-serve-h100.json'; json.dump(d, open('$work/fleet-bad.json', 'w'))"
expect fleet-bad-key 2 "fleet-bad.json: /sites/0/powr_mw: unknown key \(did you mean \"power_mw\"\?\)" "" -- "$flopcast" fleet "$work/fleet-bad.json"
expect fleet-missing 2 "does not exist|no such file" "" -- "$flopcast" fleet "$work/nothing.json"
expect fleet-match 0 "pool \"h20\" needs [0-9]+ chips \(whole nodes, bisected in [0-9]+ simulations\)" "" -- "$flopcast" fleet "$fleet" --match "$fleet" --pool h20
expect fleet-report 0 "Report of fleet Small test fleet \([0-9]+ jobs, 3 charts\)" "" -- "$flopcast" report --fleet "$fleet" -o "$work/fleet-report"
expect fleet-report-md 0 "Busy chips per pool" "" -- cat "$work/fleet-report/report.md"
expect fleet-report-csv 0 "MW" "" -- cat "$work/fleet-report/report.csv"
expect fleet-match-no-pool 2 "--pool: is required with --match" "" -- "$flopcast" fleet "$fleet" --match "$fleet"

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
