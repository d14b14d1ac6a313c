"""``python -m ttl_torch COMMAND``.

Commands:
  doctor [--device D] [--events]
                        print one JSON object: interpreter, torch, CUDA/cuDNN, devices, the chosen device and why;
                        with --events, as the job protocol's closing line (``done`` with a ``check`` result, or ``failed``)
  train                 the compute worker of a training run: job protocol on stdio (see train.py)
  analysis              the compute worker of analyses, Grad-CAM and similarity measures: job protocol on stdio
                        (see analysis.py)
  torchvision-weights BACKBONE
                        fetch torchvision's ImageNet weights of BACKBONE into torch's hub cache (or find them there) and
                        check their hash; the job protocol's closing line: ``done`` with a ``check`` result
                        ``{"backbone", "url", "path"}``, or ``failed`` (an input error: offline, a wrong file)
  torchvision-weights BACKBONE --file PATH
                        check a user's .pth/.pt (torchvision's naming) against BACKBONE: read with weights_only=True,
                        every tensor mapped onto its layers; ``done`` with ``{"backbone", "path", "tensors"}``, or ``failed``
  export REQUEST.json   a finished run's classifier as ONNX or TorchScript (see export.py); the job protocol's
                        closing line: ``done`` with a ``check`` result (the files written), or ``failed``

Exit codes: 0 ok; 1 the asked device is absent; 2 usage; 3 torch missing or too old (one line on stderr).
"""

import argparse
import json
import os
import sys

from ._torch import TorchUnavailable
from .protocol import VERSION as PROTOCOL_VERSION


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ttl_torch", description="TTL Studio's PyTorch engine")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("doctor", help="describe this Python, torch and the devices as one JSON object")
    d.add_argument("--device", default="auto", help="auto (cuda → mps → cpu), cuda, cuda:N, mps or cpu")
    d.add_argument("--events", action="store_true", help="print the report as the job protocol's closing line")
    sub.add_parser("train", help="the compute worker of a training run (job protocol on stdin/stdout)")
    sub.add_parser("analysis", help="the compute worker of analyses, Grad-CAM and similarity measures (job protocol on stdin/stdout)")
    w = sub.add_parser("torchvision-weights", help="fetch and check torchvision's ImageNet weights of a backbone (job protocol's closing line)")
    w.add_argument("backbone", help="resnet18, resnet50 or densenet121")
    w.add_argument("--file", help="check this .pth/.pt (torchvision's naming) against the backbone instead")
    x = sub.add_parser("export", help="a finished run's classifier as ONNX or TorchScript (job protocol's closing line)")
    x.add_argument("request", help="the request file written by the TypeScript engine (see export.py)")
    args = parser.parse_args(argv)
    try:
        if args.command == "analysis":
            # before torch is imported: OpenMP threads that spin while they wait take the cores
            # other threads and processes need (float64 eigh on 2 busy cores ran 3-10x slower)
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            from .analysis import serve as serve_analysis  # noqa: PLC0415

            return serve_analysis()
        if args.command == "train":
            from .train import serve  # noqa: PLC0415

            return serve()
        if args.command == "export":
            from .export import main as export_main  # noqa: PLC0415

            return export_main(args.request)
        if args.command == "doctor":
            from .doctor import doctor  # noqa: PLC0415

            report = doctor(args.device)
            if args.events:
                print(json.dumps({"v": PROTOCOL_VERSION, "type": "done", "result": {"kind": "check", "check": report}}))
                return 0
            print(json.dumps(report))
            return 0 if report["ok"] else 1
        if args.command == "torchvision-weights":
            from .torchvision_weights import URLS, fetch, load_pth  # noqa: PLC0415
            from .weights import WeightsError  # noqa: PLC0415

            if args.file:
                from .models import build_backbone  # noqa: PLC0415

                try:
                    tensors = load_pth(build_backbone(args.backbone, pretrained=False), args.file)
                except (WeightsError, ValueError) as e:
                    print(json.dumps({"v": PROTOCOL_VERSION, "type": "failed", "error": str(e), "inputError": True, "outOfMemory": False}))
                    return 2
                check = {"backbone": args.backbone, "path": args.file, "tensors": len(tensors)}
                print(json.dumps({"v": PROTOCOL_VERSION, "type": "done", "result": {"kind": "check", "check": check}}))
                return 0
            try:
                url = URLS.get(args.backbone)
                if url is None:
                    raise WeightsError(f"torchvision's ImageNet weights are available for {', '.join(URLS)} only, not {args.backbone}")
                path = fetch(url)
            except WeightsError as e:
                print(json.dumps({"v": PROTOCOL_VERSION, "type": "failed", "error": str(e), "inputError": True, "outOfMemory": False}))
                return 2
            check = {"backbone": args.backbone, "url": url, "path": str(path)}
            print(json.dumps({"v": PROTOCOL_VERSION, "type": "done", "result": {"kind": "check", "check": check}}))
            return 0
    except TorchUnavailable as e:
        print(f"ttl_torch: {e}", file=sys.stderr)
        if getattr(args, "events", False) or args.command in ("torchvision-weights", "export"):
            print(json.dumps({"v": PROTOCOL_VERSION, "type": "failed", "error": str(e), "inputError": True, "outOfMemory": False}))
            return 2
        return 3
    return 2


if __name__ == "__main__":
    sys.exit(main())
