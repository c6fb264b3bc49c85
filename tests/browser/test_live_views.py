"""The live views in real Chromium: the image follows a drag before release (latent and direction sliders),
the map decodes under the pointer and pins on click, the scrubber decodes live, the pad encodes while
drawing, and the page falls back when told to or when the JavaScript fails. Screenshots go to
test-artifacts/live_views/.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from playwright.sync_api import Browser, Page, expect

from tests.browser.helpers import ROOT, browser_marks, canvas_pixels, chromium, streamlit_server, wait_for_app
from tests.js.foreign_decoders import as_image, spatial_probs
from vae.store.checkpoint import load_checkpoint

pytestmark = browser_marks()
APP = Path(__file__).with_name("live_views_app.py")
SHOTS = ROOT / "test-artifacts" / "live_views"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Browser]]:
    with streamlit_server(APP) as url, chromium() as browser:
        yield url, browser


@pytest.fixture
def page(server: tuple[str, Browser], request: pytest.FixtureRequest) -> Iterator[Page]:
    url, browser = server
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.base_url = url  # type: ignore[attr-defined]
    yield page
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{request.node.name}.png", full_page=True)
    page.close()
    assert not errors, errors


def open_mode(page: Page, query: str) -> None:
    page.goto(f"{page.base_url}/?{query}")  # type: ignore[attr-defined]
    wait_for_app(page)


def loaded(page: Page) -> None:
    """Wait until every view on the page holds its networks (onnxruntime-web loaded, sessions made)."""
    page.locator(".led-status").first.wait_for(state="attached")
    page.get_by_text("Loading the model").first.wait_for(state="hidden")


def committed(page: Page) -> dict | None:
    text = page.get_by_text("committed:").inner_text()
    return json.loads(text.removeprefix("committed:").strip())


def test_slider_drag_redraws_before_release_and_commits_on_release(page: Page) -> None:
    open_mode(page, "mode=sliders")
    image = page.locator("canvas.led-image")
    slider = page.locator(".led-slider input").first
    slider.wait_for()
    loaded(page)
    assert page.locator(".led-slider.led-inactive").count() == 1
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    page.wait_for_timeout(100)
    before = canvas_pixels(image)
    page.mouse.move(box["x"] + box["width"] * 0.95, y, steps=5)
    page.wait_for_timeout(100)
    during = canvas_pixels(image)
    assert during != before, "the image did not change while the slider was held"
    assert committed(page) is None, "values reached Python before release"
    page.mouse.up()
    wait_for_app(page)
    page.wait_for_function("() => !document.body.innerText.includes('committed: null')")
    z = committed(page)["z"]
    assert z[0] > 2 and z[1:] == [0.0, 0.0, 0.0]


def drag(page: Page, box: dict, start: float, end: float) -> None:
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * start, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end, y, steps=5)
    page.wait_for_timeout(100)


def test_a_direction_slider_adds_its_vector_live(page: Page) -> None:
    open_mode(page, "mode=sliders")
    image = page.locator("canvas.led-image")
    direction = page.locator(".led-directions input[data-direction='0']")
    direction.wait_for()
    loaded(page)
    page.wait_for_timeout(100)
    before = canvas_pixels(image)
    drag(page, direction.bounding_box(), 0.5, 0.95)
    assert canvas_pixels(image) != before, "the image did not follow the direction slider"
    assert committed(page) is None
    page.mouse.up()
    wait_for_app(page)
    page.wait_for_function("() => !document.body.innerText.includes('committed: null')")
    done = committed(page)
    assert done["directions"][0] > 2 and done["z"] == [0.0] * 4  # the code itself is untouched


def test_drawing_encodes_every_stroke_before_release_and_moves_the_marker(page: Page) -> None:
    open_mode(page, "mode=pad")
    pad, recon = page.locator("canvas.led-pad-canvas"), page.locator("canvas.led-recon")
    overlay = page.locator("canvas.led-overlay")
    pad.wait_for()
    loaded(page)
    page.wait_for_timeout(200)
    box = pad.bounding_box()
    at = lambda fx, fy: (box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)  # noqa: E731
    markers = [overlay.get_attribute("data-marker")]
    assert markers[0] is None
    for stroke, points in enumerate([[(0.3, 0.2), (0.35, 0.8)], [(0.2, 0.5), (0.8, 0.5)], [(0.7, 0.2), (0.5, 0.9)]]):
        before = canvas_pixels(recon)
        page.mouse.move(*at(*points[0]))
        page.mouse.down()
        page.mouse.move(*at(*points[1]), steps=8)
        page.wait_for_timeout(150)
        assert canvas_pixels(recon) != before, f"stroke {stroke}: the reconstruction did not change before release"
        markers.append(overlay.get_attribute("data-marker"))
        assert markers[-1] != markers[-2], f"stroke {stroke}: the map marker did not move while drawing"
        if stroke == 0:
            assert committed(page) is None, "the drawing reached Python before release"
        page.mouse.up()
        wait_for_app(page)
        page.wait_for_function("() => !document.body.innerText.includes('committed: null')")
    assert len(committed(page)["z"]) == 4
    assert float(pad.get_attribute("data-score")) > 0
    page.get_by_role("button", name="Undo").click()
    wait_for_app(page)
    assert overlay.get_attribute("data-marker") != markers[-1]


def test_map_hover_decodes_distant_places_differently_and_click_pins(page: Page) -> None:
    open_mode(page, "mode=map")
    overlay, image = page.locator("canvas.led-overlay"), page.locator("canvas.led-image")
    overlay.wait_for()
    loaded(page)
    box = overlay.bounding_box()
    images = []
    for fx, fy in [(0.15, 0.8), (0.85, 0.8), (0.5, 0.45)]:  # two clusters and the gap between all three
        page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
        page.wait_for_timeout(150)
        images.append(canvas_pixels(image))
    assert images[0] != images[1] and images[1] != images[2]
    expect(page.get_by_text("Off the data")).to_be_visible()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.45)
    wait_for_app(page)
    page.wait_for_function("() => !document.body.innerText.includes('committed: null')")
    pinned = committed(page)
    assert len(pinned["z"]) == 4 and len(pinned["xy"]) == 2


def test_path_scrubber_decodes_live(page: Page) -> None:
    open_mode(page, "mode=path")
    image = page.locator("canvas.led-image").first
    scrubber = page.locator(".led-scrub input")
    scrubber.wait_for()
    loaded(page)
    page.wait_for_timeout(100)
    before = canvas_pixels(image)
    box = scrubber.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.25, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.9, y, steps=4)
    page.wait_for_timeout(100)
    assert canvas_pixels(image) != before
    page.mouse.up()
    wait_for_app(page)
    page.wait_for_function("() => !document.body.innerText.includes('committed: null')")
    assert committed(page)["t"] > 0.8


def test_forced_fallback_draws_no_browser_decoder(page: Page) -> None:
    open_mode(page, "mode=sliders&decoder=server")
    expect(page.get_by_text("Browser decoding is switched off")).to_be_visible()
    assert page.locator("canvas.led-image").count() == 0


def test_javascript_failure_falls_back_with_a_notice(page: Page) -> None:
    open_mode(page, "mode=sliders&broken=1")
    page.get_by_text("Browser decoding failed").wait_for()
    assert "protobuf parsing failed" in page.get_by_text("Browser decoding failed").inner_text()
    wait_for_app(page)
    assert page.locator("canvas.led-image").count() == 0


def test_views_decode_with_onnxruntime_web(page: Page) -> None:
    for mode in ("sliders", "map", "pad"):
        open_mode(page, f"mode={mode}")
        loaded(page)
        assert page.evaluate("async () => !!(await globalThis.__latentExplorerOrt)?.InferenceSession"), mode


def test_missing_onnxruntime_files_fall_back_with_a_notice(page: Page) -> None:
    open_mode(page, "mode=sliders&ort=missing")
    page.get_by_text("Browser decoding failed").wait_for()
    wait_for_app(page)
    assert page.locator("canvas.led-image").count() == 0


DECODE_IN_PAGE = """async (codes) => {
  const entries = [...globalThis.__latentExplorerRuntime.values()];
  const decoder = (await Promise.all(entries.map((e) => e.promise.catch(() => null)))).find((v) => v && v.decode);
  const images = [];
  for (const z of codes) images.push(Array.from((await decoder.decode(z, 0)).image));
  return images;
}"""


@pytest.mark.parametrize("model", ["mnist", "foreign"])
def test_chromium_decodes_like_pytorch(page: Page, model: str) -> None:
    if model == "mnist":
        net = load_checkpoint(ROOT / "checkpoints" / "mnist").model
        module, kind, latent = net.decode, "logits", (net.cfg.latent_dim,)
    else:
        module, _, meta = spatial_probs()
        kind, latent = meta["output"], tuple(meta["latent_shape"])
    z = torch.randn(100, *latent, generator=torch.Generator().manual_seed(0)) * 1.5
    with torch.no_grad():
        want = as_image(module(z), kind).flatten(1)  # one channel: (C, H, W) is channels-last too
    open_mode(page, f"mode=parity&model={model}")
    loaded(page)
    got = torch.tensor(page.evaluate(DECODE_IN_PAGE, z.flatten(1).tolist()))
    assert (got - want).abs().max().item() <= 1e-4


def test_bench_runs_in_quick_mode(tiny_checkpoint: Callable[..., Path], child_env: dict[str, str]) -> None:
    # A process of its own: Playwright's sync API cannot nest inside this module's running browser.
    run = subprocess.run([sys.executable, "bench/live_decode.py", str(tiny_checkpoint(arch="conv")), "--quick"],
                         cwd=ROOT, env=child_env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    rows = [line.split(" | ") for line in run.stdout.splitlines() if line.startswith("| live") or "st.slider" in line]
    assert [r[0] for r in rows] == ["| live sliders: slider drag", "| live map: hover",
                                    "| live pad: stroke update -> reconstruction", "| plain st.slider (server decode)"]
    assert "Loading: the server's first visit, ONNX networks ready in" in run.stdout
    assert all(int(r[1]) >= 2 for r in rows)


def test_map_frames_bench_sees_every_gesture(tmp_path: Path, child_env: dict[str, str]) -> None:
    """bench/map_frames.py on a small synthetic map: each gesture drew frames, thumbnails once zoomed in (its
    stand-in decoder once fell out of step with the runtime and every gesture silently recorded nothing)."""
    out = tmp_path / "frames.json"
    run = subprocess.run([sys.executable, "bench/map_frames.py", "--points", "3000", "--moves", "12", "--json",
                          str(out)], cwd=ROOT, env=child_env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    rows = {r["gesture"]: r for r in json.loads(out.read_text())}
    assert all(r["frames"] >= 1 for r in rows.values()), rows
    assert rows["zoomed in: thumbnails, hover + pan"]["thumbnails"] > 0


def test_a_latent_plane_is_drawn_over_its_picture_and_the_place_is_the_code(page: Page) -> None:
    open_mode(page, "mode=plane")
    overlay, points = page.locator("canvas.led-overlay"), page.locator("canvas.led-points")
    image = page.locator("canvas.led-image")
    overlay.wait_for()
    loaded(page)
    page.wait_for_timeout(200)
    corner = points.evaluate("c => Array.from(c.getContext('2d').getImageData(c.width / 25, c.height / 25, 1, 1).data)")
    assert corner[3] == 255 and 100 < corner[0] < 200, corner  # the white picture, dimmed, where no point lies
    box = overlay.bounding_box()
    seen = []
    for fx in (0.2, 0.8):
        page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * 0.5)
        page.wait_for_timeout(150)
        seen.append(canvas_pixels(image))
    assert seen[0] != seen[1]
    page.mouse.click(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.5)
    wait_for_app(page)
    page.wait_for_function("() => !document.body.innerText.includes('committed: null')")
    done = committed(page)
    assert done["z"] == done["xy"] and 1.5 < done["z"][0] < 2.5  # on a plane the code is the place
