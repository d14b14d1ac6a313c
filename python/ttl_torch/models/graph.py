"""A network as an ordered graph of named layers, the TypeScript engine's names.

Every layer of the TypeScript (tfjs-layers) model is one entry of `Net.layers`, an
``nn.ModuleDict`` keyed by the same name, weightless layers (padding, ReLU, add, concatenate,
pooling) included, in the builders' topological order (tfjs may order the two branches of a
residual block the other way round, which moves no layer across a cut point). So the torch module of the TypeScript layer
``L`` is ``layers.L`` and its parameters are ``layers.L.weight`` / ``layers.L.bias``, and a cut
point, a block end or an LWFT unit boundary names the same place in both engines.

Tensors are channels-first (NCHW, NCDHW); the padding layers reproduce tfjs exactly (explicit
symmetric zero padding where the TypeScript model has a ZeroPadding layer, TensorFlow's
asymmetric "same" padding — the extra row and column at the end — where it has a strided
``padding: 'same'`` convolution).
"""

import copy
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

#: The name of the graph's input, as in the TypeScript models.
INPUT = "input"


# ---------------------------------------------------------------------------------------------
# Layers tfjs has and torch spells differently


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> Tuple[int, int]:
    """TensorFlow's "same" padding of one axis: (before, after), the odd pixel after."""
    out = -(-size // stride)
    effective = (kernel - 1) * dilation + 1
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


class _SamePadding:
    """tfjs ``padding: 'same'`` for a convolution: the input is padded as TensorFlow pads it
    (asymmetric, the extra pixel after, for even sizes under stride 2), then convolved without
    padding. Mixed into ``nn.Conv2d``/``nn.Conv3d`` (created with padding 0), so the parameters
    keep their usual names.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spatial = x.shape[2:]
        pads: List[int] = []
        # F.pad takes the last axis first.
        for axis in reversed(range(len(spatial))):
            pads.extend(same_padding(spatial[axis], self.kernel_size[axis], self.stride[axis], self.dilation[axis]))
        if any(pads):
            x = F.pad(x, pads)
        return super().forward(x)


class SameConv2d(_SamePadding, nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow's "same" padding."""


class SameConv3d(_SamePadding, nn.Conv3d):
    """``nn.Conv3d`` with TensorFlow's "same" padding."""


def conv(dims: int, in_channels: int, out_channels: int, kernel, stride=1, padding: str = "valid", groups: int = 1, bias: bool = False) -> nn.Module:
    """A convolution padded as tfjs pads: ``valid`` (none) or ``same``. A stride-1 "same" with
    odd kernels is torch's symmetric padding; anything else pads at run time as TensorFlow does.
    """
    k = (kernel,) * dims if isinstance(kernel, int) else tuple(kernel)
    s = (stride,) * dims if isinstance(stride, int) else tuple(stride)
    plain = nn.Conv2d if dims == 2 else nn.Conv3d
    if padding == "valid":
        return plain(in_channels, out_channels, k, s, padding=0, groups=groups, bias=bias)
    if padding != "same":
        raise ValueError(f"padding must be 'valid' or 'same', got {padding}")
    if all(v == 1 for v in s) and all(v % 2 == 1 for v in k):
        return plain(in_channels, out_channels, k, s, padding=tuple(v // 2 for v in k), groups=groups, bias=bias)
    same = SameConv2d if dims == 2 else SameConv3d
    return same(in_channels, out_channels, k, s, padding=0, groups=groups, bias=bias)


class ZeroPad(nn.Module):
    """tfjs ZeroPadding2D / ZeroPadding3D: symmetric zero padding of every spatial axis."""

    def __init__(self, pad: Sequence[int]):
        super().__init__()
        self.pad = tuple(pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads: List[int] = []
        for p in reversed(self.pad):
            pads.extend((p, p))
        return F.pad(x, pads)

    def extra_repr(self) -> str:
        return f"pad={self.pad}"


class Add(nn.Module):
    """tfjs Add: the sum of its inputs."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Concat(nn.Module):
    """tfjs Concatenate on the channel axis (the last in tfjs, the second here)."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=1)


class GlobalAvgPool(nn.Module):
    """tfjs GlobalAveragePooling2D/3D: the mean over every spatial axis → [N, C]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=tuple(range(2, x.dim())))


def batch_norm(channels: int, eps: float, dims: int) -> nn.Module:
    """BatchNorm with the TypeScript model's epsilon; momentum 0.1 (tfjs 0.9), as the strategies finetune."""
    cls = nn.BatchNorm2d if dims == 2 else nn.BatchNorm3d
    return cls(channels, eps=eps, momentum=0.1)


# ---------------------------------------------------------------------------------------------
# The graph


@dataclass
class Block:
    """A named stage (``conv4_x``, ``denseblock3``, ``stage2``) and the layer that ends it."""

    name: str
    end: str


@dataclass
class Spec:
    """What the builders return besides the layers: how the network may be cut."""

    name: str
    cut_points: List[str]
    blocks: List[Block]
    #: (mean, std) per channel on the 0..255 pixel scale, as the TypeScript `Normalisation`.
    normalisation: Tuple[Tuple[float, float, float], Tuple[float, float, float]]
    default_input_size: int
    #: 2 for images, 3 for volumes.
    dims: int = 2
    #: "torchvision" (the torchvision-style builders), or "keras" (the Keras ResNet-50 of ``"weights": "imagenet"``).
    layout: str = "torchvision"


class GraphBuilder:
    """Collects layers in order, each with the names of the layers it reads.

    `half_after`: TransFusion's rebuild (the TypeScript `rebuildAtHalfWidth`): every
    convolution added after this layer has half the filters (at least 1); depthwise
    convolutions, batch norms and the rest follow their inputs.
    """

    def __init__(self, dims: int, half_after: Optional[str] = None):
        self.dims = dims
        self.half_after = half_after
        self.layers: Dict[str, nn.Module] = {}
        self.inputs: Dict[str, List[str]] = {}
        self.channels: Dict[str, int] = {}

    def filters(self, n: int) -> int:
        """A convolution's filters: `n`, halved once the `half_after` layer has been added."""
        return max(1, n // 2) if self.half_after is not None and self.half_after in self.layers else n

    def add(self, name: str, module: nn.Module, inputs: Sequence[str], channels: int) -> str:
        if name in self.layers or name == INPUT:
            raise ValueError(f"duplicate layer name {name}")
        self.layers[name] = module
        self.inputs[name] = list(inputs)
        self.channels[name] = channels
        return name


class Net(nn.Module):
    """A backbone or classifier: layers in TypeScript order, evaluated as a graph.

    `forward` takes an NCHW (NCDHW) batch, already normalised, and returns the output of the
    last layer (the feature map of a backbone, the logits of a classifier).
    """

    def __init__(self, spec: Spec, layers: Dict[str, nn.Module], inputs: Dict[str, List[str]], channels: Dict[str, int], output: str):
        super().__init__()
        self.spec = spec
        self.layers = nn.ModuleDict(layers)
        self.inputs = {k: list(v) for k, v in inputs.items()}
        self.channels = dict(channels)
        self.output = output
        self._plan()

    def _plan(self) -> None:
        order = list(self.layers.keys())
        last_use: Dict[str, int] = {}
        for i, name in enumerate(order):
            for src in self.inputs[name]:
                last_use[src] = i
        #: after evaluating layer i, the outputs no later layer reads.
        self._free: List[List[str]] = [[] for _ in order]
        for src, i in last_use.items():
            if src != self.output:
                self._free[i].append(src)

    @property
    def name(self) -> str:
        return self.spec.name

    def layer_names(self) -> List[str]:
        return list(self.layers.keys())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: Dict[str, torch.Tensor] = {INPUT: x}
        for i, (name, layer) in enumerate(self.layers.items()):
            values[name] = layer(*(values[s] for s in self.inputs[name]))
            for s in self._free[i]:
                del values[s]
        return values[self.output]

    def ancestors(self, layer: str) -> List[str]:
        """`layer` and every layer it depends on, in order."""
        seen = set()
        stack = [layer]
        while stack:
            n = stack.pop()
            if n in seen or n == INPUT:
                continue
            seen.add(n)
            stack.extend(self.inputs[n])
        return [n for n in self.layers.keys() if n in seen]

    def find_cut(self, cut: str) -> str:
        """The layer a cut names: a cut point, or a block name (its last layer)."""
        if cut in self.spec.cut_points:
            return cut
        for b in self.spec.blocks:
            if b.name == cut:
                return b.end
        blocks = ", ".join(b.name for b in self.spec.blocks)
        raise ValueError(f"layer '{cut}' is not a cut point of {self.name}; blocks: {blocks}; cut points: {', '.join(self.spec.cut_points)}")

    def truncated(self, cut: Optional[str] = None, share: bool = False) -> "Net":
        """The network up to `cut` (a cut point or a block name; None: all of it): an
        independent copy with its own parameters, or with `share` the same layer modules.
        """
        end = self.output if cut is None else self.find_cut(cut)
        keep = self.ancestors(end)
        layers = {n: (self.layers[n] if share else copy.deepcopy(self.layers[n])) for n in keep}
        return Net(self.spec, layers, {n: self.inputs[n] for n in keep}, {n: self.channels[n] for n in keep}, end)


def classifier(backbone: Net, num_classes: int, cut: Optional[str] = None, head_name: str = "head", share: bool = False) -> Net:
    """The TypeScript engine's `buildClassifier`: the backbone up to `cut` (a cut point or a block
    name; default all of it), then ``head_pool`` (global average pooling) and ``head``
    (a linear layer with max(2, num_classes) outputs, Glorot-uniform, zero bias). Independent of
    `backbone`'s parameters unless `share` (then the layers up to the cut are `backbone`'s own).
    """
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes}")
    body = backbone.truncated(cut, share)
    layers = dict(body.layers.items())
    inputs = dict(body.inputs)
    channels = dict(body.channels)
    if head_name in layers:
        raise ValueError(f"head name '{head_name}' is already a layer of {backbone.name}")
    pool = "head_pool"
    i = 0
    while pool in layers:
        i += 1
        pool = f"head_pool_{i}"
    c = channels[body.output]
    units = max(2, num_classes)
    layers[pool] = GlobalAvgPool()
    inputs[pool] = [body.output]
    channels[pool] = c
    head = nn.Linear(c, units)
    nn.init.xavier_uniform_(head.weight)
    nn.init.zeros_(head.bias)
    layers[head_name] = head
    inputs[head_name] = [pool]
    channels[head_name] = units
    return Net(backbone.spec, layers, inputs, channels, head_name)


def net_from_builder(spec: Spec, b: GraphBuilder, output: str) -> Net:
    if b.half_after is not None and b.half_after not in b.layers:
        raise ValueError(f"'{b.half_after}' is not a layer of {spec.name}")
    return Net(spec, b.layers, b.inputs, b.channels, output)
