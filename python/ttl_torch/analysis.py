"""``python -m ttl_torch analysis``: the compute worker of ``ttl analyze``, ``ttl gradcam`` and
``ttl svcca|pwcca|cka --backend torch``.

It speaks the job protocol's compute-worker form (docs/job-protocol.md, "Compute workers") and
only computes; the TypeScript engine decides which models, layers, images, positions and rows,
which comparisons, and writes every file:

``devices``     the devices torch can use here (for the parent's choice)
``setup``       select the device
``similarity``  one measure between two ``.npy`` activation matrices
``load-model``  a backbone or a run's classifier from an exchange-format file, on the device
``record``      activations of some layers on some images, kept on the device (positions,
                pooled grid, global average) under a key per model, layer and form; one forward
                pass per batch for all layers, no copy to the host but the pooled features asked for
                (in the reply, or as float32 ``.npy`` files in ``pooledDir`` when it is given)
``compare``     one measure between two kept activations, pooled and row-sampled as told
``gradcam``     Grad-CAM's channel weights and map of images at a layer, with the class probabilities

Measures are float64 on the device (`similarity.py`); on Apple MPS, which has no float64, the
kept activations and the measures are on the CPU.
"""

import os
from typing import Any, Dict, List, Optional

import numpy as np

from ._torch import require_torch
from .device import DeviceUnavailable, available_devices, select_device
from .train import BadInput, Channel, serve as serve_calls
from .similarity import MeasureInputError, measure


def _cuda_name(torch, d: str) -> str:
    return torch.cuda.get_device_name(int(d.split(":")[1])) if d.startswith("cuda") else ("Apple MPS" if d == "mps" else "CPU")


