#!/usr/bin/env bash
# Outputs: written whole or not at all, and the same bytes every time.
#   atomic  a read-only folder and a file-size limit (ulimit -f) give a clear error, exit code 2, and leave the old
#           outputs byte for byte; a sweep stopped by a full disk resumes to exactly the output of an unbroken run
#   determinism  the same inputs give byte-identical JSON and CSV across runs and across worker counts
# Usage: outputs_test.sh atomic|determinism FLOPCAST SOURCE_ROOT
set -u
mode="$1"
flopcast="$2"
root="$(cd "$3" && pwd)"
work="$(mktemp -d)"
chmod 755 "$work"
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
cd "$root" || exit 1
passed=0
failed=0
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
pass() { passed=$((passed + 1)); }
# first_child PID: the first child process of PID, waiting up to 5 s for it to start ("" if none did).
first_child() {
  local child=""
  for _ in $(seq 1 100); do
    child="$(pgrep -P "$1" | head -1)"
    [ -n "$child" ] && break
    sleep 0.05
  done
  echo "$child"
}
digest() { (cd "$1" && find . -type f ! -name '.*' -print0 | sort -z | xargs -0 md5sum) | md5sum; }

# A folder only root can write: root ignores permissions, so root runs the command as nobody.
as_unprivileged() {
  if [ "$(id -u)" -eq 0 ]; then setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; else "$@"; fi
}

