"""Frame times of the latent map (components/views/map.mjs) while panning, zooming and hovering, in headless
Chromium without a GPU.

Method. A bare page (no Streamlit) mounts the real map view on synthetic atlases: ten Gaussian clusters in 2-D,
16-D codes, ten classes, N points (default 70,000 and 1,000,000), with a sprite sheet of random 28-pixel tiles
when N fits one (8192 x 8192 pixels). The decoder is a stand-in that returns a blank image at once (decoding
has its own bench, bench/live_decode.py), so the figures are the map's own drawing. Playwright then hovers
across the map (pointer moves), pans it (drags) and zooms it with the wheel, in and out, and zoomed in far
enough for thumbnails. Per animation frame the view records the main-thread milliseconds its draw took
(points redrawn when the view moved, overlay and readout always); the table gives p50, p95 and max per
gesture, and the interval between frames as the browser delivered them.

Targets (issue 21): p95 <= 16.7 ms at 70,000 points; p95 <= 100 ms at 1,000,000.

    python bench/map_frames.py [--points 70000 1000000] [--moves 120] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page  # noqa: E402

from bench.stats import markdown, percentile  # noqa: E402
from tests.browser.helpers import chromium  # noqa: E402

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<style>%(css)s body { margin: 24px; width: 1100px; }</style></head><body><div id="parent"></div>
<script type="module">
import { provide } from "/components/model_runtime/registry.mjs";
import { loadMap } from "/components/model_runtime/latent_map.mjs";
import mapView from "/components/views/map.mjs";

const N = %(n)d, D = 16, CLASSES = 10, TILE = 28;
let seed = 1;
const random = () => ((seed = (seed * 1103515245 + 12345) %% 2147483648) / 2147483648);
const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
function base64(floats) {
  const bytes = new Uint8Array(floats.buffer), parts = [];
  for (let i = 0; i < bytes.length; i += 0x8000) {
    parts.push(String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000)));
  }
  return btoa(parts.join(""));
}
const xy = new Float32Array(2 * N), mu = new Float32Array(N * D), labels = new Array(N);
for (let i = 0; i < N; i++) {
  const c = i %% CLASSES, angle = (2 * Math.PI * c) / CLASSES;
  labels[i] = c;
  xy[2 * i] = 8 * Math.cos(angle) + gauss();
  xy[2 * i + 1] = 8 * Math.sin(angle) + gauss();
  for (let j = 0; j < D; j++) mu[i * D + j] = (j === c ? 3 : 0) + 0.5 * gauss();
}
const spec = { format: "latent-explorer-map/1", id: "bench-map", n: N, latent_dim: D, kind: "atlas",
  xy: base64(xy), mu: base64(mu), labels, class_names: Array.from({ length: CLASSES }, (_, c) => `class ${c}`),
  placement: { rule: "neighbours", k: 8 } };
provide("bench-map", () => loadMap(spec));
const blank = async () => ({ image: new Float32Array(TILE * TILE), logits: null });  // the runtime's decoder answer
provide("bench-decoder", () => ({ shape: [1, TILE, TILE], latentDim: D, decode: blank }));
const columns = Math.ceil(Math.sqrt(N)), resources = { map: "bench-map", decoder: "bench-decoder" };
let sprite = null;
if (columns * TILE <= 8192) {
  const sheet = document.createElement("canvas"), rows = Math.ceil(N / columns);
  sheet.width = columns * TILE;
  sheet.height = rows * TILE;
  const tiles = document.createElement("canvas"), small = tiles.getContext("2d");
  tiles.width = CLASSES * TILE;
  tiles.height = TILE;
  for (let c = 0; c < CLASSES; c++) {  // ten coloured tiles, repeated: what a tile shows does not change the cost
    small.fillStyle = `hsl(${36 * c}, 60%%, 50%%)`;
    small.fillRect(c * TILE + 4, 4, TILE - 8, TILE - 8);
  }
  const ctx = sheet.getContext("2d");
  ctx.fillStyle = ctx.createPattern(tiles, "repeat");
  ctx.fillRect(0, 0, sheet.width, sheet.height);
  provide("bench-sprite", () => sheet);
  resources.sprite = "bench-sprite";
  sprite = { columns, tile: TILE };
}
const palette = %(palette)s;
mapView({ parentElement: document.getElementById("parent"), setStateValue() {}, setTriggerValue() {},
  data: { size: 196, label: null, colouring: { kind: "classes", palette, names: spec.class_names },
    class_palette: palette, pinned: null, extent: null, sprite, selected: null, focus: null, resources } });
</script></body></html>"""


