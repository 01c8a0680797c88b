"""The LightningModule: U-Net, loss, batch-level augmentation, and epoch metrics.

Metrics are accumulated as confusion counts (pooled over the epoch, and per validation
patient) and summed across DDP ranks before they are turned into Dice, IoU and accuracy, so
they are exact rather than averages of per-batch values.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from brainseg.config import validate_config
from brainseg.data.transforms import augment_batch
from brainseg.losses import create_loss
from brainseg.metrics import Counts, accuracy, dice, iou
from brainseg.models import create_model
from brainseg.preprocessing import normalize


def _batch_counts(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(N, 4) tp, fp, fn, tn per sample."""
    pred = (logits > 0).flatten(1)
    true = target.flatten(1) > 0.5
    tp = (pred & true).sum(1)
    fp = (pred & ~true).sum(1)
    fn = (~pred & true).sum(1)
    tn = pred.shape[1] - tp - fp - fn
    return torch.stack([tp, fp, fn, tn], 1).double()


def _scores(c: torch.Tensor) -> dict[str, float]:
    """Dice, IoU and accuracy of summed counts, by ``brainseg.metrics``' rules."""
    summed = Counts(*(int(v) for v in c))
    return {"dice": dice(summed), "iou": iou(summed), "acc": accuracy(summed)}


class SegmentationModule(L.LightningModule):
    """``config`` comes as plain data (what the checkpoint's hyper-parameters keep) and is
    validated here into the typed ``Config``."""

    def __init__(self, config: dict[str, Any], val_patients: int = 1):
        super().__init__()
        self.save_hyperparameters()
        self.config = validate_config(config)
        self.model = create_model(self.config.model)
        self.loss_fn = create_loss(self.config.loss)
        self.val_patients = max(int(val_patients), 1)
        self.epoch_metrics: dict[str, float] = {}
        self._reset_train()
        self._reset_val()

    def _reset_train(self) -> None:
        self._train_counts = torch.zeros(4, dtype=torch.float64)
        self._train_loss = torch.zeros(2, dtype=torch.float64)  # loss sum, samples

    def _reset_val(self) -> None:
        self._val_counts = torch.zeros(self.val_patients, 4, dtype=torch.float64)
        self._val_loss = torch.zeros(2, dtype=torch.float64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def _prepare(self, batch: dict[str, torch.Tensor], train: bool):
        x = normalize(batch["image"].float(), batch["scale"].float())
        y = batch["mask"].float()
        augment = self.config.augment
        if train and augment.enabled:
            x, y = augment_batch(x, y, augment)
        if self.config.train.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    def on_fit_start(self) -> None:
        if self.config.train.channels_last:
            self.model.to(memory_format=torch.channels_last)

    def on_train_epoch_start(self) -> None:
        self._reset_train()

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = self._prepare(batch, train=True)
        logits = self.model(x)
        loss = self.loss_fn(logits, y)
        with torch.no_grad():
            n = x.shape[0]
            self._train_counts += _batch_counts(logits, y).sum(0).cpu()
            self._train_loss += torch.tensor([float(loss.detach()) * n, n], dtype=torch.float64)
        return loss

    def on_validation_epoch_start(self) -> None:
        self._reset_val()

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        x, y = self._prepare(batch, train=False)
        logits = self.model(x)
        loss = self.loss_fn(logits, y)
        n = x.shape[0]
        self._val_counts.index_add_(0, batch["patient"].cpu(), _batch_counts(logits, y).cpu())
        self._val_loss += torch.tensor([float(loss) * n, n], dtype=torch.float64)

    def _reduce(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.trainer.world_size > 1:
            tensor = self.trainer.strategy.reduce(tensor.to(self.device), reduce_op="sum").cpu()
        return tensor

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        train_counts, train_loss = self._reduce(self._train_counts), self._reduce(self._train_loss)
        val_counts, val_loss = self._reduce(self._val_counts), self._reduce(self._val_loss)
        metrics = {"train_loss": float(train_loss[0] / max(train_loss[1], 1))}
        metrics.update({f"train_{k}": v for k, v in _scores(train_counts).items()})
        metrics["val_loss"] = float(val_loss[0] / max(val_loss[1], 1))
        metrics.update({f"val_{k}": v for k, v in _scores(val_counts.sum(0)).items()})
        seen = val_counts.sum(1) > 0
        per_patient = [_scores(c)["dice"] for c in val_counts[seen]]
        metrics["val_dice_patient"] = sum(per_patient) / max(len(per_patient), 1)
        metrics["lr"] = float(self.optimizers().param_groups[0]["lr"])
        self.epoch_metrics = metrics
        self.log_dict({k: torch.tensor(v) for k, v in metrics.items()}, sync_dist=False)

    def configure_optimizers(self):
        train = self.config.train
        optimizer = torch.optim.Adam(self.parameters(), lr=train.lr)
        if train.lr_decay == "none":
            return optimizer
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=train.epochs, eta_min=train.lr * 0.01
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler}}
