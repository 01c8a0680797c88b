"""``brainseg serve``: the app under uvicorn, on loopback unless told otherwise."""

from __future__ import annotations

import sys

from brainseg.inference.predictor import InferenceOptions


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    model: str | None = None,
    workers: int = 1,
    max_upload_mb: float = 64.0,
    options: InferenceOptions | None = None,
) -> None:
    """Serve the model, run with the same ``options`` as predict and evaluate take."""
    import uvicorn

    from brainseg.inference.predictor import Predictor
    from brainseg.service.app import create_app

    predictor = Predictor(model, options)  # fail here, with one line, if the model is unusable
    app = create_app(model, max_upload_mb, workers, predictor=predictor)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: listening on {host}; the service has no authentication. Put an "
            "authenticating TLS proxy in front of it.",
            file=sys.stderr,
        )
    print(f"brainseg serve: http://{host}:{port}/  (API docs at /docs)", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="warning")
