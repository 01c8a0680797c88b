"""Reliability: SIGKILL ``brainseg train`` at random moments, rerunning the same command with
``--resume`` each time, then let it finish; check that history.csv holds every epoch once
and that every checkpoint loads (docs/reliability.md).

    brainseg synth --out /tmp/synth --patients 12 --slices 16 --size 128
    python tools/kill_resume.py --data /tmp/synth --out /tmp/kills
"""

from __future__ import annotations

import argparse
import csv
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = out / "config.yaml"
    train = {"epochs": args.epochs, "max_train_batches": 10, "batch_size": 16}
    config.write_text(yaml.safe_dump({"data": {"resolution": args.resolution}, "train": train}))
    run = out / "run"
    command = [sys.executable, "-m", "brainseg", "train", "--data", args.data]
    command += ["--out", str(run), "--config", str(config), "--resume"]
    rng = random.Random(args.seed)
    for kill in range(args.kills):
        # the first kill comes 5 s after the start, before the first checkpoint (checked)
        wait = 5.0 if kill == 0 else rng.uniform(5, 25)
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            process.wait(timeout=wait)
            print(f"run {kill + 1} finished before its kill", flush=True)
            break
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
        epochs = _epochs(run)
        had = (run / "last.ckpt").exists()
        if kill == 0 and had:
            print("the first kill came after the first checkpoint: use a slower setting")
            sys.exit(1)
        print(
            f"kill {kill + 1} after {time.perf_counter() - started:.1f} s: epochs in history "
            f"{epochs}, last.ckpt {'present' if had else 'absent'}",
            flush=True,
        )
    final = subprocess.run(command, capture_output=True, text=True)
    epochs = _epochs(run)
    readable = all("state_dict" in torch.load(c, weights_only=False) for c in run.glob("*.ckpt"))
    ok = final.returncode == 0 and epochs == list(range(args.epochs)) and readable
    print(f"final run: exit {final.returncode}; epochs {epochs}; checkpoints readable {readable}")
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


def _epochs(run: Path) -> list[int]:
    try:
        with open(run / "history.csv") as handle:
            return [int(row["epoch"]) for row in csv.DictReader(handle)]
    except OSError:
        return []


if __name__ == "__main__":
    main()
