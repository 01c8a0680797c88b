"""Data-loader throughput with augmentation against what training consumes.

Iterates the same DataLoader (uint8 cache, tumour oversampling) that ``brainseg train``
builds, and applies the batch augmentation, with the default config, over all of
../shared. Compared with the training img/s measured by bench_train.py in the same session.
"""

from __future__ import annotations

import json
import time

import torch
from common import OUT, median_of, need_real_data, save
from torch.utils.data import DataLoader, WeightedRandomSampler

from brainseg.config import Config
from brainseg.data.dataset import SliceDataset
from brainseg.data.transforms import augment_batch
from brainseg.data.volumes import load_volumes


def main(batches: int = 40, repeat: int = 3) -> None:
    data = need_real_data()
    start = time.perf_counter()
    volumes, _ = load_volumes(data)
    decode_s = time.perf_counter() - start
    cfg = Config()
    dataset = SliceDataset(volumes, cfg.data)
    weights = dataset.sample_weights(cfg.data.oversample_tumor)
    rates = []
    for _ in range(repeat):
        loader = DataLoader(
            dataset,
            batch_size=16,
            drop_last=True,
            sampler=WeightedRandomSampler(weights, 16 * batches),
        )
        start = time.perf_counter()
        seen = 0
        for batch in loader:
            x = batch["image"].float() * batch["scale"][:, :, None, None]
            x, y = augment_batch(x, batch["mask"].float(), cfg.augment)
            seen += x.shape[0]
        rates.append(seen / (time.perf_counter() - start))
    train = OUT / "train.json"
    consumed = (
        json.loads(train.read_text())["project_default_img_per_s"] if train.exists() else None
    )
    result = {
        "slices": len(dataset),
        "decode_all_seconds": round(decode_s, 2),
        "cache_bytes_mib": round((dataset.images.numel() + dataset.masks.numel()) / 2**20),
        "loader_img_per_s": round(median_of(rates), 1),
        "threads": torch.get_num_threads(),
        "training_consumes_img_per_s": consumed,
    }
    if consumed:
        result["ratio_loader_vs_training"] = round(median_of(rates) / consumed, 1)
    save("data", result)


if __name__ == "__main__":
    main()
