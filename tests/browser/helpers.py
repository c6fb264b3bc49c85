"""Playwright helpers for browser tests and benchmarks: a Streamlit server, a headless Chromium, canvas reads.

    with streamlit_server("app.py", env={"LATENT_EXPLORER_NO_BROWSER_DECODER": "1"}) as url, chromium() as browser:
        page = browser.new_page()
        page.goto(url)
        wait_for_app(page)
        before = canvas_pixels(page.locator("canvas.led-image").first)

Chromium is the Debian one (Playwright's own download is not available here), launched with the
flags the team agreed on. Everything waits on conditions, not on sleeps.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
APP_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(
    script: str | os.PathLike, env: dict[str, str] | None = None, timeout: float = 60
) -> Iterator[str]:
    """Run `streamlit run script` on a free port (working directory: the repo root); yield its URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
           "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited early:\n{proc.stdout.read() if proc.stdout else ''}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"streamlit did not answer on {url} within {timeout} s")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_for_app(page: Page, timeout: float = 30_000) -> None:
    """Wait until the script has finished its current run (call after goto and after each interaction)."""
    page.wait_for_selector(APP_IDLE, timeout=timeout)


def canvas_pixels(canvas: Locator) -> list[int]:
    """The RGBA bytes of a canvas element (works inside shadow roots: Playwright's locators pierce them)."""
    return canvas.evaluate(
        "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)"
    )
