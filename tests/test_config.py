"""Typed config: every problem is one line naming the key; recipes extend a base file."""

from __future__ import annotations

from pathlib import Path

import pytest

from brainseg.cli import main
from brainseg.config import DEFAULT_CONFIG, load_config
from brainseg.errors import BrainsegError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize(
    "override, message",
    [
        ({"train": {"lr_decay": "cosin"}}, "train.lr_decay: Input should be 'none' or 'cosine'"),
        ({"data": {"context": 1}}, "data.context: unknown key"),
        ({"augment": {"fill_mode": "wrap"}}, "augment.fill_mode: Input should be 'nearest'"),
        ({"train": {"epochs": "ten"}}, "train.epochs: Input should be a valid integer"),
        ({"train": {"epocs": 3}}, "train.epocs: unknown key"),
        ({"data": {"normalization": "zscore"}}, "data.normalization: Input should be"),
        ({"inference": {"postprocess": "smal"}}, "inference.postprocess: unknown post-processing"),
        ({"split": {"test": 1.5}}, "split.test: Input should be less than 1"),
    ],
)
def test_bad_values_name_their_key(override, message):
    with pytest.raises(BrainsegError) as info:
        load_config(None, override)
    assert message in str(info.value)
    assert len(str(info.value).splitlines()) == 1


def test_several_problems_one_line_each(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  lr_decay: cosin\n  batch_size: -1\naugment:\n  fill_mode: x\n")
    data, run = tmp_path / "data", tmp_path / "run"
    code = main(["train", "--data", str(data), "--out", str(run), "--config", str(path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and "Traceback" not in "".join(err)
    assert sum(str(path) in line for line in err) == 3, err


def test_extends_merges_and_overrides(tmp_path):
    (tmp_path / "base.yaml").write_text("seed: 1\ntrain:\n  epochs: 9\n  lr: 0.002\n")
    (tmp_path / "child.yaml").write_text("extends: base.yaml\ntrain:\n  lr: 0.0005\n")
    config = load_config(tmp_path / "child.yaml")
    assert config.seed == 1 and config.train.epochs == 9
    assert config.train.lr == 0.0005
    assert config.train.batch_size == DEFAULT_CONFIG["train"]["batch_size"]
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(BrainsegError, match="loops"):
        load_config(tmp_path / "a.yaml")


def test_v1_2_stages_resolve_to_their_values():
    base = load_config(CONFIGS / "lgg.yaml")
    expected = {"lgg_stage2": (43, 45, 1e-3), "lgg_stage3": (44, 25, 5e-4)}
    expected["lgg_stage4"] = (45, 25, 2.5e-4)
    for stage, values in expected.items():
        config = load_config(CONFIGS / "archive" / f"{stage}.yaml")
        assert (config.seed, config.train.epochs, config.train.lr) == values
        for section in ("data", "model", "loss", "augment"):
            assert getattr(config, section) == getattr(base, section), (stage, section)


def test_v2_recipe_stages():
    """v2 = the v1.2 cycles plus the own-scans augmentations, then the FLAIR-heavy stage 5,
    and the 256-px member from stage 4."""
    expected = {
        "lgg_v2": (42, 45, 2e-3, 0.5, 128),
        "lgg_v2_stage2": (43, 45, 1e-3, 0.5, 128),
        "lgg_v2_stage3": (44, 25, 5e-4, 0.5, 128),
        "lgg_v2_stage4": (45, 25, 2.5e-4, 0.5, 128),
        "lgg_v2_stage5": (46, 10, 2.5e-4, 0.75, 128),
        "lgg_v2_256": (46, 20, 5e-4, 0.75, 256),
    }
    for stage, values in expected.items():
        config = load_config(CONFIGS / f"{stage}.yaml")
        train, augment = config.train, config.augment
        got = (config.seed, train.epochs, train.lr, augment.missing_sequence)
        assert got + (config.data.resolution,) == values, stage
        assert augment.skull_strip == 0.3, stage


def test_config_objects_are_frozen():
    config = load_config(None)
    with pytest.raises(ValueError):
        config.train.lr = 0.1
    changed = config.model_copy(update={"seed": 7})
    assert changed.seed == 7 and config.seed == 42
