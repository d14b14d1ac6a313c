"""ResNet-18/50 (torchvision) and the 3D ResNets (torchvision r3d_18, Hara et al.'s
ResNeXt-101), layer for layer the TypeScript engine's `resnet.ts` and `resnet3d.ts`.

Names (see the TypeScript builders): stem ``conv1_pad``, ``conv1``, ``bn1``, ``relu``
(``pool1_pad``, ``pool1``), then for block b of stage s ``conv{s}_block{b}_{i}_conv`` (with
``…_conv_pad`` before a strided one), ``_bn``, ``_relu`` (i = 1, 2[, 3]; 0 is the downsample
shortcut), ``conv{s}_block{b}_add`` and the cut point ``conv{s}_block{b}_out``.
Convolutions have no bias; batch norm ε = 1e-5; padding is torchvision's (explicit symmetric
zero padding before every strided convolution and pooling).
"""

from typing import List, Optional, Sequence, Tuple, Union

from torch import nn

from .graph import INPUT, Add, Block, GraphBuilder, Net, Spec, ZeroPad, batch_norm, conv, net_from_builder

IMAGENET_NORMALISATION = ((0.485 * 255, 0.456 * 255, 0.406 * 255), (0.229 * 255, 0.224 * 255, 0.225 * 255))
BN_EPS = 1e-5
RESNET3D_INPUT_SIZE = 112

Kernel = Union[int, Sequence[int]]


def _tuple(v: Kernel, dims: int) -> Tuple[int, ...]:
    return (v,) * dims if isinstance(v, int) else tuple(v)


