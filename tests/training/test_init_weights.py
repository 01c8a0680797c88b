"""Init weights (``--init-weights``, recipe stages): the same architecture, or the same with
more input channels (a 2.5D run from 3-channel weights), which start at zero."""

from __future__ import annotations

import pytest
import torch

from brainseg.config import load_config
from brainseg.errors import BrainsegError
from brainseg.models import create_model
from brainseg.models.files import load_model_file
from brainseg.training.run import _init_state


def test_widened_inputs_compute_what_the_source_computed(tiny_bundle, capsys):
    source_config, source_state, _ = load_model_file(tiny_bundle)
    source = create_model(source_config["model"]).eval()
    source.load_state_dict({k: v.float() for k, v in source_state.items()})
    wider = load_config(None, {"model": {**source_config["model"]}, "data": {"context": 1}})
    assert wider["model"]["in_channels"] == 5
    state = _init_state(tiny_bundle, wider["model"])
    assert "widened to 5" in capsys.readouterr().err
    widened = create_model(wider["model"]).eval()
    widened.load_state_dict(state)
    x = torch.rand(2, 3, 64, 64)
    neighbours = torch.rand(2, 2, 64, 64)  # whatever the new channels hold
    with torch.no_grad():
        assert torch.allclose(source(x), widened(torch.cat([x, neighbours], 1)), atol=1e-5)


def test_other_architecture_changes_are_refused(tiny_bundle):
    source_model = load_model_file(tiny_bundle)[0]["model"]
    with pytest.raises(BrainsegError, match="same architecture"):
        _init_state(tiny_bundle, {**source_model, "features": 8})
    with pytest.raises(BrainsegError, match="same architecture"):
        _init_state(tiny_bundle, {**source_model, "in_channels": 1})
