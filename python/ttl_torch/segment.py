"""The segmentation network of the TypeScript engine (`src/engine/segment/model.ts`) in torch.

The backbone truncated at the cut is the encoder; its resolution levels are read from the cut
points' output sizes at the run's input size, the last cut point at each level being that
level's skip connection. From the deepest level up, each decoder stage upsamples ×(ratio)
bilinearly (tfjs' ``UpSampling2D``: TensorFlow's resize without half-pixel centres),
concatenates the skip, and applies a 3×3 convolution + batch norm + ReLU of ``width`` channels
(default half the skip's); a last stage brings the map to the input size, and the 1×1
convolution ``decoder_out`` gives one logit per pixel (K for a K-class label map).

The layers have the TypeScript names (``decoder_<k>_{up,concat,conv,bn,relu}``, k = 1 at the
deepest stage, and ``decoder_out``), so the exchange format moves the weights both ways.

The strategies apply to the encoder as the TypeScript `prepareSegmentation` applies them; the
decoder is always new.
"""

from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .models import rebuilder
from .models.graph import INPUT, Concat, Net, batch_norm, conv
from .strategies import ParamGroup, Prepared, _copy_layers, _params, _segments

DECODER_PREFIX = "decoder_"
#: tfjs' default batch-norm epsilon (the decoder's batch norms keep it).
BN_EPSILON = 1e-3


def is_decoder_layer(name: str) -> bool:
    return name.startswith(DECODER_PREFIX)


class UpsampleBilinear(nn.Module):
    """tfjs ``UpSampling2D({interpolation: 'bilinear'})``: ``resizeBilinear`` to ×`scale`
    without aligned corners or half-pixel centres (source = destination / scale)."""

    def __init__(self, scale: int):
        super().__init__()
        self.scale = int(scale)

    @staticmethod
    def _axis(x: torch.Tensor, dim: int, scale: int) -> torch.Tensor:
        n = x.shape[dim]
        pos = torch.arange(n * scale, device=x.device, dtype=torch.float32) / scale
        i0 = pos.floor().long().clamp(max=n - 1)
        i1 = (i0 + 1).clamp(max=n - 1)
        w = (pos - i0.float()).to(x.dtype)
        shape = [1] * x.dim()
        shape[dim] = -1
        w = w.view(shape)
        return x.index_select(dim, i0) * (1 - w) + x.index_select(dim, i1) * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._axis(self._axis(x, 2, self.scale), 3, self.scale)

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


def encoder_levels(encoder: Net, cut_layer: str, input_size: int) -> List[Tuple[str, int, int]]:
    """(layer, side, channels) of each resolution level of `encoder`, largest first (the last is the cut's)."""
    names = set(encoder.layer_names())
    wanted = [c for c in encoder.spec.cut_points if c in names and c != cut_layer] + [cut_layer]
    shapes: Dict[str, Tuple[int, ...]] = {}
    values = {INPUT: torch.zeros(1, 3, input_size, input_size)}
    was = encoder.training
    encoder.eval()
    with torch.no_grad():
        for name, layer in encoder.layers.items():
            values[name] = layer(*(values[s] for s in encoder.inputs[name]))
            if name in wanted:
                shapes[name] = tuple(values[name].shape)
    encoder.train(was)
    levels: List[Tuple[str, int, int]] = []
    for name in wanted:
        shape = shapes[name]
        if len(shape) != 4:
            raise ValueError(f"segmentation needs a 2D backbone; {name} has output shape {list(shape)}")
        level = (name, int(shape[2]), int(shape[1]))
        same = [i for i, lv in enumerate(levels) if lv[1] == level[1]]
        if same:
            levels[same[0]] = level
        else:
            levels.append(level)
    return sorted(levels, key=lambda lv: -lv[1])


def _ratio(src: int, dst: int, where: str) -> int:
    if dst % src != 0 or dst < src:
        raise ValueError(f"the decoder cannot upsample {src}×{src} to {dst}×{dst} ({where}); use an imageSize that is a multiple of 32")
    return dst // src


