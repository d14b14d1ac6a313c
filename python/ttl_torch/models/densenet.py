"""DenseNet-121 (torchvision), layer for layer the TypeScript engine's `densenet.ts`.

Names: stem ``conv0_pad``, ``conv0``, ``norm0``, ``relu0``, ``pool0_pad``, ``pool0``; dense
layer l of block b ``denseblock{b}_layer{l}_norm1|relu1|conv1|norm2|relu2|conv2``, joined by
the cut point ``denseblock{b}_layer{l}_concat``; transition t ``transition{t}_norm|relu|conv``
and the cut point ``transition{t}_pool``; final ``norm5``, ``relu5``.
"""

from typing import List, Optional

from torch import nn

from .graph import INPUT, Block, Concat, Net, Spec, ZeroPad, net_from_builder
from .resnet import IMAGENET_NORMALISATION, _Builder

GROWTH = 32
BN_SIZE = 4
BLOCK_CONFIG = [6, 12, 24, 16]
INIT_FEATURES = 64


def build_densenet121(half_width_from_stage: Optional[int] = None, half_after: Optional[str] = None) -> Net:
    """torchvision DenseNet-121 `features` + the final ReLU: NCHW input → [N, 1024, S/32, S/32].
    `half_after`: every convolution after this layer at half width (see `GraphBuilder`).
    """
    half = half_width_from_stage
    if half is not None and (not isinstance(half, int) or half < 1 or half > 4):
        raise ValueError(f"half_width_from_stage for DenseNet-121 must be a dense block number 1…4, got {half}")
    b = _Builder(2, half_after)
    b.channels[INPUT] = 3
    x = b.conv(INPUT, INIT_FEATURES, 7, 2, "conv0")
    x = b.relu(b.bn(x, "norm0"), "relu0")
    x = b.add("pool0_pad", ZeroPad((1, 1)), [x], INIT_FEATURES)
    x = b.max_pool(x, "pool0")
    cut_points: List[str] = ["pool0"]
    blocks: List[Block] = []
    full = INIT_FEATURES
    for i, layers in enumerate(BLOCK_CONFIG):
        block_no = i + 1
        is_half = half is not None and block_no >= half
        growth = GROWTH // 2 if is_half else GROWTH
        for l in range(layers):
            p = f"denseblock{block_no}_layer{l + 1}"
            y = b.relu(b.bn(x, f"{p}_norm1"), f"{p}_relu1")
            y = b.conv(y, BN_SIZE * growth, 1, 1, f"{p}_conv1")
            y = b.relu(b.bn(y, f"{p}_norm2"), f"{p}_relu2")
            y = b.conv(y, growth, 3, 1, f"{p}_conv2")
            x = b.add(f"{p}_concat", Concat(), [x, y], b.channels[x] + b.channels[y])
            cut_points.append(f"{p}_concat")
        full += layers * GROWTH
        if block_no < len(BLOCK_CONFIG):
            t = f"transition{block_no}"
            full //= 2
            out_c = full // 2 if is_half else full
            x = b.relu(b.bn(x, f"{t}_norm"), f"{t}_relu")
            x = b.conv(x, out_c, 1, 1, f"{t}_conv")
            x = b.add(f"{t}_pool", nn.AvgPool2d(2, 2), [x], b.channels[x])
            cut_points.append(f"{t}_pool")
            blocks.append(Block(f"denseblock{block_no}", f"{t}_pool"))
        else:
            x = b.relu(b.bn(x, "norm5"), "relu5")
            cut_points.append("relu5")
            blocks.append(Block(f"denseblock{block_no}", "relu5"))
    spec = Spec("densenet121", cut_points, blocks, IMAGENET_NORMALISATION, 224, 2)
    net = net_from_builder(spec, b, x)
    # torchvision's initialisation: He normal (fan in) convolutions, BN γ=1, β=0.
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return net
