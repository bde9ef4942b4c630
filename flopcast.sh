#!/usr/bin/env bash
# flopcast quick start on Debian 12. Safe to run again: it installs only what is missing and rebuilds incrementally.
#   ./flopcast.sh         install missing packages, build (release), run the shipped scenarios side by side, and
#                         write the export-control comparison and claims reports under results/
#   ./flopcast.sh test    install missing packages, build with clang, ASan + UBSan and warnings as errors, run the
#                         whole test suite under the sanitizers, fuzz targets included (about a minute each)
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(cmake ninja-build g++ pkg-config libboost-graph-dev libeigen3-dev nlohmann-json3-dev catch2 libfmt-dev
          libcli11-dev libsimgrid-dev libopenmpi-dev openmpi-bin
          qt6-base-dev qt6-charts-dev qt6-svg-dev libqt6opengl6-dev fonts-dejavu-core
          chromium poppler-utils xvfb xauth python3
          clang-14 libclang-rt-14-dev llvm-14)
# Qt: report charts and the desktop app (qt6-charts-dev needs libqt6opengl6-dev; qt6-base-dev has Qt Test and
# Concurrent); chromium and poppler-utils: report tests; xvfb and xauth: the desktop app's screenshot test (xvfb-run);
# python3: the validation-scenario builder (calibrate --runs and its tests);
# clang, its runtime and llvm-symbolizer: the test build (ASan + UBSan, libFuzzer, readable stack traces)

install_missing() {
  local missing=()
  for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if ((${#missing[@]} == 0)); then return; fi
  echo "flopcast.sh: installing ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() {
  cmake --preset "$1" >/dev/null
  cmake --build --preset "$1"
}

case "${1:-run}" in
  run)
    install_missing
    build release
    echo
    ./build/release/app/flopcast run scenarios/shipped/*.json
    echo
    ./build/release/app/flopcast report scenarios/shipped/*.json scenarios/serving/*.json -o results/export-control \
      --title "Export-control comparison: the shipped scenarios"
    ./build/release/app/flopcast report --claims scenarios/claims -o results/claims \
      --title "Claims from public debate, checked"
    # Which chip: DeepSeek-V3's job on each chip with its own best plan that fits, the answer on page one.
    ./build/release/app/flopcast report scenarios/shipped/deepseek-v3-h800.json \
      --chips h800-sxm,h20,ascend-910c,ascend-910b -o results/which-chip
    echo
    echo "Open results/which-chip/report.pdf (which chip, at what cost and time, how sure),"
    echo "results/export-control/report.html (or .pdf, .md, .csv) and results/claims/report.html."
    ;;
  test)
    install_missing
    build ci
    ctest --preset ci -j "$(nproc)"
    ;;
  *)
    echo "usage: ./flopcast.sh [run|test]" >&2
    exit 2
    ;;
esac
