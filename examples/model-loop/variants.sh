#!/usr/bin/env bash
# Train, prune and quantize every model variant with the real settings, check the int8
# files' size budget (<= 35 % of their float twin) and measure window accuracy.
#
#   examples/model-loop/variants.sh [OUT]      (default models/variants)
#
# TRACES / EPOCHS / SEED (environment) default to the shipped model's settings (6000
# traces, 15 epochs, seed 0; about 4 min per model on one thread). Held-out accuracy uses
# seed 1, calibration seed 1234: neither is a training seed. Needs the train extra.
set -euo pipefail

OUT=${1:-models/variants}
TRACES=${TRACES:-6000}
EPOCHS=${EPOCHS:-15}
SEED=${SEED:-0}
HF=${HIGHFIVE:-highfive}
mkdir -p "$OUT"
train=(--seed "$SEED" --traces "$TRACES" --epochs "$EPOCHS" --threads 1)

"$HF" model train "${train[@]}" --arch reference --out "$OUT/reference-float32.onnx"
"$HF" model train "${train[@]}" --arch small --out "$OUT/small-float32.onnx"
"$HF" model train "${train[@]}" --arch streaming --out "$OUT/streaming-float32.onnx"
"$HF" model prune "$OUT/reference-float32.onnx" --sparsity 0.3 --epochs 3 \
  --out "$OUT/pruned-float32.onnx"

for v in reference small streaming pruned; do
  # The reference keeps the shipped format (QDQ); the small variants use integer
  # operators, whose fixed costs are smaller (see models/MODEL_CARD.md).
  format=qoperator
  [ "$v" = reference ] && format=qdq
  "$HF" model quantize "$OUT/$v-float32.onnx" --format "$format" --out "$OUT/$v-int8.onnx"
  f=$(stat -c %s "$OUT/$v-float32.onnx")
  q=$(stat -c %s "$OUT/$v-int8.onnx")
  python3 -c "import sys; r = $q / $f; print(f'$v: int8 {$q:,} B = {100 * r:.1f} % of float {$f:,} B'); sys.exit(r > 0.35)"
  (cd "$OUT" && sha256sum "$v-float32.onnx" > "$v-float32.onnx.sha256" \
    && sha256sum "$v-int8.onnx" > "$v-int8.onnx.sha256")
  "$HF" model target "$OUT/$v-int8.onnx" | grep -E "^(MACs/s|verdict)"
done

models=$(printf '%s,' "$OUT"/*-float32.onnx "$OUT"/*-int8.onnx)
python3 benchmarks/eval_models.py --traces 1000 --seed 1 --models "${models%,}"