class Analysis:
    """Models, kept activations and the device of one analysis."""

    def __init__(self, channel: Channel) -> None:
        self.ch = channel
        self.torch = require_torch()
        self.device = None
        self.device_name = "CPU"
        self.models: Dict[str, Any] = {}
        self.kept: Dict[str, Any] = {}
        self.pixels: Dict[str, np.ndarray] = {}

    def ready(self, method: str) -> None:
        if method not in ("devices", "setup", "similarity") and self.device is None:
            raise BadInput(f"{method} before setup")

    def out_of_memory(self) -> str:
        where = f" on {self.device} ({self.device_name})" if self.device is not None else ""
        what = "out of GPU memory" if self.device is not None and self.device.type in ("cuda", "mps") else "out of memory"
        return f"{what}{where}: analyse fewer images (--images) or fewer layers"

    # -- device ------------------------------------------------------------------------------

    def devices(self, p: Dict[str, Any]) -> Dict[str, Any]:
        torch = self.torch
        return {"devices": [{"device": d, "name": _cuda_name(torch, d)} for d in available_devices()], "torch": torch.__version__}

    def setup(self, p: Dict[str, Any]) -> Dict[str, Any]:
        try:
            choice = select_device(p.get("device", "auto"))
        except DeviceUnavailable as e:
            raise BadInput(str(e)) from None
        self.device = self.torch.device(choice.device)
        self.device_name = choice.name
        return {"device": choice.device, "deviceName": choice.name, "reason": choice.reason, "torch": self.torch.__version__}

    def _dev(self):
        return self.device if self.device is not None else self.torch.device("cpu")

    def _f64(self):
        """Where kept activations live and the measures run: the device, or the CPU for Apple MPS (which has no float64)."""
        dev = self._dev()
        return self.torch.device("cpu") if dev.type == "mps" else dev

    # -- measures ----------------------------------------------------------------------------

    def _measure(self, name: str, a, b, options: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        try:
            return measure(name, a, b, options)
        except MeasureInputError as e:
            raise BadInput(str(e)) from None

    def similarity(self, p: Dict[str, Any]) -> Dict[str, Any]:
        torch = self.torch
        if self.device is None:
            self.setup({"device": p.get("device", "cpu")})
        mats = []
        for f in (p["a"], p["b"]):
            try:
                x = np.load(f)
            except (OSError, ValueError) as e:
                raise BadInput(f"Cannot read {f}: {e}") from None
            mats.append(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)).to(self._f64()))
        return self._measure(p["measure"], mats[0], mats[1], p.get("options"))

    # -- models ------------------------------------------------------------------------------

    def load_model(self, p: Dict[str, Any]) -> Dict[str, Any]:
        from .models import build_backbone  # noqa: PLC0415
        from .strategies import prepare_strategy  # noqa: PLC0415
        from .weights import WeightsError, load_exchange  # noqa: PLC0415

        try:
            net = build_backbone(p["backbone"], pretrained=False, imagenet=bool(p.get("imagenet")))
            if p.get("strategy"):
                net = prepare_strategy(net, p["strategy"], int(p["numClasses"])).model
        except ValueError as e:
            raise BadInput(f"model.backbone: {e}") from None
        try:
            load_exchange(net, p["weights"], strict=True)
        except (WeightsError, OSError) as e:
            raise BadInput(f"{p['weights']}: {e}") from None
        net.eval()
        for q in net.parameters():
            q.requires_grad_(False)
        self.models[p["id"]] = net.to(self._dev())
        return {"layers": net.layer_names()}

    def _images(self, file: str):
        if file not in self.pixels:
            try:
                self.pixels[file] = np.load(file, mmap_mode="r")
            except (OSError, ValueError) as e:
                raise BadInput(f"{file}: cannot read the images: {e}") from None
        return self.pixels[file]

    def _batch(self, pixels: np.ndarray, rows: List[int], norm: Dict[str, Any]):
        """Normalised NCHW (NCDHW) float32 batch of the stored images or volumes `rows`, as the TypeScript `makeBatch`."""
        torch = self.torch
        x = torch.from_numpy(np.ascontiguousarray(pixels[np.asarray(rows, dtype=np.int64)])).to(self._dev())
        volumes = pixels.ndim == 5
        shape = (1, 3, 1, 1, 1) if volumes else (1, 3, 1, 1)
        mean = torch.tensor(norm["mean"], dtype=torch.float32, device=self._dev()).view(*shape)
        std = torch.tensor(norm["std"], dtype=torch.float32, device=self._dev()).view(*shape)
        if volumes:
            x = x.permute(0, 4, 1, 2, 3).float().expand(-1, 3, -1, -1, -1)
        else:
            x = x.permute(0, 3, 1, 2).float()
        return (x - mean) / std

    @staticmethod
    def _forward(net, x, wanted: List[str], keep_graph: bool = False) -> Dict[str, Any]:
        """The outputs of the `wanted` layers (and of the last one), stopping after the deepest."""
        from .models.graph import INPUT  # noqa: PLC0415

        values = {INPUT: x}
        out = {}
        left = set(wanted)
        for i, (name, layer) in enumerate(net.layers.items()):
            values[name] = layer(*(values[s] for s in net.inputs[name]))
            if name in left:
                out[name] = values[name]
                left.discard(name)
                if not left and not keep_graph:
                    break
            for s in net._free[i]:
                if s not in out:
                    values.pop(s, None)
        if keep_graph:
            out["__output__"] = values[net.output]
        return out

    def record(self, p: Dict[str, Any]) -> Dict[str, Any]:
        torch = self.torch
        f = torch.nn.functional
        net = self.models[p["model"]]
        layers: List[str] = p["layers"]
        missing = [name for name in layers if name not in net.layers]
        if missing:
            raise BadInput(f"{p['model']}: no layer {', '.join(missing)}")
        pixels = self._images(p["pixelsFile"])
        rows: List[int] = p["rows"]
        grid = int(p.get("grid", 0))
        positions = {k: torch.as_tensor(v, dtype=torch.int64, device=self._f64()) for k, v in (p.get("positions") or {}).items()}
        per_image = {k: int(v) for k, v in (p.get("perImage") or {}).items()}
        want_pooled = set(p.get("pooled") or [])
        batch = int(p.get("batchSize", 32))
        key = p.get("key", p["model"])
        phase = p.get("phase")
        parts: Dict[str, Dict[str, List[Any]]] = {name: {"points": [], "grid": [], "pooled": []} for name in layers}
        n = len(rows)
        with torch.inference_mode():
            for s in range(0, n, batch):
                self.ch.check()
                outs = self._forward(net, self._batch(pixels, rows[s : s + batch], p["normalisation"]), layers)
                for name in layers:
                    y = outs[name].to(self._f64(), torch.float64)
                    b = y.shape[0]
                    if y.dim() == 2:
                        # a dense output is every form itself (as the TypeScript recording keeps it)
                        parts[name]["pooled"].append(y)
                        if grid > 0:
                            parts[name]["grid"].append(y)
                        if name in positions:
                            parts[name]["points"].append(y)
                        continue
                    spatial = list(y.shape[2:])
                    nhwc = y.permute(0, *range(2, y.dim()), 1)
                    parts[name]["pooled"].append(nhwc.mean(dim=tuple(range(1, 1 + len(spatial)))))
                    if grid > 0:
                        size = [min(d, grid) for d in spatial]
                        g = y if size == spatial else (f.adaptive_avg_pool2d(y, size) if len(size) == 2 else f.adaptive_avg_pool3d(y, size))
                        parts[name]["grid"].append(g.permute(0, *range(2, g.dim()), 1).contiguous())
                    if name in positions:
                        k = per_image[name]
                        flat = nhwc.reshape(b, -1, nhwc.shape[-1])
                        idx = positions[name][s * k : (s + b) * k].view(b, k)
                        parts[name]["points"].append(torch.gather(flat, 1, idx[:, :, None].expand(-1, -1, flat.shape[-1])).reshape(b * k, -1))
                if phase:
                    self.ch.send(type="phase", phase=phase, done=min(s + batch, n), total=n)
        shapes: Dict[str, Dict[str, List[int]]] = {}
        pooled: Dict[str, List[float]] = {}
        pooled_files: Dict[str, str] = {}
        pooled_dir = p.get("pooledDir")
        for i, name in enumerate(layers):
            shapes[name] = {}
            for form, chunks in parts[name].items():
                if not chunks:
                    continue
                t = torch.cat(chunks)
                self.kept[f"{key}/{name}/{form}"] = t
                shapes[name][form] = list(t.shape)
            if name in want_pooled:
                host = self.kept[f"{key}/{name}/pooled"].to(torch.float32).cpu()
                if pooled_dir:
                    # a matrix per layer, named by its position (layer names need not be file names)
                    pooled_files[name] = os.path.join(pooled_dir, f"{key}-{i}.npy")
                    np.save(pooled_files[name], host.numpy())
                else:
                    pooled[name] = host.reshape(-1).tolist()
        return {"shapes": shapes, "pooled": pooled, **({"pooledFiles": pooled_files} if pooled_dir else {})}

    def _matrix(self, key: str, pool: Optional[List[int]], rows: Optional[List[int]]):
        torch = self.torch
        f = torch.nn.functional
        x = self.kept.get(key)
        if x is None:
            raise BadInput(f"no kept activations {key!r}")
        if pool is not None and x.dim() > 2:
            nc = x.permute(0, x.dim() - 1, *range(1, x.dim() - 1))
            nc = f.adaptive_avg_pool2d(nc, pool) if len(pool) == 2 else (f.adaptive_avg_pool3d(nc, pool) if len(pool) == 3 else f.adaptive_avg_pool1d(nc, pool))
            x = nc.permute(0, *range(2, nc.dim()), 1)
        x = x.reshape(-1, x.shape[-1])
        if rows is not None:
            x = x[torch.as_tensor(rows, dtype=torch.int64, device=x.device)]
        return x

    def compare(self, p: Dict[str, Any]) -> Dict[str, Any]:
        a = self._matrix(p["a"], p.get("poolA"), p.get("rows"))
        b = self._matrix(p["b"], p.get("poolB"), p.get("rows"))
        return self._measure(p["measure"], a, b, p.get("options"))

    # -- Grad-CAM ----------------------------------------------------------------------------

    def gradcam(self, p: Dict[str, Any]) -> Dict[str, Any]:
        """Per image: softmax probabilities, α (the spatially averaged gradients of the class logit
        at `layer`) and ReLU(Σ α_k A_k) divided by its maximum, channels-last order, as `gradCam`."""
        torch = self.torch
        net = self.models[p["model"]]
        layer = p["layer"]
        if layer not in net.layers:
            raise BadInput(f"{p['model']}: no layer {layer}")
        pixels = self._images(p["pixelsFile"])
        maps = []
        for r in p["rows"]:
            self.ch.check()
            # the weights are frozen: the gradient flows from the input, through the layer's output
            x = self._batch(pixels, [r], p["normalisation"]).requires_grad_(True)
            with torch.enable_grad():
                outs = self._forward(net, x, [layer], keep_graph=True)
                a, logits = outs[layer], outs["__output__"]
                probs = torch.softmax(logits.float(), 1)[0]
                c = p.get("classIndex")
                if c is None:
                    c = int(torch.argmax(probs))
                if not (isinstance(c, int) and 0 <= c < probs.numel()):
                    raise BadInput(f"class index {c} is out of range (the model has {probs.numel()} outputs)")
                (grad,) = torch.autograd.grad(logits[0, c], a)
            a = a.detach()
            alpha = grad.mean(dim=(0, *range(2, grad.dim())))
            raw = torch.relu((a * alpha.view(1, -1, *([1] * (a.dim() - 2)))).sum(1))[0]
            cam = raw / torch.clamp(raw.max(), min=1e-30)
            maps.append(
                {
                    "classIndex": c,
                    "probabilities": probs.cpu().tolist(),
                    "weights": alpha.float().cpu().tolist(),
                    "cam": cam.float().cpu().reshape(-1).tolist(),
                    "camSize": list(cam.shape),
                }
            )
        return {"layer": layer, "maps": maps}


METHODS = {
    "devices": "devices",
    "setup": "setup",
    "similarity": "similarity",
    "load-model": "load_model",
    "record": "record",
    "compare": "compare",
    "gradcam": "gradcam",
}


def serve() -> int:
    """Answers ``call``s until stdin closes (see `train.serve`)."""
    return serve_calls(Analysis, METHODS)
