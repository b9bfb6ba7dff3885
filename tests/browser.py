"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright (a dev
dependency: missing is a failure, never a skip), against Django's live server on 127.0.0.1."""
from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright import sync_api as playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).resolve().parents[1] / "var" / "screenshots"


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def local_url(live_server, settings) -> str:
    """The live server's address as 127.0.0.1 (its default name is 'localhost')."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]
    return f"http://127.0.0.1:{urlparse(live_server.url).port}"
