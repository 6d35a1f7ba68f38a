#!/usr/bin/env bash
# The real training run of the built-in models on the GPU machine (one H100), all in one call:
# datasets from the JS generator, then the SAIL VLM and the SigLIP dual encoder trained side by
# side on the same GPU. Node comes from .nodepack/node.xz (this machine's node binary, xz'd).
# Usage there: bash training/gpu_run.sh OUTDIR   (env: SCENES, SINGLE_SCENES, EVAL_SCENES, SAIL_ARGS,
#   SAIL_A_ARGS, SAIL_B_ARGS (default "--layers 6"), SIGLIP_ARGS, PYTHON)
set -euo pipefail
out=${1:?usage: gpu_run.sh OUTDIR}
export PYTHONUNBUFFERED=1
if ! command -v node >/dev/null; then
  mkdir -p /tmp/nodebin && xz -d -c .nodepack/node.xz >/tmp/nodebin/node && chmod +x /tmp/nodebin/node
  export NODE=/tmp/nodebin/node
fi
N=${SCENES:-300000}; N1=${SINGLE_SCENES:-100000}; NE=${EVAL_SCENES:-2000}
export N N1 NE
PY=${PYTHON:-python3}
"$PY" - <<'PY'
import os, sys, time
sys.path.insert(0, "training")
from scenes_data import make_dataset, EVAL_SEED_BASE
t = time.time()
N, N1, NE = (int(os.environ[k]) for k in ("N", "N1", "NE"))
make_dataset(f"/tmp/tsvlm-scenes/train-{N}", 0, N, jobs=16)
make_dataset(f"/tmp/tsvlm-scenes/train1-{N1}", 0, N1, shapes=1, jobs=16)
make_dataset(f"/tmp/tsvlm-scenes/eval-{NE}", EVAL_SEED_BASE, NE, jobs=4)
make_dataset(f"/tmp/tsvlm-scenes/eval1-{NE}", EVAL_SEED_BASE, NE, shapes=1, jobs=4)
print(f"datasets ready in {time.time() - t:.0f}s", flush=True)
PY
mkdir -p "$out"
for m in sail-scenes siglip-scenes; do rm -rf "/tmp/$m" && cp -r "models/$m" "/tmp/$m"; done
cp -r models/sail-scenes /tmp/sail-scenes-b
"$PY" training/train_sail.py --out /tmp/sail-scenes --train-scenes "$N" --eval-scenes "$NE" --max-seconds 360 ${SAIL_ARGS:-} ${SAIL_A_ARGS:-} >"$out/sail.log" 2>&1 &
a=$!
"$PY" training/train_sail.py --out /tmp/sail-scenes-b --train-scenes "$N" --eval-scenes "$NE" --max-seconds 360 ${SAIL_ARGS:-} ${SAIL_B_ARGS:---layers 6} >"$out/sail-b.log" 2>&1 &
b=$!
"$PY" training/train_siglip.py --out /tmp/siglip-scenes --multi-scenes "$N" --single-scenes "$N1" --eval-scenes "$NE" --max-seconds 300 ${SIGLIP_ARGS:-} >"$out/siglip.log" 2>&1 &
c=$!
wait $a || echo "sail failed"
wait $b || echo "sail-b failed"
wait $c || echo "siglip failed"
tail -n 12 "$out"/*.log
# Bring back: the two weight files of each model (<= 16 MiB each) and the rest as one tarball.
for m in sail-scenes sail-scenes-b siglip-scenes; do
  [[ -f /tmp/$m/model.safetensors ]] && cp /tmp/$m/model.safetensors "$out/$m.model.safetensors"
done
tar -C /tmp -czf "$out/results.tgz" --exclude=model.safetensors sail-scenes sail-scenes-b siglip-scenes
