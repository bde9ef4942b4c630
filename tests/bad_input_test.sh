#!/usr/bin/env bash
# Bad input tried as a new user would: each case checks the exact message on standard error, that nothing reaches
# standard output, and the exit code (2: the input's fault). Usage: bad_input_test.sh FLOPCAST SOURCE_ROOT
set -u
flopcast="$1"
root="$(cd "$2" && pwd)"
work="$(mktemp -d)"
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
passed=0
failed=0

# exact NAME CODE EXPECTED_STDERR -- COMMAND... (run in the work folder, so messages hold relative names)
exact() {
  local name="$1" code="$2" expected="$3"
  shift 4
  local out err status
  out="$(cd "$work" && "$@" 2>"$work/.stderr")"
  status=$?
  err="$(cat "$work/.stderr")"
  if [ "$status" -ne "$code" ] || [ "$err" != "$expected" ] || { [ "$code" -ne 0 ] && [ -n "$out" ]; }; then
    echo "FAIL $name: exit $status (expected $code)"
    echo "  expected: $expected"
    echo "  got:      $err"
    [ -n "$out" ] && [ "$code" -ne 0 ] && echo "  and standard output: $(head -c 300 <<<"$out")"
    failed=$((failed + 1))
    return
  fi
  passed=$((passed + 1))
}

# check NAME STATUS CONDITION_STATUS: for cases that check more than exact() can (output, a file, one line of several)
check() {
  if [ "$3" -eq 0 ]; then
    passed=$((passed + 1))
  else
    echo "FAIL $1: exit $2, stderr: $(head -c 400 "$work/.stderr")"
    failed=$((failed + 1))
  fi
}

# A valid scenario, then variants of it with one thing wrong.
base="$root/scenarios/shipped/llama3-405b-h100.json"
variant() {  # variant FILE PYTHON_STATEMENT_ON_d
  python3 - "$base" "$work/$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(d, open(sys.argv[2], "w"), indent=1)
PY
}
text_variant() {  # text_variant FILE OLD NEW: a replacement in the text, for what JSON itself cannot hold
  python3 - "$base" "$work/$1" "$2" "$3" <<'PY'
import sys
text = open(sys.argv[1]).read()
assert sys.argv[3] in text
open(sys.argv[2], "w").write(text.replace(sys.argv[3], sys.argv[4], 1))
PY
}

