#!/usr/bin/env bash
# The results campaign (#14) on one borrowed GPU, in one call: a quiet speed table first, then slices of the
# reproduce grid side by side on the GPU (each its own `ssvae reproduce --models ...` process, each under
# --time-limit), with the test suite on CUDA beside them. Run directories stay on the GPU machine; only their small
# files (config, per-epoch history, metrics, splits) come back, as OUTDIR/small.tgz, with the logs as logs.tgz.
#
#   benchmarks/gpu_campaign.sh OUTDIR DATADIR [SECONDS]    # SECONDS: training time per slice (default 300)
#
# Baselines (scikit-learn, CPU work) are skipped here and added afterwards on a CPU from the returned splits.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=$1 DATA=$2 T=${3:-300}
W=/tmp/gpu_campaign LOGS=/tmp/gpu_campaign_logs
mkdir -p "$OUT" "$W" "$LOGS"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

{ nvidia-smi; python -c "import torch, ssvae; print('torch', torch.__version__, torch.cuda.get_device_name())"; } \
  > "$LOGS/env.log" 2>&1 || { cat "$LOGS/env.log"; exit 1; }
tail -n 1 "$LOGS/env.log"

# 1. speed, on the quiet GPU
timeout 80 python benchmarks/speed.py --device cuda --models m2 adgm lvae --steps 20 --stack 6 \
  --precisions fp32 bf16 --compile off > "$LOGS/speed.log" 2>&1
echo "speed rc=$?" >> "$LOGS/rc.txt"
cp "$LOGS/speed.log" "$OUT/speed.log"

# 2. campaign slices side by side, and the suite on CUDA
COMMON=(--datasets fashion-mnist --data-dir "$DATA" --precision fp32 --compile off --device cuda --no-baselines --no-figures
        --time-limit "$T")
slice() {  # slice NAME ARGS...: one reproduce process, its log, its exit status
  local name=$1
  shift
  OMP_NUM_THREADS=2 timeout $((T + 120)) python -m ssvae reproduce "${COMMON[@]}" "$@" --out "$W/$name" \
    > "$LOGS/$name.log" 2>&1
  echo "$name rc=$?" >> "$LOGS/rc.txt"
}
FIFTY=(--table 1,2 --seeds 3 --epochs 50 --warmup-epochs 10 --iw-samples 100)
slice n10-m2 "${FIFTY[@]}" --labels-per-class 10 --models m2 &
slice n10-classifier "${FIFTY[@]}" --labels-per-class 10 --models classifier &
slice n100-adgm "${FIFTY[@]}" --labels-per-class 100 --models adgm &
slice n100-lvae "${FIFTY[@]}" --labels-per-class 100 --models lvae &
# the paper's protocol (1000 epochs, warm-up 200) for M2 with and without MIER, seed 0: its first epochs
slice paper-m2 --table 1 --seeds 1 --epochs 1000 --warmup-epochs 200 --labels-per-class 100 --models m2 &
( SSVAE_TEST_DEVICE=cuda OMP_NUM_THREADS=1 timeout $((T + 60)) python -m pytest -q -p no:cacheprovider -n 4 tests \
    > "$LOGS/tests.log" 2>&1
  echo "tests rc=$?" >> "$LOGS/rc.txt" ) &
wait

# 3. the small files back
python benchmarks/pack_small.py "$OUT/small.tgz" "$W"
tar czf "$OUT/logs.tgz" -C "$LOGS" .
cp "$LOGS/rc.txt" "$OUT/rc.txt"
cat "$OUT/rc.txt"
tail -n 3 "$LOGS/tests.log"
