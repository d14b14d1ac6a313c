"""The built-in backbones by name, the TypeScript engine's registry (`src/engine/models/index.ts`).

| name           | TypeScript builder           | torch builder here            |
|----------------|------------------------------|-------------------------------|
| ``resnet18``   | ``buildResNet(18)``          | `resnet.build_resnet(18)`     |
| ``resnet50``   | ``buildResNet(50)``          | `resnet.build_resnet(50)`     |
| ``densenet121``| ``buildDenseNet121``         | `densenet.build_densenet121`  |
| ``mobilenet_v1``| ``buildMobileNetV1`` (model.json) | `mobilenet.build_mobilenet_v1` |
| ``resnet3d18`` | ``buildResNet3D18``          | `resnet.build_resnet3d18`     |
| ``resnext3d101``| ``buildResNeXt3D101``       | `resnet.build_resnext3d101`   |
| ``mobilenet3d``| ``buildMobileNet3D``         | `mobilenet.build_mobilenet3d` |

With ``"weights": "imagenet"``, ``resnet50`` is the Keras ResNet-50 (v1) the TypeScript engine
builds for those weights (``imagenetArchitecture``, `kerasResnet.ts`):
`keras_resnet.build_keras_resnet50`, with the same layer names; the weights themselves come
from the TypeScript engine in the exchange format.
"""

from typing import Callable, Dict, Optional

from .densenet import build_densenet121
from .graph import Block, Net, Spec, classifier
from .keras_resnet import KERAS_LAYOUT, build_keras_resnet50
from .mobilenet import build_mobilenet3d, build_mobilenet_v1
from .resnet import build_resnet, build_resnet3d18, build_resnext3d101

#: name → builder(half_after=None): the architecture with random (torchvision-style) weights.
BUILDERS: Dict[str, Callable[..., Net]] = {
    "resnet18": lambda half_after=None: build_resnet(18, half_after=half_after),
    "resnet50": lambda half_after=None: build_resnet(50, half_after=half_after),
    "densenet121": lambda half_after=None: build_densenet121(half_after=half_after),
    "mobilenet_v1": build_mobilenet_v1,
    "resnet3d18": lambda half_after=None: build_resnet3d18(half_after=half_after),
    "resnext3d101": lambda half_after=None: build_resnext3d101(half_after=half_after),
    "mobilenet3d": build_mobilenet3d,
}

#: The built-ins whose pretrained weights ship with the project (the MobileNet model.json).
SHIPPED = {"mobilenet_v1", "mobilenet3d"}

#: name → builder(half_after=None) of the architecture a built-in has with ``"weights": "imagenet"``.
IMAGENET_BUILDERS: Dict[str, Callable[..., Net]] = {"resnet50": build_keras_resnet50}


def rebuilder(net: Net) -> Callable[..., Net]:
    """The builder of `net`'s own architecture (TransFusion rebuilds it at half width)."""
    return IMAGENET_BUILDERS[net.name] if net.spec.layout == KERAS_LAYOUT else BUILDERS[net.name]


def build_backbone(name: str, pretrained: Optional[bool] = None, imagenet: bool = False) -> Net:
    """A built-in backbone by name. The MobileNets load the shipped ImageNet weights unless
    `pretrained` is False; the others start from torchvision's random initialisation.
    `imagenet`: the architecture of ``"weights": "imagenet"`` (resnet50: the Keras ResNet-50 v1),
    randomly initialised; its weights are loaded afterwards.
    :raises ValueError: for an unknown name, listing the built-ins.
    """
    key = name.strip().lower()
    if imagenet:
        if key not in IMAGENET_BUILDERS:
            raise ValueError(f'"weights": "imagenet" is registered for {", ".join(IMAGENET_BUILDERS)} only, not {name}')
        return IMAGENET_BUILDERS[key]()
    build = BUILDERS.get(key)
    if build is None:
        raise ValueError(f"unknown backbone '{name}'; built-ins: {', '.join(BUILDERS)}")
    if pretrained and key not in SHIPPED:
        raise ValueError(f"{key} has no bundled pretrained weights; pass weights in the exchange format (.safetensors)")
    net = build()
    if key in SHIPPED and pretrained is not False:
        from ..weights import load_shipped_mobilenet  # noqa: PLC0415

        load_shipped_mobilenet(net)
    return net


__all__ = ["BUILDERS", "IMAGENET_BUILDERS", "SHIPPED", "rebuilder", "Block", "Net", "Spec", "build_backbone", "classifier"]
