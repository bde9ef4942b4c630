#!/usr/bin/env bash
# CLI behaviour of the plan search, compare and the inverse questions: exit codes, required and forbidden
# output. Usage: cli_plan_test.sh FLOPCAST SOURCE_ROOT
source "$(dirname "$0")/cli_lib.sh"

mixed="scenarios/shipped/llama3-70b-h800-h20-mixed.json"
# The plan search: the space accounted for, ranked plans with units, the file's plan compared; JSON; mixed fleets refused.
once plan -- "$flopcast" plan --tier analytical --top 3 scenarios/claims/scenarios/llama3-70b-h100-1024.json
expect plan 0 "space +[0-9]+ plans in [0-9.]+ s \([0-9]+ plans/s, tier 1\):$" "nan|inf" -- @plan
expect plan-memory 0 "^ +[0-9]+ out of memory \([0-9]+ of them known from a smaller micro-batch\), [0-9]+ not runnable$" "" -- @plan
expect plan-bound 0 "^ +[0-9]+ estimated: [0-9]+ with the pipeline's fill and drain walked, the rest bounded$" "" -- @plan
expect plan-dominated 0 "^ +[0-9]+ without TP overlap, never faster than with it \(not modelled\)$" "" -- @plan
# --pin keeps dimensions at the scenario's values; a mistyped one is named with a suggestion.
expect plan-pin 0 "plans with tp, pp pinned in" "" -- "$flopcast" plan --tier analytical --top 3 --pin tp,pp scenarios/claims/scenarios/llama3-70b-h100-1024.json
expect plan-pin-bad 2 '"micro_batches" is not a dimension of the plan search \(did you mean "micro_batch"\?\)' "" -- "$flopcast" plan --tier analytical --pin micro_batches scenarios/claims/scenarios/llama3-70b-h100-1024.json
# A scenario pins its own: "pin" in its parallelism block, added to --pin; a name that is not a dimension is named.
python3 -c "import json; d = json.load(open('scenarios/claims/scenarios/llama3-70b-h100-1024.json')); d['parallelism']['pin'] = ['tp']; json.dump(d, open('$work/pinned.json', 'w'))"
expect plan-file-pin 0 "plans with tp, pp pinned in" "" -- "$flopcast" plan --tier analytical --top 1 --pin pp "$work/pinned.json"
"$flopcast" plan --json --tier analytical --top 1 "$work/pinned.json" >"$work/pinned-plan.json"
expect plan-file-pin-json 0 "^ok$" "" -- python3 -c "import json; d = json.load(open('$work/pinned-plan.json')); print('ok' if d['pinned'] == ['tp'] and all(c['parallelism']['tp'] == 8 for c in d['best']) else 'bad')"
python3 -c "import json; d = json.load(open('$work/pinned.json')); d['parallelism']['pin'] = ['tpp']; json.dump(d, open('$work/pinned-bad.json', 'w'))"
expect plan-file-pin-bad 2 'pinned-bad.json: /parallelism/pin/0: "tpp" is not a dimension of the plan search \(did you mean "tp"\?\)' "" -- "$flopcast" plan "$work/pinned-bad.json"
expect plan-rows 0 "^ +1 +[0-9.]+ s +[0-9.]+ s .* %.*GiB$" "" -- @plan
expect plan-file 0 "^ +file " "" -- "$flopcast" plan --tier analytical scenarios/claims/scenarios/llama3-70b-h100-1024.json
expect plan-row-plan 0 "^ {9}tp [0-9]+" "" -- @plan
# --precisions searches each plan at each precision the chip runs ("all"); the best names its own, and every CSV row its.
"$flopcast" plan --json --tier analytical --top 2 --precisions all scenarios/claims/scenarios/llama3-70b-h100-1024.json >"$work/precisions.json"
expect plan-precisions-json 0 "^ok$" "" -- python3 -c "import json; d = json.load(open('$work/precisions.json')); print('ok' if d['precisions'] == ['bf16', 'fp8'] and d['best'][0]['precision'] == 'fp8' and d['best'][0]['summary'].endswith(', fp8') and d['scenario_plan']['precision'] == 'bf16' else 'bad')"
expect plan-precisions-best 0 "^ok$" "" -- python3 -c "import json; d = json.load(open('$work/precisions.json')); b = d['best_per_precision']; print('ok' if [c['precision'] for c in b] == ['bf16', 'fp8'] and b[1]['step_time_s'] == d['best'][0]['step_time_s'] and b[0]['step_time_s'] > b[1]['step_time_s'] else 'bad')"
expect plan-precisions-text 0 "bf16, fp8 searched \\(the file: bf16\\)" "" -- "$flopcast" plan --tier analytical --top 1 --precisions bf16,fp8 scenarios/claims/scenarios/llama3-70b-h100-1024.json
expect plan-precisions-bad 2 'unknown precision "fp9" \(did you mean "fp8"\?\)' "" -- "$flopcast" plan --tier analytical --precisions fp9 scenarios/claims/scenarios/llama3-70b-h100-1024.json
expect plan-precisions-chip 2 "h100-sxm has no nvfp4 tensor cores" "" -- "$flopcast" plan --tier analytical --precisions nvfp4 scenarios/claims/scenarios/llama3-70b-h100-1024.json
"$flopcast" plan --tier analytical --all --csv "$work/precisions.csv" --precisions bf16,fp8 scenarios/claims/scenarios/llama3-70b-h100-1024.json >/dev/null
expect plan-precisions-csv 0 "^ok$" "" -- python3 -c "import csv, collections; rows = list(csv.DictReader(open('$work/precisions.csv'))); n = collections.Counter(r['precision'] for r in rows); print('ok' if set(n) == {'bf16', 'fp8'} and n['bf16'] == n['fp8'] else 'bad')"
# Plans that fit only with optimizer states in host memory are counted, and the CSV gives each its fraction.
expect plan-optimizer-offload 0 "^ +[0-9]+ fit only with optimizer states in host memory" "" -- "$flopcast" plan --tier analytical --top 1 scenarios/shipped/llama3-405b-h100.json
# plan --all --csv: every plan of the space, one row each; the estimated rows are the plans the search says fit and run.
"$flopcast" plan --tier analytical --all --csv "$work/all-plans.csv" --json scenarios/claims/scenarios/llama3-70b-h100-1024.json >"$work/all-plans.json"
expect plan-all-csv 0 "^ok$" "" -- python3 -c "import csv, json; rows = list(csv.DictReader(open('$work/all-plans.csv'))); d = json.load(open('$work/all-plans.json')); est = [float(r['step_time_s']) for r in rows if r['status'] == 'estimated']; print('ok' if len(rows) == d['enumerated'] and len(est) == d['evaluated'] and sum(r['status'] == 'out of memory' for r in rows) == d['out_of_memory'] and abs(min(est) / d['best'][0]['step_time_s'] - 1) < 1e-5 and all(r['recompute_layers'].isdigit() for r in rows) else 'bad')"
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
# Across ranks: the plan search split over two MPI ranks finds the same plans, with the same counts, as one process.
if command -v mpirun >/dev/null; then
  mpi_env
  "$flopcast" plan --json --tier analytical scenarios/claims/scenarios/llama3-70b-h100-1024.json >"$work/plan1.json"
  mpirun -np 2 --oversubscribe "$flopcast" plan --json --tier analytical scenarios/claims/scenarios/llama3-70b-h100-1024.json >"$work/plan2.json"
  expect plan-mpi-same 0 "^same$" "" -- python3 -c "import json; a, b = (json.load(open(f)) for f in ('$work/plan1.json', '$work/plan2.json')); key = lambda d: ([d[k] for k in ('enumerated', 'out_of_memory', 'invalid', 'evaluated')], [(c['parallelism'], round(c['step_time_s'], 9)) for c in d['best']]); print('same' if key(a) == key(b) else 'different')"
  # At tier 2 the root re-ranks what one process would: the best K of all ranks and each schedule's best that could
  # rank (here the best plan and at least one challenger, as many as the calibration lets rank; the counts include
  # "reranked").
  "$flopcast" plan --json --top 1 scenarios/claims/scenarios/llama3-70b-h100-1024.json >"$work/plan1r.json"
  mpirun -np 2 --oversubscribe "$flopcast" plan --json --top 1 scenarios/claims/scenarios/llama3-70b-h100-1024.json >"$work/plan2r.json"
  expect plan-mpi-rerank-same 0 "^same [2-9]$" "" -- python3 -c "import json; a, b = (json.load(open(f)) for f in ('$work/plan1r.json', '$work/plan2r.json')); key = lambda d: (d['reranked'], [(c['parallelism'], round(c['step_time_s'], 9)) for c in d['best']]); print('same' if key(a) == key(b) else 'different', b['reranked'])"
  # Several precisions across ranks: one space of both, the same best plans as one process (which searches each
  # precision's space on its own and adds each one's best).
  mpirun -np 2 --oversubscribe "$flopcast" plan --json --tier analytical --top 2 --precisions all scenarios/claims/scenarios/llama3-70b-h100-1024.json >"$work/precisions2.json"
  expect plan-mpi-precisions 0 "^same$" "" -- python3 -c "import json; a, b = (json.load(open(f)) for f in ('$work/precisions.json', '$work/precisions2.json')); key = lambda d: (d['enumerated'], d['precisions'], [(c['parallelism'], c['precision'], round(c['step_time_s'], 9)) for c in d['best']]); print('same' if key(a) == key(b) and 'best_per_precision' not in b else 'different')"
else
  echo "SKIP plan-mpi: mpirun not installed (./flopcast.sh installs openmpi-bin)"
fi

finish cli-plan