exact missing-file 2 "flopcast: error: nothing.json: no such file" -- "$flopcast" run nothing.json
mkdir "$work/folder"
exact directory 2 "flopcast: error: folder: is a directory, expected a file" -- "$flopcast" run folder
: >"$work/empty.json"
exact empty-file 2 "flopcast: error: empty.json: is empty, expected a JSON object" -- "$flopcast" run empty.json
printf '{"model": "llama3-8b",\n "cluster": {"chip": "h100-sxm" "chips": 8}}\n' >"$work/syntax.json"
exact invalid-json 2 "flopcast: error: syntax.json: invalid JSON at line 2, column 39: syntax error while parsing object - unexpected string literal; expected '}'" -- "$flopcast" run syntax.json
variant wrong-type.json 'd["cluster"]["chips"] = "16k"'
exact wrong-type 2 'flopcast: error: wrong-type.json: /cluster/chips: expected an integer from 1 to 1073741824, got the string "16k"' -- "$flopcast" run wrong-type.json
variant wrong-type-object.json 'd["parallelism"] = [8, 16, 128]'
exact wrong-type-object 2 'flopcast: error: wrong-type-object.json: /parallelism: expected an object, got an array' -- "$flopcast" run wrong-type-object.json
variant negative.json 'd["cluster"]["chips"] = -16384'
exact negative-count 2 "flopcast: error: negative.json: /cluster/chips: expected an integer from 1 to 1073741824, got -16384" -- "$flopcast" run negative.json
variant zero.json 'd["parallelism"]["tp"] = 0'
exact zero-count 2 "flopcast: error: zero.json: /parallelism/tp: expected an integer from 1 to 1073741824, got 0" -- "$flopcast" run zero.json
variant zero-tokens.json 'd["training"]["tokens"] = 0'
exact zero-tokens 2 "flopcast: error: zero-tokens.json: /training/tokens: expected a number > 0 and <= 1e+18, got 0" -- "$flopcast" run zero-tokens.json
text_variant nan.json '"seq_len": 8192' '"seq_len": NaN'
exact nan 2 "flopcast: error: nan.json: invalid JSON at line 28, column 16: syntax error while parsing value - invalid literal; last read: '\"seq_len\": N' (JSON has no NaN or Infinity: give a finite number)" -- "$flopcast" run nan.json
text_variant infinity.json '"tokens": 15600000000000.0' '"tokens": 1e999'
exact infinity 2 "flopcast: error: infinity.json: invalid JSON at line 31, column 15: the number 1e999 is beyond the range of a double (every number must be finite)" -- "$flopcast" run infinity.json
variant huge-count.json 'd["cluster"]["chips"] = 1e30'
exact huge-count 2 "flopcast: error: huge-count.json: /cluster/chips: expected an integer from 1 to 1073741824, got 1e+30" -- "$flopcast" run huge-count.json
variant huge-tokens.json 'd["training"]["tokens"] = 1e300'
exact huge-tokens 2 "flopcast: error: huge-tokens.json: /training/tokens: expected a number > 0 and <= 1e+18, got 1e+300" -- "$flopcast" run huge-tokens.json
variant unknown-chip.json 'd["cluster"]["chip"] = "h100"'
exact unknown-chip 2 'flopcast: error: unknown-chip.json: /cluster/chip: unknown chip "h100" (did you mean "h100-sxm"?); known: a100-sxm-80gb, a800-sxm-80gb, h100-sxm, h100-sxm-96gb, h100-pcie, h800-sxm, h20, h200-sxm, b200, gb200, b300, gb300, ascend-910b, ascend-910c, ascend-950pr' -- "$flopcast" run unknown-chip.json
variant unknown-model.json 'd["model"] = "llama-3-405b"'
exact unknown-model 2 'flopcast: error: unknown-model.json: /model: unknown model "llama-3-405b" (did you mean "llama3-405b"?); known: bloom-176b, deepseek-v2-lite, deepseek-v2, deepseek-v3, gpt-oss-120b, gpt-oss-20b, gpt3-175b, kimi-k2, llama2-13b, llama2-70b, llama2-7b, llama3-405b, llama3-70b, llama3-8b, llama4-scout, mixtral-8x22b, mixtral-8x7b, nemotron3-nano, nemotron3-super, nemotron3-ultra, nemotron4-15b, nemotron4-340b, opt-175b, pangu-ultra-135b, pangu-ultra-moe-718b, qwen2-57b-a14b, qwen3-235b-a22b, qwen3-30b-a3b, qwen3-32b, qwen3-8b, rumored-1.2t-moe' -- "$flopcast" run unknown-model.json
variant unknown-key.json 'd["training"]["seq_length"] = 8192'
exact unknown-key 2 'flopcast: error: unknown-key.json: /training/seq_length: unknown key (did you mean "seq_len"?)' -- "$flopcast" run unknown-key.json
variant product.json 'd["parallelism"]["dp"] = 64'
exact parallel-product 2 "flopcast: error: product.json: /parallelism: tp x pp x cp x dp = 8 x 16 x 1 x 64 = 8192, but /cluster/chips is 16384" -- "$flopcast" run product.json
variant indivisible.json 'd["parallelism"]["micro_batch"] = 3'
exact indivisible 2 "flopcast: error: indivisible.json: /training/global_batch: 2048 is not a multiple of dp x micro_batch = 128 x 3 = 384" -- "$flopcast" run indivisible.json
# A plan that does not fit is still estimated (what it would do with the memory), with a warning no one can miss.
variant no-fit.json 'd["cluster"]["chips"] = 64; d["parallelism"].update(tp=8, pp=8, dp=1, vpp=1, schedule="1f1b"); d["training"]["global_batch"] = 64'
exact no-fit 0 "flopcast: warning: no-fit.json: the plan does not fit in memory: stage 0 needs 178 GiB per chip, 76.0 GiB usable; the times assume it did (\`flopcast plan no-fit.json\` searches plans that fit)" -- "$flopcast" run --tier analytical no-fit.json
exact no-fit-json 0 "flopcast: warning: no-fit.json: the plan does not fit in memory: stage 0 needs 178 GiB per chip, 76.0 GiB usable; the times assume it did (\`flopcast plan no-fit.json\` searches plans that fit)" -- "$flopcast" run --tier analytical --json no-fit.json
exact plan-all-without-csv 2 "flopcast: error: --all: --all and --csv go together: flopcast plan SCENARIO --all --csv FILE writes every plan" -- "$flopcast" plan --all "$base"
# A mistyped command or option gets the name it was most likely meant to be.
exact mistyped-command 2 'flopcast: error: unknown command "runn" (did you mean "run"?); the commands are run, validate, calibrate, claims, sweep, plan, compare, serve, report, fleet, catalog, import-hf
Run with --help for more information.' -- "$flopcast" runn x.json
exact mistyped-option 2 'flopcast: error: run: unknown option --teir (did you mean "--tier"?)
Run with --help for more information.' -- "$flopcast" run --teir full x.json
exact mistyped-subcommand 2 'flopcast: error: catalog: unknown command "chipz" (did you mean "chips"?); the commands are chips, models, show
Run with --help for more information.' -- "$flopcast" catalog chipz
QT_QPA_PLATFORM=offscreen exact no-fit-report 0 "flopcast: warning: no-fit.json: the plan does not fit in memory: stage 0 needs 178 GiB per chip, 76.0 GiB usable; the times assume it did (\`flopcast plan no-fit.json\` searches plans that fit)" -- "$flopcast" report --quiet --tier analytical no-fit.json -o no-fit-report
variant ten-mb.json 'd["description"] = "x" * 10_000_000'
exact ten-mb 2 "flopcast: error: ten-mb.json: is larger than 4.00 MiB, the most a JSON input may be (a scenario is a few kB); is it the right file?" -- "$flopcast" run ten-mb.json
# Regular files only: a device, a FIFO (which would block the reader forever) or a socket is refused by its type.
exact dev-zero 2 "flopcast: error: /dev/zero: is a character device, expected a regular file" -- "$flopcast" run /dev/zero
mkfifo "$work/fifo.json"
exact fifo 2 "flopcast: error: fifo.json: is a FIFO (named pipe), expected a regular file" -- timeout 10 "$flopcast" run fifo.json
mkdir "$work/fifo-folder" && mkfifo "$work/fifo-folder/a.json"
exact fifo-in-validate-folder 2 "flopcast: error: fifo-folder/a.json: is a FIFO (named pipe), expected a regular file" -- timeout 10 "$flopcast" validate fifo-folder
ln -s nowhere.json "$work/dangling.json"
exact dangling-link 2 "flopcast: error: dangling.json: is a symbolic link to nowhere.json, which does not exist" -- "$flopcast" run dangling.json
ln -s loop-b.json "$work/loop-a.json" && ln -s loop-a.json "$work/loop-b.json"
exact link-loop 2 "flopcast: error: loop-a.json: has a loop of symbolic links in its path" -- "$flopcast" run loop-a.json
long="$(printf 'x%.0s' $(seq 1 300)).json"
exact long-name 2 "flopcast: error: $long: has a name longer than the system allows" -- "$flopcast" run "$long"
# Duplicate keys: nlohmann would keep the last "model" and run it under the first one's name.
text_variant duplicate-key.json '"model": "llama3-405b",' '"model": "llama3-405b", "model": "llama3-8b",'
exact duplicate-key 2 "flopcast: error: duplicate-key.json: /model: appears twice in its object; JSON keys must be unique (the last one would win in silence)" -- "$flopcast" run duplicate-key.json
python3 -c 'print("{\"x\": " + "[" * 100000 + "]" * 100000 + "}")' >"$work/deep.json"
exact deep-nesting 2 "flopcast: error: deep.json: $(python3 -c 'print("/x" + "/0" * 63)'): nests deeper than 64 levels; no flopcast input needs more than a few" -- "$flopcast" run deep.json
# Control characters in names would act on the terminal they are printed to.
variant escape-name.json 'd["name"] = "red \x1b[31m name"'
exact control-character 2 "flopcast: error: escape-name.json: /name: holds a control character (byte 0x1B at offset 4); strings are printed on terminals and into reports, where it would act" -- "$flopcast" run escape-name.json
printf '{"name": "Caf\xe9", "model": "llama3-8b"}' >"$work/latin1.json"
exact not-utf8 2 "flopcast: error: latin1.json: is not UTF-8 text: byte 0xE9 at line 1, column 14 (not valid UTF-8); save it as UTF-8 JSON" -- "$flopcast" run latin1.json
head -c 64 /bin/sh >"$work/binary.json"
exact binary 2 "flopcast: error: binary.json: is not UTF-8 text: byte 0x00 at line 1, column 8 (a NUL byte: a binary file?); save it as UTF-8 JSON" -- "$flopcast" run binary.json
variant several-a.json 'd["cluster"]["chips"] = 0; d["parallelism"]["tp"] = "eight"'
exact every-problem 2 "flopcast: error: several-a.json: /cluster/chips: expected an integer from 1 to 1073741824, got 0
flopcast: error: several-a.json: /parallelism/tp: expected an integer from 1 to 1073741824, got the string \"eight\"" -- "$flopcast" run several-a.json

