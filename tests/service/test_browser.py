"""A real browser: Playwright drives Debian's chromium against a live server on loopback."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT_DIR = os.environ.get("BRAINSEG_SCREENSHOT_DIR")  # keep a copy for the docs


def test_upload_slice_and_see_overlay(server, synth_root, tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium not installed (apt-get install chromium); .ci/run installs it")
    playwright = pytest.importorskip("playwright.sync_api")
    import httpx

    from brainseg.data.volumes import load_volumes

    volume = load_volumes(synth_root)[0][0]
    upload = tmp_path / "slice.png"
    Image.fromarray(volume.images[4]).save(upload)
    api = httpx.post(f"{server}/v1/segment", files={"file": upload.read_bytes()}).json()

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(server + "/")
        page.set_input_files("#sliceFile", str(upload))
        page.wait_for_selector("body[data-state=done]", timeout=30000)
        shown = int(page.get_attribute("#area", "data-pixels"))
        assert shown == api["lesion_pixels"]
        assert f"{api['lesion_pixels']} px" in page.inner_text("#area")
        # the overlay canvas has been drawn: it is not blank
        drawn = page.evaluate(
            "() => { const c = document.getElementById('overlay');"
            " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            " let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i]; return s; }"
        )
        assert drawn > 0
        assert page.is_hidden("#error")
        png = page.screenshot(full_page=True)
        assert Image.open(io.BytesIO(png)).size[0] == 1200
        if SCREENSHOT_DIR:
            Path(SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
            (Path(SCREENSHOT_DIR) / "viewer.png").write_bytes(png)
        browser.close()
