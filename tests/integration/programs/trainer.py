"""A training program for integration tests; its behaviour is chosen by the `mode` hyperparameter.

ok      prints `epoch=<k> score=<value>` for each epoch, writes what it received into the model dir;
        with SM_CHECKPOINT_DIR it records each finished epoch there and resumes after the last one
fail    writes to stderr and exits 3
silent  completes without ever printing the objective
hang    sleeps forever (MaxRuntimeInSeconds must end it), ignoring SIGTERM if `ignore_term` is 1
stubborn  hang with SIGTERM ignored
crash   dies at start, before reading anything (an uncaught exception)
nan     prints a good score, then `score=nan` as the last objective value
spam    prints `spam_mb` MB of 1 KB junk lines, then the objective (past any output cap)
tiny    prints `tiny_lines` one-character lines as fast as it can, then goes on as ok
longline  prints one line of `line_mb` MB, then goes on as ok
fill    writes `fill_mb` MB of random bytes into the model dir (1 MB at a time), then goes on as ok
fork    leaves a forked child and a setsid grandchild running (both print `child_pid=<pid>` and keep
        stdout open), prints the objective and exits 0
"""

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path


def leave_children() -> None:
    if os.fork() == 0:  # a child in the program's process group
        # One write(2) per line: with PYTHONUNBUFFERED, print() sends the text and its newline
        # separately, and the parent's lines would land in between.
        os.write(1, f"child_pid={os.getpid()} kind=group\n".encode())
        if os.fork() == 0:  # and one that leaves the group
            os.setsid()
            os.write(1, f"child_pid={os.getpid()} kind=setsid\n".encode())
        while True:
            time.sleep(1)


def spam(megabytes: float) -> None:
    line = ("junk " * 204)[:1023] + "\n"
    chunk = line * 1024  # 1 MiB
    out = sys.stdout.buffer
    for _ in range(int(megabytes)):
        out.write(chunk.encode())
    out.flush()


def main() -> None:
    if "crash" in sys.argv:
        raise RuntimeError("crashed at start on purpose")
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="ok")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--ignore_term", type=int, default=0)
    parser.add_argument("--spam_mb", type=float, default=100)
    parser.add_argument("--fill_mb", type=int, default=0)
    parser.add_argument("--tiny_lines", type=int, default=3_000_000)
    parser.add_argument("--line_mb", type=int, default=100)
    parser.add_argument("--stamp", type=int, default=0)
    args, rest = parser.parse_known_args()
    hps = json.loads(Path(os.environ["SM_INPUT_CONFIG_DIR"], "hyperparameters.json").read_text())
    x = float(hps.get("x", "0.5"))
    model_dir = Path(os.environ["SM_MODEL_DIR"])
    received = {
        "argv": sys.argv[1:],
        "hyperparameters.json": hps,
        "env": {k: v for k, v in os.environ.items() if k.startswith(("SM_", "TUNESTREAM", "MY_", "CUDA_", "NVIDIA_"))},
        "channels": {
            name: sorted(
                str(p.relative_to(os.environ[f"SM_CHANNEL_{name.upper()}"]))
                for p in Path(os.environ[f"SM_CHANNEL_{name.upper()}"]).rglob("*")
                if p.is_file()
            )
            for name in json.loads(os.environ.get("SM_CHANNELS", "[]"))
        },
        "cwd": os.getcwd(),
        "all_env": dict(os.environ),
    }
    (model_dir / "received.json").write_text(json.dumps(received, indent=1))
    checkpoint = Path(os.environ["SM_CHECKPOINT_DIR"], "epoch") if os.environ.get("SM_CHECKPOINT_DIR") else None
    resumed = int(checkpoint.read_text()) if checkpoint is not None and checkpoint.is_file() else 0
    received["resumed_from_epoch"] = resumed
    if os.environ.get("TRAINER_STARTS_DIR"):  # one file per program start, to count starts across launchers
        starts = Path(os.environ["TRAINER_STARTS_DIR"])
        starts.mkdir(parents=True, exist_ok=True)
        (starts / f"{os.environ['SM_TRAINING_JOB_NAME']}.{os.getpid()}").write_text(str(resumed))
    print(f"starting mode={args.mode} x={x} unused={rest} resumed_from_epoch={resumed}", flush=True)
    if args.mode == "fail":
        print("Traceback (most recent call last):", file=sys.stderr)
        print("ValueError: the data went bad at epoch 1", file=sys.stderr, flush=True)
        sys.exit(3)
    if args.mode in ("hang", "stubborn"):
        if args.ignore_term or args.mode == "stubborn":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(1)
    if args.mode == "spam":
        spam(args.spam_mb)
    if args.mode == "tiny":
        block = b"x\n" * 65536
        for _ in range(args.tiny_lines // 65536):
            sys.stdout.buffer.write(block)
        sys.stdout.buffer.flush()
    if args.mode == "longline":
        chunk = b"x" * (1 << 20)
        for _ in range(args.line_mb):
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.write(b"\n")
        sys.stdout.buffer.flush()
    if args.mode == "fill":
        with open(model_dir / "weights.bin", "wb") as weights:
            for _ in range(args.fill_mb):
                weights.write(os.urandom(1 << 20))
                weights.flush()
    if args.mode == "fork":
        leave_children()
    for epoch in range(resumed + 1, args.epochs + 1):
        time.sleep(args.sleep)
        score = 1.0 - (x - 0.3) ** 2 - 0.1 / epoch
        if args.mode == "nan" and epoch == args.epochs:
            print(f"epoch={epoch} score=nan", flush=True)
        elif args.mode != "silent":
            # With stamp=1 the line carries when it was printed, to time its way through tunestream.
            stamp = f" printed_at={time.time():.6f}" if args.stamp else ""
            print(f"epoch={epoch} score={score:.6f}{stamp}", flush=True)
        else:
            print(f"epoch={epoch} (nothing to report)", flush=True)
        if checkpoint is not None:
            checkpoint.write_text(str(epoch))
    (model_dir / "received.json").write_text(json.dumps(received, indent=1))
    # What SageMaker uploads as output.tar.gz (or output/data/ uncompressed).
    if os.environ.get("SM_OUTPUT_DATA_DIR"):
        summary = Path(os.environ["SM_OUTPUT_DATA_DIR"]) / "summary" / "last.txt"
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(f"epochs={args.epochs}\n")


if __name__ == "__main__":
    main()
