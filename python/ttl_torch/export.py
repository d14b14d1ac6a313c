"""``python -m ttl_torch export REQUEST.json``: a finished run's classifier as an ONNX or
TorchScript file.

The TypeScript engine (`src/engine/export.ts`) checks the run and writes the request; this only
computes. The request (JSON):

| field        | meaning                                                                           |
|--------------|-----------------------------------------------------------------------------------|
| ``format``   | ``onnx`` or ``torchscript``                                                       |
| ``out``      | the folder to write into (it exists, and is empty)                                |
| ``backbone`` | a built-in backbone name; ``imagenet``: the architecture of ``"weights": "imagenet"`` |
| ``strategy`` | the experiment's strategy (``{"kind": "ttl", "cut": "conv4_x"}``, …)              |
| ``numClasses``, ``imageSize`` | the run's classes and square (cubic) input size                  |
| ``weights``  | the trained weights: the torch engine's ``torch-best.pt`` (``{"model": state_dict}``) or the run's tfjs ``model.json`` |
| ``opset``    | the ONNX opset (≥ 17)                                                             |

The model takes the normalised input, channels first: [N, 3, S, S] (images) or [N, 3, S, S, S]
(volumes), float32, with a dynamic batch dimension N, and returns the logits [N, max(2, K)].
A ``phase`` event says when the export starts; the closing line is the job protocol's ``done`` with a ``check`` result ``{"files": [...],
"input": ..., "output": ..., "opset": ..., "versions": {...}}``, or ``failed`` (``inputError``
for a request that cannot be met: an unknown backbone, weights that do not fit, ``onnx`` or
``onnxscript`` missing).
"""

import json
import logging
import warnings
from pathlib import Path
from typing import Any, Callable, Dict

from ._torch import TorchUnavailable, require_torch

VOLUME_BACKBONES = {"resnet3d18", "resnext3d101", "mobilenet3d"}
#: The ONNX packages torch's exporter needs, pinned as python/setup.sh installs them.
ONNX_PACKAGES = "onnx==1.23.1 onnxscript==0.7.2"
INPUT_NAME = "input"
OUTPUT_NAME = "logits"


class ExportError(ValueError):
    """A request that cannot be met; one line for the user (exit code 2)."""


def build_model(request: Dict[str, Any]):
    """The run's classifier with its trained weights, in evaluation mode on the CPU."""
    torch = require_torch()
    from .models import build_backbone  # noqa: PLC0415
    from .strategies import prepare_strategy  # noqa: PLC0415
    from .weights import WeightsError, load_weights, read_tfjs_weights  # noqa: PLC0415

    try:
        backbone = build_backbone(request["backbone"], pretrained=False, imagenet=bool(request.get("imagenet")))
        model = prepare_strategy(backbone, request["strategy"], int(request["numClasses"])).model
    except ValueError as e:
        raise ExportError(f"the torch engine cannot build this run's model: {e}") from None
    weights = str(request["weights"])
    try:
        if weights.endswith(".json"):
            load_weights(model, read_tfjs_weights(weights), weights, strict=True)
        else:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            model.load_state_dict(state["model"] if "model" in state else state)
    except (WeightsError, OSError, RuntimeError, KeyError) as e:
        raise ExportError(f"{weights}: the weights do not fit the run's model: {str(e).splitlines()[0]}") from None
    return model.eval()


def example_input(request: Dict[str, Any], batch: int = 2):
    torch = require_torch()
    s = int(request["imageSize"])
    spatial = (s, s, s) if request["backbone"] in VOLUME_BACKBONES else (s, s)
    return torch.zeros(batch, 3, *spatial)


def _export_onnx(model, x, file: Path, opset: int) -> None:
    torch = require_torch()
    try:
        import onnx  # noqa: F401, PLC0415
        import onnxscript  # noqa: F401, PLC0415
    except ImportError as e:
        raise ExportError(f"ONNX export needs the onnx and onnxscript packages ({e}); install them with: python -m pip install {ONNX_PACKAGES}") from None
    batch = torch.export.Dim("batch", min=1)
    # the exporter logs, for every export, the torchvision operators it cannot register (torchvision is not needed here)
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model,
            (x,),
            dynamo=True,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=({0: batch},),
            external_data=False,
            verbose=False,
        )
    program.save(str(file), external_data=False)


def _export_torchscript(model, x, file: Path) -> None:
    torch = require_torch()
    with warnings.catch_warnings():
        # torch.jit is deprecated in favour of torch.export, whose files TorchScript runtimes cannot load
        warnings.simplefilter("ignore")
        with torch.no_grad():
            traced = torch.jit.trace(model, (x,), check_trace=False)
            traced = torch.jit.freeze(traced.eval())
        torch.jit.save(traced, str(file))


def export(request: Dict[str, Any], on_phase: Callable[[str], None] = lambda _: None) -> Dict[str, Any]:
    """Writes the file of `request` (see the module doc); returns the ``check`` result.
    `on_phase` hears what is being done once the model is built."""
    torch = require_torch()
    fmt = request.get("format")
    if fmt not in ("onnx", "torchscript"):
        raise ExportError(f"format {fmt!r}: the torch engine exports onnx or torchscript")
    out = Path(request["out"])
    if not out.is_dir():
        raise ExportError(f"{out}: the output folder does not exist")
    model = build_model(request)
    on_phase(f"exporting {fmt} on the torch engine")
    x = example_input(request)
    result: Dict[str, Any] = {"versions": {"torch": torch.__version__}}
    if fmt == "onnx":
        opset = int(request.get("opset", 18))
        if opset < 17:
            raise ExportError(f"opset {opset}: the export writes opset 17 or later")
        name = "model.onnx"
        _export_onnx(model, x, out / name, opset)
        import onnx  # noqa: PLC0415
        import onnxscript  # noqa: PLC0415

        onnx.checker.check_model(str(out / name))
        result["opset"] = opset
        result["versions"].update({"onnx": onnx.__version__, "onnxscript": onnxscript.__version__})
    else:
        name = "model.pt"
        _export_torchscript(model, x, out / name)
    shape = list(x.shape)
    result.update(
        {
            "files": [name],
            "input": {"name": INPUT_NAME, "shape": ["batch", *shape[1:]], "dtype": "float32"},
            "output": {"name": OUTPUT_NAME, "shape": ["batch", model.channels[model.output]], "dtype": "float32"},
        }
    )
    return result


def main(request_file: str) -> int:
    from .protocol import VERSION  # noqa: PLC0415

    def send(**message: Any) -> None:
        print(json.dumps({"v": VERSION, **message}), flush=True)

    try:
        request = json.loads(Path(request_file).read_text("utf-8"))
        result = export(request, lambda phase: send(type="phase", phase=phase))
    except (ExportError, TorchUnavailable) as e:
        send(type="failed", error=str(e), inputError=True, outOfMemory=False)
        return 2
    except (OSError, ValueError) as e:
        send(type="failed", error=f"{request_file}: {e}", inputError=True, outOfMemory=False)
        return 2
    send(type="done", result={"kind": "check", "check": result})
    return 0


__all__ = ["ExportError", "build_model", "example_input", "export", "main"]
