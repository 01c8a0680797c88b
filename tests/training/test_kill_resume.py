"""Reliability: SIGKILL a training run five times at chosen points, the first before its
first checkpoint, each time rerunning the same command with ``--resume``; every rerun
continues (or, with nothing to resume yet, starts afresh).

The kills come from inside the run (the test-only ``BRAINSEG_TEST_KILL=train:EPOCH:BATCH``
hook), so the test does not depend on how fast the machine is. At the end history.csv holds
every epoch once, every checkpoint loads, and the weights equal those of an uninterrupted run
with the same seed (RNG states travel in the checkpoints).
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess

import pytest
import torch
import yaml

from tests.conftest import TINY_CONFIG, train_command

EPOCHS = 12
# (epoch, batch) of each kill: the first batch of an epoch, mid-epoch, and the last batch
# (the synthetic training set has 5 batches of 8 per epoch), early and late in the run.
KILLS = [(0, 2), (1, 0), (4, 4), (7, 1), (11, 3)]


def _command(data, run, config, resume=False):
    return train_command(data, run, config, *(["--resume"] if resume else []))


def _epochs(run):
    if not (run / "history.csv").exists():
        return []
    with open(run / "history.csv") as handle:
        return [int(r["epoch"]) for r in csv.DictReader(handle)]


@pytest.mark.slow
def test_five_kills_then_identical_model(synth_root, tmp_path):
    config = {k: dict(v) for k, v in TINY_CONFIG.items()}
    config["train"]["epochs"] = EPOCHS
    config_path = tmp_path / "c.yaml"
    config_path.write_text(yaml.safe_dump(config))

    reference = tmp_path / "reference"
    subprocess.run(
        _command(synth_root, reference, config_path), check=True, capture_output=True, timeout=600
    )

    run = tmp_path / "killed"
    for kill_epoch, kill_batch in KILLS:  # the same command every time, as a requeued job
        env = {**os.environ, "BRAINSEG_TEST_KILL": f"train:{kill_epoch}:{kill_batch}"}
        result = subprocess.run(
            _command(synth_root, run, config_path, resume=True),
            env=env,
            capture_output=True,
            timeout=600,
        )
        assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
        assert _epochs(run) == list(range(kill_epoch))  # killed before finishing kill_epoch
        for ckpt in run.glob("*.ckpt"):
            assert "state_dict" in torch.load(ckpt, weights_only=False)  # never torn
    result = subprocess.run(
        _command(synth_root, run, config_path, resume=True),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert _epochs(run) == list(range(EPOCHS))
    assert not list(run.glob(".*.tmp"))
    final = torch.load(run / "last.ckpt", weights_only=False)["state_dict"]
    expected = torch.load(reference / "last.ckpt", weights_only=False)["state_dict"]
    assert final.keys() == expected.keys()
    worst = max(float((final[k].float() - expected[k].float()).abs().max()) for k in final)
    assert worst == 0.0, f"weights differ from the uninterrupted run by up to {worst}"
    with open(run / "history.csv") as a, open(reference / "history.csv") as b:
        rows, expected_rows = list(csv.DictReader(a)), list(csv.DictReader(b))
    elapsed = [float(r.pop("elapsed_s")) for r in rows]  # wall time differs, nothing else
    for row in expected_rows:
        row.pop("elapsed_s")
    assert rows == expected_rows
    assert elapsed == sorted(elapsed) and elapsed[0] > 0
