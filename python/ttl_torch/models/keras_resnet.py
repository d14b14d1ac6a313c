"""The Keras applications ResNet-50 (ResNet v1), layer for layer the TypeScript engine's
`kerasResnet.ts`: the architecture of ``resnet50`` with ``"weights": "imagenet"`` (the Keras
ImageNet weights of ``ttl weights get resnet50-imagenet``), so that one experiment file means
the same network on both engines. It differs from torchvision's ResNet-50 (v1.5, resnet.py):

- the stride of a stage's first bottleneck is on its first 1×1 convolution (v1.5: on the 3×3);
- every convolution has a bias;
- batch norm ε = 1e-3 (Keras' default);
- the input is normalised the Caffe way (RGB minus the ImageNet mean, no scaling; the
  TypeScript engine hands the normalisation to the worker with the run).

Names: stem ``conv1_pad``, ``conv1_conv``, ``conv1_bn``, ``conv1_relu``, ``pool1_pad``,
``pool1_pool``; bottleneck b of stage s ``conv{s}_block{b}_{i}_conv|_bn|_relu`` (i = 1, 2, 3;
0 is the projection shortcut), ``conv{s}_block{b}_add`` and the cut point
``conv{s}_block{b}_out``. The weights come in the exchange format (``weights.load_exchange``),
written by the TypeScript engine from the cache.
"""

from typing import List, Optional

from torch import nn

from .graph import INPUT, Add, Block, GraphBuilder, Net, Spec, ZeroPad, batch_norm, conv, net_from_builder

#: Keras' ``preprocess_input(mode='caffe')`` as an RGB normalisation on the 0..255 scale (the TypeScript `CAFFE_NORMALISATION`).
CAFFE_NORMALISATION = ((123.68, 116.779, 103.939), (1.0, 1.0, 1.0))
KERAS_BN_EPS = 1e-3
STAGE_BLOCKS = (3, 4, 6, 3)
#: `Spec.layout` of this network: strategies rebuild it with this builder, not torchvision's.
KERAS_LAYOUT = "keras"


class _KerasBuilder(GraphBuilder):
    def conv(self, x: str, filters: int, kernel: int, stride: int, name: str, padding: Optional[str] = None) -> str:
        # 1×1 at any stride 'valid', the 3×3 at stride 1 'same': Keras' own choices; the stem's 7×7 'valid' after conv1_pad
        filters = self.filters(filters)
        module = conv(2, self.channels[x], filters, kernel, stride, padding or ("valid" if kernel == 1 else "same"), bias=True)
        return self.add(name, module, [x], filters)

    def bn(self, x: str, name: str) -> str:
        return self.add(name, batch_norm(self.channels[x], KERAS_BN_EPS, 2), [x], self.channels[x])

    def relu(self, x: str, name: str) -> str:
        return self.add(name, nn.ReLU(), [x], self.channels[x])

    def bottleneck(self, x: str, planes: int, stride: int, project: bool, p: str) -> str:
        shortcut = self.bn(self.conv(x, planes * 4, 1, stride, f"{p}_0_conv"), f"{p}_0_bn") if project else x
        y = self.relu(self.bn(self.conv(x, planes, 1, stride, f"{p}_1_conv"), f"{p}_1_bn"), f"{p}_1_relu")
        y = self.relu(self.bn(self.conv(y, planes, 3, 1, f"{p}_2_conv"), f"{p}_2_bn"), f"{p}_2_relu")
        y = self.bn(self.conv(y, planes * 4, 1, 1, f"{p}_3_conv"), f"{p}_3_bn")
        if self.channels[shortcut] != self.channels[y]:
            raise ValueError(f"cannot rebuild at half width above '{self.half_after}': {p}_add would add {self.channels[shortcut]} and {self.channels[y]} channels; choose a cut at the end of a stage")
        s = self.add(f"{p}_add", Add(), [shortcut, y], self.channels[y])
        return self.relu(s, f"{p}_out")


def build_keras_resnet50(half_after: Optional[str] = None) -> Net:
    """The Keras ResNet-50 without avgpool/predictions: NCHW input → [N, 2048, S/32, S/32].
    Randomly initialised (torch's defaults); the ImageNet weights are loaded by name afterwards.
    `half_after`: every convolution after this layer at half width (see `GraphBuilder`).
    """
    b = _KerasBuilder(2, half_after)
    b.channels[INPUT] = 3
    x = b.add("conv1_pad", ZeroPad((3, 3)), [INPUT], 3)
    x = b.conv(x, 64, 7, 2, "conv1_conv", "valid")
    x = b.relu(b.bn(x, "conv1_bn"), "conv1_relu")
    x = b.add("pool1_pad", ZeroPad((1, 1)), [x], b.channels[x])
    x = b.add("pool1_pool", nn.MaxPool2d(3, 2), [x], b.channels[x])
    cut_points: List[str] = ["pool1_pool"]
    blocks: List[Block] = []
    for i, count in enumerate(STAGE_BLOCKS):
        stage = i + 2
        for k in range(count):
            p = f"conv{stage}_block{k + 1}"
            x = b.bottleneck(x, 64 * 2**i, 2 if k == 0 and i > 0 else 1, k == 0, p)
            cut_points.append(f"{p}_out")
        blocks.append(Block(f"conv{stage}_x", cut_points[-1]))
    spec = Spec("resnet50", cut_points, blocks, CAFFE_NORMALISATION, 224, 2, KERAS_LAYOUT)
    return net_from_builder(spec, b, x)