# Before a gesture: forget the frames so far and note the interval between animation frames from now on.
WATCH = """() => {
  globalThis.__mapFrames.length = 0;
  globalThis.__frameGaps = [];
  globalThis.__watching = true;
  let last = performance.now();
  const tick = (t) => {
    globalThis.__frameGaps.push(t - last);
    last = t;
    if (globalThis.__watching) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""
# After it: the view's draw times, the intervals, and the most thumbnails a frame drew.
SEEN = """() => {
  globalThis.__watching = false;
  const frames = globalThis.__mapFrames;
  return { draw: frames.map((f) => f.ms), gaps: globalThis.__frameGaps.slice(1),
           thumbs: Math.max(0, ...frames.map((f) => f.thumbs)) };
}"""


class Handler(SimpleHTTPRequestHandler):
    extensions_map: ClassVar[dict[str, str]] = {**SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript"}
    pages: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        page = self.pages.get(self.path.split("?")[0])
        if page is None:
            return super().do_GET()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args: object) -> None:
        pass


def harness(n: int) -> bytes:
    from ui.maps import PALETTE

    views = ROOT / "components" / "views"
    css = "\n".join((views / name).read_text() for name in ("base.css", "map.css"))
    return (PAGE % {"n": n, "css": css, "palette": json.dumps(PALETTE)}).encode()


def frames_during(page: Page, gesture) -> dict[str, list[float]]:
    page.evaluate(WATCH)
    gesture()
    page.wait_for_timeout(300)
    return page.evaluate(SEEN)


def measure(page: Page, moves: int) -> list[tuple[str, dict]]:
    box = page.locator("canvas.led-overlay").bounding_box()
    at = lambda fx, fy: (box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)  # noqa: E731

    def hover() -> None:
        for s in range(moves):
            page.mouse.move(*at(0.1 + 0.8 * s / moves, 0.3 + 0.4 * ((s * 7) % moves) / moves))

    def pan() -> None:
        page.mouse.move(*at(0.5, 0.5))
        page.mouse.down()
        for s in range(moves):
            page.mouse.move(*at(0.5 + 0.3 * (s % 40) / 40 - 0.15, 0.5 + 0.1 * ((s // 40) % 2)))
        page.mouse.up()

    def zoom(direction: int) -> None:
        page.mouse.move(*at(0.8, 0.5))  # over a cluster
        for _ in range(moves // 4):
            page.mouse.wheel(0, -40 * direction)
            page.wait_for_timeout(16)

    def thumbnails() -> None:
        page.evaluate("() => globalThis.__latentMap.focusOn(0)")
        page.mouse.move(*at(0.5, 0.5))
        for _ in range(60):  # in until thumbnails replace the dots
            if page.evaluate("() => globalThis.__latentMap.plot.thumbsShown") > 0:
                break
            page.mouse.wheel(0, -100)
            page.wait_for_timeout(30)
        hover()
        pan()

    rows = [("hover", frames_during(page, hover)), ("pan (drag)", frames_during(page, pan)),
            ("zoom in (wheel)", frames_during(page, lambda: zoom(1))),
            ("zoom out (wheel)", frames_during(page, lambda: zoom(-1)))]
    page.evaluate("() => { const v = globalThis.__latentMap; v.plot.reset(); v.dirty = true; v.request(null); }")
    rows.append(("zoomed in: thumbnails, hover + pan", frames_during(page, thumbnails)))
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, nargs="+", default=[70_000, 1_000_000])
    parser.add_argument("--moves", type=int, default=120, help="pointer moves per gesture (default %(default)s)")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    Handler.pages = {f"/map-{n}.html": harness(n) for n in args.points}
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(ROOT)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    out = []
    try:
        with chromium() as browser:
            for n in args.points:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                errors: list[str] = []
                page.on("pageerror", lambda err, errors=errors: errors.append(str(err)))
                page.goto(f"{url}/map-{n}.html", wait_until="commit")
                page.wait_for_function("() => globalThis.__latentMap && globalThis.__latentMap.ready "
                                       "&& globalThis.__latentMap.plot.fit", timeout=300_000)
                for gesture, seen in measure(page, args.moves):
                    draw = seen["draw"] or [0.0]
                    out.append({"points": n, "gesture": gesture, "frames": len(seen["draw"]),
                                "draw_p50_ms": percentile(draw, 50), "draw_p95_ms": percentile(draw, 95),
                                "draw_max_ms": max(draw), "interval_p95_ms": percentile(seen["gaps"] or [0.0], 95),
                                "thumbnails": seen["thumbs"]})
                page.close()
                if errors:
                    raise SystemExit(f"error in the page: {errors}")
            version = browser.version
    finally:
        server.shutdown()
    print(f"Chromium {version} headless, --disable-gpu, 1400x1000; {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}")
    header = ["points", "gesture", "frames", "draw p50 ms", "draw p95 ms", "draw max ms", "frame interval p95 ms",
              "thumbnails"]
    print(markdown(header, [[f"{r['points']:,}", r["gesture"], str(r["frames"])]
                            + [f"{r[k]:.1f}" for k in ("draw_p50_ms", "draw_p95_ms", "draw_max_ms", "interval_p95_ms")]
                            + [str(r["thumbnails"])] for r in out], "rlrrrrrr"))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
