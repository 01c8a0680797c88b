"""Training end to end on tiny synthetic data: learning, kill-and-resume, and CPU DDP."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
import yaml

from brainseg.cli import main
from tests.conftest import TINY_CONFIG, train_command


def _config(tmp_path: Path, **train) -> Path:
    config = {k: dict(v) for k, v in TINY_CONFIG.items()}
    config["train"].update(train)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _epochs(run: Path) -> list[int]:
    with open(run / "history.csv") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def test_training_learns_and_writes_everything(synth_root, tmp_path):
    run = tmp_path / "run"
    code = main(
        [
            "train",
            "--data",
            str(synth_root),
            "--out",
            str(run),
            "--config",
            str(_config(tmp_path, epochs=5, lr=1e-2)),
        ]
    )
    assert code == 0
    for name in (
        "config.yaml",
        "split.json",
        "last.ckpt",
        "best.ckpt",
        "history.csv",
        "curves.png",
        "timing.json",
    ):
        assert (run / name).exists(), name
    with open(run / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3, 4]
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    for r in rows:
        assert float(r["val_iou"]) <= float(r["val_dice"]) + 1e-9
    timing = json.loads((run / "timing.json").read_text())
    assert timing["world_size"] == 1 and timing["train_images"] > 0
    assert timing["train_images_per_second"] > 0 and timing["precision"] == "32-true"
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["model"]["features"] == 4 and config["train"]["epochs"] == 5
    split = json.loads((run / "split.json").read_text())
    assert split["by"] == "patient" and split["test"]
    ckpt = torch.load(run / "last.ckpt", weights_only=False)
    assert ckpt["epoch"] == 4


def test_refuses_to_overwrite_a_run_and_to_write_into_data(synth_root, tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "last.ckpt").write_bytes(b"x")
    assert main(["train", "--data", str(synth_root), "--out", str(tmp_path / "run")]) == 1
    assert "--resume" in capsys.readouterr().err
    assert main(["train", "--data", str(synth_root), "--out", str(synth_root / "run")]) == 1
    assert "inside the data folder" in capsys.readouterr().err


def test_sigkill_then_resume_logs_every_epoch_once(synth_root, tmp_path):
    run = tmp_path / "run"
    config = _config(tmp_path, epochs=6)
    command = train_command(synth_root, run, config)
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if (run / "history.csv").exists() and len(_epochs(run)) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = torch.load(run / "last.ckpt", weights_only=False)["epoch"]
    assert done_before < 5
    result = subprocess.run(command + ["--resume"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert _epochs(run) == [0, 1, 2, 3, 4, 5]
    for name in ("last.ckpt", "best.ckpt"):
        assert "state_dict" in torch.load(run / name, weights_only=False)
    assert not list(run.glob(".*.tmp"))


@pytest.mark.slow
def test_two_process_cpu_ddp(synth_root, tmp_path):
    run = tmp_path / "run"
    command = train_command(
        synth_root,
        run,
        _config(tmp_path, epochs=2),
        "--accelerator",
        "cpu",
        "--devices",
        "2",
        "--strategy",
        "ddp",
    )
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    timing = json.loads((run / "timing.json").read_text())
    assert timing["world_size"] == 2
    assert _epochs(run) == [0, 1]


def test_init_weights_starts_from_a_bundle(synth_root, tmp_path, tiny_bundle, capsys):
    from brainseg.config import load_config
    from brainseg.models import create_model
    from brainseg.models.files import load_model_file, save_bundle

    # A bundle with this config's architecture; lr 0 leaves the weights where they start.
    config_path = _config(tmp_path, epochs=1, lr=0.0, max_train_batches=2)
    config = load_config(config_path)
    torch.manual_seed(5)
    start = create_model(config.model).state_dict()
    init = tmp_path / "init.pt"
    save_bundle(config, start, {}, init)
    run = tmp_path / "run"
    args = ["train", "--data", str(synth_root), "--config", str(config_path)]
    assert main([*args, "--out", str(run), "--init-weights", str(init)]) == 0
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["init_weights"] == str(init)
    _, trained, _ = load_model_file(run / "last.ckpt")
    for key in ("encoders.0.0.weight", "head.weight"):
        torch.testing.assert_close(trained[key], start[key].half().float())

    # A different architecture is refused with one line naming the file.
    code = main([*args, "--out", str(tmp_path / "run2"), "--init-weights", str(tiny_bundle)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "tiny.pt" in err[0]
    assert not (tmp_path / "run2").exists()
