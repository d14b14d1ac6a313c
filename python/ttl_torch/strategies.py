"""The five transfer strategies, with the TypeScript engine's semantics
(`src/engine/strategies/index.ts`): each turns a backbone into a classifier plus the groups of
parameters that train and their learning rate as a multiple of the experiment's η.

| kind    | model                                         | groups (name: lr scale)                           |
|---------|-----------------------------------------------|---------------------------------------------------|
| ``ftl`` | the whole backbone + head                     | ``pretrained``: 1 (everything else), ``new``: head × headLrMultiplier |
| ``ttl`` | the backbone up to ``cut`` + head             | as ftl                                            |
| ``tf``  | the whole network, every convolution after ``cut`` at half width and fresh | ``pretrained``: layers up to the cut, ``new``: the layers after it (head included) × headLrMultiplier |
| ``lwft``| the whole backbone + head                     | ``top``: the head at 1, ``below-top``: the k−1 units below it (or every unit above ``cut``) at 0.1; the rest frozen |
| ``probe``| the backbone up to ``cut`` (or whole) + head, frozen | ``new``: the head × headLrMultiplier        |

A unit is the span of layers between two consecutive cut points. Frozen parameters have
``requires_grad = False``; batch-norm running statistics are buffers, in no group.
"""

from dataclasses import dataclass
from typing import Dict, List, Optional

from torch import nn

from .models import rebuilder
from .models.graph import Net, classifier


@dataclass
class ParamGroup:
    #: ``pretrained``, ``new``, ``top`` or ``below-top``.
    name: str
    #: learning rate as a multiple of the experiment's η.
    lr_scale: float
    params: List[nn.Parameter]


@dataclass
class Prepared:
    model: Net
    groups: List[ParamGroup]
    #: the layer the backbone was cut after (None: whole).
    cut: Optional[str]


HEAD = "head"


def _params(model: Net, names: List[str]) -> List[nn.Parameter]:
    return [p for n in names for p in model.layers[n].parameters()]


def _copy_layers(src: Net, dst: Net, names: List[str]) -> None:
    for n in names:
        dst.layers[n].load_state_dict(src.layers[n].state_dict())


def _segments(model: Net, cut_points: List[str]) -> Dict[str, int]:
    """The cut-point segment of every layer (0 = up to and including the first cut point)."""
    cuts = set(cut_points)
    seg: Dict[str, int] = {}
    s = 0
    for name in model.layer_names():
        seg[name] = s
        if name in cuts:
            s += 1
    return seg


def prepare_strategy(backbone: Net, spec: dict, num_classes: int, head_lr_multiplier: float = 1.0) -> Prepared:
    """Builds the classifier and parameter groups of a strategy (`spec` as in the experiment
    file: ``{"kind": "ttl", "cut": "conv4_x"}``, ``{"kind": "lwft", "k": 3}``, …).
    :raises ValueError: for an unknown kind, cut or k.
    """
    kind = spec.get("kind")
    if kind in ("ftl", "ttl"):
        cut = backbone.find_cut(spec["cut"]) if kind == "ttl" else None
        model = classifier(backbone, num_classes, cut)
        body = [n for n in model.layer_names() if n != HEAD]
        return Prepared(model, [ParamGroup("pretrained", 1.0, _params(model, body)), ParamGroup("new", head_lr_multiplier, _params(model, [HEAD]))], cut)
    if kind == "tf":
        cut = backbone.find_cut(spec["cut"])
        rebuilt = rebuilder(backbone)(half_after=cut)
        model = classifier(rebuilt, num_classes)
        names = model.layer_names()
        at = names.index(cut)
        kept, fresh = names[: at + 1], names[at + 1 :]
        _copy_layers(backbone, model, kept)
        return Prepared(model, [ParamGroup("pretrained", 1.0, _params(model, kept)), ParamGroup("new", head_lr_multiplier, _params(model, fresh))], cut)
    if kind == "lwft":
        model = classifier(backbone, num_classes)
        seg = _segments(model, backbone.spec.cut_points)
        cut = None
        if spec.get("cut") is not None:
            cut = backbone.find_cut(spec["cut"])
            first = seg[cut] + 1
        else:
            k = spec.get("k", 1)
            if not isinstance(k, int) or k < 1:
                raise ValueError(f"strategy.k must be a positive integer, got {k}")
            first = max(seg.values()) - (k - 1)
        below = [n for n in model.layer_names() if n != HEAD and seg[n] >= first]
        frozen = [n for n in model.layer_names() if n != HEAD and seg[n] < first]
        for p in _params(model, frozen):
            p.requires_grad_(False)
        return Prepared(model, [ParamGroup("top", 1.0, _params(model, [HEAD])), ParamGroup("below-top", 0.1, _params(model, below))], cut)
    if kind == "probe":
        cut = backbone.find_cut(spec["cut"]) if spec.get("cut") is not None else None
        model = classifier(backbone, num_classes, cut)
        for n in model.layer_names():
            for p in model.layers[n].parameters():
                p.requires_grad_(n == HEAD)
        return Prepared(model, [ParamGroup("new", head_lr_multiplier, _params(model, [HEAD]))], cut)
    raise ValueError(f"unknown strategy kind {kind!r}: use ftl, ttl, tf, lwft or probe")


def parameter_counts(prepared: Prepared) -> Dict[str, int]:
    """Parameters per group, plus ``trainable`` and ``frozen`` totals (as the TypeScript engine counts them)."""
    out = {g.name: sum(p.numel() for p in g.params) for g in prepared.groups}
    grouped = {id(p) for g in prepared.groups for p in g.params}
    out["trainable"] = sum(p.numel() for p in prepared.model.parameters() if id(p) in grouped and p.requires_grad)
    out["frozen"] = sum(p.numel() for p in prepared.model.parameters() if not (id(p) in grouped and p.requires_grad))
    return out
