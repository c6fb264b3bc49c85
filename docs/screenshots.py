"""The README's picture of the app, made from the real app: `python docs/screenshots.py`.

Starts `streamlit run app.py` on a free port on the shipped checkpoints, opens the Latent map of the
shipped MNIST model in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright, as the browser
tests do), waits until the map's 10,000 points are drawn and Streamlit is idle, and holds the pointer over
the map (at --hover, a fraction of its width and height) so that the image decoded there shows, and saves
the window as a palette PNG (small enough for the repository: the README's picture stays under 500 kB).
Another page: --page sliders (or compare, draw, ...), shot as it opens. Point $LATENT_EXPLORER_DATA at the
datasets first, so that the map's images show.

    python docs/screenshots.py [--page map] [--hover 0.5,0.62] [--out docs/screenshot.png]
                               [--width 1400] [--height 820]
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from playwright.sync_api import Page  # noqa: E402

from tests.browser.helpers import chromium, live_map_ready, streamlit_server, wait_for_app  # noqa: E402


def hover_map(page: Page, at: tuple[float, float]) -> None:
    """Hold the pointer at a place of the map (fractions of its box) once the map has drawn."""
    live_map_ready(page)
    box = page.locator("canvas.led-overlay").bounding_box()  # the live map's pointer layer, over its points
    page.mouse.move(box["x"] + at[0] * box["width"], box["y"] + at[1] * box["height"], steps=5)
    page.locator("canvas.led-image").wait_for()


def shoot(page_path: str, out: Path, width: int, height: int, hover: tuple[float, float]) -> int:
    """Save a screenshot of the page at `page_path` (e.g. "map") to `out`; return its size in bytes."""
    with streamlit_server("app.py", timeout=120) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
        page.set_default_timeout(120_000)
        page.goto(f"{url}/{page_path}?model=mnist")
        wait_for_app(page, timeout=120_000)
        if page_path == "map":
            hover_map(page, hover)
        page.wait_for_timeout(1500)  # let the last fade-ins and fonts settle before the picture is taken
        png = page.screenshot()
    picture = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    out.parent.mkdir(parents=True, exist_ok=True)
    picture.save(out, optimize=True)
    return out.stat().st_size


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--page", default="map", help="the page's URL path: map, sliders, compare, draw, ...")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    p.add_argument("--width", type=int, default=1400)
    p.add_argument("--height", type=int, default=820)
    p.add_argument("--hover", default="0.5,0.62", help="where the pointer rests on the map: x,y fractions of its box")
    args = p.parse_args(argv)
    x, y = (float(v) for v in args.hover.split(","))
    size = shoot(args.page, args.out, args.width, args.height, (x, y))
    print(f"{args.out}: {size / 1000:.0f} kB")


if __name__ == "__main__":
    main()
