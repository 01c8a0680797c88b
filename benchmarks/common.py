"""Shared helpers for the benchmarks: timing, child-process peak RSS, the real-data path."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = ROOT.parent / "shared" / "data" / "lgg" / "kaggle_3m"
OUT = ROOT / "bench_out"
BRAINSEG = [sys.executable, "-m", "brainseg"]


def run_measured(command: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Run a command; return (wall seconds, peak RSS MiB of the child, combined output)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        text=True,
    )
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{output[-3000:]}")
    return wall, usage.ru_maxrss / 1024, output


def median_of(values: list[float]) -> float:
    return statistics.median(values)


def save(name: str, result: dict) -> None:
    OUT.mkdir(exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def need_real_data() -> Path:
    if not REAL_DATA.is_dir():
        sys.exit(f"real data not found at {REAL_DATA}")
    return REAL_DATA
