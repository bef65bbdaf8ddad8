#!/usr/bin/env bash
# Close the loop: campaign -> failure corpus -> retrain with the failures -> quantize ->
# a fresh campaign with another seed -> cell-by-cell diff of old and new models.
#
#   examples/model-loop/loop.sh [CASES] [OUT]
#
# CASES (default 100000) cases per campaign; OUT (default runs/loop) holds everything.
# Seeds: the first campaign uses BEFORE_SEED (default 11), the judging campaign
# AFTER_SEED (default 12); the retrained model fine-tunes on seed 0's traces plus the
# first campaign's failing cases, so the judging seed is unseen by it. The shipped pair
# is itself the product of a run of this script with seeds 11 and 12: to repeat the
# loop from it on cases it has not seen, give two other seeds (BEFORE_SEED=21
# AFTER_SEED=22). TRAIN_TRACES / TRAIN_EPOCHS / CALIBRATION size the retraining (the
# defaults are the shipped model's settings); WORKERS (default 0: in this process)
# the local dask workers. Run it again after an interruption: unfinished campaigns are
# resumed, and retrained models already written are kept (the judging campaign was run
# with them). Needs the train extra (PyTorch).
set -euo pipefail

CASES=${1:-100000}
OUT=${2:-runs/loop}
TRAIN_TRACES=${TRAIN_TRACES:-6000}
TRAIN_EPOCHS=${TRAIN_EPOCHS:-5}
CALIBRATION=${CALIBRATION:-300}
WORKERS=${WORKERS:-0}
BEFORE_SEED=${BEFORE_SEED:-11}
AFTER_SEED=${AFTER_SEED:-12}
mkdir -p "$OUT"
HF=${HIGHFIVE:-highfive}

campaign() {  # NAME SEED MODEL...
  local name=$1 seed=$2
  shift 2
  {
    echo "name = \"$name\""
    echo "seed = $seed"
    echo "cases = $CASES"
    echo "sampler = \"lhs\""
    echo "batch_size = 256"
    printf 'models = ['
    local sep=""
    for m in "$@"; do printf '%s{ counter = "%s", id = "%s" }' "$sep" "${m#*=}" "${m%%=*}"; sep=", "; done
    echo "]"
    echo "[execution]"
    echo "workers = $WORKERS"
  } > "$OUT/$name.toml"
  local resume=()
  [ -f "$OUT/$name/campaign.json" ] && resume=(--resume)  # complete: nothing to do
  "$HF" run "$OUT/$name.toml" --out "$OUT" "${resume[@]}"
}

# 1. The shipped models on BEFORE_SEED: their failures are the corpus.
campaign before "$BEFORE_SEED" float=float int8=int8
"$HF" replay "$OUT/before" > "$OUT/before-failing.txt"  # (| head under pipefail can fail)
head -3 "$OUT/before-failing.txt"

# 2. Fine-tune the shipped float model with the failing cases added (x5), and quantize.
# Models made by an earlier run of the script are kept: the judging campaign records
# them, and replacing them would leave that run unreadable (gate, replay and compare
# refuse a changed model; model train and quantize refuse an existing --out without
# --force). Remove them, or give another OUT, to retrain. A run stopped between the
# two steps left the float model alone: it is quantized now.
if [ -f "$OUT/retrained-int8.onnx" ] && [ ! -f "$OUT/retrained.onnx" ]; then
  echo "$OUT/retrained-int8.onnx is there without the float model it was made from;" \
    "remove it, or give another OUT" >&2
  exit 1
fi
if [ -f "$OUT/retrained.onnx" ]; then
  echo "keeping $OUT/retrained.onnx from an earlier run; remove it, or give another" \
    "OUT, to retrain" >&2
else
  "$HF" model train --init float --add-failures "$OUT/before" --seed 0 \
    --traces "$TRAIN_TRACES" --epochs "$TRAIN_EPOCHS" --threads 1 --out "$OUT/retrained.onnx"
fi
if [ ! -f "$OUT/retrained-int8.onnx" ]; then
  "$HF" model quantize "$OUT/retrained.onnx" --calibration-traces "$CALIBRATION" \
    --out "$OUT/retrained-int8.onnx"
fi
"$HF" model info "$OUT/retrained.onnx" | grep -E "^(bytes|MACs|trained)"

# 3. Old and new models judged together on unseen cases (AFTER_SEED).
campaign after "$AFTER_SEED" float=float int8=int8 \
  retrained="$(realpath "$OUT/retrained.onnx")" retrained_int8="$(realpath "$OUT/retrained-int8.onnx")"

# 4. Cell by cell: the retrained models against the shipped ones (paired, same cases).
"$HF" diff "$OUT/after" --model float:retrained
"$HF" diff "$OUT/after" --model int8:retrained_int8
"$HF" model compare "$OUT/after" --reference float --traces 100 --out "$OUT/compare.parquet" \
  --plot "$OUT/compare.png"
