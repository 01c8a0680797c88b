"""The uint8 rescale does not care about units: any a*v + b (a > 0) gives the same slices."""

from __future__ import annotations

import numpy as np
import pytest

from brainseg.preprocessing.intensity import background_value, to_uint8


def _head(background: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(7)
    z, y, x = np.meshgrid(*[np.linspace(-1, 1, n) for n in (10, 48, 40)], indexing="ij")
    inside = (z / 0.9) ** 2 + (y / 0.8) ** 2 + (x / 0.7) ** 2 < 1
    values = rng.normal(300, 40, inside.shape) + 400 * ((y - 0.2) ** 2 + x**2 < 0.05)
    return np.where(inside, values, background).astype(np.float32)


@pytest.mark.parametrize("scale, shift", [(1.0, 0.0), (0.01, -3.0), (37.5, 1200.0), (2.0, -900)])
def test_affine_intensity_change_gives_the_same_uint8(scale, shift):
    reference = to_uint8(_head())
    changed = to_uint8(_head() * scale + shift)
    assert np.abs(reference.astype(int) - changed.astype(int)).max() <= 1
    assert (changed[_head() == 0] == 0).all() and changed.max() == 255


def test_z_scored_brain_with_background_at_zero():
    head = _head()
    inside = head > 0
    z = np.where(inside, (head - head[inside].mean()) / head[inside].std(), 0.0)
    assert (z < 0).any() and background_value(z) == 0.0
    out = to_uint8(z.astype(np.float32))
    assert (out[~inside] == 0).all() and (out[inside] >= 1).all()
    assert np.abs(out.astype(int) - to_uint8(head).astype(int)).max() <= 1


def test_background_at_the_minimum_and_noisy_background():
    assert background_value(_head(background=-1024.0)) == -1024.0
    noisy = _head() + np.random.default_rng(1).uniform(0, 5, _head().shape).astype(np.float32)
    assert background_value(noisy) is None  # no constant background: nothing is dropped
    assert to_uint8(noisy).min() >= 1


def test_uint8_and_empty_volumes():
    data = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert to_uint8(data) is data
    assert not to_uint8(np.zeros((4, 4), np.float32)).any()
    assert not to_uint8(np.full((4, 4), np.nan, np.float32)).any()
