"""How fast the explorer answers in Chromium, with the app warm: every page, the latent map, the server slider.

Method. `streamlit run app.py` is served with the browser decoder off (images come from the server,
the path issue 3 is about; `--browser-decoder` leaves it on, as the app is by default: a page is then ready
once its live views have their models too, and the slider presses are left to bench/live_decode.py) and
driven by Playwright in headless Chromium. Every page app.py lists is opened once to warm the caches (model,
test set, atlas, figures); then:

- Sidebar click to page idle (issue 21): in one tab, a click on each page's link in the sidebar, round
  after round; from the click to the first animation frame after the run it causes has ended with every
  image on the page loaded (and, on the Latent map, the map drawn). Median of `--clicks` rounds.
- Page interactive (a cold load: a fresh document and session each time): navigation start
  (performance.timeOrigin) to the first animation frame at which the page's main content is there and
  Streamlit is idle: Home its model card and sample grids, Latent map the map drawn (below), Latent
  sliders the decoded image, Interpolate the strip and the images around it, Sample the grid, any other
  page its images. "There" means every image element on the page is loaded.
- Map drawn: navigation start to the first frame at which the in-browser map (components/views/map.mjs)
  has its points and has drawn them.
- Slider to new image: on Latent sliders, the first (highest-KL) slider is focused and moved one
  step with the arrow key, once per sample, each after the previous run ended. Times run from the
  keydown event's creation to the decoded image's new src, and to the first frame after the new
  image has been decoded ("painted").

All times are taken in the page (performance.now()), checked by requestAnimationFrame, so they
include what the browser does and a person would wait for. Targets: sidebar click to idle <= 300 ms
(median of 3) and a cold load <= 1.5 s (issue 21); slider p95 <= 150 ms (issue 3). Numbers depend on the
machine and its load; the output says both.

    python bench/page_speed.py [--model mnist] [--checkpoints DIR] [--loads 10] [--clicks 3] [--presses 30]
                               [--warmup 1] [--json OUT.json] [--browser-decoder] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, Page  # noqa: E402

from bench.stats import percentile  # noqa: E402
from tests.browser.helpers import APP_IDLE, chromium, streamlit_server, wait_for_app  # noqa: E402

TIMEOUT_MS = 120_000
LIVE_MOUNT_MS = 2_000  # in the warm-up, time given to a page's live views to mount before they are counted


def app_pages() -> dict[str, str]:
    """Every page app.py lists, as URL path -> title; the default page's path is ""."""
    source = (ROOT / "app.py").read_text()
    found = re.findall(r'st\.Page\("pages/(\w+)\.py", title="([^"]+)"(.*?)\)', source)
    return {("" if "default=True" in rest else stem): title for stem, title, rest in found}


PAGES = app_pages()

# Defined in every document. __liveViews(): the live views (components/views, inside shadow roots) on the page.
# __liveSettled(path): the page has as many live views as the warm-up saw on it (window.__liveExpected, by
# path: they mount after the script's run has ended), each has its models, and none shows an error.
SETTLED = """window.__liveViews = () => {
  const found = [], walk = (root) => {
    for (const e of root.querySelectorAll("*")) if (e.shadowRoot) walk(e.shadowRoot);
    found.push(...root.querySelectorAll(".led"));
  };
  walk(document);
  return found;
};
window.__liveSettled = (path) => {
  const views = window.__liveViews();
  return views.length >= ((window.__liveExpected || {})[path] || 0) && views.every((v) =>
    !v.querySelector(".led-error") && [...v.querySelectorAll(".led-status")].every((e) => e.textContent === ""));
};
"""

