"""Weights between the engines.

Exchange format: a safetensors file whose tensors are named like the TypeScript engine's
layer variables (``conv2_block1_1_conv/kernel``, ``conv2_block1_1_bn/moving_variance``,
``head/bias`` — tfjs' ``originalName``) and laid out as tfjs lays them out (channels last):

| TypeScript variable                  | tfjs layout          | torch parameter (``layers.L.…``) | torch layout    |
|--------------------------------------|----------------------|----------------------------------|-----------------|
| ``L/kernel`` of a convolution        | [kh, kw, I/g, O]     | ``weight``                       | [O, I/g, kh, kw]|
| ``L/kernel`` of a 3D convolution     | [kd, kh, kw, I/g, O] | ``weight``                       | [O, I/g, kd, kh, kw] |
| ``L/depthwise_kernel`` (2D), ``L/kernel`` of DepthwiseConv3D | [k…, C, 1] | ``weight``          | [C, 1, k…]      |
| ``L/kernel`` of a dense layer        | [in, out]            | ``weight``                       | [out, in]       |
| ``L/bias``                           | [C]                  | ``bias``                         | [C]             |
| ``L/gamma``, ``L/beta``              | [C]                  | ``weight``, ``bias``             | [C]             |
| ``L/moving_mean``, ``L/moving_variance`` | [C]              | ``running_mean``, ``running_var``| [C]             |

The TypeScript engine writes and reads the same files (`src/engine/models/safetensors.ts`,
``writeLayerWeights`` / ``readLayerWeights``), with ``__metadata__`` ``{"format": "ttl-layers"}``.
A tfjs model.json (the shipped MobileNet) holds its weights under the same names and layouts.
"""

import json
import os
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple, Union

import numpy as np
import torch
from torch import nn

from .models.graph import Net

#: ``__metadata__.format`` of an exchange file.
EXCHANGE_FORMAT = "ttl-layers"

Arrays = Dict[str, np.ndarray]


class WeightsError(ValueError):
    """Weights that do not fit a network or a file that cannot be read; one line naming the file and the problem."""


def _is_depthwise(m: nn.Module) -> bool:
    return isinstance(m, (nn.Conv2d, nn.Conv3d)) and m.groups > 1 and m.groups == m.in_channels == m.out_channels


def _variables(layer: str, m: nn.Module) -> Iterator[Tuple[str, str, str]]:
    """(TypeScript variable name, torch attribute, kind) of one layer's weights."""
    if isinstance(m, (nn.Conv2d, nn.Conv3d)):
        if _is_depthwise(m):
            yield (f"{layer}/depthwise_kernel" if isinstance(m, nn.Conv2d) else f"{layer}/kernel"), "weight", "depthwise"
        else:
            yield f"{layer}/kernel", "weight", "conv"
        if m.bias is not None:
            yield f"{layer}/bias", "bias", "vector"
    elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
        yield f"{layer}/gamma", "weight", "vector"
        yield f"{layer}/beta", "bias", "vector"
        yield f"{layer}/moving_mean", "running_mean", "vector"
        yield f"{layer}/moving_variance", "running_var", "vector"
    elif isinstance(m, nn.Linear):
        yield f"{layer}/kernel", "weight", "dense"
        yield f"{layer}/bias", "bias", "vector"
    elif any(True for _ in m.parameters(recurse=False)):
        raise WeightsError(f"layer {layer}: no TypeScript layout for {type(m).__name__}")


def _to_torch(kind: str, a: np.ndarray) -> np.ndarray:
    """tfjs layout → torch layout."""
    d = a.ndim - 2
    if kind == "conv":
        return a.transpose((d + 1, d) + tuple(range(d)))
    if kind == "depthwise":
        return a.transpose((d, d + 1) + tuple(range(d)))
    if kind == "dense":
        return a.T
    return a


def _to_tfjs(kind: str, a: np.ndarray) -> np.ndarray:
    """torch layout → tfjs layout."""
    d = a.ndim - 2
    if kind in ("conv", "depthwise"):
        axes = tuple(range(2, d + 2)) + ((1, 0) if kind == "conv" else (0, 1))
        return a.transpose(axes)
    if kind == "dense":
        return a.T
    return a


def variable_names(net: Net) -> List[str]:
    """The TypeScript variable names of every weight of `net`, in layer order."""
    return [name for layer, m in net.layers.items() for name, _, _ in _variables(layer, m)]


def export_weights(net: Net) -> Arrays:
    """Every weight of `net` under its TypeScript name, in tfjs layout (float32, contiguous)."""
    out: Arrays = {}
    for layer, m in net.layers.items():
        for name, attr, kind in _variables(layer, m):
            t = getattr(m, attr).detach().to("cpu", torch.float32).numpy()
            out[name] = np.ascontiguousarray(_to_tfjs(kind, t))
    return out