# Work bounds, checked before the work (issue 25, items 9-12).
variant huge-batch.json 'd["training"]["global_batch"] = 2**40'
exact micro-batch-limit 2 "flopcast: error: huge-batch.json: /training/global_batch: 1099511627776 sequences make 8589934592 micro-batches per step (over dp x micro_batch = 128); at most 100000 (the published plans run a few thousand at most)" -- "$flopcast" run huge-batch.json
variant deep-model.json 'd["model"] = {"name": "deep", "layers": 1000000, "hidden": 1024, "ffn": 4096, "heads": 8, "vocab": 32000}'
exact layers-limit 2 "flopcast: error: deep-model.json: /model/layers: expected an integer from 1 to 10000, got 1000000" -- "$flopcast" run deep-model.json
exact simulation-budget 2 "flopcast: error: $base: tier replica would simulate for about 262.1 ms here (16 micro-batches x 126 layers), more than the 60.0 ms allowed; raise the limit (flopcast run --max-minutes) or use tier analytical, which answers at once" -- "$flopcast" run --quiet --max-minutes 0.001 "$base"
python3 - "$root/scenarios/fleet/hopper-50k.json" "$work/fleet-many.json" "$root/scenarios/fleet" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1]))
for entry in d.get("training", []) + d.get("serving", []):
    entry["scenario"] = os.path.join(sys.argv[3], entry["scenario"])
