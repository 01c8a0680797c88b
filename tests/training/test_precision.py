"""train.precision "auto": which precision a run trains in, with the timing probe faked."""

from __future__ import annotations

import pytest

from brainseg.config import load_config
from brainseg.training import precision as P
from tests.conftest import TINY_CONFIG


@pytest.fixture
def cpu(monkeypatch):
    """A CPU run with precision auto, no cached probe and no inherited choice."""
    monkeypatch.setattr(P, "_PROBED", {})
    monkeypatch.setenv(P.ENV_CHOICE, "")
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    train = {**TINY_CONFIG["train"], "precision": "auto", "accelerator": "cpu"}
    return load_config(None, {**TINY_CONFIG, "train": train})


def _with(config, section: str, **values):
    """The config with some values of one section changed (configs are frozen)."""
    changed = getattr(config, section).model_copy(update=values)
    return config.model_copy(update={section: changed})


def fake_steps(monkeypatch, fp32: float, bf16: float) -> list[bool]:
    """Make a training step take ``fp32`` or ``bf16`` seconds; return the probes made."""
    calls: list[bool] = []
    seconds = {False: fp32, True: bf16}

    def step_seconds(config, bf16: bool, steps: int = 2) -> float:
        calls.append(bf16)
        return seconds[bf16]

    monkeypatch.setattr(P, "step_seconds", step_seconds)
    monkeypatch.setattr(P, "cpu_supports_bf16", lambda: True)
    return calls


def test_explicit_precision_is_kept_and_not_timed(cpu, monkeypatch):
    calls = fake_steps(monkeypatch, 1.0, 0.5)
    assert P.resolve_precision(_with(cpu, "train", precision="bf16-mixed")) == ("bf16-mixed", None)
    assert calls == []


def test_cpu_without_native_bf16_trains_fp32_without_timing(cpu, monkeypatch):
    calls = fake_steps(monkeypatch, 1.0, 0.5)
    monkeypatch.setattr(P, "cpu_supports_bf16", lambda: False)
    assert P.resolve_precision(cpu) == ("32-true", None)
    assert calls == []


def test_native_bf16_is_taken_only_where_it_is_faster(cpu, monkeypatch):
    batch = cpu.train.batch_size  # 8
    fake_steps(monkeypatch, fp32=0.5, bf16=0.25)
    assert P.resolve_precision(cpu) == ("bf16-mixed", {"32-true": 16.0, "bf16-mixed": 32.0})
    monkeypatch.setattr(P, "_PROBED", {})
    fake_steps(monkeypatch, fp32=0.4, bf16=0.5)  # AVX-512 bf16 without AMX, 128 px
    assert P.resolve_precision(cpu) == ("32-true", {"32-true": batch / 0.4, "bf16-mixed": 16.0})


def test_bf16_must_win_by_the_margin(cpu, monkeypatch):
    fake_steps(monkeypatch, fp32=1.0, bf16=1.0 / (P.BF16_MARGIN - 0.02))
    assert P.resolve_precision(cpu)[0] == "32-true"


def test_one_probe_per_shape_and_a_new_one_for_another_resolution(cpu, monkeypatch):
    calls = fake_steps(monkeypatch, fp32=0.5, bf16=0.25)
    P.resolve_precision(cpu)
    P.resolve_precision(cpu)
    assert len(calls) == 2  # one step timing per precision, then the cache
    # A later stage at another resolution (one `brainseg cv` process) probes again, even
    # though the first stage left its choice in the environment for DDP ranks.
    fake_steps(monkeypatch, fp32=0.25, bf16=0.5)
    assert P.resolve_precision(_with(cpu, "data", resolution=32))[0] == "32-true"


def test_a_launched_ddp_rank_takes_rank_zeros_choice(cpu, monkeypatch):
    calls = fake_steps(monkeypatch, fp32=0.25, bf16=0.5)
    monkeypatch.setenv(P.ENV_CHOICE, "bf16-mixed")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert P.resolve_precision(cpu) == ("bf16-mixed", None)
    assert calls == []


def test_rank_zero_hands_its_choice_to_the_ranks_it_launches(cpu, monkeypatch):
    import os

    fake_steps(monkeypatch, fp32=0.5, bf16=0.25)
    assert P.resolve_precision(cpu)[0] == "bf16-mixed"
    assert os.environ[P.ENV_CHOICE] == "bf16-mixed"


def test_a_real_step_is_timed_and_leaves_the_seeded_rng_alone(cpu):
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    assert P.step_seconds(cpu, bf16=False, steps=1) > 0
    assert torch.equal(torch.rand(3), expected)  # the run's init does not depend on the probe


def test_a_resumed_run_keeps_the_precision_it_started_in(cpu, monkeypatch):
    calls = fake_steps(monkeypatch, fp32=0.25, bf16=0.5)  # now fp32 would win
    assert P.resolve_precision(cpu, resumed="bf16-mixed") == ("bf16-mixed", None)
    assert calls == []
    explicit = _with(cpu, "train", precision="32-true")  # an explicit choice still wins
    assert P.resolve_precision(explicit, resumed="bf16-mixed") == ("32-true", None)


def test_the_precision_a_run_started_in_is_read_from_its_timing(tmp_path):
    from brainseg.training.run import _started_in

    assert _started_in(tmp_path) is None  # killed before its first epoch
    (tmp_path / "timing.json").write_text('{"precision": "bf16-mixed"}')
    assert _started_in(tmp_path) == "bf16-mixed"
    (tmp_path / "timing.json").write_text('{"precis')  # half-written by another tool
    assert _started_in(tmp_path) is None
