"""Init weights (``--init-weights``, recipe stages) need the same architecture."""

from __future__ import annotations

import pytest

from brainseg.errors import BrainsegError
from brainseg.models.files import load_model_file
from brainseg.training.run import _init_state


def test_the_same_architecture_loads_and_another_is_refused(tiny_bundle):
    source_model = load_model_file(tiny_bundle)[0].model
    state = _init_state(tiny_bundle, source_model)
    assert all(v.dtype.is_floating_point for v in state.values() if v.is_floating_point())
    with pytest.raises(BrainsegError, match="same architecture"):
        _init_state(tiny_bundle, source_model.model_copy(update={"features": 8}))
    with pytest.raises(BrainsegError, match="same architecture"):
        _init_state(tiny_bundle, source_model.model_copy(update={"depth": 3}))
