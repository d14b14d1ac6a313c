#!/usr/bin/env bash
# ResNet-50 at 224 px on a CUDA GPU, unattended, given this repository, Node and a Python with
# torch (and numpy): FTL, TTL cut after conv4_block6_out and TTL cut after the 11th bottleneck
# (read from `ttl inspect resnet50`), each trained through `ttl run --backend torch` and through a
# bare PyTorch loop of the same model (bench/bare_torch.py), in fp32 and in bf16 (train.precision;
# bf16 only where the device supports it): training img/s (median over the epochs after the
# first) and batch-1 latency. The last stdout line is one JSON object.
#
# The images are BreastMNIST's (examples/breastmnist), real scans upscaled to 224 px, the training
# set cycled to --images; the experiment files and the npz are written into a temp folder that is
# removed at the end. Nothing is installed globally: if dist/ is missing it runs `npm ci` (into
# this repository's node_modules, only when there is none) and `node esbuild.mjs`.
#
#   bash bench/gpu.sh [--python P] [--device cuda|cuda:N|cpu] [--batch B] [--epochs E] [--images N]
#
# --device cpu is a dry run with tiny settings (8 images, batch 4, 2 epochs), to check the script
# end to end on a machine without a GPU. Defaults on CUDA: batch 64, 3 epochs, 2048 images.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON=python3
DEVICE=cuda
BATCH=
EPOCHS=
IMAGES=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --python) PYTHON="$2"; shift 2 ;;
    --device) DEVICE="$2"; shift 2 ;;
    --batch) BATCH="$2"; shift 2 ;;
    --epochs) EPOCHS="$2"; shift 2 ;;
    --images) IMAGES="$2"; shift 2 ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