job = dict(d["training"][0], repeat={"count": 1000, "every_days": 1})
d["training"] = [dict(job, name=f"job {i}") for i in range(11)]
json.dump(d, open(sys.argv[2], "w"))
PY
exact fleet-job-limit 2 "flopcast: error: fleet-many.json: /training/10: brings the fleet to 11000 jobs (repeats counted); at most 10000 in one fleet file" -- "$flopcast" fleet fleet-many.json
serving="$root/scenarios/serving/deepseek-v3-h800.json"
python3 - "$serving" "$work" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1]))
d["serving"]["workload"] = {"arrival": "trace", "trace": "/dev/zero"}
json.dump(d, open(os.path.join(sys.argv[2], "serve-trace.json"), "w"))
d["serving"]["workload"] = {"arrival": "poisson", "rate_per_s": 1e9, "requests": 100000000, "input_tokens": 100,
                            "output_tokens": 10}
json.dump(d, open(os.path.join(sys.argv[2], "serve-many.json"), "w"))
PY
exact serving-trace-device 2 "flopcast: error: serve-trace.json: /serving/workload/trace: trace file /dev/zero: is a character device, expected a regular file" -- "$flopcast" serve serve-trace.json
exact serving-request-limit 2 "flopcast: error: serve-many.json: /serving/workload/requests: expected an integer from 1 to 1000000, got 100000000" -- "$flopcast" serve serve-many.json
mkdir "$work/read-only" && chmod 555 "$work/read-only"
if [ "$(id -u)" -ne 0 ]; then
  exact validate-read-only-out 2 "flopcast: error: read-only: cannot write: Permission denied" -- "$flopcast" validate --quiet --out read-only
