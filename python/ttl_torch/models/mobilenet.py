"""MobileNet v1 0.25 (Keras 2.1.4, the shipped ImageNet model) in 2D (`mobilenet_v1`) and its
3D inflation (`mobilenet3d`), layer for layer the TypeScript engine's `mobilenet.ts` /
`mobilenet3d.ts`.

Names: ``conv1``, ``conv1_bn``, ``conv1_relu``; for N = 1…13 ``conv_dw_N`` (depthwise 3×3,
stride 2 for N = 2, 4, 6, 12), ``conv_dw_N_bn``, ``conv_dw_N_relu``, ``conv_pw_N`` (1×1),
``conv_pw_N_bn``, ``conv_pw_N_relu``. No biases; Keras batch norm (ε = 1e-3); ReLU6; every
convolution is tfjs ``padding: 'same'`` — at stride 2 on an even size TensorFlow puts the one
padding pixel after, which `SameConv2d`/`SameConv3d` reproduce (torch's symmetric padding
would shift the sampling grid by a pixel).
"""

from typing import List, Optional

from torch import nn

from .graph import INPUT, Block, GraphBuilder, Net, Spec, batch_norm, conv, net_from_builder

SYMMETRIC_NORMALISATION = ((127.5, 127.5, 127.5), (127.5, 127.5, 127.5))
BN_EPS = 1e-3
STEM_FILTERS = 8
POINTWISE_FILTERS = [16, 32, 32, 64, 64, 128, 128, 128, 128, 128, 128, 256, 256]
STRIDED = {2, 4, 6, 12}
MOBILENET3D_INPUT_SIZE = 112

#: conv1_relu, then conv_dw_N_relu and conv_pw_N_relu for N = 1…13.
CUT_POINTS: List[str] = ["conv1_relu"] + [f"conv_{kind}_{n}_relu" for n in range(1, 14) for kind in ("dw", "pw")]
#: Stride stages: the last layer at each resolution.
BLOCKS = [
    Block("stage1", "conv_pw_1_relu"),
    Block("stage2", "conv_pw_3_relu"),
    Block("stage3", "conv_pw_5_relu"),
    Block("stage4", "conv_pw_11_relu"),
    Block("stage5", "conv_pw_13_relu"),
]


def _build(dims: int, name: str, default_size: int, half_after: Optional[str]) -> Net:
    b = GraphBuilder(dims, half_after)
    b.channels[INPUT] = 3

    def bn_relu6(x: str, n: str) -> str:
        c = b.channels[x]
        y = b.add(f"{n}_bn", batch_norm(c, BN_EPS, dims), [x], c)
        return b.add(f"{n}_relu", nn.ReLU6(), [y], c)

    x = b.add("conv1", conv(dims, 3, STEM_FILTERS, 3, 2, "same"), [INPUT], STEM_FILTERS)
    x = bn_relu6(x, "conv1")
    for i, pointwise in enumerate(POINTWISE_FILTERS):
        n = i + 1
        stride = 2 if n in STRIDED else 1
        channels = b.channels[x]
        x = b.add(f"conv_dw_{n}", conv(dims, channels, channels, 3, stride, "same", groups=channels), [x], channels)
        x = bn_relu6(x, f"conv_dw_{n}")
        filters = b.filters(pointwise)
        x = b.add(f"conv_pw_{n}", conv(dims, channels, filters, 1, 1, "same"), [x], filters)
        x = bn_relu6(x, f"conv_pw_{n}")
    spec = Spec(name, list(CUT_POINTS), [Block(bl.name, bl.end) for bl in BLOCKS], SYMMETRIC_NORMALISATION, default_size, dims)
    net = net_from_builder(spec, b, x)
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return net


def build_mobilenet_v1(half_after: Optional[str] = None) -> Net:
    """MobileNet v1 0.25 as a backbone: NCHW input → conv_pw_13_relu (random weights; see
    weights.load_shipped_mobilenet). `half_after`: pointwise convolutions after this layer at half width.
    """
    return _build(2, "mobilenet_v1", 224, half_after)


def build_mobilenet3d(half_after: Optional[str] = None) -> Net:
    """MobileNet v1 0.25 in 3D: NCDHW input → conv_pw_13_relu (random weights; see weights.load_shipped_mobilenet)."""
    return _build(3, "mobilenet3d", MOBILENET3D_INPUT_SIZE, half_after)