def load_weights(net: Net, arrays: Arrays, source: str, strict: bool = True) -> List[str]:
    """Assigns TypeScript-named, tfjs-laid-out weights to `net`.

    Names `net` lacks are ignored unless `strict`; nothing is assigned unless every weight of
    `net` is present with the right shape.
    :returns: the names assigned.
    :raises WeightsError: naming `source` and the missing, unexpected or mis-shaped weights.
    """
    plan = []
    missing: List[str] = []
    misshaped: List[str] = []
    for layer, m in net.layers.items():
        for name, attr, kind in _variables(layer, m):
            a = arrays.get(name)
            if a is None:
                missing.append(name)
                continue
            target = getattr(m, attr)
            value = _to_torch(kind, np.asarray(a, dtype=np.float32))
            if tuple(value.shape) != tuple(target.shape):
                want = _to_tfjs(kind, np.empty(tuple(target.shape), dtype=np.float32)).shape
                misshaped.append(f"{name} {list(a.shape)} vs {list(want)}")
                continue
            plan.append((target, value, name))
    used = {name for _, _, name in plan}
    unexpected = [n for n in arrays if n not in used and n not in missing and not any(n == m.split(" ")[0] for m in misshaped)]
    problems = []
    if missing:
        problems.append(f"{len(missing)} weights missing ({', '.join(missing[:3])}{', …' if len(missing) > 3 else ''})")
    if misshaped:
        problems.append(f"wrong shapes: {'; '.join(misshaped[:3])}{'; …' if len(misshaped) > 3 else ''}")
    if strict and unexpected:
        problems.append(f"{len(unexpected)} unexpected ({', '.join(unexpected[:3])}{', …' if len(unexpected) > 3 else ''})")
    if problems:
        raise WeightsError(f"{source}: weights do not fit {net.name}: {'; '.join(problems)}")
    with torch.no_grad():
        for target, value, _ in plan:
            target.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return [name for _, _, name in plan]


# ---------------------------------------------------------------------------------------------
# Files


def _safetensors_numpy():
    try:
        from safetensors import numpy as st  # noqa: PLC0415
    except ImportError:
        raise WeightsError("reading and writing .safetensors needs the safetensors package: pip install safetensors") from None
    return st


def read_safetensors(path: Union[str, Path]) -> Tuple[Arrays, Dict[str, str]]:
    """(tensors as float32 arrays, metadata) of a safetensors file."""
    st = _safetensors_numpy()
    p = str(path)
    try:
        arrays = st.load_file(p)
        with open(p, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            metadata = json.loads(f.read(n)).get("__metadata__") or {}
    except FileNotFoundError:
        raise WeightsError(f"{p}: file not found") from None
    except Exception as e:  # the library's own errors for a corrupt file
        raise WeightsError(f"{p}: not a valid safetensors file ({e})") from None
    return {k: v.astype(np.float32, copy=False) for k, v in arrays.items()}, metadata


def save_exchange(net: Net, path: Union[str, Path], metadata: Optional[Dict[str, str]] = None) -> None:
    """Writes `net`'s weights in the exchange format (see the module doc)."""
    st = _safetensors_numpy()
    meta = {"format": EXCHANGE_FORMAT, "backbone": net.name, **(metadata or {})}
    st.save_file(export_weights(net), str(path), metadata=meta)


def load_exchange(net: Net, path: Union[str, Path], strict: bool = True) -> List[str]:
    """Loads an exchange-format file (see the module doc) into `net`."""
    arrays, metadata = read_safetensors(path)
    try:
        return load_weights(net, arrays, str(path), strict)
    except WeightsError as e:
        if metadata.get("format") != EXCHANGE_FORMAT and any("." in n and "/" not in n for n in arrays):
            raise WeightsError(f"{e} (the file is not in the exchange format but looks like a torch state dict: load it with torch_names.load_reference_state_dict)") from None
        raise


_TFJS_DTYPES = {"float32": np.float32, "int32": np.int32}


def read_tfjs_weights(model_json: Union[str, Path]) -> Arrays:
    """The weights of a tfjs Layers model.json (its weightsManifest and binary shards), by name, as float32.

    Handles float32 and int32 weights and the uint8/uint16/float16 quantisations of the tfjs converter.
    """
    p = Path(model_json)
    if p.is_dir():
        p = p / "model.json"
    try:
        manifest = json.loads(p.read_text("utf-8"))["weightsManifest"]
    except FileNotFoundError:
        raise WeightsError(f"{p}: file not found") from None
    except (ValueError, KeyError, TypeError) as e:
        raise WeightsError(f"{p}: not a TensorFlow.js model.json with a weightsManifest ({e})") from None
    out: Arrays = {}
    for gi, group in enumerate(manifest):
        data = b""
        for rel in group["paths"]:
            shard = p.parent / rel
            try:
                data += shard.read_bytes()
            except OSError as e:
                raise WeightsError(f"{shard}: cannot read weight shard listed in {p.name} ({e.strerror})") from None
        offset = 0
        for w in group["weights"]:
            shape = tuple(w["shape"])
            count = int(np.prod(shape, dtype=np.int64))
            q = w.get("quantization")
            if q:
                qdtype = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}[q["dtype"]]
                size = count * np.dtype(qdtype).itemsize
                raw = np.frombuffer(data, qdtype, count, offset) if offset + size <= len(data) else None
                if raw is not None:
                    a = raw.astype(np.float32) if q["dtype"] == "float16" else raw.astype(np.float32) * q["scale"] + q["min"]
            else:
                dt = _TFJS_DTYPES.get(w["dtype"])
                if dt is None:
                    raise WeightsError(f"{p}: weight {w['name']} has dtype {w['dtype']}, which is not supported")
                size = count * 4
                raw = np.frombuffer(data, dt, count, offset) if offset + size <= len(data) else None
                a = raw.astype(np.float32) if raw is not None else None
            if raw is None:
                raise WeightsError(f"{p}: weight group {gi + 1} is {len(data)} bytes, too short for {w['name']} {list(shape)}; the shard is truncated or does not belong to this model")
            out[w["name"]] = a.reshape(shape)
            offset += size
        if offset != len(data):
            raise WeightsError(f"{p}: weight group {gi + 1} is {len(data)} bytes but declares {offset}")
    return out


