"""``python -m ttl_torch train``: the compute worker of a training run.

It speaks the job protocol (docs/job-protocol.md, "Compute workers") on stdio and only
computes: the TypeScript engine resolves the experiment, loads and splits the data once, and
drives the run with ``call`` requests that this worker answers with ``reply``:

``setup``        build the model and optimiser on the device (and resume from the last checkpoint)
``train-epoch``  one epoch over the order TypeScript gave, then the predicted probabilities of the
                 asked splits; ``batch`` events on the way
``save``         write ``torch-last.pt`` (and ``torch-best.pt`` when told) atomically
``evaluate``     the probabilities of the asked splits with the best (or current) weights
``latency``      batch-1 latency on the device, synchronised
``export``       the current weights in the exchange format (``weights.save_exchange``)

Everything that decides (metrics, best epoch, early stopping, the schedule's state) or records
(the run store) stays in TypeScript. When stdin closes the worker writes ``done`` and exits 0;
SIGINT/SIGTERM (or a ``cancel`` line) stop an epoch between batches, and the worker answers
``cancelled``.
"""

import base64
import contextlib
import json
import math
import os
import signal
import statistics
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from .protocol import VERSION
from ._torch import TorchUnavailable, require_torch
from .device import DeviceUnavailable, select_device

LAST = "torch-last.pt"
BEST = "torch-best.pt"
VOLUME_BACKBONES = {"resnet3d18", "resnext3d101", "mobilenet3d"}
PRECISIONS = ("fp32", "bf16", "fp16")


class Cancelled(Exception):
    """SIGINT, SIGTERM or a ``cancel`` line: stop between batches."""


class BadInput(ValueError):
    """The request or its files are at fault (exit code 2)."""


class Diverged(Exception):
    """The model's outputs or loss are no longer finite numbers."""


class Gone(Exception):
    """stdout broke: the parent has gone."""


class Channel:
    """JSON lines on stdout (flushed each), and the cancel flag."""

    def __init__(self) -> None:
        self.cancelled = False
        self.signals = 0

    def send(self, **message: Any) -> None:
        try:
            sys.stdout.write(json.dumps(dict(v=VERSION, **message), allow_nan=False) + "\n")
            sys.stdout.flush()
        except (BrokenPipeError, OSError):
            raise Gone() from None

    def on_signal(self, *_: Any) -> None:
        self.signals += 1
        if self.signals > 1:
            os._exit(130)
        self.cancelled = True

    def check(self) -> None:
        if self.cancelled:
            raise Cancelled()


def _finite(x: float) -> Optional[float]:
    return float(x) if math.isfinite(x) else None


def _crop_boxes(rng: np.random.Generator, n: int, augment: Dict[str, Any]) -> np.ndarray:
    """[n, 4] boxes (y1, x1, y2, x2) in [0, 1] as the TypeScript engine samples them
    (`sampleCropBox`: torchvision's RandomResizedCrop, 10 tries then the whole image); a flip
    swaps x1 and x2."""
    scale = augment.get("scale", [1, 1])
    ratio = augment.get("ratio", [3 / 4, 4 / 3])
    log_r = (math.log(ratio[0]), math.log(ratio[1]))
    boxes = np.zeros((n, 4), dtype=np.float64)
    for b in range(n):
        box = [0.0, 0.0, 1.0, 1.0]
        if augment.get("randomResizedCrop"):
            for _ in range(10):
                area = rng.uniform(scale[0], scale[1])
                aspect = math.exp(rng.uniform(log_r[0], log_r[1]))
                w, h = math.sqrt(area * aspect), math.sqrt(area / aspect)
                if w <= 1 and h <= 1:
                    y = rng.uniform(0, 1 - h)
                    x = rng.uniform(0, 1 - w)
                    box = [y, x, y + h, x + w]
                    break
        if augment.get("hflip") and rng.random() < 0.5:
            box = [box[0], box[3], box[2], box[1]]
        boxes[b] = box
    return boxes


