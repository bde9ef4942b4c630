#!/usr/bin/env bash
# What the command-line tests share (sourced by cli_test.sh, cli_plan_test.sh and cli_serve_test.sh, which ctest runs
# side by side): the arguments FLOPCAST SOURCE_ROOT, a scratch folder, and the checks.
set -u
flopcast="$1"
root="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

# once NAME -- COMMAND...: runs COMMAND once and keeps its output and exit status, for several checks to read with
# `expect ... -- @NAME` (under the sanitizers of CI a tier-2 run takes a minute: each is run only as often as needed).
once() {
  local name="$1"
  shift 2
  "$@" >"$work/once-$name.out" 2>&1
  echo $? >"$work/once-$name.status"
}

# expect NAME CODE PATTERN [FORBIDDEN] -- COMMAND... (or -- @NAME, the output of `once NAME`)
expect() {
  local name="$1" code="$2" pattern="$3" forbidden="$4"
  shift 5
  local output status
  if [ "$#" -eq 1 ] && [ "${1#@}" != "$1" ]; then
    output="$(cat "$work/once-${1#@}.out")"
    status="$(cat "$work/once-${1#@}.status")"
  else
    output="$("$@" 2>&1)"
    status=$?
  fi
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

# finish NAME: the tally; the script's exit status is 1 when a check failed.
finish() {
  echo "$1: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

# Under mpirun: OpenMPI as root, shared-memory transport only, and no leak check (OpenMPI keeps allocations until exit,
# some from plugins it has unloaded, which LeakSanitizer reports without a name to suppress; every other command here
# runs with it).
mpi_env() {
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
  export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0"
}

cd "$root" || exit 1
shipped="scenarios/shipped/deepseek-v3-h800.json"