# ---------------------------------------------------------------------------------------------
# The shipped MobileNet

SHIPPED_MOBILENET = Path("models") / "mobilenet_v1_0.25_224" / "model.json"


def shipped_mobilenet_path(start: Optional[Union[str, Path]] = None) -> Path:
    """``models/mobilenet_v1_0.25_224/model.json`` found walking up from `start` (default: this package), as the TypeScript engine finds it."""
    env = os.environ.get("TTL_MOBILENET_MODEL_JSON")
    if env:
        return Path(env)
    d = Path(start or Path(__file__).parent).resolve()
    for folder in [d, *d.parents]:
        candidate = folder / SHIPPED_MOBILENET
        if candidate.is_file():
            return candidate
    raise WeightsError(f"the shipped MobileNet weights ({SHIPPED_MOBILENET}) were not found above {d}")


def inflate(arrays: Arrays, net: Net, label: str) -> Arrays:
    """I3D inflation, as the TypeScript engine's `inflate2dInto`: every 2D kernel [kh, kw, I, O]
    that `net` needs as [kd, kh, kw, I, O] is repeated kd times along a new depth axis and
    divided by kd; every other weight is copied.
    """
    want = {}
    for layer, m in net.layers.items():
        for name, attr, kind in _variables(layer, m):
            want[name] = _to_tfjs(kind, np.empty(tuple(getattr(m, attr).shape), dtype=np.float32)).shape
    out: Arrays = {}
    for name, shape in want.items():
        a = arrays.get(name)
        if a is None and name.endswith("/kernel"):
            # DepthwiseConv2D's kernel is `depthwise_kernel`, DepthwiseConv3D's `kernel`.
            a = arrays.get(name[: -len("kernel")] + "depthwise_kernel")
        if a is None:
            continue
        if a.ndim == 4 and len(shape) == 5 and tuple(a.shape) == tuple(shape[1:]):
            kd = shape[0]
            a = np.repeat(a[None], kd, axis=0) / np.float32(kd)
        elif tuple(a.shape) != tuple(shape):
            raise WeightsError(f"{label}: layer weight {name} of shape {list(a.shape)} cannot be inflated to {list(shape)} of {net.name}")
        out[name] = a.astype(np.float32)
    return out


def load_shipped_mobilenet(net: Net, model_json: Optional[Union[str, Path]] = None) -> List[str]:
    """Loads the shipped ImageNet MobileNet v1 0.25 (model.json + shards) into a `mobilenet_v1`
    backbone, or inflated into a `mobilenet3d` one; the classifier's own weights are ignored.
    """
    path = Path(model_json) if model_json else shipped_mobilenet_path()
    arrays = read_tfjs_weights(path)
    if net.spec.dims == 3:
        arrays = inflate(arrays, net, str(path))
    return load_weights(net, arrays, str(path), strict=False)
