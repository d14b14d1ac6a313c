"""Our layer names ↔ the module names of the reference PyTorch implementations, for loading
their published weights (torchvision's ImageNet ResNet/DenseNet and r3d_18, Hara et al.'s
ResNeXt-101) into our networks, and for writing ours in their naming.

Our torch module of the TypeScript layer ``L`` is ``layers.L``; the reference name of its
parameters (``weight``, ``bias``, ``running_mean``, ``running_var``) is under the prefix below.
This is the TypeScript engine's map (`torchPrefixForLayer` in `safetensors.ts`,
`torchVideoPrefix` in `inflate.ts`), and the tests hold the two to the same files.

| our layer (resnet18/50)           | torchvision                                 |
|-----------------------------------|---------------------------------------------|
| ``conv1``, ``bn1``                | ``conv1``, ``bn1``                          |
| ``conv{s}_block{b}_{i}_conv|bn``  | ``layer{s−1}.{b−1}.conv{i}|bn{i}``          |
| ``conv{s}_block{b}_0_conv|bn``    | ``layer{s−1}.{b−1}.downsample.0|1``         |

| our layer (densenet121)           | torchvision                                 |
|-----------------------------------|---------------------------------------------|
| ``conv0``, ``norm0``, ``norm5``   | ``features.conv0``, ``features.norm0``, ``features.norm5`` |
| ``denseblock{b}_layer{l}_norm1|conv1|norm2|conv2`` | ``features.denseblock{b}.denselayer{l}.norm1|conv1|norm2|conv2`` |
| ``transition{t}_norm|conv``       | ``features.transition{t}.norm|conv``        |

| our layer (3D)                    | r3d_18 (``resnet3d18``)        | resnext-101 (``resnext3d101``) |
|-----------------------------------|--------------------------------|--------------------------------|
| ``conv1``, ``bn1``                | ``stem.0``, ``stem.1``         | ``conv1``, ``bn1``             |
| ``conv{s}_block{b}_{i}_conv``     | ``layer{s−1}.{b−1}.conv{i}.0`` | ``layer{s−1}.{b−1}.conv{i}``   |
| ``conv{s}_block{b}_{i}_bn``       | ``layer{s−1}.{b−1}.conv{i}.1`` | ``layer{s−1}.{b−1}.bn{i}``     |
| ``conv{s}_block{b}_0_conv|bn``    | ``layer{s−1}.{b−1}.downsample.0|1`` (both)                      |

The weight layouts are torch's on both sides: nothing is transposed. A ``module.`` or
``model.`` prefix (DataParallel, Lightning) and DenseNet's old ``norm.1`` spelling are
accepted; the classifier (``fc.*``, ``classifier.*``) and ``num_batches_tracked`` are ignored.
"""

import re
from typing import Dict, List, Optional

import torch
from torch import nn

from .models.graph import Net
from .weights import WeightsError

_STATE = {nn.Conv2d: ("weight", "bias"), nn.Conv3d: ("weight", "bias"), nn.BatchNorm2d: ("weight", "bias", "running_mean", "running_var"), nn.BatchNorm3d: ("weight", "bias", "running_mean", "running_var")}


