"""``python -m ttl_torch COMMAND``.

Commands:
  doctor [--device D] [--events]
                        print one JSON object: interpreter, torch, CUDA/cuDNN, devices, the chosen device and why;
                        with --events, as the job protocol's closing line (``done`` with a ``check`` result, or ``failed``)
  train                 the compute worker of a training run: job protocol on stdio (see train.py)

Exit codes: 0 ok; 1 the asked device is absent; 2 usage; 3 torch missing or too old (one line on stderr).
"""

import argparse
import json
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
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            from .train import serve  # noqa: PLC0415

            return serve()
        if args.command == "doctor":
            from .doctor import doctor  # noqa: PLC0415

            report = doctor(args.device)
            if args.events:
                print(json.dumps({"v": PROTOCOL_VERSION, "type": "done", "result": {"kind": "check", "check": report}}))
                return 0
            print(json.dumps(report))
            return 0 if report["ok"] else 1
    except TorchUnavailable as e:
        print(f"ttl_torch: {e}", file=sys.stderr)
        if getattr(args, "events", False):
            print(json.dumps({"v": PROTOCOL_VERSION, "type": "failed", "error": str(e), "inputError": True, "outOfMemory": False}))
            return 2
        return 3
    return 2


if __name__ == "__main__":
    sys.exit(main())
