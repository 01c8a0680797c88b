"""``brainseg cv run --jobs N``: the folds of one cross-validation as N processes at once.

A 16-feature U-Net at 128 px uses many cores, or one GPU, poorly from one process, so on a
bigger machine several folds side by side finish the cross-validation sooner than one fold
after another with every core. Each job is a process of its own (multiprocessing's spawn)
that runs :func:`brainseg.training.cv.run_fold` for one fold, with the set-up already written
to ``OUT/cv.yaml``:
- pinned to its own share of this process's cores (where the OS allows), which torch and
  ONNX Runtime then size their thread pools by (:mod:`brainseg.cores`);
- on its own GPU where several are visible (``CUDA_VISIBLE_DEVICES``; with one, all share it);
- writing its output to ``OUT/fold<k>/cv.log``;
- killed with the command that started it (Linux), so that a rerun with ``--resume`` never
  finds two processes training one fold.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
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


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies (prctl PR_SET_PDEATHSIG; resume
    is SIGKILL-safe), and leave at once if the parent is already gone."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    if os.getppid() != parent:
        os._exit(1)


def fold_job(run_fold, root: str, setup, folds: dict, k: int, cores: list[int], gpu, parent):
    """The body of one job, ``run_fold(cv, setup, folds, k)``: pinned, dying with its
    parent, its output in the fold's log; a problem with the input is one line there and
    exit code 2, a defect its traceback."""
    _die_with_parent(parent)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cores)
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    from brainseg.errors import BrainsegError
    from brainseg.evaluation.cv_layout import CVFolder
    from brainseg.logs import setup_logging

    cv = CVFolder(Path(root))
    cv.log(k).parent.mkdir(parents=True, exist_ok=True)
    with open(cv.log(k), "a") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    setup_logging(False)
    try:
        run_fold(cv, setup, folds, k)
    except BrainsegError as exc:
        print(f"cv: fold {k}: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    except Exception:
        traceback.print_exc()
        sys.exit(1)


def _describe_cores(cores: list[int]) -> str:
    return f"core {cores[0]}" if len(cores) == 1 else f"cores {cores[0]}-{cores[-1]}"


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "(no output)"
    return lines[-1].strip() if lines else "(no output)"


def run_fold_jobs(run_fold, cv, setup, folds: dict, chosen: list[int], jobs: int) -> list[str]:
    """``run_fold`` (a module-level function) on each of the ``chosen`` folds, ``jobs`` at a
    time; return one line for each that failed (its exit code, last output line and log)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    shares = core_shares(jobs, available_cores())
    gpus = visible_gpus()
    pending, running, failed = list(chosen), {}, []
    while pending or running:
        for slot, cores in enumerate(shares):
            if slot in running or not pending:
                continue
            k = pending.pop(0)
            gpu = gpus[slot % len(gpus)] if len(gpus) > 1 else None
            args = (run_fold, str(cv.root), setup, folds, k, cores, gpu, os.getpid())
            process = context.Process(target=fold_job, args=args)
            process.start()
            running[slot] = (k, process)
            where = _describe_cores(cores) + (f", GPU {gpu}" if gpu is not None else "")
            print(f"cv: fold {k} started ({where}); log {cv.log(k)}", file=sys.stderr)
        time.sleep(POLL_SECONDS)
        for slot, (k, process) in list(running.items()):
            if process.exitcode is None:
                continue
            del running[slot]
            if process.exitcode == 0:
                print(f"cv: fold {k} finished", file=sys.stderr)
                continue
            line = (
                f"fold {k} failed (exit {process.exitcode}: {_last_line(cv.log(k))}); "
                f"see {cv.log(k)}"
            )
            failed.append(line)
            print(f"cv: {line}", file=sys.stderr)
    return failed