# a relative --python is taken from the current folder (the script changes to the repository below)
if [[ "$PYTHON" == */* ]]; then PYTHON="$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")"; fi
if [[ "$DEVICE" == cpu ]]; then
  BATCH="${BATCH:-4}" EPOCHS="${EPOCHS:-2}" IMAGES="${IMAGES:-8}"
else
  BATCH="${BATCH:-64}" EPOCHS="${EPOCHS:-3}" IMAGES="${IMAGES:-2048}"
fi
for v in BATCH EPOCHS IMAGES; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "gpu.sh: --${v,,} should be a positive integer, not '${!v}'" >&2; exit 2; }
done
SIZE=224
log() { printf '[gpu bench] %s\n' "$*" >&2; }

if ! "$PYTHON" -c 'import torch, numpy' 2>/dev/null; then
  echo "gpu.sh: $PYTHON cannot import torch and numpy; pass --python with a Python that has them" >&2
  exit 1
fi
cd "$ROOT"
if [[ ! -f dist/cli.js ]]; then
  [[ -d node_modules ]] || { log "npm ci"; npm ci --no-audit --no-fund >&2; }
  log "building dist/"
  node esbuild.mjs >&2
fi
TTL=(node "$ROOT/bin/ttl.js")

# the 11th bottleneck: the 11th cut point named *_blockN_out (pool1 is a cut point, not a block)
CUT11="$("${TTL[@]}" inspect resnet50 --json | "$PYTHON" -c 'import json, sys; print([c for c in json.load(sys.stdin)["cutPoints"] if c.endswith("_out")][10])')"
CUT13=conv4_block6_out
log "ResNet-50 ${SIZE} px, batch ${BATCH}, ${EPOCHS} epochs of ${IMAGES} images, device ${DEVICE}, ${PYTHON}; 11th bottleneck: ${CUT11}"

# bf16 on the CPU (the dry run) and on CUDA devices that support it (Ampere and later)
if "$PYTHON" -c 'import sys, torch; d = sys.argv[1]; sys.exit(0 if d == "cpu" or (torch.cuda.is_available() and torch.cuda.is_bf16_supported()) else 1)' "$DEVICE"; then
  PRECISIONS=(fp32 bf16)
  BF16_NOTE="bf16: autocast (train.precision)"
else
  PRECISIONS=(fp32)
  BF16_NOTE="bf16 is not supported on ${DEVICE} by this torch: fp32 only"
fi
log "$BF16_NOTE"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/ttl-gpu-bench.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

"$PYTHON" - "$ROOT/examples/breastmnist/data/breastmnist.npz" "$TMP/data.npz" "$IMAGES" <<'PY'
import sys
import numpy as np
d = np.load(sys.argv[1])
n = int(sys.argv[3])
idx = np.arange(n) % len(d["train_labels"])  # the real training images, cycled to n
small = 8 if n <= 64 else 64
np.savez(sys.argv[2], train_images=d["train_images"][idx], train_labels=d["train_labels"][idx],
         val_images=d["val_images"][:small], val_labels=d["val_labels"][:small],
         test_images=d["test_images"][:small], test_labels=d["test_labels"][:small])
PY

# name kind cut
CONFIGS=("ftl ftl -" "ttl_${CUT13} ttl ${CUT13}" "ttl_${CUT11} ttl ${CUT11}")
for c in "${CONFIGS[@]}"; do
  read -r name kind cut <<<"$c"
  strategy="{\"kind\": \"$kind\"}"
  [[ "$cut" == - ]] || strategy="{\"kind\": \"$kind\", \"cut\": \"$cut\"}"
  for p in "${PRECISIONS[@]}"; do
    cat >"$TMP/$name-$p.ttl.json" <<JSON
{
  "name": "gpu-bench-$name-$p",
  "data": { "format": "npz", "path": "data.npz", "imageSize": $SIZE },
  "model": { "backbone": "resnet50", "pretrained": false },
  "strategy": $strategy,
  "train": { "epochs": $EPOCHS, "batchSize": $BATCH, "optimizer": "adam", "lr": 0.001, "headLrMultiplier": 10, "seeds": [1], "precision": "$p" }
}
JSON
    log "$name $p: ttl run --backend torch"
    "${TTL[@]}" run "$TMP/$name-$p.ttl.json" --backend torch --python "$PYTHON" --device "$DEVICE" --runs-dir "$TMP/runs" --json | tail -n1 >"$TMP/$name-$p.ttl.out"
    log "$name $p: bare PyTorch loop"
    cutargs=()
    [[ "$cut" == - ]] || cutargs=(--cut "$cut")
    PYTHONPATH="$ROOT/python" "$PYTHON" "$ROOT/bench/bare_torch.py" --npz "$TMP/data.npz" --backbone resnet50 --kind "$kind" "${cutargs[@]}" \
      --size "$SIZE" --batch "$BATCH" --epochs "$EPOCHS" --device "$DEVICE" --precision "$p" | tail -n1 >"$TMP/$name-$p.bare.out"
  done
done

"$PYTHON" - "$TMP" "$DEVICE" "$SIZE" "$BATCH" "$EPOCHS" "$IMAGES" "$BF16_NOTE" "${PRECISIONS[*]}" "${CONFIGS[@]}" <<'PY'
import json, statistics, sys
from pathlib import Path
tmp, device, size, batch, epochs, images, note, precisions = sys.argv[1:9]
tmp = Path(tmp)
precisions = precisions.split()
out = {"model": "resnet50", "size": int(size), "batch": int(batch), "epochs": int(epochs), "images": int(images), "device": device,
       "precision": precisions, "bf16": note}
print(f"{'config':<26}{'prec':>5}{'params':>12}{'ttl run img/s':>15}{'bare img/s':>12}{'ratio':>7}{'ttl ms':>9}{'bare ms':>9}")
for c in sys.argv[9:]:
    name, kind, cut = c.split()
    row = out[name] = {"cut": None if cut == "-" else cut}
    for p in precisions:
        s = json.loads((tmp / f"{name}-{p}.ttl.out").read_text())
        rates = [json.loads(l)["trainImagesPerSecond"] for l in Path(s["runDir"], "metrics.jsonl").read_text().splitlines() if l.strip()]
        ttl = statistics.median(rates[1:] or rates)
        b = json.loads((tmp / f"{name}-{p}.bare.out").read_text())
        out["device_name"] = out.get("device_name") or json.loads(Path(s["runDir"], "run.json").read_text()).get("versions", {}).get("deviceName")
        out["torch"] = b["torch"]
        # fp32's ratio keeps its plain name; the others carry their precision
        row.update({"params": s["params"], f"ttl_run_img_s_{p}": ttl, f"bare_torch_img_s_{p}": b["img_s"],
                    "ratio_vs_bare_torch" if p == "fp32" else f"ratio_vs_bare_torch_{p}": ttl / b["img_s"],
                    f"ttl_run_latency_ms_{p}": s["latencyMs"], f"bare_torch_latency_ms_{p}": b["latency_ms"],
                    f"ttl_run_epochs_img_s_{p}": rates, f"bare_torch_epochs_img_s_{p}": b["epoch_img_s"]})
        print(f"{name:<26}{p:>5}{s['params']:>12,}{ttl:>15.1f}{b['img_s']:>12.1f}{ttl / b['img_s']:>7.2f}{s['latencyMs']:>9.1f}{b['latency_ms']:>9.1f}")
print(json.dumps(out))
PY