scenario=scenarios/shipped/deepseek-v3-h800.json
case "$mode" in
  atomic)
    # The report: computed in full, then every file staged beside its place before any is renamed.
    "$flopcast" report --quiet --tier analytical "$scenario" -o "$work/r" >/dev/null 2>&1 || fail "first report"
    before="$(digest "$work/r")"
    chmod -R a-w "$work/r"
    out="$(as_unprivileged "$flopcast" report --quiet --tier analytical --title changed "$scenario" -o "$work/r" 2>&1)"
    status=$?
    if [ "$status" -ne 2 ]; then fail "read-only report: exit $status, expected 2: $out"; else pass; fi
    if grep -qE "^flopcast: error: $work/r/charts/[a-z0-9_-]+\.svg: cannot write: Permission denied$" <<<"$out"; then pass
    else fail "read-only report: unclear message: $out"; fi
    [ "$(digest "$work/r")" = "$before" ] && pass || fail "read-only report: the old report changed"
    chmod -R u+w "$work/r"

    # A file-size limit of 64 kB: some of the report's files are larger, so staging fails part way.
    out="$(ulimit -f 64; "$flopcast" report --quiet --tier analytical --title changed "$scenario" -o "$work/r" 2>&1)"
    status=$?
    if [ "$status" -ne 2 ]; then fail "size-limited report: exit $status, expected 2: $out"; else pass; fi
    if grep -qE "^flopcast: error: $work/r/[a-z/._-]+: write failed: File too large; the previous file, if any, is unchanged$" <<<"$out"; then pass
    else fail "size-limited report: unclear message: $out"; fi
    [ "$(digest "$work/r")" = "$before" ] && pass || fail "size-limited report: the old report changed"
    if ls -A "$work/r" "$work/r/charts" | grep -q '^\.'; then fail "temporary files left behind"; else pass; fi

    # The trace of a simulated step, into a folder that cannot be written.
    mkdir "$work/ro" && echo old >"$work/ro/trace.json" && chmod 555 "$work/ro" && chmod 444 "$work/ro/trace.json"
    as_unprivileged "$flopcast" run --quiet --trace "$work/ro/trace.json" "$scenario" >/dev/null 2>"$work/trace.err"
    status=$?
    out="$(grep -v warning "$work/trace.err")"
    [ "$status" -eq 2 ] && [ "$out" = "flopcast: error: $work/ro/trace.json: cannot write: Permission denied" ] && pass ||
      fail "read-only trace: exit $status: $out"
    [ "$(cat "$work/ro/trace.json")" = old ] && pass || fail "read-only trace: the old file changed"

    # A sweep streams its rows; a full disk stops it with a clear error and no row lost or half written, and
    # --resume then finishes it to exactly what an unbroken run writes.
    sweep=tests/data/report-sweep.json
    "$flopcast" sweep --quiet --jobs 2 "$sweep" --out "$work/whole" >/dev/null 2>&1 || fail "unbroken sweep"
    out="$(ulimit -f 2; "$flopcast" sweep --quiet --jobs 2 "$sweep" --out "$work/broken" 2>&1)"
    status=$?
    [ "$status" -eq 2 ] && grep -qE "^flopcast: error: $work/broken\.partial\.(csv|jsonl): write failed: File too large$" <<<"$out" && pass || fail "size-limited sweep: exit $status: $out"
    "$flopcast" sweep --quiet --jobs 2 --resume "$sweep" --out "$work/broken" >/dev/null 2>&1 || fail "resumed sweep"
    cmp -s "$work/whole.csv" "$work/broken.csv" && cmp -s "$work/whole.jsonl" "$work/broken.jsonl" && pass ||
      fail "the resumed sweep differs from an unbroken one"
    [ ! -e "$work/broken.partial.csv" ] && [ ! -e "$work/broken.partial.jsonl" ] && pass || fail "partial files left"

    # --force over finished outputs on a full disk: the rows go to PREFIX.partial.*, the finished files stay.
    before="$(md5sum "$work/whole.csv" "$work/whole.jsonl")"
    out="$(ulimit -f 2; "$flopcast" sweep --quiet --jobs 2 --force "$sweep" --out "$work/whole" 2>&1)"
    status=$?
    [ "$status" -eq 2 ] && [ "$(md5sum "$work/whole.csv" "$work/whole.jsonl")" = "$before" ] && pass ||
      fail "sweep --force on a full disk: exit $status, or the finished outputs changed: $out"

    # One writer per prefix: a second sweep while the first holds the lock is refused, and writes nothing.
    flock "$work/.whole.lock" sleep 5 &
    holder=$!
    sleep 0.5
    out="$("$flopcast" sweep --quiet --jobs 2 --force "$sweep" --out "$work/whole" 2>&1)"
    status=$?
    [ "$status" -eq 2 ] && [ "$out" = "flopcast: error: $work/whole: another flopcast is writing these outputs (it holds $work/.whole.lock); wait for it to finish or choose another --out" ] &&
      pass || fail "concurrent sweep: exit $status: $out"
    kill "$holder" 2>/dev/null
    wait "$holder" 2>/dev/null

    # Standard output that cannot be written (a full disk): exit 1 and a message, never a silent exit 0.
    out="$("$flopcast" run --json --tier analytical "$scenario" 2>&1 >/dev/full)"
    status=$?
    [ "$status" -eq 1 ] && grep -q "^flopcast: error: writing standard output failed" <<<"$out" && pass ||
      fail "stdout on /dev/full: exit $status: $out"

    # A sweep worker that dies (kill -9) is flopcast's failure, not the user's: exit 1 and the point it was on.
    printf '{"base": "%s", "tier": "replica", "axes": [{"path": "/training/tokens", "values": [1e12, 2e12, 3e12, 4e12, 5e12, 6e12, 7e12, 8e12]}]}' \
      "$(pwd)/scenarios/shipped/llama3-405b-h100.json" >"$work/sweep-kill.json"
    "$flopcast" sweep --quiet --jobs 2 "$work/sweep-kill.json" --out "$work/killed" >/dev/null 2>"$work/killed.err" &
    parent=$!
    worker="$(first_child "$parent")"
    [ -n "$worker" ] && kill -9 "$worker"
    wait "$parent"
    status=$?
    [ "$status" -eq 1 ] && grep -qE "^flopcast: internal error: the sweep worker for point [0-9]+ stopped without a result$" \
      "$work/killed.err" && pass || fail "killed sweep worker: exit $status: $(cat "$work/killed.err")"

    # The simulation engine, a child process, dies with flopcast (kill -9 included).
    "$flopcast" run --quiet --tier full scenarios/claims/scenarios/llama3-70b-h100-1024.json >/dev/null 2>&1 &
    parent=$!
    engine="$(first_child "$parent")"
    kill -9 "$parent"
    wait "$parent" 2>/dev/null
    sleep 0.5
    # Gone, or a zombie waiting for an init that does not reap (as in some containers): either way not running.
    state="$(ps -o stat= -p "$engine" 2>/dev/null)"
    if [ -z "$engine" ]; then fail "no engine child seen"
    elif [ -n "$state" ] && [ "${state#Z}" = "$state" ]; then fail "the engine outlived flopcast ($state)"; kill -9 "$engine"
    else pass; fi
    ;;
  determinism)
    same() {  # same NAME FILE_A FILE_B
      if cmp -s "$2" "$3"; then pass; else fail "$1: outputs differ"; diff "$2" "$3" | head -5; fi
    }
    for k in 1 2; do
      "$flopcast" run --json --quiet "$scenario" scenarios/shipped/llama3-70b-h800-h20-mixed.json >"$work/run$k.json" 2>/dev/null
      "$flopcast" run --json --quiet --tier analytical scenarios/shipped/llama3-405b-h100-failures.json >"$work/failures$k.json" 2>/dev/null
      "$flopcast" serve --json scenarios/serving/llama3-405b-h100.json >"$work/serve$k.json" 2>/dev/null
      "$flopcast" plan --json --tier analytical --top 3 scenarios/shipped/llama3-405b-h100.json >"$work/plan$k.json"
      "$flopcast" claims --json --quiet --tier analytical >"$work/claims$k.json"
      "$flopcast" fleet --json scenarios/fleet/hopper-50k.json >"$work/fleet$k.json"
      "$flopcast" report --quiet --tier analytical "$scenario" tests/data/report-sweep.json -o "$work/report$k" >/dev/null
    done
    same "run (tier 2)" "$work/run1.json" "$work/run2.json"
    same "run with failures (Monte Carlo)" "$work/failures1.json" "$work/failures2.json"
    same "serve (tier 2)" "$work/serve1.json" "$work/serve2.json"
    same "plan" "$work/plan1.json" "$work/plan2.json"
    same "claims" "$work/claims1.json" "$work/claims2.json"
    same "fleet" "$work/fleet1.json" "$work/fleet2.json"
    same "report CSV" "$work/report1/report.csv" "$work/report2/report.csv"
    same "report Markdown" "$work/report1/report.md" "$work/report2/report.md"
    # Worker counts: one process, two, and five.
    for jobs in 1 2 5; do
      "$flopcast" sweep --quiet --jobs "$jobs" tests/data/report-sweep.json --out "$work/sweep$jobs" >/dev/null
    done
    for jobs in 2 5; do
      same "sweep CSV, $jobs workers" "$work/sweep1.csv" "$work/sweep$jobs.csv"
      same "sweep JSON Lines, $jobs workers" "$work/sweep1.jsonl" "$work/sweep$jobs.jsonl"
    done
    ;;
  *)
    echo "usage: outputs_test.sh atomic|determinism FLOPCAST SOURCE_ROOT" >&2; exit 2 ;;
esac
echo "outputs $mode: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
