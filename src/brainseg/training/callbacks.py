"""Callbacks that make runs survive kills: history and timing live inside each checkpoint,
so a resumed run rewrites ``history.csv`` from it and never logs an epoch twice. Checkpoints
are written atomically (temp file, fsync, rename)."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from brainseg.fileio import atomic_write, csv_text, write_json, write_text
from brainseg.killpoints import kill_now, kill_point

HISTORY_COLUMNS = [
    "epoch",
    "train_loss",
    "train_dice",
    "train_iou",
    "train_acc",
    "val_loss",
    "val_dice",
    "val_iou",
    "val_acc",
    "val_dice_patient",
    "lr",
    "elapsed_s",  # wall-clock seconds since the run started (resumes continue the count)
]


class AtomicCheckpointIO(TorchCheckpointIO):
    """torch.save into a temp file beside the target, then rename: never a torn checkpoint."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options: Any = None) -> None:
        del storage_options  # Lightning passes it by name; a local file needs none
        atomic_write(path, lambda f: torch.save(checkpoint, f))


class HistoryCallback(L.Callback):
    """One row per finished epoch in ``history.csv`` and a ``curves.png`` plot."""

    def __init__(self, run_dir: str | Path, verbose: bool = True):
        self.run_dir = Path(run_dir)
        self.rows: list[dict[str, float]] = []
        self.verbose = verbose
        self._fit_start = time.perf_counter()
        self._elapsed_before = 0.0

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = list(state_dict.get("rows", []))

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._fit_start = time.perf_counter()
        self._elapsed_before = float(self.rows[-1].get("elapsed_s", 0.0)) if self.rows else 0.0
        if trainer.is_global_zero and self.rows:
            self._write()  # the checkpoint is the truth: drop rows logged after it

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not pl_module.epoch_metrics:
            return
        epoch = trainer.current_epoch
        elapsed = self._elapsed_before + time.perf_counter() - self._fit_start
        row = {"epoch": epoch, **pl_module.epoch_metrics, "elapsed_s": round(elapsed, 1)}
        self.rows = [r for r in self.rows if r["epoch"] < epoch] + [row]
        if trainer.is_global_zero:
            self._write()
            if self.verbose:
                print(
                    f"epoch {epoch}: train loss {row['train_loss']:.4f} dice "
                    f"{row['train_dice']:.3f} | val loss {row['val_loss']:.4f} dice "
                    f"{row['val_dice']:.3f} patient dice {row['val_dice_patient']:.3f}",
                    flush=True,
                )

    def _write(self) -> None:
        write_text(self.run_dir / "history.csv", csv_text(self.rows, HISTORY_COLUMNS))
        from brainseg.report.curves import plot_history

        plot_history(self.rows, self.run_dir / "curves.png")


class RngStateCallback(L.Callback):
    """Keep the RNG states (global torch, numpy and Python, plus the sampler's own generator)
    in every checkpoint and put them back as soon as a checkpoint is restored, so a run that
    was killed and resumed draws the same samples, augmentations and dropout masks as one
    that never stopped. Checkpoints are taken at epoch ends, where nothing is in flight."""

    def __init__(self, generators: dict[str, torch.Generator] | None = None) -> None:
        self.generators = generators or {}

    def state_dict(self) -> dict[str, Any]:
        # numpy's state as a tensor: checkpoints must load with torch.load(weights_only=True)
        name, keys, pos, has_gauss, cached = np.random.get_state()
        numpy_state = [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached]
        return {
            "torch": torch.get_rng_state(),
            "numpy": numpy_state,
            "python": random.getstate(),
            "generators": {k: g.get_state() for k, g in self.generators.items()},
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        torch.set_rng_state(state_dict["torch"])
        name, keys, pos, has_gauss, cached = state_dict["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
        random.setstate(state_dict["python"])
        for key, generator in self.generators.items():
            if key in state_dict.get("generators", {}):
                generator.set_state(state_dict["generators"][key])


class TimingCallback(L.Callback):
    """Training-phase throughput over the whole run (validation excluded), kept across
    resumes, written to ``timing.json`` after every epoch."""

    def __init__(
        self,
        run_dir: str | Path,
        precision: str,
        probe: dict[str, float] | None = None,
    ):
        self.run_dir = Path(run_dir)
        self.precision = precision
        self.probe = probe  # img/s per precision, where precision "auto" timed them
        self.train_seconds = 0.0
        self.train_images = 0
        self.wall_before = 0.0
        self.epochs_completed = 0
        self._epoch_start: float | None = None
        self._fit_start = time.perf_counter()

    def state_dict(self) -> dict[str, Any]:
        wall = self.wall_before + time.perf_counter() - self._fit_start
        return {
            "train_seconds": self.train_seconds,
            "train_images": self.train_images,
            "wall_seconds": wall,
            "epochs_completed": self.epochs_completed,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.train_seconds = state_dict["train_seconds"]
        self.train_images = state_dict["train_images"]
        self.wall_before = state_dict["wall_seconds"]
        self.epochs_completed = state_dict.get("epochs_completed", 0)

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._fit_start = time.perf_counter()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._epoch_start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.train_images += int(batch["image"].shape[0]) * trainer.world_size

    def _close_train_phase(self) -> None:
        if self._epoch_start is not None:
            self.train_seconds += time.perf_counter() - self._epoch_start
            self._epoch_start = None

    def on_validation_start(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self._close_train_phase()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._close_train_phase()
        self.epochs_completed = trainer.current_epoch + 1
        if trainer.is_global_zero:
            self.write(trainer)

    def write(self, trainer: L.Trainer) -> None:
        state = self.state_dict()
        write_json(
            self.run_dir / "timing.json",
            {
                "train_images": self.train_images,
                "train_seconds": round(self.train_seconds, 3),
                "train_images_per_second": round(self.train_images / self.train_seconds, 3)
                if self.train_seconds
                else 0.0,
                "wall_seconds": round(state["wall_seconds"], 3),
                "world_size": trainer.world_size,
                "device": str(trainer.strategy.root_device),
                "precision": self.precision,
                "precision_probe_img_per_s": self.probe,
                "epochs_completed": self.epochs_completed,
            },
        )

    def on_fit_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            self.write(trainer)


class KillAtBatch(L.Callback):
    """Test-only: SIGKILL this process when training reaches (epoch, batch)
    (``BRAINSEG_TEST_KILL=train:EPOCH:BATCH``, :mod:`brainseg.killpoints`)."""

    def __init__(self, epoch: int, batch: int):
        self.epoch, self.batch = epoch, batch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            kill_now()


def kill_switch_callbacks() -> list[L.Callback]:
    point = kill_point("train")
    if point is None:
        return []
    epoch, batch = (*point, 0)[:2]
    return [KillAtBatch(epoch, batch)]