def _volume_augments(rng: np.random.Generator, n: int, size: int, augment: Dict[str, Any]) -> List[Any]:
    """Per volume: the crop box (z0, y0, x0, z1, y1, x1) in voxels and the flips (z, y, x), as the
    TypeScript engine samples them (`augmentVolume`): a cube holding a uniform fraction in `scale`
    of the volume at a uniform position, then each axis flipped with probability 1/2."""
    out = []
    scale = augment.get("scale", [1, 1])
    for _ in range(n):
        box = (0.0, 0.0, 0.0, float(size), float(size), float(size))
        if augment.get("randomResizedCrop"):
            side = size * rng.uniform(scale[0], scale[1]) ** (1 / 3)
            z, y, x = (rng.uniform(0, size - side) for _ in range(3))
            box = (z, y, x, z + side, y + side, x + side)
        flips = (False, False, False)
        if augment.get("hflip"):
            flips = tuple(bool(rng.random() < 0.5) for _ in range(3))
        out.append((box, flips))
    return out


def _volume_grid(augments: List[Any], size: int) -> np.ndarray:
    """`grid_sample`'s [B, S, S, S, 3] grid (x, y, z in [-1, 1], corners aligned) that resamples each
    box back to S³ trilinearly at half-voxel centres, clamped to the volume, then flips: the
    TypeScript engine's `resampleTrilinear` of the box followed by the flips."""
    i = np.arange(size, dtype=np.float64)
    grid = np.zeros((len(augments), size, size, size, 3), dtype=np.float32)
    for b, (box, flips) in enumerate(augments):
        axes = []
        for a in range(3):
            lo, hi = box[a], box[a + 3]
            f = np.clip(lo + (hi - lo) / size * (i + 0.5) - 0.5, 0, size - 1)
            if flips[a]:
                f = f[::-1]
            axes.append(2 * f / (size - 1) - 1)
        gz, gy, gx = np.meshgrid(axes[0], axes[1], axes[2], indexing="ij")
        grid[b] = np.stack([gx, gy, gz], axis=-1)
    return grid


def torch_index(torch, idx: np.ndarray, device):
    return torch.from_numpy(np.asarray(idx, dtype=np.int64)).to(device)


def crop_and_resize(x, boxes, mode: str = "bilinear"):
    """`tf.image.cropAndResize` of each NCHW image to its box (y1, x1, y2, x2) in [0, 1], at the
    input's size, bilinear, the box corners at pixel centres; x2 < x1 flips left-right."""
    import torch  # noqa: PLC0415

    y1, x1, y2, x2 = boxes.unbind(1)
    theta = torch.zeros(x.shape[0], 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0] = x2 - x1
    theta[:, 0, 2] = x1 + x2 - 1
    theta[:, 1, 1] = y2 - y1
    theta[:, 1, 2] = y1 + y2 - 1
    grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=True)
    return torch.nn.functional.grid_sample(x, grid, mode=mode, padding_mode="border", align_corners=True)


