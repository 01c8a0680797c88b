"""Training precision on this CPU: what ``precision: auto`` picks against each fixed choice.

For each resolution, real ``brainseg train`` runs (2 epochs of a few batches on ../shared,
the default model) in 32-true, in bf16-mixed and in auto. Until 2026-12-02 auto meant
bf16-mixed wherever /proc/cpuinfo lists avx512_bf16 or amx_bf16, so the ratio reported is
auto's img/s against that flag-based choice (1.0 where auto picks the same), in one run.
"""

from __future__ import annotations

import argparse

from bench_train import project_run
from common import need_real_data, save

from brainseg.training.precision import cpu_supports_bf16


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--batches", type=int, default=12, help="train batches per epoch")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    data = need_real_data()
    flag_choice = "bf16-mixed" if cpu_supports_bf16() else "32-true"
    rows = {}
    for size in args.sizes:
        batches = args.batches if size <= 128 else max(args.batches // 2, 2)
        runs = {
            p: project_run(data, size, batches, args.repeat, precision=p)
            for p in ("32-true", "bf16-mixed", "auto")
        }
        rows[str(size)] = {
            "img_per_s": {p: round(r["img_per_s"], 2) for p, r in runs.items()},
            "auto_picked": runs["auto"]["precision"],
            "auto_probe_img_per_s": runs["auto"]["probe_img_per_s"],
            "process_seconds": {p: r["process_seconds"] for p, r in runs.items()},
            "flag_based_choice": flag_choice,
            "ratio_auto_vs_flag_based": round(
                runs["auto"]["img_per_s"] / runs[flag_choice]["img_per_s"], 2
            ),
        }
    save("precision", {"native_bf16_flags": cpu_supports_bf16(), "by_resolution": rows})


if __name__ == "__main__":
    main()