# Installed in every document before its scripts run: on each animation frame, note the first time
# the page's content is ready (window.__ready) and the map is drawn (window.__mapDrawn).
WATCH = """(() => {
  const idle = () => !!document.querySelector(%(idle)s);
  const images = (min) => {
    const all = Array.from(document.querySelectorAll('[data-testid="stImage"] img'));
    return all.length >= min && all.every((img) => img.complete && img.naturalWidth > 0);
  };
  const captioned = (text) => Array.from(document.querySelectorAll('[data-testid="stImage"]'))
    .some((e) => e.textContent.includes(text));
  const mapDrawn = () => {
    const view = globalThis.__latentMap;
    return !!(view && view.ready && view.plot.fit && view.models.map.n === window.__mapPoints);
  };
  const ready = {
    "": () => images(2) && !!document.querySelector('[data-testid="stMetric"]'),
    "map": () => window.__mapDrawn !== undefined,
    "sliders": () => images(2) && captioned("decoded from") && !!document.querySelector('[data-testid="stSlider"]'),
    "interpolate": () => images(6) && captioned("step 1 of"),
    "sample": () => images(1) && !!document.querySelector('[data-testid="stNumberInput"]'),
  };
  const anyPage = () => images(0) && !!document.querySelector("h1");
  const page = location.pathname.replace(/^\\/+|\\/+$/g, "");
  const tick = () => {
    const now = performance.now();
    if (page === "map" && window.__mapDrawn === undefined && mapDrawn()) window.__mapDrawn = now;
    const content = window.__live ? (page === "map" ? ready.map : anyPage) : (ready[page] || anyPage);
    if (window.__ready === undefined && content() && idle() && window.__liveSettled(page)) window.__ready = now;
    if (window.__ready === undefined) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();"""

# Arms window.__press: a promise of one key press's times {created, src, painted}, or {unchanged} when
# the run published the new code in the URL (its last step) without a new image; rejects rather than hang.
PRESS = """() => { window.__press = new Promise((resolve, reject) => {
  const img = () => Array.from(document.querySelectorAll('[data-testid="stImage"]'))
    .find((e) => e.textContent.includes("decoded from")).querySelector("img");
  const before = img().src, url = location.href;
  let created = null;
  document.addEventListener("keydown", (e) => { created = e.timeStamp; }, {capture: true, once: true});
  const stop = () => { seen.disconnect(); clearInterval(poll); };
  const check = () => {
    if (created === null) return;
    const el = img();
    if (el && el.src !== before) {
      stop();
      const src = performance.now();
      el.decode().then(() => requestAnimationFrame(() => resolve({created, src, painted: performance.now()})));
    } else if (location.href !== url) {
      stop();
      resolve({unchanged: true});
    }
  };
  const seen = new MutationObserver(check), poll = setInterval(check, 20);
  seen.observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ["src"]});
  setTimeout(() => { stop(); reject(new Error("no new image and no new URL within 120 s of the key press")); },
             120000);
}); }"""


# A click on the sidebar link titled `title`; resolves with the milliseconds until the run it causes has
# ended and the new page's images are loaded (and, on the Latent map, the map is drawn).
CLICK = """([title, path]) => new Promise((resolve, reject) => {
  const app = document.querySelector('[data-testid="stApp"]');
  let ran = false;
  const seen = new MutationObserver((records) => { if (records.some((r) => r.oldValue === "running")) ran = true; });
  seen.observe(app, {attributes: true, attributeFilter: ["data-test-script-state"], attributeOldValue: true});
  const link = Array.from(document.querySelectorAll('[data-testid="stSidebarNav"] a'))
    .find((a) => a.textContent.trim().endsWith(title));  // the text starts with the icon's name
  if (!link) { reject(new Error("no sidebar link " + title)); return; }
  const images = () => Array.from(document.querySelectorAll('[data-testid="stImage"] img'))
    .every((img) => img.complete && img.naturalWidth > 0);
  const drawn = () => title !== "Latent map" || !!(globalThis.__latentMap && globalThis.__latentMap.ready
    && globalThis.__latentMap.plot.fit && globalThis.__latentMap.root.isConnected);
  // A run too quick for React to draw its "running" state leaves no record: then the page's title tells.
  const heading = () => document.querySelector("h1"), before = heading(), title0 = before && before.textContent;
  const moved = () => ran || (heading() && (heading() !== before || heading().textContent !== title0));
  const start = performance.now();
  link.click();
  const tick = () => {
    if (moved() && document.querySelector(%(idle)s) && images() && drawn() && window.__liveSettled(path)) {
      seen.disconnect();
      resolve(performance.now() - start);
    } else if (performance.now() - start > 120000) {
      reject(new Error(`${title}: no idle page within 120 s of the click (ran ${ran}, images ${images()}, `
        + `map drawn ${drawn()})`));
    } else requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})"""


