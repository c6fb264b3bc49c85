"""Issues 4 and 13 in the real app: the explorer's pages decode in the browser as a person drags, hovers and draws.

A slider drag redraws the image before release, two distant map places decode to two images, a
click on the map pins a code that the Latent sliders page then starts from (onnxruntime-web's WASM
fetched once for both pages), `decoder=server` brings back the server's sliders with a notice, and
three strokes on the Draw page each change the reconstruction and move the map marker before the pen
lifts. One `streamlit run app.py` on the shipped MNIST
model (it ships its atlas) serves the module. Screenshots: test-artifacts/live_pages/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import helpers as h
from ui.maps import PALETTE
from vae.analysis.atlas import ATLAS_META

SHIPPED = h.ROOT / "checkpoints" / "mnist"
pytestmark = h.browser_marks(SHIPPED / ATLAS_META)
SHOTS = h.ROOT / "test-artifacts" / "live_pages"


@pytest.fixture(scope="module")
def app() -> Iterator[tuple[str, Browser]]:
    env = {"LATENT_EXPLORER_NO_BROWSER_DECODER": "", "LATENT_EXPLORER_ATLAS_UMAP": "0"}
    with h.streamlit_server("app.py", env=env, timeout=120) as url, h.chromium() as browser:
        yield url, browser


def open_page(page: Page, path: str, query: str = "") -> None:
    page.goto(f"{page.base_url}/{path}?model=mnist{'&' + query if query else ''}")  # type: ignore[attr-defined]
    page.locator("h1").first.wait_for(timeout=90_000)
    h.wait_for_app(page, timeout=90_000)


def code_in_url(page: Page) -> list[float]:
    return [float(v) for v in parse_qs(urlparse(page.url).query)["z"][0].split(",")]


def test_a_slider_drag_redraws_the_image_before_release(page: Page) -> None:
    open_page(page, "sliders")
    image, slider = page.locator("canvas.led-image"), page.locator(".led-slider input").first
    slider.wait_for()
    dim = int(slider.get_attribute("data-dim"))
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    before = h.canvas_pixels(image)
    page.mouse.move(box["x"] + box["width"] * 0.95, y, steps=5)
    page.wait_for_timeout(100)
    assert h.canvas_pixels(image) != before, "the image did not follow the drag"
    assert code_in_url(page)[dim] == 0, "the code reached Python before release"
    h.after_rerun(page, page.mouse.up)
    page.wait_for_function(f"() => new URLSearchParams(location.search).get('z').split(',')[{dim}] > 3")
    assert page.locator('[data-testid="stSlider"]').count() == 0  # no server sliders


def test_map_hover_decodes_two_places_and_a_pin_reaches_the_sliders(page: Page) -> None:
    open_page(page, "map")
    h.live_map_ready(page)
    overlay, image = page.locator("canvas.led-overlay"), page.locator("canvas.led-image")
    box = overlay.bounding_box()
    shown = []
    for fx, fy in [(0.1, 0.1), (0.9, 0.9)]:
        page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
        page.wait_for_timeout(150)
        shown.append(h.canvas_pixels(image))
    assert shown[0] != shown[1]
    expect(page.get_by_text("in latent space")).to_be_visible()  # how far the nearest real code is
    h.after_rerun(page, lambda: page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5))
    page.get_by_text("Pinned at").wait_for()
    query = parse_qs(urlparse(page.url).query)
    assert len(query["pin"][0].split(",")) == 2
    pinned = code_in_url(page)
    assert len(pinned) == 16 and any(pinned)
    h.after_rerun(page, page.get_by_role("button", name="Open the pin in the sliders").click)
    page.locator("h1", has_text="Latent sliders").wait_for()
    h.wait_for_app(page)
    page.wait_for_function("() => new URLSearchParams(location.search).has('z')")
    assert code_in_url(page) == [min(4.0, max(-4.0, v)) for v in pinned]
    page.locator(".led-slider input").first.wait_for()
    page.get_by_text("Loading the model").first.wait_for(state="hidden")
    fetched = page.evaluate("performance.getEntriesByType('resource').filter(e => e.name.endsWith('.wasm')).length")
    assert fetched == 1, "onnxruntime-web's WASM is fetched once per tab, not again for another page"


def test_hovering_a_point_shows_its_image_beside_its_reconstruction(page: Page) -> None:
    open_page(page, "map")
    h.live_map_ready(page)
    x, y, index = h.live_map_point(page)
    page.mouse.move(x, y)
    original = page.locator("canvas.led-original")
    page.get_by_text("reconstruction", exact=True).wait_for()
    expect(page.get_by_text(f"image #{index}", exact=True)).to_be_visible()
    assert max(h.canvas_pixels(original)[0::4]) > 200  # the digit's white strokes, cut from the sprite sheet
    recon = h.canvas_pixels(page.locator("canvas.led-image"))
    assert max(recon[0::4]) > 150


def test_a_lasso_fills_the_selection_panel(page: Page) -> None:
    open_page(page, "map")
    h.live_map_ready(page)
    page.get_by_role("button", name="Lasso").click()
    box = page.locator("canvas.led-overlay").bounding_box()
    at = lambda fx, fy: (box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)  # noqa: E731
    page.mouse.move(*at(0.2, 0.2))
    page.mouse.down()
    for fx, fy in [(0.8, 0.2), (0.8, 0.8), (0.2, 0.8), (0.2, 0.25)]:
        page.mouse.move(*at(fx, fy), steps=8)
    h.after_rerun(page, page.mouse.up)
    heading = page.get_by_role("heading", name=re.compile(r"[\d,]+ points selected"))
    heading.wait_for()
    assert int(heading.inner_text().split()[0].replace(",", "")) > 100
    page.locator('[data-testid="stImage"]').first.wait_for()  # the grid of the selected images


def test_zooming_in_far_enough_draws_thumbnails(page: Page) -> None:
    open_page(page, "map")
    h.live_map_ready(page)
    x, y, _ = h.live_map_point(page)
    page.mouse.move(x, y)
    for _ in range(40):
        page.mouse.wheel(0, -200)
        page.wait_for_timeout(30)
        if page.evaluate("() => globalThis.__latentMap.plot.thumbsShown") > 0:
            break
    assert page.evaluate("() => globalThis.__latentMap.plot.thumbsShown") > 0


def test_the_legend_has_the_one_palette_and_hides_and_isolates_classes(page: Page) -> None:
    """One palette (ui.maps.PALETTE) for every map; a click on a class hides it, a double-click isolates it."""
    open_page(page, "map", "colour=class")
    h.live_map_ready(page)
    keys = page.locator("button.led-class")
    drawn = keys.locator("i").evaluate_all("els => els.map(e => getComputedStyle(e).backgroundColor)")
    assert drawn == [f"rgb({int(c[1:3], 16)}, {int(c[3:5], 16)}, {int(c[5:7], 16)})" for c in PALETTE]
    points = page.locator("canvas.led-points")
    everything = h.canvas_pixels(points)
    keys.first.click()
    page.wait_for_timeout(200)
    assert h.canvas_pixels(points) != everything and "led-off" in keys.first.get_attribute("class")
    keys.nth(3).dblclick()
    page.wait_for_timeout(200)
    assert page.locator("button.led-class.led-off").count() == len(PALETTE) - 1


def test_forced_fallback_shows_server_sliders_with_a_notice(page: Page) -> None:
    open_page(page, "sliders", "decoder=server")
    page.get_by_text("Browser decoding is switched off").wait_for()
    sliders = page.locator('[data-testid="stSlider"]')
    sliders.nth(15).wait_for()
    page.get_by_text("decoded from the code on the left").wait_for()  # the server's image
    assert sliders.count() == 16
    assert page.locator("canvas.led-image").count() == 0


def test_three_strokes_on_the_draw_page_encode_before_release_and_a_link_redraws_them(page: Page) -> None:
    open_page(page, "draw")
    pad, recon = page.locator("canvas.led-pad-canvas"), page.locator("canvas.led-recon")
    marker = page.locator("canvas.led-overlay")
    pad.wait_for()
    page.locator(".led-status:empty").first.wait_for(state="attached")
    box = pad.bounding_box()
    at = lambda fx, fy: (box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)  # noqa: E731
    places = [marker.get_attribute("data-marker")]
    strokes = [((0.3, 0.2), (0.7, 0.2)), ((0.7, 0.2), (0.4, 0.85)), ((0.4, 0.5), (0.7, 0.5))]  # a crossed seven
    for stroke, (start, end) in enumerate(strokes):
        before = h.canvas_pixels(recon)
        page.mouse.move(*at(*start))
        page.mouse.down()
        page.mouse.move(*at(*end), steps=10)
        page.wait_for_timeout(200)
        assert h.canvas_pixels(recon) != before, f"stroke {stroke}: no new reconstruction before release"
        places.append(marker.get_attribute("data-marker"))
        assert places[-1] != places[-2], f"stroke {stroke}: the map marker did not move while drawing"
        h.after_rerun(page, page.mouse.up)
    page.get_by_text("Nearest test images", exact=True).wait_for()
    assert "nats" in page.locator(".led-score-value").inner_text()
    assert "strokes=" in page.url
    drawn = h.canvas_pixels(recon)
    page.goto(page.url)  # the link alone brings the drawing back, encoded again
    page.get_by_text("Nearest test images", exact=True).wait_for(timeout=90_000)
    page.wait_for_function("c => c.getContext('2d').getImageData(0, 0, 1, 1).data[3] > 0", arg=recon.element_handle())
    assert h.canvas_pixels(page.locator("canvas.led-recon")) == drawn
