"""A live server on loopback with the tiny model, shared by the browser and contract tests."""

from __future__ import annotations

import socket
import threading
import time

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_bundle):
    import uvicorn

    from brainseg.inference.predictor import Predictor
    from brainseg.service.app import create_app

    port = _free_port()
    app = create_app(max_upload_mb=1.0, predictor=Predictor(tiny_bundle))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(300):  # wait until it listens (not a timing assertion)
        if srv.started:
            break
        time.sleep(0.1)
    assert srv.started, "the test server did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)
