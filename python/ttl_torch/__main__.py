"""``python -m ttl_torch COMMAND``.

Commands:
  doctor [--device D]   print one JSON object: interpreter, torch, CUDA/cuDNN, devices, the chosen device and why
  train                 the compute worker of a training run: job protocol on stdio (see train.py)

Exit codes: 0 ok; 1 the asked device is absent; 2 usage; 3 torch missing or too old (one line on stderr).
"""

import argparse
import json
import sys

from ._torch import TorchUnavailable


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ttl_torch", description="TTL Studio's PyTorch engine")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("doctor", help="describe this Python, torch and the devices as one JSON object")
    d.add_argument("--device", default="auto", help="auto (cuda → mps → cpu), cuda, cuda:N, mps or cpu")
    sub.add_parser("train", help="the compute worker of a training run (job protocol on stdin/stdout)")
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            from .train import serve  # noqa: PLC0415

            return serve()
        if args.command == "doctor":
            from .doctor import doctor  # noqa: PLC0415

            report = doctor(args.device)
            print(json.dumps(report))
            return 0 if report["ok"] else 1
    except TorchUnavailable as e:
        print(f"ttl_torch: {e}", file=sys.stderr)
        return 3
    return 2


if __name__ == "__main__":
    sys.exit(main())
