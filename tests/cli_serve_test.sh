#!/usr/bin/env bash
# CLI behaviour of serve and fleet: exit codes, required and forbidden output. Usage: cli_serve_test.sh FLOPCAST SOURCE_ROOT
source "$(dirname "$0")/cli_lib.sh"

# Serving.
served="scenarios/serving/deepseek-v3-h800.json"
once serve -- "$flopcast" serve "$served"
expect serve-summary 0 "TPOT +p50 [0-9.]+ ms" "nan|inf" -- @serve
expect serve-cost 0 '^ +\$[0-9.]+ per M output tokens \(\$[0-9.]+ per M tokens overall\)' "" -- @serve
expect serve-cost-input 0 'per M input tokens,$' "" -- @serve
expect serve-throughput 0 "output +[0-9.]+ k? ?tokens/s \\([0-9.]+ k? ?per chip" "" -- @serve
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
once serve-validate -- "$flopcast" serve --validate "${validated[@]}"
expect serve-validate-rows 0 "^trtllm-perfov-llama3.3-70b-h200-sxm-tp2-1024-1024 +TensorRT-LLM +balanced +2.58 k +[0-9.]+ k +[-+][0-9.]+ %$" "nan|inf" -- @serve-validate
expect serve-validate-bound 0 "> 100 k .*\((bound met|below the bound)\)$" "" -- @serve-validate
expect serve-validate-slices 0 "^engine SGLang +1 +[0-9.]+ % +[0-9.]+ % +[-+][0-9.]+ %$" "" -- @serve-validate
expect serve-validate-unpublished 2 "deepseek-v3-h800.json: /serving/published: is required to validate against" "" -- "$flopcast" serve --validate "$served"
expect serve-validate-search 2 "--search excludes --validate|--validate excludes --search" "" -- "$flopcast" serve --validate --search "$served"
"$flopcast" serve --json "$served" >"$work/serve.json"
expect serve-json 0 "^ok" "" -- python3 -c "import json; r = json.load(open('$work/serve.json'))['result']; print('ok' if r['requests'] > 0 and r['ttft']['p99_s'] >= r['ttft']['p50_s'] > 0 and r['usd_per_m_output'] > 0 and r['kwh_per_mtok'] > 0 else 'bad')"
expect serve-json-ranges 0 "^ok" "" -- python3 -c "import json; r = json.load(open('$work/serve.json'))['result']; lo, hi = r['p10_p90']['output_tokens_per_s_per_chip']; print('ok' if lo < r['output_tokens_per_s_per_chip'] < hi and r['log_sigma'] > 0 else 'bad')"
expect serve-range 0 "^  80 % range   output [0-9.]+ k? ?to [0-9.]+ k? ?tokens/s per chip; TTFT p50 [0-9.]+ to [0-9.]+ (ms|s);" "nan|inf" -- @serve
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
once fleet -- "$flopcast" fleet "$fleet"
expect fleet-summary 0 "delivered +[0-9.]+e\+[0-9]+ model FLOP within the horizon = [0-9.e+]+ FLOP/s-years" "nan|inf" -- @fleet
expect fleet-dates 0 "^  run #2 +h100 +64 2025-01-02 2025-01-03  finished$" "" -- @fleet
expect fleet-width 0 "^ok$" "" -- python3 -c "import subprocess; t = subprocess.run(['$flopcast', 'fleet', 'scenarios/fleet/hopper-50k.json'], capture_output=True, text=True).stdout; print('ok' if max(map(len, t.splitlines())) <= 100 else 'wide')"
expect fleet-power 0 "dc +0\.50 MW +0\.[0-9]+ MW" "" -- @fleet
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

finish cli-serve
