"""``brainseg train``: data, split, config and the Lightning Trainer, wired together.

Everything a run needs to be repeated lands in ``RUN/``: ``config.yaml`` (resolved),
``split.json``, ``last.ckpt`` (every epoch), ``best.ckpt`` (by validation per-patient Dice),
``history.csv``, ``curves.png`` and ``timing.json``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from brainseg.config import ModelConfig, load_config, save_config
from brainseg.cores import available_cores
from brainseg.data.splits import load_split, make_split, save_split
from brainseg.data.volumes import load_clean_volumes
from brainseg.errors import BrainsegError
from brainseg.training.precision import resolve_precision


def _is_rank_zero() -> bool:
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


def _check_out_dir(data: Path, out: Path, resume: bool) -> bool:
    """Whether there is a run to resume. ``--resume`` with none yet (a run killed before its
    first checkpoint, or never started) starts from the beginning, so that the same command
    can be rerun at any moment (a requeued job) and always finishes."""
    data, out = data.resolve(), out.resolve()
    if out == data or data in out.parents:
        raise BrainsegError(f"{out}: the run folder must not be inside the data folder {data}")
    if resume and not (out / "last.ckpt").exists():
        if _is_rank_zero():
            print(
                f"{out}: nothing to resume yet (no last.ckpt): starting from the beginning",
                file=sys.stderr,
            )
        return False
    if not resume and (out / "last.ckpt").exists():
        raise BrainsegError(
            f"{out}: already holds a run; use --resume to continue it or choose another --out"
        )
    return resume


def _split_stems(split: dict[str, Any], subset: str) -> tuple[list[str], set[str] | None]:
    """Patients to load and, for slice splits, the slice stems to keep."""
    items = split[subset]
    if split.get("by") == "slice":
        return sorted({i.split("/")[0] for i in items}), {i.split("/", 1)[1] for i in items}
    return sorted(items), None


def train(
    data: str | Path,
    out: str | Path,
    config_path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    split_path: str | Path | None = None,
    resume: bool = False,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Train a model; return the last epoch's metrics."""
    data, out = Path(data), Path(out)
    started = _check_out_dir(data, out, resume)
    if resume and config_path is None and (out / "config.yaml").exists():
        config_path = out / "config.yaml"
    config = load_config(config_path, overrides)
    volumes = load_clean_volumes(data, config.data.cache_dir)
    if resume and split_path is None and (out / "split.json").exists():
        split_path = out / "split.json"
    if split_path is not None:
        split = load_split(split_path)
    else:
        stems = {v.patient: v.stems for v in volumes}
        s = config.split
        split = make_split(stems, config.seed, s.test, s.val, s.by)
    if not split["val"]:
        raise BrainsegError("the split has no validation items; training needs some")
    if split.get("final_fit") and _is_rank_zero():
        print(
            "note: final-fit split: the validation patients are trained on, so their scores "
            "are not held out; use last.ckpt, not best.ckpt",
            file=sys.stderr,
        )
    resume = started
    init = config.train.init_weights
    init_state = _init_state(init, config.model) if init and not resume else None
    if _is_rank_zero():
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BrainsegError(f"{out}: cannot create the run folder ({exc.strerror})") from None
        for stale in out.glob(".*.tmp"):  # half-written files of a killed run
            stale.unlink(missing_ok=True)
        save_config(config, out / "config.yaml")
        save_split(split, out / "split.json")
    return _fit(volumes, split, config, out, resume, progress, init_state)


def _quiet_lightning() -> None:
    """Keep the console to our one line per epoch: no tips, no benign warnings."""
    import logging
    import warnings

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for pattern in (
        ".*exists and is not empty.*",
        ".*LeafSpec.*",
        ".*does not have many workers.*",
        ".*litlogger.*",
        ".*where received a uint8.*",
    ):
        warnings.filterwarnings("ignore", message=pattern)


def _init_state(path: str | Path, model_config: ModelConfig) -> dict[str, Any]:
    """Weights (fp32) from a bundle or checkpoint whose architecture matches ``model_config``."""
    from brainseg.models.files import load_model_file

    source_config, state, _ = load_model_file(Path(path))
    if source_config.model != model_config:
        raise BrainsegError(
            f"{path}: its model {source_config.model} differs from this run's "
            f"{model_config}; init weights need the same architecture"
        )
    return {k: v.float() for k, v in state.items()}


def _started_in(out: Path) -> str | None:
    """The precision a run being resumed trained in so far (None before its first epoch)."""
    try:
        return json.loads((out / "timing.json").read_text()).get("precision")
    except (OSError, ValueError):
        return None