class Worker:
    """The state of one run's compute: data, model, optimiser, device."""

    def __init__(self, channel: Channel) -> None:
        self.ch = channel
        self.torch = require_torch()
        self.model = None

    # -- setup -------------------------------------------------------------------------------

    def setup(self, p: Dict[str, Any]) -> Dict[str, Any]:
        torch = self.torch
        from .models import build_backbone  # noqa: PLC0415
        from .strategies import prepare_strategy  # noqa: PLC0415
        from .torchvision_weights import TORCHVISION_IMAGENET, is_pth, load_pth, load_torchvision_imagenet  # noqa: PLC0415
        from .weights import WeightsError  # noqa: PLC0415

        try:
            choice = select_device(p.get("device", "auto"))
        except DeviceUnavailable as e:
            raise BadInput(str(e)) from None
        self.device = torch.device(choice.device)
        self.device_name = choice.name
        self.run_dir = p["runDir"]
        self.ckpt_dir = Path(p["checkpointsDir"])
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        pixels_file = p["pixelsFile"]
        try:
            self.pixels = np.load(pixels_file, mmap_mode="r")
        except (OSError, ValueError) as e:
            raise BadInput(f"{pixels_file}: cannot read the images: {e}") from None
        # images [N, S, S, 3] (HWC RGB), or volumes [N, S, S, S, 1] (DHW grey)
        self.volumes = self.pixels.ndim == 5
        if not ((self.pixels.ndim == 4 and self.pixels.shape[3] == 3) or (self.volumes and self.pixels.shape[4] == 1)):
            raise BadInput(f"{pixels_file}: expected [N, S, S, 3] images or [N, S, S, S, 1] volumes, found shape {list(self.pixels.shape)}")
        self.size = int(self.pixels.shape[1])
        self.labels = np.asarray(p["labels"], dtype=np.int64)
        # segmentation: [N, S, S] uint8 masks of class values beside the images, and the loss weights
        self.segment = p.get("task") == "segment"
        self.masks = None
        if self.segment:
            try:
                self.masks = np.load(p["masksFile"], mmap_mode="r")
            except (OSError, ValueError, KeyError) as e:
                raise BadInput(f"{p.get('masksFile')}: cannot read the masks: {e}") from None
            if self.masks.shape != self.pixels.shape[:3]:
                raise BadInput(f"{p['masksFile']}: expected masks of shape {list(self.pixels.shape[:3])}, found {list(self.masks.shape)}")
            self.seg_loss = {"dice": float(p.get("loss", {}).get("dice", 1)), "bce": float(p.get("loss", {}).get("bce", 1))}
        self.splits = {k: np.asarray(v, dtype=np.int64) for k, v in p["splits"].items()}
        self.num_classes = int(p["numClasses"])
        norm = p["normalisation"]
        shape = (1, 3, 1, 1, 1) if self.volumes else (1, 3, 1, 1)
        self.mean = torch.tensor(norm["mean"], dtype=torch.float32, device=self.device).view(*shape)
        self.std = torch.tensor(norm["std"], dtype=torch.float32, device=self.device).view(*shape)
        t = p["train"]
        self.batch_size = int(t["batchSize"])
        self.augment = t.get("augment") or {}
        self.precision = t.get("precision") or "fp32"
        self.amp_dtype = self._amp_dtype(self.precision)
        if self.device.type == "cuda":
            # the input size is fixed for a run: let cuDNN pick its fastest kernels once
            torch.backends.cudnn.benchmark = True
        cw = p.get("classWeights")
        self.class_weights = torch.tensor(cw, dtype=torch.float32, device=self.device) if cw else None
        seed = int(p["seed"])

        m = p["model"]
        backbone_name = m["backbone"]
        if (backbone_name in VOLUME_BACKBONES) != self.volumes:
            raise BadInput(f"model.backbone: {backbone_name} reads {'volumes' if backbone_name in VOLUME_BACKBONES else '2D images'}, but {pixels_file} holds {'volumes' if self.volumes else '2D images'}")
        torch.manual_seed(seed)
        weights = m.get("weights")
        try:
            # weights of their own replace the shipped ones; "imagenet": the architecture of those weights (resnet50: Keras' v1)
            backbone = build_backbone(backbone_name, pretrained=bool(m.get("pretrained", True)) and not weights, imagenet=bool(m.get("imagenet")))
        except ValueError as e:
            raise BadInput(f"model.backbone: {e}") from None
        if weights == TORCHVISION_IMAGENET:
            try:
                load_torchvision_imagenet(backbone)
            except WeightsError as e:
                raise BadInput(f"model.weights: {e}") from None
        elif is_pth(weights):
            # a user's torch checkpoint in torchvision's naming (checked before the run by `torchvision-weights --file`)
            try:
                load_pth(backbone, weights)
            except WeightsError as e:
                raise BadInput(f"model.weights: {e}") from None
        elif weights:
            self._load_weights(backbone, weights)
        torch.manual_seed(seed)
        try:
            if self.segment:
                from .segment import prepare_segmentation  # noqa: PLC0415

                width = (p.get("decoder") or {}).get("width")
                prepared = prepare_segmentation(backbone, p["strategy"], self.size, width, self.num_classes, float(t.get("headLrMultiplier", 1)))
            else:
                prepared = prepare_strategy(backbone, p["strategy"], self.num_classes, float(t.get("headLrMultiplier", 1)))
        except ValueError as e:
            raise BadInput(f"strategy: {e}") from None
        self.model = prepared.model.to(self.device)
        # channels-last feeds CUDA's tensor-core convolutions without transposes (2D models; on
        # the CPU no gain showed in measurements, so the default layout stays there)
        self.channels_last = self.device.type == "cuda" and backbone_name not in VOLUME_BACKBONES
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.groups = prepared.groups
        # the probe trains its head on pooled features computed once, without augmentation (as the TypeScript engine does)
        self.probe_features = None
        if p["strategy"].get("kind") == "probe":
            self._cache_probe_features()
        self.lr_scales = [g.lr_scale for g in self.groups]
        groups = [{"params": [q for q in g.params if q.requires_grad], "lr": float(t["lr"]) * g.lr_scale} for g in self.groups]
        wd = float(t.get("weightDecay", 0) or 0)
        if t.get("optimizer") == "adam":
            # tfjs' Adam: β 0.9/0.999, ε 1e-7
            self.opt = torch.optim.Adam(groups, lr=float(t["lr"]), betas=(0.9, 0.999), eps=1e-7, weight_decay=wd)
        else:
            self.opt = torch.optim.SGD(groups, lr=float(t["lr"]), momentum=float(t.get("momentum", 0) or 0), weight_decay=wd)
        self.scaler = self._grad_scaler() if self.precision == "fp16" else None
        # batch norm layers without trainable parameters run in inference mode (Keras' trainable=False)
        self.frozen_norms = [mod for mod in self.model.modules() if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm) and not any(q.requires_grad for q in mod.parameters())]

        resumed = None
        last = self.ckpt_dir / LAST
        if p.get("resume") and last.exists():
            ck = torch.load(str(last), map_location=self.device, weights_only=False)
            self.model.load_state_dict(ck["model"])
            self.opt.load_state_dict(ck["optimizer"])
            if self.scaler is not None and ck.get("scaler"):
                self.scaler.load_state_dict(ck["scaler"])
            resumed = {"epoch": ck["epoch"], "state": ck.get("loop")}
        cuda = torch.version.cuda
        cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        return {
            "device": choice.device,
            "deviceName": choice.name,
            "reason": choice.reason,
            "torch": torch.__version__,
            "cuda": cuda,
            "cudnn": None if cudnn is None else str(cudnn),
            "python": ".".join(map(str, sys.version_info[:3])),
            "precision": self.precision,
            "lossScaling": self.scaler is not None,
            "channelsLast": self.channels_last,
            "resumed": resumed,
        }

    def _amp_dtype(self, precision: str):
        """The autocast dtype of `precision` (None for fp32), checked to work on this device."""
        torch = self.torch
        if precision not in PRECISIONS:
            raise BadInput(f"train.precision: unknown precision {precision!r}: use {', '.join(PRECISIONS)}")
        if precision == "fp32":
            return None
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        # an unsupported device/dtype pair either raises or (older torch) warns and computes in fp32
        why = None
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                with torch.autocast(self.device.type, dtype=dtype):
                    out = torch.nn.functional.linear(torch.ones(2, 2, device=self.device), torch.ones(2, 2, device=self.device))
            if out.dtype != dtype:
                why = "; ".join(str(w.message) for w in caught) or f"autocast computed {out.dtype}"
        except (RuntimeError, ValueError) as e:
            why = str(e).splitlines()[0]
        if why is not None:
            raise BadInput(f"train.precision: {precision} is not supported on {self.device} by torch {torch.__version__} ({why}); use fp32{' or bf16' if precision == 'fp16' else ''}")
        return dtype

    def _grad_scaler(self):
        """fp16's loss scaling on this device, or None where torch has none (the loss is then unscaled)."""
        torch = self.torch
        amp_scaler = getattr(torch.amp, "GradScaler", None)
        try:
            if amp_scaler is not None:
                return amp_scaler(self.device.type)
            if self.device.type == "cuda":
                return torch.cuda.amp.GradScaler()
        except (RuntimeError, ValueError, AssertionError):
            pass
        return None

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return self.torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _cache_probe_features(self) -> None:
        from .models.graph import Net  # noqa: PLC0415

        torch = self.torch
        m = self.model
        pool = m.inputs["head"][0]
        keep = [n for n in m.layer_names() if n != "head"]
        body = Net(m.spec, {n: m.layers[n] for n in keep}, {n: m.inputs[n] for n in keep}, {n: m.channels[n] for n in keep}, pool)
        body.eval()
        parts = []
        everything = np.arange(self.pixels.shape[0])
        with torch.inference_mode():
            for s in range(0, len(everything), self.batch_size):
                self.ch.check()
                parts.append(body(self._batch(everything[s : s + self.batch_size], None)).float())
        self.probe_features = torch.cat(parts)

    def _forward(self, idx: np.ndarray, rng: Optional[np.random.Generator]):
        """Logits of the images `idx` (augmented when `rng` is given; the probe reads its cached
        features), the model under autocast at `train.precision`; the batch itself is made in fp32."""
        if self.probe_features is not None:
            x = self.probe_features[torch_index(self.torch, idx, self.device)]
            with self._autocast():
                return self.model.layers["head"](x)
        x = self._batch(idx, rng)
        with self._autocast():
            return self.model(x)

    def _load_weights(self, backbone, file: str) -> None:
        from .weights import WeightsError, load_exchange, load_weights, read_tfjs_weights  # noqa: PLC0415

        try:
            if file.endswith(".json"):
                load_weights(backbone, read_tfjs_weights(file), file, strict=False)
            else:
                load_exchange(backbone, file, strict=False)
        except (WeightsError, OSError) as e:
            raise BadInput(f"model.weights: {e}") from None

    # -- batches -----------------------------------------------------------------------------

    def _segment_batch(self, idx: np.ndarray, rng: Optional[np.random.Generator]):
        """Images (normalised NCHW) and masks [B, S, S] of `idx`; with augmentation, each image and
        its mask through the same crop box and flip (bilinear for the image, nearest for the mask)."""
        torch = self.torch
        x = torch.from_numpy(np.ascontiguousarray(self.pixels[idx])).to(self.device).permute(0, 3, 1, 2).float()
        y = torch.from_numpy(np.ascontiguousarray(self.masks[idx])).to(self.device).unsqueeze(1).float()
        if rng is not None and (self.augment.get("randomResizedCrop") or self.augment.get("hflip")):
            boxes = torch.tensor(_crop_boxes(rng, len(idx), self.augment), dtype=torch.float32, device=self.device)
            x = crop_and_resize(x, boxes)
            y = crop_and_resize(y, boxes, mode="nearest")
        x = (x - self.mean) / self.std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y[:, 0].round().long()

    def _batch(self, idx: np.ndarray, rng: Optional[np.random.Generator]):
        torch = self.torch
        # a gather from the memory-mapped file; on CUDA through pinned memory, copied asynchronously
        x = torch.from_numpy(np.ascontiguousarray(self.pixels[idx]))
        x = x.pin_memory().to(self.device, non_blocking=True) if self.device.type == "cuda" else x.to(self.device)
        if self.volumes:
            return self._volume_batch(x, len(idx), rng)
        x = x.permute(0, 3, 1, 2).float()
        if rng is not None and (self.augment.get("randomResizedCrop") or self.augment.get("hflip")):
            boxes = torch.tensor(_crop_boxes(rng, len(idx), self.augment), dtype=torch.float32, device=self.device)
            x = crop_and_resize(x, boxes)
        x = (x - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _volume_batch(self, x, n: int, rng: Optional[np.random.Generator]):
        """[B, S, S, S, 1] uint8 → augmented (when `rng` is given), grey replicated to 3 normalised channels, NCDHW."""
        torch = self.torch
        x = x.permute(0, 4, 1, 2, 3).float()
        if rng is not None and (self.augment.get("randomResizedCrop") or self.augment.get("hflip")):
            grid = torch.from_numpy(_volume_grid(_volume_augments(rng, n, self.size, self.augment), self.size)).to(self.device)
            x = torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)
        return (x.expand(-1, 3, -1, -1, -1) - self.mean) / self.std

    def _loss(self, logits, y, weighted: bool):
        torch = self.torch
        ce = torch.nn.functional.cross_entropy(logits, y, reduction="none")
        if weighted and self.class_weights is not None:
            w = self.class_weights[y]
            return (ce * w).sum() / w.sum()
        return ce.mean()

    def _predict_masks(self, indices: np.ndarray) -> Dict[str, Any]:
        """The predicted masks of `indices` ([n, S, S] uint8 class values, row-major, base64) and the mean loss."""
        from .segment import predicted_labels, segmentation_loss  # noqa: PLC0415

        torch = self.torch
        self.model.eval()
        parts: List[np.ndarray] = []
        loss_sum = 0.0
        with torch.inference_mode():
            for s in range(0, len(indices), self.batch_size):
                self.ch.check()
                idx = indices[s : s + self.batch_size]
                x, y = self._segment_batch(idx, None)
                with self._autocast():
                    logits = self.model(x)
                logits = logits.float()
                if not bool(torch.isfinite(logits).all()):
                    raise Diverged("the model diverged: its outputs are no longer finite numbers; lower train.lr")
                loss_sum += float(segmentation_loss(logits, y, self.seg_loss)) * len(idx)
                parts.append(predicted_labels(logits).cpu().numpy())
        masks = np.concatenate(parts) if parts else np.zeros((0, self.size, self.size), dtype=np.uint8)
        return {"masks": base64.b64encode(np.ascontiguousarray(masks, dtype=np.uint8).tobytes()).decode("ascii"), "loss": loss_sum / len(indices) if len(indices) else None}

    def _predict(self, indices: np.ndarray) -> Dict[str, Any]:
        torch = self.torch
        if self.segment:
            return self._predict_masks(indices)
        self.model.eval()
        probs: List[float] = []
        loss_sum = 0.0
        with torch.inference_mode():
            for s in range(0, len(indices), self.batch_size):
                self.ch.check()
                idx = indices[s : s + self.batch_size]
                logits = self._forward(idx, None).float()
                if not bool(torch.isfinite(logits).all()):
                    raise Diverged("the model diverged: its outputs are no longer finite numbers; lower train.lr")
                y = torch.from_numpy(self.labels[idx]).to(self.device)
                loss_sum += float(self._loss(logits, y, False)) * len(idx)
                probs.extend(torch.softmax(logits, 1)[:, : self.num_classes].reshape(-1).cpu().tolist())
        return {"probs": probs, "loss": loss_sum / len(indices) if len(indices) else None}

    # -- methods -----------------------------------------------------------------------------

    def train_epoch(self, p: Dict[str, Any]) -> Dict[str, Any]:
        torch = self.torch
        epoch, epochs = int(p["epoch"]), int(p["epochs"])
        lr = float(p["lr"])
        for g, s in zip(self.opt.param_groups, self.lr_scales):
            g["lr"] = lr * s
        order = np.asarray(p["order"], dtype=np.int64)
        rng = np.random.default_rng(int(p["augmentSeed"]))
        t0 = time.perf_counter()
        self.model.train()
        for mod in self.frozen_norms:
            mod.eval()
        steps = math.ceil(len(order) / self.batch_size)
        loss_sum = 0.0
        oom_at = int(os.environ.get("TTL_FAULT_TORCH_OOM_AT_STEP", "0") or 0)
        for step in range(steps):
            self.ch.check()
            if step + 1 == oom_at:
                # fault injection (tests): the error a CUDA allocation failure raises
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB (injected by TTL_FAULT_TORCH_OOM_AT_STEP)")
            idx = order[step * self.batch_size : (step + 1) * self.batch_size]
            # a batch of one breaks batch norm's statistics (as the TypeScript loop skips it)
            if len(idx) < 2 and steps > 1:
                continue
            if self.segment:
                from .segment import segmentation_loss  # noqa: PLC0415

                x, y = self._segment_batch(idx, rng)
                with self._autocast():
                    logits = self.model(x)
                loss = segmentation_loss(logits.float(), y, self.seg_loss)
            else:
                y = torch.from_numpy(self.labels[idx]).to(self.device)
                loss = self._loss(self._forward(idx, rng).float(), y, True)
            self.opt.zero_grad(set_to_none=True)
            if self.scaler is not None:
                # fp16: the loss scaled up so small gradients survive; a step with inf/NaN gradients is skipped
                self.scaler.scale(loss).backward()
                self.scaler.step(self.opt)
                self.scaler.update()
            else:
                loss.backward()
                self.opt.step()
            value = float(loss.detach())
            if not math.isfinite(value):
                raise Diverged(f"the model diverged: the training loss is {value} at epoch {epoch}, step {step + 1}; lower train.lr")
            loss_sum += value * len(idx)
            self.ch.send(type="batch", runDir=self.run_dir, epoch=epoch, epochs=epochs, step=step + 1, steps=steps, **self._memory())
        self._sync()
        train_seconds = time.perf_counter() - t0
        out = {s: self._predict(self.splits[s]) for s in p.get("predict", ["val"])}
        return {"trainLoss": _finite(loss_sum / len(order)), "trainSeconds": train_seconds, "splits": out}

    def _memory(self) -> Dict[str, Any]:
        """The CUDA device's memory for a batch event (host-side counters, no synchronisation); nothing elsewhere."""
        if self.device.type != "cuda":
            return {}
        return {
            "memory": {
                "allocatedBytes": int(torch.cuda.memory_allocated(self.device)),
                "reservedBytes": int(torch.cuda.memory_reserved(self.device)),
                "totalBytes": int(torch.cuda.get_device_properties(self.device).total_memory),
            }
        }

    def save(self, p: Dict[str, Any]) -> Dict[str, Any]:
        # best first, then last: the last checkpoint's loop state never names a best epoch that
        # torch-best.pt does not hold yet
        written = []
        if p.get("best"):
            written.append(self._atomic_save({"epoch": int(p["epoch"]), "model": self.model.state_dict()}, BEST))
        ck = {"epoch": int(p["epoch"]), "loop": p.get("state"), "model": self.model.state_dict(), "optimizer": self.opt.state_dict()}
        if self.scaler is not None:
            ck["scaler"] = self.scaler.state_dict()
        written.append(self._atomic_save(ck, LAST))
        return {"files": written}

    def ready(self, method: str) -> None:
        """Raises `BadInput` for a method that needs ``setup`` first."""
        if method != "setup" and self.model is None:
            raise BadInput(f"{method} before setup")

    def out_of_memory(self) -> str:
        """The one line for a device that ran out of memory: where, at what batch and size, what to change."""
        dev = getattr(self, "device", None)
        what = "out of GPU memory" if dev is not None and dev.type in ("cuda", "mps") else "out of memory"
        where = f" on {dev} ({self.device_name})" if dev is not None else ""
        at = []
        if hasattr(self, "batch_size"):
            at.append(f"batch size {self.batch_size}")
        if hasattr(self, "size"):
            at.append(f"image size {self.size}")
        return f"{what}{where}{' at ' + ', '.join(at) if at else ''}: try a smaller train.batchSize or data.imageSize"

    def _atomic_save(self, obj: Any, name: str) -> str:
        final = self.ckpt_dir / name
        tmp = self.ckpt_dir / f".{name}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            self.torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        return str(final)

    def evaluate(self, p: Dict[str, Any]) -> Dict[str, Any]:
        if p.get("weights", "best") == "best" and (self.ckpt_dir / BEST).exists():
            ck = self.torch.load(str(self.ckpt_dir / BEST), map_location=self.device, weights_only=False)
            self.model.load_state_dict(ck["model"])
        return {"splits": {s: self._predict(self.splits[s]) for s in p.get("splits", ["val", "test"])}}

    def _sync(self) -> None:
        torch = self.torch
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        elif self.device.type == "mps":
            torch.mps.synchronize()

    def latency(self, p: Dict[str, Any]) -> Dict[str, Any]:
        torch = self.torch
        self.model.eval()
        x = torch.zeros(1, 3, *([self.size] * (3 if self.volumes else 2)), device=self.device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        times = []
        with torch.inference_mode(), self._autocast():
            for i in range(int(p.get("warmup", 3)) + int(p.get("runs", 20))):
                self.ch.check()
                self._sync()
                t0 = time.perf_counter()
                self.model(x)
                self._sync()
                if i >= int(p.get("warmup", 3)):
                    times.append((time.perf_counter() - t0) * 1000)
        return {"medianMs": statistics.median(times), "runs": len(times)}

    def export(self, p: Dict[str, Any]) -> Dict[str, Any]:
        from .weights import save_exchange  # noqa: PLC0415

        self.model.to("cpu")
        if self.channels_last:
            self.model.to(memory_format=self.torch.contiguous_format)
        try:
            save_exchange(self.model, p["file"], {"engine": "torch", "precision": self.precision})
        finally:
            self.model.to(self.device)
            if self.channels_last:
                self.model.to(memory_format=self.torch.channels_last)
        return {"file": p["file"]}


METHODS = {"setup": "setup", "train-epoch": "train_epoch", "save": "save", "evaluate": "evaluate", "latency": "latency", "export": "export"}


def serve(make: Callable[[Channel], Any] = Worker, methods: Optional[Dict[str, str]] = None) -> int:
    """Answers ``call``s until stdin closes; returns the exit code. `make` builds the worker on the
    first call and `methods` maps the protocol's method names to its own (default: training's)."""
    methods = METHODS if methods is None else methods
    ch = Channel()
    signal.signal(signal.SIGINT, ch.on_signal)
    signal.signal(signal.SIGTERM, ch.on_signal)
    worker: Optional[Any] = None
    calls = 0
    try:
        for line in iter(sys.stdin.readline, ""):
            try:
                m = json.loads(line)
            except ValueError:
                print(f"ttl_torch: ignored a line that is not JSON: {line[:80]!r}", file=sys.stderr)
                continue
            if not isinstance(m, dict) or m.get("v") != VERSION:
                continue
            if m.get("type") == "cancel":
                ch.cancelled = True
                continue
            if m.get("type") != "call":
                continue
            calls += 1
            method = methods.get(m.get("method"))
            try:
                if method is None:
                    raise BadInput(f"unknown method {m.get('method')!r}")
                ch.check()
                if worker is None:
                    worker = make(ch)
                worker.ready(m["method"])
                result = getattr(worker, method)(m.get("params") or {})
            except Cancelled:
                ch.send(type="reply", id=m["id"], error="cancelled")
                ch.send(type="cancelled")
                return 0
            except Diverged as e:
                ch.send(type="reply", id=m["id"], error=str(e))
                ch.send(type="failed", error=str(e), inputError=False, outOfMemory=False)
                return 1
            except (BadInput, TorchUnavailable) as e:
                ch.send(type="reply", id=m["id"], error=str(e))
                ch.send(type="failed", error=str(e), inputError=True, outOfMemory=False)
                return 2
            except Gone:
                raise
            except Exception as e:  # noqa: BLE001
                oom = "out of memory" in str(e).lower() or type(e).__name__ == "OutOfMemoryError"
                if oom and worker is not None:
                    message = worker.out_of_memory()
                else:
                    traceback.print_exc(file=sys.stderr)
                    message = f"{type(e).__name__}: {e}".splitlines()[0]
                ch.send(type="reply", id=m["id"], error=message)
                ch.send(type="failed", error=message, inputError=False, outOfMemory=oom)
                return 1
            ch.send(type="reply", id=m["id"], result=result)
            if ch.cancelled:
                ch.send(type="cancelled")
                return 0
        ch.send(type="done", result={"kind": "compute", "calls": calls})
        return 0
    except Gone:
        return 1
