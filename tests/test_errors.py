"""Honest errors: bad input is one line naming the file; a defect in brainseg is reported as
an internal error, with its traceback in the log (--verbose), never blamed on the input."""

from __future__ import annotations

import logging

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from brainseg.cli import main
from brainseg.inference.predictor import Predictor
from brainseg.service.app import create_app


def _boom(*args, **kwargs):
    raise RuntimeError("simulated defect")


def test_predict_reports_a_defect_as_internal(
    synth_root, tiny_bundle, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(Predictor, "analyse", _boom)
    patient = next(p for p in synth_root.iterdir() if p.is_dir())
    args = ["predict", str(patient), "--out", str(tmp_path / "o"), "--model", str(tiny_bundle)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{patient}: internal error in brainseg, please report it" in err
    assert "Traceback" not in err
    assert main(["--verbose", *args[:3], str(tmp_path / "o2"), *args[4:]]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: simulated defect" in err


def test_cli_defect_outside_predict_is_internal_error(tmp_path, capsys, monkeypatch):
    import brainseg.commands

    monkeypatch.setattr(brainseg.commands, "cmd_models", _boom)
    from brainseg.cli import build_parser

    parser = build_parser()
    for action in parser._subparsers._group_actions[0].choices.values():
        if action.prog.endswith(" models"):
            action.set_defaults(handler=_boom)
    monkeypatch.setattr("brainseg.cli.build_parser", lambda: parser)
    assert main(["models"]) == 1
    err = capsys.readouterr().err
    assert "internal error in brainseg" in err and "Traceback" not in err
    monkeypatch.setenv("BRAINSEG_DEBUG", "1")
    assert main(["models"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_service_defect_is_a_logged_500(tiny_bundle, caplog):
    predictor = Predictor(tiny_bundle, engine="torch")
    predictor.segment = _boom
    app = create_app(predictor=predictor)
    image = np.zeros((64, 64, 3), np.uint8)
    import io

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    with TestClient(app, raise_server_exceptions=False) as client:
        with caplog.at_level(logging.ERROR, logger="brainseg.service"):
            response = client.post("/v1/segment", files={"file": ("x.png", buffer.getvalue())})
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error; it has been logged"}
    record = next(r for r in caplog.records if r.name == "brainseg.service")
    assert record.exc_info and "simulated defect" in str(record.exc_info[1])
