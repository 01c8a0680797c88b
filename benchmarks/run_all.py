"""``make bench``: every benchmark in one session (each backs a figure in
docs/performance.md), results in bench_out/*.json."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

for script in sorted(p.name for p in HERE.glob("bench_*.py")):
    print(f"== {script}", flush=True)
    subprocess.run([sys.executable, str(HERE / script)], check=True, cwd=HERE)
