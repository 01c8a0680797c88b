"""``brainseg cv --jobs N``: the folds of one cross-validation as N processes at once.

A 16-feature U-Net at 128 px uses many cores, or one GPU, poorly from one process, so on a
bigger machine several folds side by side finish the cross-validation sooner than one fold
after another with every core. Each job is ``brainseg cv DATA --out OUT --resume --fold k``
(its set-up read from ``OUT/cv.yaml``, written before any job starts):
- pinned to its own share of this process's cores (where the OS allows), which torch and
  ONNX Runtime then size their thread pools by (:mod:`brainseg.cores`);
- on its own GPU where several are visible (``CUDA_VISIBLE_DEVICES``; with one, all share it);
- writing its output to ``OUT/fold<k>/cv.log``;
- killed with the command that started it (Linux), so that a rerun with ``--resume`` never
  finds two processes training one fold.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from brainseg.cores import available_cores

POLL_SECONDS = 1.0


def core_shares(jobs: int, cores: list[int]) -> list[list[int]]:
    """``cores`` split into ``jobs`` contiguous shares as even as they can be (at most one
    share per core)."""
    jobs = max(1, min(jobs, len(cores)))
    size, extra = divmod(len(cores), jobs)
    shares, start = [], 0
    for j in range(jobs):
        end = start + size + (1 if j < extra else 0)
        shares.append(cores[start:end])
        start = end
    return shares


def visible_gpus() -> list[str]:
    """The GPUs a job may be given, as ``CUDA_VISIBLE_DEVICES`` entries (none: CPU only)."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [g for g in listed.split(",") if g.strip() and g.strip() != "-1"]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def _die_with_parent_and_pin(cores: list[int]):
    """What the child does between fork and exec: pin itself, and ask Linux to kill it when
    the parent dies (prctl PR_SET_PDEATHSIG, SIGKILL: resume is SIGKILL-safe). libc is
    loaded here, in the parent, so that the child only makes system calls."""
    prctl = None
    if sys.platform.startswith("linux"):
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl

    def setup() -> None:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, cores)
        if prctl is not None:
            prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL

    return setup


def _describe_cores(cores: list[int]) -> str:
    return f"core {cores[0]}" if len(cores) == 1 else f"cores {cores[0]}-{cores[-1]}"


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no output)"


def run_fold_jobs(data: Path, out: Path, folds: list[int], jobs: int) -> list[str]:
    """Train and predict ``folds`` of the cross-validation in ``out``, ``jobs`` at a time;
    return one line for each that failed (its exit code, last output line and log)."""
    shares = core_shares(jobs, available_cores())
    gpus = visible_gpus()
    env_for = []
    for slot in range(len(shares)):
        env = dict(os.environ)
        if len(gpus) > 1:
            env["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
        env_for.append(env)
    pending, running, failed = list(folds), {}, []
    while pending or running:
        for slot in range(len(shares)):
            if slot in running or not pending:
                continue
            k = pending.pop(0)
            log_path = out / f"fold{k}" / "cv.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log = open(log_path, "a")  # noqa: SIM115 (closed when the job ends)
            command = [sys.executable, "-m", "brainseg", "cv", str(data), "--out", str(out)]
            proc = subprocess.Popen(
                [*command, "--resume", "--fold", str(k), "--no-report"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env_for[slot],
                preexec_fn=_die_with_parent_and_pin(shares[slot]),
            )
            running[slot] = (k, proc, log, log_path)
            where = _describe_cores(shares[slot])
            if len(gpus) > 1:
                where += f", GPU {env_for[slot]['CUDA_VISIBLE_DEVICES']}"
            print(f"cv: fold {k} started ({where}); log {log_path}", file=sys.stderr)
        time.sleep(POLL_SECONDS)
        for slot, (k, proc, log, log_path) in list(running.items()):
            if proc.poll() is None:
                continue
            log.close()
            del running[slot]
            if proc.returncode == 0:
                print(f"cv: fold {k} finished", file=sys.stderr)
            else:
                line = (
                    f"fold {k} failed (exit {proc.returncode}: {_last_line(log_path)}); "
                    f"see {log_path}"
                )
                failed.append(line)
                print(f"cv: {line}", file=sys.stderr)
    return failed
