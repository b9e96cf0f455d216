#!/usr/bin/env bash
# One GPU check, for the first minutes of a borrowed GPU: the step, graph, stacking, objective and model tests on
# CUDA (the whole suite: SSVAE_TEST_DEVICE=cuda python -m pytest), the graph check
# (benchmarks/graph_check.py: the captured step's equality rows, then seconds per epoch, launches per step and host
# seconds for every model x 1 / 6 / 18 / 30 runs x fp32/tf32/bf16, eager and graphed), and a 2-epoch stacked
# `ssvae reproduce` of the Fashion-MNIST Table 1 grid (graphed: --cuda-graphs auto); OUTDIR/summary.md says what
# passed and how long each part took, with the logs and graph_check.json beside. At most 9 minutes on one H100.
#
#   benchmarks/gpu_check.sh [OUTDIR]          # OUTDIR defaults to gpu_check/; data: $SSVAE_DATA/fashion-mnist.npz
#   GPU_CHECK_LIMITS="120 240 0" benchmarks/gpu_check.sh OUTDIR   # seconds for tests, graphs, reproduce (0: skip)
#
# OUTDIR holds hundreds of files (the grid's run directories): a device call brings back at most 8, so on a lent GPU
# run benchmarks/gpu_lending.sh, which packs them.
#
# Without CUDA it runs a reduced CPU mode (a few tests, the graph check with the capture emulated, a 1-epoch
# digits grid), which CI runs so that the script cannot rot. Every part runs even when an earlier one fails; the exit status is
# that of the first failure.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-gpu_check}
mkdir -p "$OUT"
SUMMARY="$OUT/summary.md"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
STATUS=0

if python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  MODE=cuda
  TESTS=(tests/test_graphs.py tests/test_step.py tests/test_multirun.py tests/test_objectives.py tests/test_models.py)
  GRAPHS=(--chunk 20)
  GRID=(--datasets fashion-mnist --seeds 3 --epochs 2 --iw-samples 100 --device cuda)
  read -r -a LIMITS <<< "${GPU_CHECK_LIMITS:-180 270 90}"  # seconds per part (0: skip it): at most 9 minutes
else
  MODE=cpu
  TESTS=(tests/test_multirun.py tests/test_objectives.py)
  GRAPHS=(--models m2 --stack 1 --precisions fp32 --chunk 1 --stacked-runs 2)
  GRID=(--datasets digits --seeds 2 --epochs 1 --labels-per-class 10 --iw-samples 2 --device cpu)
  LIMITS=(600 600 600)
fi

{
  echo "# GPU check ($MODE mode)"
  echo
  python -c "import torch; print(f'- torch {torch.__version__}; device: ' + (torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU'))"
  echo "- commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "| part | exit status | seconds | log |"
  echo "|---|---|---|---|"
} > "$SUMMARY"

part() {  # part NAME SECONDS COMMAND...: run it under a time limit, log it, add a row (124: out of time; 0 s: skipped)
  local name=$1 limit=$2 start rc
  shift 2
  if [ "$limit" -eq 0 ]; then
    echo "| $name | skipped | 0 | – |" >> "$SUMMARY"
    return
  fi
  start=$(date +%s)
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  rc=$?
  echo "| $name | $rc | $(( $(date +%s) - start )) | $name.log |" >> "$SUMMARY"
  if [ "$rc" -ne 0 ] && [ "$STATUS" -eq 0 ]; then STATUS=$rc; fi
}

part tests "${LIMITS[0]}" env SSVAE_TEST_DEVICE="$MODE" python -m pytest -q -x -p no:cacheprovider "${TESTS[@]}"
part graphs "${LIMITS[1]}" python benchmarks/graph_check.py --out "$OUT" "${GRAPHS[@]}"
part reproduce "${LIMITS[2]}" python -m ssvae reproduce --table 1 --out "$OUT/reproduce" "${GRID[@]}"

{
  echo
  echo "## Captured step: equality and speed"
  echo
  if [ -f "$OUT/graph_check.md" ]; then tail -n +2 "$OUT/graph_check.md"; else tail -n 5 "$OUT/graphs.log"; fi
  echo
  echo "## Tests"
  echo
  tail -n 1 "$OUT/tests.log"
  echo
  echo "## Reproduce (Table 1 grid, stacked where the device allows)"
  echo
  if [ -f "$OUT/reproduce/table1.md" ]; then cat "$OUT/reproduce/table1.md"
  elif [ -f "$OUT/reproduce.log" ]; then tail -n 3 "$OUT/reproduce.log"
  else echo "skipped"; fi
} >> "$SUMMARY"
echo "wrote $SUMMARY ($MODE mode, exit status $STATUS)"
exit $STATUS