fi

# The other commands read the same way.
exact sweep-missing 2 "flopcast: error: nothing.json: no such file" -- "$flopcast" sweep nothing.json
printf '{"base": "%s", "axes": [{"path": "/cluster/chips", "values": []}]}' "$base" >"$work/sweep-empty.json"
exact sweep-empty-axis 2 "flopcast: error: sweep-empty.json: /axes/0/values: expected at least one value" -- "$flopcast" sweep sweep-empty.json
printf '{"base": "%s", "axes": [{"path": "/cluster/gpus", "values": [8]}, {"path": "/training/seq_len", "values": ["8k"]}]}' "$base" >"$work/sweep-bad.json"
exact sweep-bad-axes 2 'flopcast: error: sweep-bad.json: /axes/0/values/0: 8 at /cluster/gpus: unknown key
flopcast: error: sweep-bad.json: /axes/1/values/0: "8k" at /training/seq_len: expected an integer from 1 to 16777216, got the string "8k"' -- "$flopcast" sweep sweep-bad.json
printf '{"base": "%s", "axes": [{"path": "/fleet/size", "values": [8]}]}' "$base" >"$work/sweep-path.json"
exact sweep-no-path 2 'flopcast: error: sweep-path.json: /axes/0/path: "/fleet/size" is not a field of the base scenario (nor a key of an object in it)' -- "$flopcast" sweep sweep-path.json
printf '{"base": "%s", "axes": [{"path": "", "values": [8]}]}' "$base" >"$work/sweep-empty-path.json"
exact sweep-empty-path 2 'flopcast: error: sweep-empty-path.json: /axes/0/path: is empty; expected a JSON pointer into the base scenario (for example "/cluster/chips")' -- "$flopcast" sweep sweep-empty-path.json
python3 - "$root/scenarios/fleet/hopper-50k.json" "$work" "$root/scenarios/fleet" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1]))
for entry in d.get("training", []) + d.get("serving", []):  # the scenarios stay where they are
    entry["scenario"] = os.path.join(sys.argv[3], entry["scenario"])
json.dump(d, open(os.path.join(sys.argv[2], "fleet-ok.json"), "w"))
d["start_date"] = "2025-02-30"
json.dump(d, open(os.path.join(sys.argv[2], "fleet-date.json"), "w"))
PY
exact fleet-bad-date 2 'flopcast: error: fleet-date.json: /start_date: expected a calendar date "YYYY-MM-DD", got "2025-02-30"' -- "$flopcast" fleet fleet-date.json
# An output over one of the command's own inputs is refused before anything is written.
cp "$base" "$work/own.json"
exact trace-over-input 2 "flopcast: error: own.json: is an input of this command (read as own.json); write the output to another file" -- "$flopcast" run --quiet --trace own.json own.json
cmp -s "$base" "$work/own.json"
check trace-over-input-leaves-the-input-unchanged 2 $?
exact fleet-over-input 2 "flopcast: error: fleet-ok.json: is an input of this command (read as fleet-ok.json); write the output to another file" -- "$flopcast" fleet fleet-ok.json --out fleet-ok.json
exact serve-training-file 2 "flopcast: error: $base: /serving: is required to serve: this is a training scenario (use flopcast run)" -- "$flopcast" serve "$base"
exact plan-missing 2 "flopcast: error: nothing.json: no such file" -- "$flopcast" plan nothing.json
exact import-hf-not-utf8 2 "flopcast: error: latin1.json: is not UTF-8 text: byte 0xE9 at line 1, column 14 (not valid UTF-8); save it as UTF-8 JSON" -- "$flopcast" import-hf latin1.json
printf '{"architectures": ["LlamaForCausalLM"], "hidden_size": 4096}' >"$work/config.json"
exact import-hf-incomplete 2 "flopcast: error: config.json: /model_type: is missing: expected one of llama, mistral, qwen2, qwen3, qwen3_moe, mixtral, deepseek_v2, deepseek_v3 (is this a Hugging Face config.json?)" -- "$flopcast" import-hf config.json
exact claims-not-folder 2 "flopcast: error: nothing: no such folder (expected a folder of claim files)" -- "$flopcast" claims nothing
exact report-no-input 2 "flopcast: error: report: give scenario or sweep files, or --claims DIR" -- "$flopcast" report -o out

