#!/usr/bin/env bash
# On a machine with a GPU: the paper-size diffusion network's training step (batch 64) and its DDPM sampler, in
# float32, float16 and bfloat16, compiled with and without XLA (benchmarks/diffusion_speed.py), written as JSON
# with the GPU's name. Without a GPU visible to TensorFlow it says so and exits 0. Bounded to 8 minutes.
#
#   benchmarks/gpu_check.sh [OUT.json]        (default gpu_check.json; PY=path/to/python to use another env)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${1:-gpu_check.json}
BUDGET_S=450  # the measurement; TensorFlow's start and the device query fit in the rest of the 8 minutes

export TF_CPP_MIN_LOG_LEVEL=2
gpus=$("$PY" -c "import tensorflow as tf; print(';'.join(tf.config.experimental.get_device_details(d).get('device_name', d.name) for d in tf.config.list_physical_devices('GPU')))" 2>/dev/null | tail -n 1)
if [ -z "$gpus" ]; then
  echo "gpu_check: no GPU visible to TensorFlow on $(hostname); nothing measured (exit 0)"
  exit 0
fi
echo "gpu_check: measuring on $gpus (at most ${BUDGET_S} s)"
# 200 sampler steps (a fifth of the paper's 1000) and 10 training steps per timed run, 2 runs each, the best kept
timeout "$BUDGET_S" "$PY" benchmarks/diffusion_speed.py --precisions float32,float16,bfloat16 --modes compiled,xla \
  --steps 200 --train-steps 10 --repeats 2 --out "$OUT"
"$PY" - "$OUT" "$gpus" <<'EOF'
import json, sys
path, gpus = sys.argv[1], sys.argv[2]
with open(path, encoding="utf-8") as f:
    results = json.load(f)
results["gpus"] = gpus.split(";")
with open(path, "w", encoding="utf-8") as f:
    json.dump(results, f, indent=2)
print(f"gpu_check: wrote {path}")
EOF