class _Builder(GraphBuilder):
    def conv(self, x: str, filters: int, kernel: Kernel, stride: Kernel, name: str, pad_name: Optional[str] = None, groups: int = 1) -> str:
        """tfjs `conv` of resnet.ts / resnet3d.ts: 'same' for a stride-1 cubic odd kernel, else explicit symmetric padding then 'valid'."""
        k = _tuple(kernel, self.dims)
        s = _tuple(stride, self.dims)
        pad = tuple(v // 2 for v in k)
        padding = "valid"
        if any(p > 0 for p in pad):
            if all(v == 1 for v in s) and all(v == k[0] for v in k):
                padding = "same"
            else:
                x = self.add(pad_name or f"{name}_pad", ZeroPad(pad), [x], self.channels[x])
        filters = self.filters(filters)
        return self.add(name, conv(self.dims, self.channels[x], filters, k, s, padding, groups), [x], filters)

    def bn(self, x: str, name: str) -> str:
        return self.add(name, batch_norm(self.channels[x], BN_EPS, self.dims), [x], self.channels[x])

    def relu(self, x: str, name: str) -> str:
        return self.add(name, nn.ReLU(), [x], self.channels[x])

    def residual(self, x: str, y: str, out_c: int, stride: int, p: str, downsample: bool) -> str:
        shortcut = x
        if downsample:
            shortcut = self.bn(self.conv(x, out_c, 1, stride, f"{p}_0_conv"), f"{p}_0_bn")
        if self.channels[shortcut] != self.channels[y]:
            # an identity shortcut of full width meets a half-width branch: tfjs cannot add them either
            raise ValueError(f"cannot rebuild at half width above '{self.half_after}': {p}_add would add {self.channels[shortcut]} and {self.channels[y]} channels; choose a cut at the end of a stage")
        s = self.add(f"{p}_add", Add(), [shortcut, y], self.channels[y])
        return self.relu(s, f"{p}_out")

    def basic(self, x: str, planes: int, stride: int, p: str, downsample: bool) -> str:
        y = self.relu(self.bn(self.conv(x, planes, 3, stride, f"{p}_1_conv"), f"{p}_1_bn"), f"{p}_1_relu")
        y = self.bn(self.conv(y, planes, 3, 1, f"{p}_2_conv"), f"{p}_2_bn")
        return self.residual(x, y, planes, stride, p, downsample)

    def bottleneck(self, x: str, mid: int, out_c: int, stride: int, p: str, downsample: bool, groups: int = 1) -> str:
        y = self.relu(self.bn(self.conv(x, mid, 1, 1, f"{p}_1_conv"), f"{p}_1_bn"), f"{p}_1_relu")
        y = self.relu(self.bn(self.conv(y, mid, 3, stride, f"{p}_2_conv", groups=groups), f"{p}_2_bn"), f"{p}_2_relu")
        y = self.bn(self.conv(y, out_c, 1, 1, f"{p}_3_conv"), f"{p}_3_bn")
        return self.residual(x, y, out_c, stride, p, downsample)

    def max_pool(self, x: str, name: str) -> str:
        pool = nn.MaxPool2d(3, 2) if self.dims == 2 else nn.MaxPool3d(3, 2)
        return self.add(name, pool, [x], self.channels[x])


def _check_half(half: Optional[int]) -> None:
    if half is not None and (not isinstance(half, int) or half < 2 or half > 5):
        raise ValueError(f"half_width_from_stage for a ResNet must be a stage number 2…5 (conv2_x…conv5_x), got {half}")


def _init(net: Net) -> Net:
    """torchvision's initialisation: He normal (fan out) convolutions, BN γ=1, β=0."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return net


def build_resnet(depth: int, half_width_from_stage: Optional[int] = None, half_after: Optional[str] = None) -> Net:
    """torchvision ResNet-18 or ResNet-50 without avgpool/fc: NCHW input → last feature map.
    `half_after`: every convolution after this layer at half width (see `GraphBuilder`).
    """
    if depth not in (18, 50):
        raise ValueError(f"ResNet depth must be 18 or 50, got {depth}")
    _check_half(half_width_from_stage)
    b = _Builder(2, half_after)
    b.channels[INPUT] = 3
    x = b.conv(INPUT, 64, 7, 2, "conv1", "conv1_pad")
    x = b.relu(b.bn(x, "bn1"), "relu")
    x = b.add("pool1_pad", ZeroPad((1, 1)), [x], 64)
    x = b.max_pool(x, "pool1")
    cut_points: List[str] = ["pool1"]
    blocks: List[Block] = []
    counts = [2, 2, 2, 2] if depth == 18 else [3, 4, 6, 3]
    width = 64  # the output channels of the last block at full width
    for s in range(4):
        stage = s + 2
        planes = 64 * 2**s
        if half_width_from_stage is not None and stage >= half_width_from_stage:
            planes //= 2
        for i in range(counts[s]):
            p = f"conv{stage}_block{i + 1}"
            stride = 2 if i == 0 and s > 0 else 1
            out_c = planes if depth == 18 else planes * 4
            downsample = stride != 1 or width != out_c
            if depth == 18:
                x = b.basic(x, planes, stride, p, downsample)
            else:
                x = b.bottleneck(x, planes, out_c, stride, p, downsample)
            width = out_c
            cut_points.append(f"{p}_out")
        blocks.append(Block(f"conv{stage}_x", cut_points[-1]))
    spec = Spec(f"resnet{depth}", cut_points, blocks, IMAGENET_NORMALISATION, 224, 2)
    return _init(net_from_builder(spec, b, x))


def build_resnet3d18(half_width_from_stage: Optional[int] = None, half_after: Optional[str] = None) -> Net:
    """torchvision r3d_18 without avgpool/fc: NCDHW input → [N, 512, ⌈S/16⌉³]."""
    _check_half(half_width_from_stage)
    b = _Builder(3, half_after)
    b.channels[INPUT] = 3
    x = b.conv(INPUT, 64, (3, 7, 7), (1, 2, 2), "conv1")
    x = b.relu(b.bn(x, "bn1"), "relu")
    cut_points: List[str] = ["relu"]
    blocks: List[Block] = []
    width = 64
    for s in range(4):
        stage = s + 2
        planes = 64 * 2**s
        if half_width_from_stage is not None and stage >= half_width_from_stage:
            planes //= 2
        for i in range(2):
            p = f"conv{stage}_block{i + 1}"
            stride = 2 if i == 0 and s > 0 else 1
            x = b.basic(x, planes, stride, p, stride != 1 or width != planes)
            width = planes
            cut_points.append(f"{p}_out")
        blocks.append(Block(f"conv{stage}_x", cut_points[-1]))
    spec = Spec("resnet3d18", cut_points, blocks, IMAGENET_NORMALISATION, RESNET3D_INPUT_SIZE, 3)
    return _init(net_from_builder(spec, b, x))


def build_resnext3d101(half_width_from_stage: Optional[int] = None, half_after: Optional[str] = None) -> Net:
    """Hara et al.'s ResNeXt-101 (cardinality 32) in 3D without avgpool/fc: NCDHW → [N, 2048, ⌈S/32⌉³]."""
    _check_half(half_width_from_stage)
    b = _Builder(3, half_after)
    b.channels[INPUT] = 3
    x = b.conv(INPUT, 64, 7, (1, 2, 2), "conv1")
    x = b.relu(b.bn(x, "bn1"), "relu")
    # Zero padding before max pooling is exact: the inputs are ReLU outputs (≥ 0).
    x = b.add("pool1_pad", ZeroPad((1, 1, 1)), [x], 64)
    x = b.max_pool(x, "pool1")
    cut_points: List[str] = ["pool1"]
    blocks: List[Block] = []
    width = 64
    for s, count in enumerate([3, 4, 23, 3]):
        stage = s + 2
        planes = 128 * 2**s
        if half_width_from_stage is not None and stage >= half_width_from_stage:
            planes //= 2
        for i in range(count):
            p = f"conv{stage}_block{i + 1}"
            stride = 2 if i == 0 and s > 0 else 1
            x = b.bottleneck(x, planes, planes * 2, stride, p, stride != 1 or width != planes * 2, groups=32)
            width = planes * 2
            cut_points.append(f"{p}_out")
        blocks.append(Block(f"conv{stage}_x", cut_points[-1]))
    spec = Spec("resnext3d101", cut_points, blocks, IMAGENET_NORMALISATION, RESNET3D_INPUT_SIZE, 3)
    return _init(net_from_builder(spec, b, x))