def build_segmentation(backbone: Net, cut: Optional[str], input_size: int, width: Optional[int] = None, classes: int = 2):
    """The encoder–decoder network (the encoder an independent copy of `backbone` up to `cut`).
    :returns: (net, levels, widths)."""
    encoder = backbone.truncated(cut)
    levels = encoder_levels(encoder, encoder.output, input_size)
    layers: Dict[str, nn.Module] = dict(encoder.layers.items())
    inputs = dict(encoder.inputs)
    channels = dict(encoder.channels)
    widths: List[int] = []

    def add(name: str, module: nn.Module, src: List[str], c: int) -> str:
        if name in layers:
            raise ValueError(f"decoder layer name {name} is already a layer of {backbone.name}")
        layers[name], inputs[name], channels[name] = module, src, c
        return name

    x = levels[-1][0]
    size = levels[-1][1]

    def stage(k: int, up: int, skip: Optional[str], w: int) -> str:
        y = add(f"{DECODER_PREFIX}{k}_up", UpsampleBilinear(up), [x], channels[x]) if up > 1 else x
        if skip is not None:
            y = add(f"{DECODER_PREFIX}{k}_concat", Concat(), [y, skip], channels[y] + channels[skip])
        c = add(f"{DECODER_PREFIX}{k}_conv", conv(2, channels[y], w, 3, 1, "same", bias=False), [y], w)
        nn.init.kaiming_normal_(layers[c].weight, mode="fan_in", nonlinearity="relu")
        b = add(f"{DECODER_PREFIX}{k}_bn", batch_norm(w, BN_EPSILON, 2), [c], w)
        widths.append(w)
        return add(f"{DECODER_PREFIX}{k}_relu", nn.ReLU(), [b], w)

    k = 1
    for i in range(len(levels) - 2, -1, -1):
        name, side, ch = levels[i]
        x = stage(k, _ratio(size, side, f"{levels[i + 1][0]} to {name}"), name, width if width is not None else max(1, ch // 2))
        size = side
        k += 1
    if size != input_size:
        x = stage(k, _ratio(size, input_size, f"{levels[0][0]} to the input"), None, width if width is not None else max(1, levels[0][2] // 2))
    out = nn.Conv2d(channels[x], classes if classes > 2 else 1, 1, bias=True)
    nn.init.xavier_uniform_(out.weight)
    nn.init.zeros_(out.bias)
    add(f"{DECODER_PREFIX}out", out, [x], out.out_channels)
    return Net(backbone.spec, layers, inputs, channels, f"{DECODER_PREFIX}out"), levels, widths


def prepare_segmentation(backbone: Net, spec: dict, input_size: int, width: Optional[int], classes: int, head_lr_multiplier: float = 1.0) -> Prepared:
    """The segmentation network and parameter groups of a strategy (ftl, ttl, tf, lwft), as the TypeScript engine's."""
    kind = spec.get("kind")

    def parts(model: Net):
        names = model.layer_names()
        return [n for n in names if not is_decoder_layer(n)], [n for n in names if is_decoder_layer(n)]

    if kind in ("ftl", "ttl"):
        cut = backbone.find_cut(spec["cut"]) if kind == "ttl" else None
        model, _, _ = build_segmentation(backbone, cut, input_size, width, classes)
        enc, dec = parts(model)
        return Prepared(model, [ParamGroup("pretrained", 1.0, _params(model, enc)), ParamGroup("new", head_lr_multiplier, _params(model, dec))], cut)
    if kind == "tf":
        cut = backbone.find_cut(spec["cut"])
        rebuilt = rebuilder(backbone)(half_after=cut)
        names = rebuilt.layer_names()
        _copy_layers(backbone, rebuilt, names[: names.index(cut) + 1])
        model, _, _ = build_segmentation(rebuilt, None, input_size, width, classes)
        enc, dec = parts(model)
        seg = _segments(model, backbone.spec.cut_points)
        kept = [n for n in enc if seg[n] <= seg[cut]]
        fresh = [n for n in enc if seg[n] > seg[cut]] + dec
        return Prepared(model, [ParamGroup("pretrained", 1.0, _params(model, kept)), ParamGroup("new", head_lr_multiplier, _params(model, fresh))], cut)
    if kind == "lwft":
        model, _, _ = build_segmentation(backbone, None, input_size, width, classes)
        enc, dec = parts(model)
        seg = _segments(Net(model.spec, {n: model.layers[n] for n in enc}, {n: model.inputs[n] for n in enc}, {n: model.channels[n] for n in enc}, enc[-1]), backbone.spec.cut_points)
        cut = None
        if spec.get("cut") is not None:
            cut = backbone.find_cut(spec["cut"])
            first = seg[cut] + 1
        else:
            k = spec.get("k", 1)
            if not isinstance(k, int) or k < 1:
                raise ValueError(f"strategy.k must be a positive integer, got {k}")
            # the decoder is the top unit; the k − 1 below it are the encoder's last segments
            first = max(seg.values()) + 1 - (k - 1)
        below = [n for n in enc if seg[n] >= first]
        for p in _params(model, [n for n in enc if seg[n] < first]):
            p.requires_grad_(False)
        return Prepared(model, [ParamGroup("top", 1.0, _params(model, dec)), ParamGroup("below-top", 0.1, _params(model, below))], cut)
    raise ValueError(f'strategy "{kind}" is not available for segmentation; use ftl, ttl, tf or lwft')


def segmentation_loss(logits: torch.Tensor, y: torch.Tensor, w: Dict[str, float]) -> torch.Tensor:
    """`w.dice · mean(1 − soft Dice per image) + w.bce · mean BCE per pixel` (the TypeScript
    `segmentationLoss`); with K > 1 logits, the soft Dice of each foreground class, averaged, and
    the softmax cross-entropy. `y`: [B, S, S] class values."""
    if logits.shape[1] > 1:
        K = logits.shape[1]
        onehot = F.one_hot(y.long(), K).permute(0, 3, 1, 2).float()
        logp = F.log_softmax(logits, 1)
        ce = -(onehot * logp).sum(1).mean()
        p = logp.exp()
        inter = (p * onehot).sum((2, 3))
        sums = p.sum((2, 3)) + onehot.sum((2, 3))
        soft = ((2 * inter + 1) / (sums + 1))[:, 1:]
        return w["dice"] * (1 - soft).mean() + w["bce"] * ce
    t = y.float().unsqueeze(1)
    p = torch.sigmoid(logits)
    inter = (p * t).sum((1, 2, 3))
    sums = p.sum((1, 2, 3)) + t.sum((1, 2, 3))
    soft = (2 * inter + 1) / (sums + 1)
    bce = F.binary_cross_entropy_with_logits(logits, t)
    return w["dice"] * (1 - soft).mean() + w["bce"] * bce


def predicted_labels(logits: torch.Tensor) -> torch.Tensor:
    """[B, S, S] uint8 class values: logit ≥ 0 (probability ≥ 0.5) for one logit, argmax for K."""
    if logits.shape[1] > 1:
        return logits.argmax(1).to(torch.uint8)
    return (logits[:, 0] >= 0).to(torch.uint8)
