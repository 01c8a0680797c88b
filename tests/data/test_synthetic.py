import hashlib

import numpy as np

from brainseg.data.synthetic import write_synthetic_dataset
from brainseg.data.volumes import load_volumes


def _digest(root):
    h = hashlib.sha1()
    for path in sorted(root.rglob("*.tif")):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def test_deterministic_and_in_layout(tmp_path):
    write_synthetic_dataset(tmp_path / "a", patients=3, slices=6, seed=9, size=64)
    write_synthetic_dataset(tmp_path / "b", patients=3, slices=6, seed=9, size=64)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    volumes, problems = load_volumes(tmp_path / "a")
    assert problems == [] and len(volumes) == 3
    for v in volumes:
        assert v.images.shape == (6, 64, 64, 3)
        assert v.tumor_slices.any()
        flair, pre = v.images[..., 1].astype(float), v.images[..., 0].astype(float)
        lesion = v.masks.astype(bool)
        # lesions are brighter in FLAIR than the rest of the brain, not in pre-contrast
        brain = (flair > 0) & ~lesion
        assert flair[lesion].mean() > flair[brain].mean() + 20
        assert abs(pre[lesion].mean() - pre[brain].mean()) < 40


def test_some_slices_without_lesion(synth_root):
    volumes, _ = load_volumes(synth_root)
    flags = np.concatenate([v.tumor_slices for v in volumes])
    assert 0 < flags.mean() < 1
