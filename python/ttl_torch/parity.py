"""Logits of the torch engine for the parity tests (`test/unit/torch-parity.test.ts`).

``python -m ttl_torch.parity MANIFEST.json`` reads a manifest written by the TypeScript side::

    {"cases": [{"id": "resnet18", "backbone": "resnet18",
                "weights": "resnet18.safetensors" | "shipped",
                "input": "resnet18-input.safetensors",       # tensor "input", NHWC / NDHWC
                "heads": [{"cut": null | "conv3_x", "weights": "resnet18-head0.safetensors"}],
                "out": "resnet18-torch.safetensors"}]}

and, for each case, builds the backbone, loads its weights (an exchange-format file, or the
shipped MobileNet model.json converted here), builds the classifier at every cut with the head
weights given, and writes the logits as ``logits/<i>`` (one per head) to ``out``. One JSON
line per case on stdout: ``{"id", "seconds", "params": [...]}`` (parameters per classifier).
Everything runs on the CPU in float32, in eval mode (batch norm on its running statistics).
A case (and a strategy below) with ``"imagenet": true`` builds the architecture of
``"weights": "imagenet"`` (resnet50: the Keras ResNet-50 v1, `models/keras_resnet.py`).

The manifest may also hold ``"strategies"``: ``[{"id", "backbone", "weights", "spec",
"numClasses", "tf"?: {"weights", "input", "out"}}]``; for each, one JSON line
``{"strategy": id, "counts": {group: parameters, …, "trainable", "frozen"}}``, and for a
``tf`` strategy the rebuilt model loads the TypeScript one's weights (every name and shape
must match) and writes its logits (``logits/0``) to ``tf.out``.

And ``"reference"``: ``[{"id", "backbone", "seed", "input", "exchange", "stateDict"?, "out"}]``:
the backbone with seeded random torch weights (batch-norm statistics included) is written in
the exchange format to ``exchange`` (`weights.save_exchange`), and as a state dict in the
reference implementation's naming (torchvision, r3d_18, Hara et al.; torch layout) to
``stateDict`` when asked; its feature map of the input, channels last, goes to ``out`` as
``features`` — for the TypeScript engine to load with its own loaders and compare.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .models import build_backbone, classifier
from .strategies import parameter_counts, prepare_strategy
from .weights import WeightsError, export_weights, load_exchange, load_weights, read_safetensors, save_exchange


def _to_channels_first(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(a, -1, 1)))


def run_case(case: dict, base: Path) -> dict:
    from safetensors.numpy import save_file  # noqa: PLC0415

    t0 = time.perf_counter()
    shipped = case["weights"] == "shipped"
    net = build_backbone(case["backbone"], pretrained=shipped, imagenet=bool(case.get("imagenet")))
    if not shipped:
        load_exchange(net, base / case["weights"])
    net.eval()
    arrays = export_weights(net)
    inputs, _ = read_safetensors(base / case["input"])
    x = _to_channels_first(inputs["input"])
    out = {}
    params = []
    for i, head in enumerate(case["heads"]):
        head_arrays, _ = read_safetensors(base / head["weights"])
        units = head_arrays["head/bias"].shape[0]
        model = classifier(net, units, head["cut"], share=True)
        load_weights(model, {**arrays, **head_arrays}, str(base / head["weights"]), strict=False)
        model.eval()
        with torch.no_grad():
            out[f"logits/{i}"] = model(x).numpy()
        params.append(sum(p.numel() for p in model.parameters()))
    save_file(out, str(base / case["out"]))
    return {"id": case["id"], "seconds": round(time.perf_counter() - t0, 3), "params": params}


def run_strategy(case: dict, base: Path) -> dict:
    from safetensors.numpy import save_file  # noqa: PLC0415

    net = build_backbone(case["backbone"], pretrained=False, imagenet=bool(case.get("imagenet")))
    load_exchange(net, base / case["weights"])
    prepared = prepare_strategy(net, case["spec"], case["numClasses"])
    out = {"strategy": case["id"], "counts": parameter_counts(prepared)}
    tf = case.get("tf")
    if tf:
        load_exchange(prepared.model, base / tf["weights"])
        prepared.model.eval()
        inputs, _ = read_safetensors(base / tf["input"])
        with torch.no_grad():
            logits = prepared.model(_to_channels_first(inputs["input"])).numpy()
        save_file({"logits/0": logits}, str(base / tf["out"]))
    return out


def run_reference(case: dict, base: Path) -> dict:
    from safetensors.numpy import save_file  # noqa: PLC0415

    from .torch_names import export_reference_state_dict  # noqa: PLC0415

    torch.manual_seed(case["seed"])
    net = build_backbone(case["backbone"], pretrained=False)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    net.eval()
    save_exchange(net, base / case["exchange"])
    tensors = len(export_weights(net))
    if case.get("stateDict"):
        state = export_reference_state_dict(net)
        save_file({k: v.numpy() for k, v in state.items()}, str(base / case["stateDict"]))
    inputs, _ = read_safetensors(base / case["input"])
    with torch.no_grad():
        features = net(_to_channels_first(inputs["input"])).numpy()
    save_file({"features": np.ascontiguousarray(np.moveaxis(features, 1, -1))}, str(base / case["out"]))
    return {"reference": case["id"], "tensors": tensors}


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ttl_torch.parity MANIFEST.json", file=sys.stderr)
        return 2
    manifest = Path(args[0])
    torch.manual_seed(0)
    try:
        data = json.loads(manifest.read_text("utf-8"))
        for case in data.get("cases", []):
            print(json.dumps(run_case(case, manifest.parent)), flush=True)
        for case in data.get("strategies", []):
            print(json.dumps(run_strategy(case, manifest.parent)), flush=True)
        for case in data.get("reference", []):
            print(json.dumps(run_reference(case, manifest.parent)), flush=True)
    except (WeightsError, ValueError, KeyError, OSError) as e:
        print(f"ttl_torch.parity: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