def sidebar_clicks(page: Page, url: str, model: str, rounds: int) -> list[dict]:
    """Each page reached by its sidebar link, `rounds` times round the app (after one uncounted round)."""
    open_page(page, url, "", model)
    script = CLICK % {"idle": json.dumps(APP_IDLE)}
    order = [*list(PAGES.items())[1:], ("", PAGES[""])]  # from Home: every other page, then Home again
    for path, title in order:
        page.evaluate(script, [title, path])
    times: dict[str, list[float]] = {title: [] for _, title in order}
    for _ in range(rounds):
        for path, title in order:
            times[title].append(page.evaluate(script, [title, path]))
    return [{"measure": f"{title}: sidebar click → idle", "samples": len(v), "median_ms": statistics.median(v),
             "p50_ms": percentile(v, 50), "p95_ms": percentile(v, 95), "max_ms": max(v), "target": "median ≤ 300"}
            for title, v in times.items()]


def row(measure: str, values: list[float], target: str) -> dict:
    return {"measure": measure, "samples": len(values), "p50_ms": percentile(values, 50),
            "p95_ms": percentile(values, 95), "max_ms": max(values), "target": target}


def open_page(page: Page, url: str, path: str, model: str) -> dict[str, float]:
    """Navigate and wait until the page is interactive; the in-page times of ready (and map drawn)."""
    page.goto(f"{url}/{path}?model={model}", timeout=TIMEOUT_MS)
    page.wait_for_function("() => window.__ready !== undefined", timeout=TIMEOUT_MS, polling=100)
    return page.evaluate("() => ({ready: window.__ready, map: window.__mapDrawn})")


def page_loads(page: Page, url: str, model: str, loads: int, warmup: int) -> list[dict]:
    """Each page opened `loads` times after `warmup` uncounted rounds; a row per page, and one for the map."""
    live: dict[str, int] = {}
    for _ in range(warmup):  # fills the caches (model, test set, atlas, figure) and counts each page's live views
        for path in PAGES:
            open_page(page, url, path, model)
            page.wait_for_timeout(LIVE_MOUNT_MS)
            live[path] = max(live.get(path, 0), page.evaluate("() => window.__liveViews().length"))
    page.context.add_init_script(f"window.__liveExpected = {json.dumps(live)};")
    times: dict[str, list[float]] = {path: [] for path in PAGES}
    drawn = []
    for _ in range(loads):
        for path in PAGES:
            seen = open_page(page, url, path, model)
            times[path].append(seen["ready"])
            if path == "map":
                drawn.append(seen["map"])
    points = page.evaluate("() => window.__mapPoints")
    rows = [row(f"{name}: cold load → interactive", times[path], "≤ 1500") for path, name in PAGES.items()]
    rows.append(row(f"Latent map: {points:,} points drawn", drawn, "≤ 1500"))
    return rows