# Messages that name where a problem comes from (issue 25, item 16).
printf '{"base": "nothere.json", "axes": [{"path": "/cluster/chips", "values": [16]}]}' >"$work/sweep-nobase.json"
exact sweep-missing-base 2 "flopcast: error: nothere.json: no such file (named at sweep-nobase.json: /base)" -- "$flopcast" sweep sweep-nobase.json
printf '{"base": "%s", "axes": [{"path": "/cluster/chips", "values": [16]}]}' "$root/scenarios/serving/deepseek-v3-h800.json" >"$work/sweep-serving.json"
exact sweep-serving-base 2 'flopcast: error: sweep-serving.json: /base: is a serving deployment (a "serving" section); a sweep runs training scenarios (flopcast serve --search searches deployments)' -- "$flopcast" sweep sweep-serving.json
python3 - "$work" <<'PY'
import json, os, sys
fleet = json.load(open(os.path.join(sys.argv[1], "fleet-ok.json")))
fleet["training"][0]["scenario"] = "nothere.json"
json.dump(fleet, open(os.path.join(sys.argv[1], "fleet-missing.json"), "w"))
PY
exact fleet-missing-scenario 2 "flopcast: error: nothere.json: no such file (named at fleet-missing.json: /training/0/scenario)" -- "$flopcast" fleet fleet-missing.json
printf '{"model_type": "llama", "num_hidden_layers": 32, "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32, "num_key_value_heads": 7, "vocab_size": 128256}' >"$work/config-gqa.json"
exact import-hf-kv-heads 2 "flopcast: error: config-gqa.json: /num_key_value_heads: must divide num_attention_heads (32), got 7" -- "$flopcast" import-hf config-gqa.json

# One dangling link among good files: the others are validated and written, and the exit status still says 2.
mkdir "$work/mixed-folder" && cp "$root/scenarios/validation/mbridge2511-h100-llama3-8B-8gpu.json" "$work/mixed-folder/"
ln -s nowhere.json "$work/mixed-folder/b.json"
out="$(cd "$work" && "$flopcast" validate mixed-folder 2>"$work/.stderr")"
status=$?
expected="flopcast: error: files of mixed-folder that could not be validated (left out above):
  mixed-folder/b.json: is a symbolic link to nowhere.json, which does not exist"
[ "$status" -eq 2 ] && [ "$(cat "$work/.stderr")" = "$expected" ] &&
  grep -q "Validation against 1 published training runs" <<<"$out"
check validate-dangling-link-among-good-files "$status" $?
# A claim file naming a scenario that is not there: the message says which claim, at which JSON path.
mkdir "$work/claims-missing"
printf '{"claim": "c", "source": "s", "checks": [{"label": "l", "scenario": "nothere.json", "metric": "train_days"}]}' \
  >"$work/claims-missing/c.json"
exact claim-missing-scenario 2 "flopcast: error: claims-missing/nothere.json: no such file (named at claims-missing/c.json: /checks/0/scenario)" -- "$flopcast" claims claims-missing

# A long axis is checked value by value before any point runs: the check says so when it starts (it is not silent).
python3 - "$work" "$root/scenarios/shipped/llama3-405b-h100.json" <<'PY'
import json, os, sys
values = [1e12 + i for i in range(9999)] + [-1]
json.dump({"base": sys.argv[2], "axes": [{"path": "/training/tokens", "values": values}]},
          open(os.path.join(sys.argv[1], "sweep-long.json"), "w"))
PY
(cd "$work" && "$flopcast" sweep sweep-long.json --out sweep-long >/dev/null 2>"$work/.stderr")
status=$?
[ "$status" -eq 2 ] && [ "$(head -1 "$work/.stderr")" = "sweep sweep-long.json: checking 10000 axis values in the base scenario" ] &&
  grep -q "/axes/0/values/9999: -1 at /training/tokens" "$work/.stderr"
check sweep-long-axis-check "$status" $?

echo "bad input: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