def reference_prefix(backbone: str, layer: str) -> Optional[str]:
    """The reference implementation's module name of one of our layers, or None for a layer without weights there."""
    if backbone in ("resnet3d18", "resnext3d101"):
        r3d = backbone == "resnet3d18"
        if layer == "conv1":
            return "stem.0" if r3d else "conv1"
        if layer == "bn1":
            return "stem.1" if r3d else "bn1"
        m = re.fullmatch(r"conv(\d)_block(\d+)_(\d)_(conv|bn)", layer)
        if not m:
            return None
        s, b, i, kind = m.groups()
        block = f"layer{int(s) - 1}.{int(b) - 1}"
        if i == "0":
            return f"{block}.downsample.{0 if kind == 'conv' else 1}"
        if r3d:
            return f"{block}.conv{i}.{0 if kind == 'conv' else 1}"
        return f"{block}.{kind}{i}"
    fixed = {"conv1": "conv1", "bn1": "bn1", "conv0": "features.conv0", "norm0": "features.norm0", "norm5": "features.norm5"}
    if layer in fixed:
        return fixed[layer]
    m = re.fullmatch(r"conv(\d)_block(\d+)_(\d)_(conv|bn)", layer)
    if m:
        s, b, i, kind = m.groups()
        base = f"layer{int(s) - 1}.{int(b) - 1}"
        if i == "0":
            return f"{base}.downsample.{0 if kind == 'conv' else 1}"
        return f"{base}.{kind}{i}"
    m = re.fullmatch(r"denseblock(\d)_layer(\d+)_(norm1|conv1|norm2|conv2)", layer)
    if m:
        return f"features.denseblock{m.group(1)}.denselayer{m.group(2)}.{m.group(3)}"
    m = re.fullmatch(r"transition(\d)_(norm|conv)", layer)
    if m:
        return f"features.transition{m.group(1)}.{m.group(2)}"
    return None


def _entries(net: Net):
    if net.name in ("mobilenet_v1", "mobilenet3d"):
        raise WeightsError(f"{net.name} has no torchvision counterpart; its weights are the shipped Keras ones")
    for layer, m in net.layers.items():
        names = _STATE.get(type(m))
        if names is None:
            continue
        prefix = reference_prefix(net.name, layer)
        if prefix is None:
            raise WeightsError(f"layer {layer} of {net.name} has no reference name")
        for attr in names:
            if getattr(m, attr, None) is not None:
                yield f"{prefix}.{attr}", m, attr


def export_reference_state_dict(net: Net) -> Dict[str, torch.Tensor]:
    """`net`'s weights under the reference implementation's names (torch layout)."""
    return {key: getattr(m, attr).detach().clone() for key, m, attr in _entries(net)}


def _canonical(name: str) -> str:
    n = re.sub(r"^(module\.|model\.)", "", name)
    return re.sub(r"\.(norm|relu|conv)\.([12])\.(weight|bias|running_mean|running_var)$", r".\1\2.\3", n)


def load_reference_state_dict(net: Net, state: Dict[str, torch.Tensor], source: str) -> List[str]:
    """Loads a reference state dict (torchvision ResNet/DenseNet/r3d_18, Hara et al.'s
    ResNeXt-101) into `net`. Nothing is assigned unless every weight is there with its shape.
    :raises WeightsError: naming `source` and the missing, unexpected or mis-shaped tensors.
    """
    by_name = {_canonical(k): v for k, v in state.items()}
    plan = []
    missing: List[str] = []
    misshaped: List[str] = []
    for key, m, attr in _entries(net):
        t = by_name.get(key)
        if t is None:
            missing.append(key)
        elif tuple(t.shape) != tuple(getattr(m, attr).shape):
            misshaped.append(f"{key} {list(t.shape)} in the file, {list(getattr(m, attr).shape)} in {net.name}")
        else:
            plan.append((key, m, attr, t))
    used = {p[0] for p in plan} | {m.split(" ")[0] for m in misshaped}
    unexpected = [k for k in by_name if k not in used and not re.match(r"^(fc|classifier|head|last_linear)\.", k) and not k.endswith("num_batches_tracked")]
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing[:4])}{' …' if len(missing) > 4 else ''} ({len(missing)})")
    if misshaped:
        problems.append(f"wrong shapes: {'; '.join(misshaped[:3])}")
    if unexpected:
        problems.append(f"unexpected {', '.join(unexpected[:4])}{' …' if len(unexpected) > 4 else ''} ({len(unexpected)})")
    if problems:
        raise WeightsError(f"{source}: weights do not match {net.name}: {'; '.join(problems)}")
    with torch.no_grad():
        for _, m, attr, t in plan:
            getattr(m, attr).copy_(t.to(torch.float32))
    return [p[0] for p in plan]
