#!/usr/bin/env bash
# Close the loop: campaign -> failure corpus -> retrain with the failures -> quantize ->
# a fresh campaign with another seed -> cell-by-cell diff of old and new models.
#
#   examples/model-loop/loop.sh [CASES] [OUT]
#
# CASES (default 100000) cases per campaign; OUT (default runs/loop) holds everything.
# Seeds: the first campaign uses seed 11, the judging campaign seed 12; the shipped
# models were trained on seed 0 and calibrated on 1234, the retrained model fine-tunes
# on seed 0's traces plus seed 11's failing cases, so seed 12 is unseen by both models.
# TRAIN_TRACES / TRAIN_EPOCHS / CALIBRATION (environment) size the retraining; the
# defaults are the shipped model's settings. Needs the train extra (PyTorch).
set -euo pipefail

CASES=${1:-100000}
OUT=${2:-runs/loop}
TRAIN_TRACES=${TRAIN_TRACES:-6000}
TRAIN_EPOCHS=${TRAIN_EPOCHS:-5}
CALIBRATION=${CALIBRATION:-300}
WORKERS=${WORKERS:-0}
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
  "$HF" run "$OUT/$name.toml" --out "$OUT"
}

# 1. The shipped models on seed 11: their failures are the corpus.
[ -f "$OUT/before/campaign.json" ] || campaign before 11 float=float int8=int8
"$HF" replay "$OUT/before" | head -3

# 2. Fine-tune the shipped float model with the failing cases added (x5), and quantize.
"$HF" model train --init float --add-failures "$OUT/before" --seed 0 \
  --traces "$TRAIN_TRACES" --epochs "$TRAIN_EPOCHS" --threads 1 --out "$OUT/retrained.onnx"
"$HF" model quantize "$OUT/retrained.onnx" --calibration-traces "$CALIBRATION" \
  --out "$OUT/retrained-int8.onnx"
"$HF" model info "$OUT/retrained.onnx" | grep -E "^(bytes|MACs|trained)"

# 3. Old and new models judged together on unseen cases (seed 12).
[ -f "$OUT/after/campaign.json" ] || campaign after 12 float=float int8=int8 \
  retrained="$(realpath "$OUT/retrained.onnx")" retrained_int8="$(realpath "$OUT/retrained-int8.onnx")"

# 4. Cell by cell: the retrained models against the shipped ones (paired, same cases).
"$HF" diff "$OUT/after" --model float:retrained
"$HF" diff "$OUT/after" --model int8:retrained_int8
"$HF" model compare "$OUT/after" --reference float --traces 100 --out "$OUT/compare.parquet" \
  --plot "$OUT/compare.png"
