"""Which precision ``train.precision: auto`` trains in.

GPUs: bf16-mixed where supported, otherwise 16-mixed. CPUs: bf16 pays only where the CPU
computes it natively (``avx512_bf16`` or ``amx_bf16`` in /proc/cpuinfo; elsewhere it is
emulated and far slower), and even there not always: without AMX, fp32 can be the faster
at small resolutions (docs/performance.md). So on such a CPU, auto times one training step
of the run's own model and batch shape in each precision and takes the faster; bf16 must
win by ``BF16_MARGIN``, since it also costs accuracy.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from brainseg.config import Config

# Set by rank 0 for the DDP ranks it launches (they inherit its environment), so that all of
# them train in one precision; a multi-node run should set train.precision itself.
ENV_CHOICE = "BRAINSEG_AUTO_PRECISION"
BF16_MARGIN = 1.05
_PROBED: dict[tuple, tuple[str, dict[str, float]]] = {}


def cpu_supports_bf16() -> bool:
    """Whether the CPU computes bf16 natively (AVX-512 bf16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def step_seconds(config: Config, bf16: bool, steps: int = 2) -> float:
    """The fastest of ``steps`` training steps (forward, Dice loss, backward, Adam) on a
    random batch of the run's shape, after one warm-up step. The global RNG is left as it
    was, so that the run's seed, not the probe, decides its initial weights."""
    import torch

    from brainseg.models import create_model
    from brainseg.models.registry import IN_CHANNELS

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = create_model(config.model).train()
        size, batch = int(config.data.resolution), config.train.batch_size
        x = torch.rand(batch, IN_CHANNELS, size, size)
        y = (torch.rand(batch, 1, size, size) > 0.9).float()
        if config.train.channels_last:
            model = model.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        optimizer = torch.optim.Adam(model.parameters(), 1e-4)
        times = []
        for _ in range(steps + 1):
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                prob = torch.sigmoid(model(x).float())
            loss = 1 - (2 * (prob * y).sum() + 1) / (prob.sum() + y.sum() + 1)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            times.append(time.perf_counter() - start)
    return min(times[1:])


def probe_cpu_precision(config: Config) -> tuple[str, dict[str, float]]:
    """The faster CPU precision for this run's model and batch, and the img/s of each
    (cached per shape, so that the stages of one ``brainseg cv`` process probe once)."""
    key = (config.model, config.data.resolution, config.train.batch_size)
    key += (config.train.channels_last,)
    if key not in _PROBED:
        batch = config.train.batch_size
        speed = {
            "32-true": batch / step_seconds(config, bf16=False),
            "bf16-mixed": batch / step_seconds(config, bf16=True),
        }
        faster = (
            "bf16-mixed" if speed["bf16-mixed"] >= BF16_MARGIN * speed["32-true"] else "32-true"
        )
        _PROBED[key] = (faster, {k: round(v, 2) for k, v in speed.items()})
    return _PROBED[key]


def resolve_precision(
    config: Config, resumed: str | None = None
) -> tuple[str, dict[str, float] | None]:
    """The Lightning precision this run trains in, and the probe's img/s where auto timed
    the CPU precisions (None otherwise). ``resumed``: the precision a resumed run started
    in (its ``timing.json``), which auto keeps rather than timing again, so that one run
    trains in one precision."""
    import torch

    precision, accelerator = config.train.precision, config.train.accelerator
    if precision != "auto":
        return precision, None
    if resumed:
        return resumed, None
    gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    if gpu:
        return ("bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"), None
    if not cpu_supports_bf16():
        return "32-true", None
    launched_rank = os.environ.get("LOCAL_RANK", "0") != "0"
    if launched_rank and os.environ.get(ENV_CHOICE):  # rank 0 probed for all of them
        return os.environ[ENV_CHOICE], None
    choice, speed = probe_cpu_precision(config)
    os.environ[ENV_CHOICE] = choice
    return choice, speed
