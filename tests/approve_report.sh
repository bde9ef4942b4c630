#!/usr/bin/env bash
# Blesses the report baselines a failed golden test wrote (tests/golden/report/*.unapproved.*). Read the differences
# first (ctest -R report_golden --output-on-failure, or diff the files).
set -euo pipefail
dir="$(dirname "$0")/golden/report"
found=0
for file in "$dir"/*.unapproved.*; do
  [ -e "$file" ] || continue
  target="${file/.unapproved/}"
  mv "$file" "$target"
  echo "approved $target"
  found=1
done
[ "$found" -eq 1 ] || echo "nothing to approve in $dir"
