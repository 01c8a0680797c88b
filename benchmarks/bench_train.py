"""Training throughput: the project's path against a plain baseline, in one run.

Baseline (written here, on purpose plain): the same U-Net architecture, fp32, NCHW, eager,
batch 16 at 256x256, Adam and the plain Dice loss, on random tensors (so it pays nothing for
data). The project's path is a real ``brainseg train`` run on ../shared with the default
config; its ``timing.json`` gives img/s for the training phase, data and augmentation
included. Also measured here: the GEMM peaks, FLOPs per image (torch's FlopCounterMode) and
the achieved fraction of the peak, and peak RSS of the whole training process.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
import yaml
from common import BRAINSEG, median_of, need_real_data, run_measured, save

from brainseg.config import Config
from brainseg.models import UNet


def gemm_peak(dtype: torch.dtype, n: int = 2048, reps: int = 5) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * n**3 / min(times) / 1e9


def dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0):
    p = torch.sigmoid(logits)
    return 1 - (2 * (p * target).sum() + smooth) / (p.sum() + target.sum() + smooth)


def step_times(forward, model: torch.nn.Module, x, y, steps: int, lr: float) -> list[float]:
    """Seconds per plain training step (Adam, the plain Dice loss) on fixed tensors."""
    optimizer = torch.optim.Adam(model.parameters(), lr)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        loss = dice_loss(forward(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return times


def baseline_img_per_s(features: int, depth: int, size: int, steps: int, batch: int = 16):
    torch.manual_seed(0)
    model = UNet(features=features, depth=depth, dropout=0.1)
    x = torch.rand(batch, 3, size, size)
    y = (torch.rand(batch, 1, size, size) > 0.9).float()
    times = step_times(model, model, x, y, steps + 1, 1e-4)
    return batch / median_of(times[1:])  # the first step warms up the allocator


def flops_per_image(features: int, depth: int, size: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    model = UNet(features=features, depth=depth)
    x = torch.rand(2, 3, size, size)
    with FlopCounterMode(display=False) as counter:
        dice_loss(model(x), torch.zeros(2, 1, size, size)).backward()
    return counter.get_total_flops() / 2


def scaled_dataset(data: Path, patients: int, into: Path) -> Path:
    """A folder of ``patients`` patients: the real ones, then symlinked copies under new
    names (for memory at the size of the full 110-patient LGG dataset)."""
    real = sorted(p for p in data.iterdir() if p.is_dir())
    for index in range(patients):
        source = real[index % len(real)]
        name = source.name if index < len(real) else f"{source.name}_copy{index // len(real)}"
        (into / name).symlink_to(source, target_is_directory=True)
    return into


def project_run(data: Path, size: int, batches: int, repeat: int, precision: str = "auto") -> dict:
    """Median img/s of ``repeat`` real ``brainseg train`` runs (2 epochs of ``batches``),
    their peak RSS, the precision they trained in and what precision auto's probe timed."""
    results = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "c.yaml"
            config.write_text(
                yaml.safe_dump(
                    {
                        "data": {"resolution": size},
                        "train": {
                            "epochs": 2,
                            "max_train_batches": batches,
                            "precision": precision,
                        },
                    }
                )
            )
            wall, rss, _ = run_measured(
                BRAINSEG
                + [
                    "train",
                    "--data",
                    str(data),
                    "--out",
                    str(Path(tmp) / "run"),
                    "--config",
                    str(config),
                ]
            )
            timing = json.loads((Path(tmp) / "run" / "timing.json").read_text())
            results.append((timing["train_images_per_second"], rss, timing, wall))
    return {
        "img_per_s": median_of([r[0] for r in results]),
        "peak_rss_mib": max(r[1] for r in results),
        "precision": results[0][2]["precision"],
        "probe_img_per_s": results[0][2].get("precision_probe_img_per_s"),
        "process_seconds": round(median_of([r[3] for r in results]), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batches", type=int, default=12, help="train batches per epoch")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = need_real_data()
    defaults = Config()
    f, d = defaults.model.features, defaults.model.depth
    default_res = defaults.data.resolution
    # bf16 GEMM is emulated (very slow) on CPUs without AVX-512 bf16/AMX: a smaller size
    # measures it without stalling the benchmark.
    peaks = {"fp32": gemm_peak(torch.float32), "bf16": gemm_peak(torch.bfloat16, n=512)}
    base = median_of([baseline_img_per_s(f, d, 256, args.steps) for _ in range(args.repeat)])
    project_default = project_run(data, default_res, args.batches, args.repeat)
    project_256 = (
        project_run(data, 256, args.batches, args.repeat)
        if default_res != 256
        else (project_default)
    )
    flops = {s: flops_per_image(f, d, s) for s in {256, default_res}}
    with tempfile.TemporaryDirectory() as tmp:
        big = scaled_dataset(data, 110, Path(tmp))
        rss_110 = project_run(big, default_res, 2, 1)["peak_rss_mib"]
    achieved = project_default["img_per_s"] * flops[default_res] / 1e9
    peak = peaks["bf16"] if "bf16" in project_default["precision"] else peaks["fp32"]
    save(
        "train",
        {
            "model": f"U-Net features {f}, depth {d}",
            "gemm_peak_gflops": {k: round(v, 1) for k, v in peaks.items()},
            "baseline_img_per_s_256": round(base, 2),
            "project_default_resolution": default_res,
            "project_default_img_per_s": round(project_default["img_per_s"], 2),
            "project_default_precision": project_default["precision"],
            "project_256_img_per_s": round(project_256["img_per_s"], 2),
            "ratio_default_vs_baseline": round(project_default["img_per_s"] / base, 2),
            "ratio_same_resolution_vs_baseline": round(project_256["img_per_s"] / base, 2),
            "gflop_per_train_image": {str(k): round(v / 1e9, 2) for k, v in flops.items()},
            "achieved_gflops": round(achieved, 1),
            "fraction_of_gemm_peak": round(achieved / peak, 3),
            "train_peak_rss_mib_all_patients": round(project_default["peak_rss_mib"], 0),
            "train_peak_rss_mib_110_patients": round(rss_110, 0),
            "fraction_of_bf16_gemm_peak": round(achieved / peaks["bf16"], 3),
        },
    )


if __name__ == "__main__":
    main()
