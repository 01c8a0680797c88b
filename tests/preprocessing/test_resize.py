import numpy as np
import pytest
import torch
import torch.nn.functional as F

from brainseg.preprocessing.resize import resize


@pytest.mark.parametrize("src, dst", [(256, 128), (100, 64), (64, 64), (37, 128), (1, 64)])
def test_area_matches_torch(src, dst):
    x = np.random.default_rng(0).random((2, 3, src, src)).astype(np.float32)
    expected = F.interpolate(torch.from_numpy(x), size=(dst, dst), mode="area").numpy()
    assert np.allclose(resize(x, (dst, dst), "area"), expected, atol=1e-5)


@pytest.mark.parametrize("src, dst", [(128, 256), (64, 100), (128, 37), (1, 8), (64, 1)])
def test_bilinear_matches_torch(src, dst):
    x = np.random.default_rng(1).random((2, 1, src, src)).astype(np.float32)
    expected = F.interpolate(
        torch.from_numpy(x), size=(dst, dst), mode="bilinear", align_corners=False
    ).numpy()
    assert np.allclose(resize(x, (dst, dst), "bilinear"), expected, atol=1e-5)