def _fit(volumes, split, config, out: Path, resume: bool, progress: bool | None, init_state):
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import ModelCheckpoint
    from torch.utils.data import DataLoader, RandomSampler, WeightedRandomSampler

    from brainseg.data.dataset import SliceDataset
    from brainseg.training.callbacks import (
        AtomicCheckpointIO,
        HistoryCallback,
        RngStateCallback,
        TimingCallback,
        kill_switch_callbacks,
    )
    from brainseg.training.module import SegmentationModule

    _quiet_lightning()
    cfg_train = config.train
    devices = cfg_train.devices
    if cfg_train.accelerator in ("cpu", "auto") and not torch.cuda.is_available():
        torch.set_num_threads(max(1, len(available_cores()) // devices))
    L.seed_everything(config.seed, workers=True, verbose=False)

    by_name = {v.patient: v for v in volumes}

    def dataset(subset: str) -> SliceDataset:
        names, stems = _split_stems(split, subset)
        missing = [n for n in names if n not in by_name]
        if missing:
            raise BrainsegError(f"split names patients not in the data: {', '.join(missing[:5])}")
        return SliceDataset([by_name[n] for n in names], config.data, stems)

    train_set, val_set = dataset("train"), dataset("val")
    # The datasets hold their own (resized) copies: drop the full-resolution volumes, which
    # are most of the memory (about 260 KB per slice; 1 GB for the 110-patient dataset).
    by_name.clear()
    volumes.clear()
    # Explicit generators: their states travel in checkpoints (RngStateCallback), and the
    # loaders never draw from the global RNG, which augmentation and dropout use.
    sampler_rng = torch.Generator().manual_seed(config.seed)
    weights = train_set.sample_weights(config.data.oversample_tumor)
    if weights is None:
        sampler = RandomSampler(train_set, generator=sampler_rng)
    else:
        sampler = WeightedRandomSampler(weights, len(train_set), generator=sampler_rng)
    workers = cfg_train.num_workers
    loader_args = {
        "batch_size": cfg_train.batch_size,
        "num_workers": workers,
        "persistent_workers": workers > 0,
    }
    train_loader = DataLoader(
        train_set,
        sampler=sampler,
        generator=torch.Generator().manual_seed(config.seed + 1),
        drop_last=len(train_set) > cfg_train.batch_size,
        **loader_args,
    )
    val_loader = DataLoader(
        val_set,
        shuffle=False,
        generator=torch.Generator().manual_seed(config.seed + 2),
        **loader_args,
    )

    precision, probe = resolve_precision(config, _started_in(out) if resume else None)
    if probe and _is_rank_zero():
        print(
            f"precision auto: {precision} (one training step of this model and batch: "
            f"{probe['32-true']} img/s in 32-true, {probe['bf16-mixed']} in bf16-mixed)",
            file=sys.stderr,
        )
    module = SegmentationModule(config.to_dict(), val_patients=len(val_set.patients))
    if init_state is not None:
        module.model.load_state_dict(init_state)
    # Two checkpoints: best.ckpt by validation per-patient Dice, and last.ckpt every epoch
    # (Lightning's save_last only copies when a top-k file is written).
    best = ModelCheckpoint(
        dirpath=out,
        filename="best",
        monitor="val_dice_patient",
        mode="max",
        save_top_k=1,
        enable_version_counter=False,
    )
    last = ModelCheckpoint(
        dirpath=out,
        filename="last",
        monitor=None,
        save_top_k=1,
        every_n_epochs=1,
        enable_version_counter=False,
    )
    timing = TimingCallback(out, precision, probe=probe)
    trainer = L.Trainer(
        max_epochs=cfg_train.epochs,
        accelerator=cfg_train.accelerator,
        devices=devices,
        strategy=cfg_train.strategy,
        precision=precision,
        callbacks=[
            HistoryCallback(out),
            timing,
            RngStateCallback({"sampler": sampler_rng}),
            best,
            last,
            *kill_switch_callbacks(),
        ],
        plugins=[AtomicCheckpointIO()],
        logger=False,
        enable_progress_bar=sys.stderr.isatty() if progress is None else progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_train_batches=cfg_train.max_train_batches,
        default_root_dir=out,
        deterministic=False,
    )
    ckpt_path = out / "last.ckpt" if resume else None
    trainer.fit(module, train_loader, val_loader, ckpt_path=ckpt_path)
    return dict(module.epoch_metrics)