def slider_presses(page: Page, url: str, model: str, presses: int) -> list[dict]:
    """Arrow-key steps on the first slider, one at a time; rows for new src and new image painted."""
    open_page(page, url, "sliders", model)
    thumb = page.locator('[data-testid="stSlider"] input[type="range"]').first
    thumb.focus()
    samples = []
    for i in range(presses):
        page.evaluate(PRESS)
        page.keyboard.press("ArrowRight" if (i // 40) % 2 == 0 else "ArrowLeft")  # 40 steps of 0.05 = 2.0
        samples.append(page.evaluate("window.__press"))
        wait_for_app(page)
    timed = [s for s in samples if not s.get("unchanged")]
    if not timed:
        raise SystemExit("error: no key press changed the decoded image")
    return [row("Slider key → new image src", [s["src"] - s["created"] for s in timed], ""),
            row("Slider key → new image painted", [s["painted"] - s["created"] for s in timed], "p95 ≤ 150")]


def measure(browser: Browser, url: str, model: str, points: int, loads: int, presses: int,
            warmup: int = 1, clicks: int = 3, live: bool = False) -> list[dict]:
    """Every measurement against a running app (the app serves `model`, whose map has `points` points); `live`:
    the app decodes in the browser, so a page is ready once its live views have their models too, and the
    server slider's presses are not measured (bench/live_decode.py times the live views)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    context.add_init_script(f"window.__mapPoints = {int(points)}; window.__live = {json.dumps(live)};\n"
                            + SETTLED + WATCH % {"idle": json.dumps(APP_IDLE)})
    page = context.new_page()
    try:
        loaded = page_loads(page, url, model, loads, warmup)
        pressed = [] if live else slider_presses(page, url, model, presses)
        return sidebar_clicks(page, url, model, clicks) + loaded + pressed
    finally:
        context.close()


def table(rows: list[dict]) -> str:
    lines = ["| measure | samples | p50 ms | p95 ms | max ms | target |", "|---|---:|---:|---:|---:|---|"]
    lines += [f"| {r['measure']} | {r['samples']} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['max_ms']:.0f} "
              f"| {r['target']} |" for r in rows]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="mnist", help="the model's name in the app (default %(default)s)")
    parser.add_argument("--checkpoints", help="a folder of checkpoints to list besides checkpoints/")
    parser.add_argument("--loads", type=int, default=10, help="timed loads of each page (default %(default)s)")
    parser.add_argument("--clicks", type=int, default=3, help="timed rounds of sidebar clicks (default %(default)s)")
    parser.add_argument("--presses", type=int, default=30, help="timed slider key presses (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted rounds of page loads (default %(default)s)")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--browser-decoder", action="store_true",
                        help="decode in the browser, as the app does by default (the live views; no slider presses)")
    parser.add_argument("--quick", action="store_true",
                        help="no warm-up, 1 load per page and 3 presses: checks that the bench runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.warmup, args.loads, args.presses, args.clicks = 0, 1, 3, 1
    if args.loads < 1 or args.presses < 1 or args.clicks < 1 or args.warmup < 0:
        parser.error("--loads, --clicks and --presses must be >= 1, --warmup >= 0")
    return args


def atlas_points(folder: Path) -> int:
    """Points on the model's map; refuses a model without a stored atlas (the bench never builds one)."""
    meta = folder / "atlas.json"
    if not meta.is_file():
        raise SystemExit(f"error: {folder} has no atlas; build it first: python -m vae atlas {folder}")
    return int(json.loads(meta.read_text())["n"])


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    roots = [ROOT / "checkpoints"] + ([Path(args.checkpoints)] if args.checkpoints else [])
    folder = next((r / args.model for r in roots if (r / args.model).is_dir()), None)
    if folder is None:
        raise SystemExit(f"error: no checkpoint folder named {args.model!r} in {', '.join(map(str, roots))}")
    points = atlas_points(folder)
    env = {"LATENT_EXPLORER_ATLAS_UMAP": "0"}
    if not args.browser_decoder:
        env["LATENT_EXPLORER_NO_BROWSER_DECODER"] = "1"
    if args.checkpoints:
        env["LATENT_EXPLORER_CHECKPOINTS"] = str(Path(args.checkpoints).resolve())
    with streamlit_server("app.py", env=env, timeout=120) as url, chromium() as browser:
        rows = measure(browser, url, args.model, points, args.loads, args.presses, args.warmup, args.clicks,
                       args.browser_decoder)
        version = browser.version
    decoder = "in the browser (onnxruntime-web)" if args.browser_decoder else "on the server"
    print(f"model {args.model} ({folder}), decoding {decoder}; Chromium {version} headless, 1400x1100; "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
