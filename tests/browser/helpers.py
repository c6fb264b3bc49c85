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

import base64
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
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
    script: str | os.PathLike, env: dict[str, str] | None = None, timeout: float = 60, log: Path | None = None,
    prefix: tuple[str, ...] = (), args: tuple[str, ...] = (),
) -> Iterator[str]:
    """Run `streamlit run script` on a free port (working directory: the repo root); yield its URL.

    With `log`, the server's output (stdout and stderr) goes to that file, for a test to read. `prefix` goes
    before the command (e.g. setpriv, to run the app with fewer privileges); `args` are the app's own, after
    `--` (e.g. --trust-code)."""
    port = free_port()
    cmd = [*prefix, sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
           "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           *(("--", *args) if args else ())]
    out = open(log, "w") if log else subprocess.PIPE  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})},
                            stdout=out, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                early = proc.stdout.read() if proc.stdout else Path(log).read_text() if log else ""
                raise RuntimeError(f"streamlit exited early:\n{early}")
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
        if log:
            out.close()


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def watched_page(browser: Browser, url: str, shot: Path) -> Iterator[Page]:
    """A new 1400x1000 page on the app at `url`; after use, a screenshot to `shot` and the checks that no
    exception box was drawn and no script error was thrown in the page."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.base_url = url  # type: ignore[attr-defined]
    yield page
    shot.parent.mkdir(parents=True, exist_ok=True)
    screenshot_all(page, shot)
    exceptions = page.locator('[data-testid="stException"]').count()
    page.close()
    assert exceptions == 0 and not errors, (exceptions, errors)


def wait_for_app(page: Page, timeout: float = 30_000) -> None:
    """Wait until the script has finished its current run (call after goto and after each interaction)."""
    page.wait_for_selector(APP_IDLE, timeout=timeout)


def after_rerun(page: Page, action: Callable[[], object], timeout: float | None = None) -> None:
    """Do `action` (a click, a key press, an upload) and wait until the script run it causes has ended.

    Unlike wait_for_app alone, this cannot return before the rerun has even started. The timeout
    defaults to the page's.
    """
    page.evaluate("""() => {
      const app = document.querySelector('[data-testid="stApp"]');
      window.__ranAfterAction = false;
      const seen = new MutationObserver((records) => {
        if (records.some((r) => r.oldValue === "running")) { window.__ranAfterAction = true; seen.disconnect(); }
      });
      seen.observe(app, {attributes: true, attributeOldValue: true, attributeFilter: ["data-test-script-state"]});
    }""")
    action()
    page.wait_for_function(f"() => window.__ranAfterAction && document.querySelector('{APP_IDLE}')",
                           timeout=timeout)


def canvas_pixels(canvas: Locator) -> bytes:
    """The RGBA bytes of a canvas element (works inside shadow roots: Playwright's locators pierce them).

    They cross from the page as one base64 string: a list of numbers for a map's canvas (a million and more)
    took seconds to serialize."""
    return base64.b64decode(canvas.evaluate("""c => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, parts = [];
      for (let i = 0; i < d.length; i += 0x8000) parts.push(String.fromCharCode.apply(null, d.subarray(i, i + 0x8000)));
      return btoa(parts.join(''));
    }"""))


def live_map_ready(page: Page, timeout: float = 120_000) -> None:
    """Wait until the in-browser map (components/views/map.mjs) has its resources and has drawn."""
    page.wait_for_function("() => globalThis.__latentMap && globalThis.__latentMap.ready "
                           "&& globalThis.__latentMap.plot.fit", timeout=timeout)


def live_map_points(page: Page) -> int:
    """How many points the in-browser map holds."""
    return page.evaluate("() => globalThis.__latentMap.models.map.n")


def live_map_point(page: Page) -> tuple[float, float, int]:
    """Page coordinates and index of a point of the in-browser map far from its nearest neighbour (and from
    the map's edges), so that hovering or clicking there finds it and only it."""
    return page.evaluate("""() => {
      const view = globalThis.__latentMap, map = view.models.map, plot = view.plot;
      const box = plot.overlay.getBoundingClientRect(), step = Math.max(1, Math.floor(map.n / 4000));
      let best = null, bestGap = -1;
      for (let i = 0; i < map.n; i += step) {
        const [sx, sy] = plot.toScreen(map.xy[2 * i], map.xy[2 * i + 1]);
        if (Math.min(sx, sy, plot.css - sx, plot.css - sy) < 0.1 * plot.css) continue;
        const gap = map.nearest(map.xy[2 * i], map.xy[2 * i + 1], 2).dist[1] * plot.pxPerUnit;
        if (gap > bestGap) [best, bestGap] = [[box.left + sx, box.top + sy, i], gap];
      }
      return best;
    }""")


def screenshot_all(page: Page, path: str | os.PathLike, max_height: int = 4000) -> None:
    """A screenshot of the whole app. Streamlit scrolls inside its main element, not the document, so
    Playwright's full_page sees one screen: grow the viewport to the content's height instead."""
    height = page.evaluate("() => Math.max(...Array.from(document.querySelectorAll('[data-testid=\"stMain\"], "
                           "[data-testid=\"stAppScrollToBottomContainer\"]'), e => e.scrollHeight), innerHeight)")
    width = page.viewport_size["width"] if page.viewport_size else 1280
    page.set_viewport_size({"width": width, "height": min(max_height, height)})
    page.wait_for_timeout(300)  # let charts follow the new size
    page.screenshot(path=path)



def browser_marks(*needed: Path) -> list[pytest.MarkDecorator]:
    """A Chromium test module's marks: `browser`, and skipped without Chromium or without the files it needs."""
    missing = [str(path.relative_to(ROOT)) for path in needed if not path.exists()]
    return [pytest.mark.browser,
            pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
            pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)}")]
