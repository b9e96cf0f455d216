#!/usr/bin/env bash
# A lent GPU in one device call (issue 35). A lending is about 15 device-minutes, starting included, and a run
# directory does not outlive the machine, so everything happens in one command: the GPU check
# (benchmarks/gpu_check.sh: the CUDA tests, the captured step's equality and speed rows), then the paper's protocol
# (1000 epochs, warm-up 200, 100 labels per class) for M2 and M2+MIER on Fashion-MNIST, 3 seeds stacked in one
# graphed step, for the seconds that are left; each run is then evaluated at the epoch it reached and
# `ssvae report` writes the tables. A device call brings back at most 8 files from $OUT, so OUTDIR gets four:
#   summary.md   the check's summary, then the protocol's report (epochs reached, Table 1)
#   check.tgz    the check's logs, graph_check.json and graph_check.md
#   paper.tgz    the runs' small files (config, split, per-epoch history, metrics; grid.json; the report): enough
#                for `ssvae report` to rebuild the tables on any machine, never a checkpoint
#   lending.log  every command's output
#
#   benchmarks/gpu_lending.sh OUTDIR [DATADIR] [SECONDS]   # DATADIR: $SSVAE_DATA; SECONDS: the call's budget (540)
#
# With the device tool: copy fashion_mnist.npz into data/ (git-ignored: /data/ in .gitignore), then `run` with
# carry ["data"], timeout_s 600 and the command
#   pip install -q --no-deps -e . && benchmarks/gpu_lending.sh "$OUT" data 540
# Without CUDA it runs the check's CPU mode and ten seconds of the protocol on digits (CI runs it, so that it
# cannot rot). The exit status is that of the first part that failed: the check, the protocol, the report, packing.
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: benchmarks/gpu_lending.sh OUTDIR [DATADIR] [SECONDS]" >&2; exit 2; }
OUT=$1
DATA=${2:-${SSVAE_DATA:-}}
BUDGET=${3:-540}
[[ "$BUDGET" =~ ^[0-9]+$ ]] || { echo "SECONDS must be a whole number of seconds, got $BUDGET" >&2; exit 2; }
START=$(date +%s)
W=$(mktemp -d)
mkdir -p "$OUT"
LOG="$OUT/lending.log"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
[ -n "$DATA" ] && export SSVAE_DATA="$DATA"

if python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  MODE=cuda
  CHECK_LIMITS="120 240 0"  # the check's own 2-epoch grid is skipped: the protocol below is a stacked, graphed grid
  PAPER=(--datasets fashion-mnist --seeds 3 --labels-per-class 100 --device cuda --compile off)
  RESERVE=120  # seconds kept for the protocol's overshoot (45), then evaluation, the report and packing
else
  MODE=cpu
  CHECK_LIMITS="600 600 600"
  PAPER=(--datasets digits --seeds 2 --labels-per-class 10 --device cpu)
fi

elapsed() { echo $(( $(date +%s) - START )); }

echo "== check ($MODE mode), $(elapsed) s" >> "$LOG"
GPU_CHECK_LIMITS=$CHECK_LIMITS benchmarks/gpu_check.sh "$W/check" >> "$LOG" 2>&1
STATUS=$?

LEFT=10
[ "$MODE" = cuda ] && LEFT=$(( BUDGET - $(elapsed) - RESERVE ))
echo "== the paper's protocol for $LEFT s, $(elapsed) s" >> "$LOG"
if [ "$LEFT" -ge 30 ] || [ "$MODE" = cpu ]; then
  # its own --time-limit ends it cleanly; the hard limit only guards the budget (a killed run keeps its last epoch)
  timeout $(( LEFT + 45 )) python -m ssvae reproduce --table 1 --models m2 --epochs 1000 --warmup-epochs 200 \
    --no-baselines --no-figures --time-limit "$LEFT" --out "$W/paper" ${DATA:+--data-dir "$DATA"} "${PAPER[@]}" \
    >> "$LOG" 2>&1
  rc=$?
  [ "$STATUS" -eq 0 ] && STATUS=$rc
  echo "== each run evaluated at the epoch it reached, then the report, $(elapsed) s" >> "$LOG"
  for run in $(find "$W/paper/runs" -name config.json -printf '%h\n' 2>/dev/null | sort); do
    [ -f "$run/metrics.json" ] || timeout 60 python -m ssvae evaluate "$run" --no-figures --device auto >> "$LOG" 2>&1
  done
  python -m ssvae report "$W/paper" --no-figures >> "$LOG" 2>&1
  rc=$?
  [ "$STATUS" -eq 0 ] && STATUS=$rc
else
  echo "skipped: under 30 s left" >> "$LOG"
fi

echo "== packing, $(elapsed) s" >> "$LOG"
{ tar czf "$OUT/check.tgz" -C "$W" --exclude=check/reproduce check \
  && python benchmarks/pack_small.py "$OUT/paper.tgz" "$W" paper; } >> "$LOG" 2>&1
rc=$?
[ "$STATUS" -eq 0 ] && STATUS=$rc

{
  cat "$W/check/summary.md"
  echo
  echo "## The paper's protocol: M2 and M2+MIER, ${PAPER[*]}"
  echo
  if [ -f "$W/paper/README.md" ]; then sed -n '1,/^## Files/p' "$W/paper/README.md"; cat "$W/paper/table1.md"
  else echo "no report: see lending.log"; tail -n 5 "$LOG"; fi
  echo
  echo "Wall time of the call: $(elapsed) s of a $BUDGET s budget; exit status $STATUS."
} > "$OUT/summary.md"
rm -rf "$W"
echo "wrote $OUT/summary.md, check.tgz, paper.tgz, lending.log ($MODE mode, exit status $STATUS, $(elapsed) s)"
exit "$STATUS"
