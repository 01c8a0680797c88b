import os
import time

import numpy as np

from brainseg.data.volumes import load_volumes
from tests.conftest import write_rgb


def test_cache_is_reused_and_invalidated_when_files_change(tmp_path):
    data, cache = tmp_path / "data", tmp_path / "cache"
    image = np.full((16, 16, 3), 7, np.uint8)
    write_rgb(data / "P" / "P_1.tif", image)
    write_rgb(data / "P" / "P_1_mask.tif", np.zeros((16, 16), np.uint8))
    first, _ = load_volumes(data, cache_dir=cache)
    entries = list(cache.glob("*.npz"))
    assert len(entries) == 1
    second, _ = load_volumes(data, cache_dir=cache)
    assert np.array_equal(first[0].images, second[0].images)
    assert list(cache.glob("*.npz")) == entries  # reused, not rewritten
    time.sleep(0.01)
    write_rgb(data / "P" / "P_1.tif", image + 1)
    os.utime(data / "P" / "P_1.tif", ns=(time.time_ns(), time.time_ns() + 10**9))
    third, _ = load_volumes(data, cache_dir=cache)
    assert third[0].images.max() == 8
    assert len(list(cache.glob("*.npz"))) == 2
