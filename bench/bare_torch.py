"""A bare PyTorch training loop over the torch engine's own model definitions, the baseline the
`ttl run --backend torch` figures are compared with (bench/torch.ts, bench/gpu.sh).

Same model (``ttl_torch.models.build_backbone`` + ``ttl_torch.strategies.prepare_strategy``), same
optimiser (Adam with tfjs' ε and the head's learning-rate multiplier), same batch and input size,
on the real images of an npz dataset (MedMNIST layout: ``train_images``, grey or RGB) resized
once to ``--size``. No augmentation, no per-step host sync, no events: what is left is the
framework's own cost. Prints one JSON line:

    {"img_s": …, "epoch_img_s": [...], "latency_ms": …, "params": …, "device": …, "threads": …}

``img_s`` is the median over the epochs after the first (the first pays for allocation and, on
CUDA, cuDNN's autotuning); with one epoch it is that epoch's.

    PYTHONPATH=python python bench/bare_torch.py --npz examples/breastmnist/data/breastmnist.npz \\
        --backbone resnet18 --size 64 --batch 16 --epochs 3 [--kind ttl --cut conv4_block6_out] [--device cpu]
"""

import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from ttl_torch.device import select_device
from ttl_torch.models import build_backbone
from ttl_torch.strategies import prepare_strategy


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--npz", required=True)
    ap.add_argument("--backbone", default="resnet18")
    ap.add_argument("--kind", default="ftl")
    ap.add_argument("--cut", default=None)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--images", type=int, default=0, help="use the first N training images (0: all)")
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--head-lr-multiplier", type=float, default=10)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--latency-runs", type=int, default=20)
    ap.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="fp32", help="autocast dtype, as train.precision")
    a = ap.parse_args()

    device = torch.device(select_device(a.device).device)
    data = np.load(a.npz)
    if "train_images" not in data.files:
        print(f"{a.npz}: no train_images array (expected the MedMNIST npz layout)", file=sys.stderr)
        return 2
    images, labels = data["train_images"], data["train_labels"].reshape(-1).astype(np.int64)
    if a.images:
        images, labels = images[: a.images], labels[: a.images]
    x = torch.from_numpy(images.astype(np.float32) / 255)
    x = x.unsqueeze(1).expand(-1, 3, -1, -1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    # resized once, kept on the host as NHWC float32 (as the engine's pixels file), moved per batch
    pixels = F.interpolate(x, size=(a.size, a.size), mode="bilinear", align_corners=False).permute(0, 2, 3, 1).contiguous().numpy()
    classes = int(labels.max()) + 1
    mean = torch.tensor([0.485, 0.456, 0.406], device=device).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device=device).view(1, 3, 1, 1)

    torch.manual_seed(1)
    spec = {"kind": a.kind, **({"cut": a.cut} if a.cut else {})}
    prepared = prepare_strategy(build_backbone(a.backbone, pretrained=False), spec, max(classes, 2), a.head_lr_multiplier)
    model = prepared.model.to(device)
    # what the engine does on CUDA: cuDNN autotuning, channels-last; autocast at the precision, fp16 with loss scaling
    channels_last = device.type == "cuda"
    if channels_last:
        torch.backends.cudnn.benchmark = True
        model = model.to(memory_format=torch.channels_last)
    amp = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[a.precision]
    autocast = lambda: torch.autocast(device.type, dtype=amp, enabled=amp is not None)  # noqa: E731
    scaler = torch.amp.GradScaler(device.type) if a.precision == "fp16" else None
    groups = [{"params": [q for q in g.params if q.requires_grad], "lr": a.lr * g.lr_scale} for g in prepared.groups]
    opt = torch.optim.Adam(groups, lr=a.lr, betas=(0.9, 0.999), eps=1e-7)
    params = sum(q.numel() for q in model.parameters())

    rng = np.random.default_rng(1)
    n = len(labels)
    epoch_img_s = []
    for _ in range(a.epochs):
        order = rng.permutation(n)
        model.train()
        sync(device)
        t0 = time.perf_counter()
        for s in range(0, n, a.batch):
            idx = order[s : s + a.batch]
            if len(idx) < 2:
                continue
            xb = torch.from_numpy(pixels[idx]).to(device).permute(0, 3, 1, 2)
            xb = (xb - mean) / std
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            yb = torch.from_numpy(labels[idx]).to(device)
            with autocast():
                logits = model(xb)
            loss = F.cross_entropy(logits.float(), yb)
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
        sync(device)
        epoch_img_s.append(n / (time.perf_counter() - t0))

    model.eval()
    one = torch.zeros(1, 3, a.size, a.size, device=device)
    if channels_last:
        one = one.contiguous(memory_format=torch.channels_last)
    times = []
    with torch.inference_mode(), autocast():
        for i in range(3 + a.latency_runs):
            sync(device)
            t0 = time.perf_counter()
            model(one)
            sync(device)
            if i >= 3:
                times.append((time.perf_counter() - t0) * 1000)

    steady = epoch_img_s[1:] or epoch_img_s
    print(
        json.dumps(
            {
                "img_s": statistics.median(steady),
                "epoch_img_s": epoch_img_s,
                "latency_ms": statistics.median(times),
                "params": params,
                "images": n,
                "device": str(device),
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
                "precision": a.precision,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
