"""HTTP service: a FastAPI app (``app.py``), its upload handling (``uploads.py``) and the
offline viewer page (``static/index.html``)."""
