#!/usr/bin/env bash
# flopcast report as a reader meets it. Usage: report_test.sh MODE FLOPCAST SOURCE_ROOT, MODE one of
#   golden  the Markdown and CSV against tests/golden/report (numbers with a tolerance: tests/report_check.py)
#   html    the HTML is self-contained, has every chart inline, and headless Chromium shows it with no console error
#   pdf     the PDF has pages, each with content (pdftoppm), and the text of every section
#   atomic  a report that fails leaves the previous one in place, byte for byte
#   escaping  a name that is markup and a formula stays text in the HTML, the SVGs and the CSV
# Exits 77 (skipped) when a tool it needs (chromium, pdftoppm) is missing.
set -u
mode="$1"
flopcast="$2"
root="$3"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$root" || exit 1
check="python3 $root/tests/report_check.py"

inputs=(scenarios/shipped/deepseek-v3-h800.json scenarios/shipped/deepseek-v3-ascend-910b.json
        scenarios/shipped/llama3-70b-h800-h20-mixed.json tests/data/report-sweep.json)
make_report() {
  if ! "$flopcast" report --quiet --tier analytical "${inputs[@]}" -o "$1" >"$work/report.out" 2>"$work/report.err"; then
    echo "FAIL: flopcast report exited non-zero"; cat "$work/report.out" "$work/report.err"; exit 1
  fi
  if [ -s "$work/report.err" ]; then echo "FAIL: flopcast report wrote to standard error:"; cat "$work/report.err"; exit 1; fi
}

fail() { echo "FAIL: $*"; exit 1; }

case "$mode" in
  golden)
    make_report "$work/r"
    grep -q "report.html" "$work/report.out" || fail "the command does not say where the report is"
    $check golden "$root/tests/golden/report" "$work/r" || exit 1
    ;;
  html)
    command -v chromium >/dev/null || { echo "SKIP: no chromium"; exit 77; }
    make_report "$work/r"
    html="$work/r/report.html"
    charts=$(ls "$work/r/charts"/*.svg | wc -l)
    inline=$(grep -c "<svg" "$html")
    [ "$charts" -ge 8 ] || fail "only $charts charts"
    [ "$inline" -eq "$charts" ] || fail "$inline inline SVG charts in the HTML, $charts chart files"
    # Self-contained: no script, stylesheet, image or frame from anywhere.
    if grep -qE '<script|<link|<img|<iframe|src="|url\([^#]' "$html"; then fail "the HTML loads something"; fi
    grep -q "nan\|inf " "$work/r/report.md" && fail "nan or inf in the report"
    timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
      --disable-component-update --no-first-run --enable-logging=stderr --v=0 \
      --window-size=800,1200 --screenshot="$work/shot.png" "file://$html" >"$work/chromium.out" 2>"$work/chromium.err"
    status=$?
    [ "$status" -eq 0 ] || { cat "$work/chromium.err" | tail -20; fail "chromium exited $status"; }
    if grep -E "CONSOLE|Uncaught|Refused to|net::ERR" "$work/chromium.err"; then fail "console errors above"; fi
    [ -s "$work/shot.png" ] || fail "no screenshot"
    $check png "$work/shot.png" 0.03 || fail "the screenshot is (nearly) blank"
    ;;
  pdf)
    command -v pdftoppm >/dev/null || { echo "SKIP: no pdftoppm"; exit 77; }
    make_report "$work/r"
    pdftoppm -r 30 "$work/r/report.pdf" "$work/page" || fail "pdftoppm could not read the PDF"
    pages=("$work"/page-*.ppm)
    [ "${#pages[@]}" -ge 5 ] || fail "only ${#pages[@]} pages"
    $check ppm-pages "${pages[@]}" 0.005 || fail "a page is (nearly) empty"
    pdftotext "$work/r/report.pdf" "$work/text.txt" 2>/dev/null || true
    if [ -s "$work/text.txt" ]; then
      for heading in "Summary" "Each scenario in words" "Where a training step goes" "Export-control class" \
                     "Assumptions and sources" "Versions and resolved scenarios"; do
        grep -q "$heading" "$work/text.txt" || fail "the PDF lacks \"$heading\""
      done
      # Every page carries its number, the last one too.
      for page in 1 "${#pages[@]}"; do
        pdftotext -f "$page" -l "$page" "$work/r/report.pdf" - 2>/dev/null | grep -qx "$page" ||
          fail "page $page does not show its number"
      done
    fi
    ;;
  atomic)
    make_report "$work/r"
    before=$(cat "$work/r"/report.* "$work/r"/charts/* | md5sum)
    printf '{"model": "deepseek-v3", "cluster": {"chip": "h100-sxn", "chips": 8}}' >"$work/bad.json"
    "$flopcast" report --quiet --tier analytical scenarios/shipped/deepseek-v3-h800.json "$work/bad.json" -o "$work/r" \
      >"$work/bad.out" 2>&1
    status=$?
    [ "$status" -eq 2 ] || fail "a bad scenario exited $status, expected 2"
    grep -q 'bad.json: /cluster/chip: unknown chip "h100-sxn"' "$work/bad.out" || { cat "$work/bad.out"; fail "no clear message"; }
    after=$(cat "$work/r"/report.* "$work/r"/charts/* | md5sum)
    [ "$before" = "$after" ] || fail "the failed report changed the good one"
    ls -A "$work/r" | grep -q '\.tmp' && fail "temporary files left behind"
    ;;
  escaping)
    # A name that is markup and a spreadsheet formula (issue 25, item 7): text in the HTML, valid XML in every SVG,
    # an apostrophe before the formula in the CSV.
    python3 - scenarios/shipped/deepseek-v3-h800.json "$work/evil.json" "$root/scenarios/shipped" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["name"] = "=1+1 <script>alert('x')</script> & \"quoted\""
json.dump(d, open(sys.argv[2], "w"))
PY
    "$flopcast" report --quiet --tier analytical "$work/evil.json" -o "$work/e" >/dev/null 2>"$work/e.err" ||
      fail "report of a scenario with markup in its name: $(cat "$work/e.err")"
    ! grep -q "<script>alert" "$work/e/report.html" || fail "the name went into the HTML as markup"
    grep -q "&lt;script&gt;alert" "$work/e/report.html" || fail "the name is missing from the HTML"
    python3 - "$work/e/charts" <<'PY' || fail "a chart is not valid XML"
import os, sys, xml.etree.ElementTree as ET
for name in os.listdir(sys.argv[1]):
    ET.parse(os.path.join(sys.argv[1], name))
PY
    grep -q "'=1+1 <script>" "$work/e/report.csv" || fail "the CSV cell that starts with = has no apostrophe"
    ! grep -q ",=1+1" "$work/e/report.csv" || fail "a CSV cell starts with ="
    ;;
  *)
    echo "usage: report_test.sh golden|html|pdf|atomic|escaping FLOPCAST SOURCE_ROOT" >&2; exit 2 ;;
esac
echo "ok $mode"
