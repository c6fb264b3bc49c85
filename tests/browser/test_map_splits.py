"""Issue 21's whole dataset in the real app: with an atlas of both splits, the Latent map switches between the
test images, the training images and both, and hovering a training point shows its image. The shipped MNIST
model is copied with a small atlas of both splits (PCA only, built in seconds) under a checkpoints folder of
its own. Screenshots: test-artifacts/map_splits/.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import helpers as h
from vae.analysis.atlas import build_atlas, save_atlas
from vae.datasets.data import load_dataset
from vae.store.checkpoint import CONFIG, WEIGHTS, load_checkpoint

SHIPPED = h.ROOT / "checkpoints" / "mnist"
pytestmark = h.browser_marks(SHIPPED / WEIGHTS)
SHOTS = h.ROOT / "test-artifacts" / "map_splits"
TEST, TRAIN = 200, 300


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Browser]]:
    root = tmp_path_factory.mktemp("checkpoints")
    folder = root / "mnist-split"
    folder.mkdir()
    for name in (CONFIG, WEIGHTS):
        shutil.copy(SHIPPED / name, folder / name)
    ckpt = load_checkpoint(folder)
    test, train = load_dataset("mnist", "test").subset(TEST), load_dataset("mnist", "train").subset(TRAIN)
    save_atlas(folder, build_atlas(ckpt, test, use_umap=False, train=train, scores=True, nll_k=2))
    env = {"LATENT_EXPLORER_CHECKPOINTS": str(root), "LATENT_EXPLORER_NO_BROWSER_DECODER": "",
           "LATENT_EXPLORER_ATLAS_UMAP": "0"}
    with h.streamlit_server("app.py", env=env, timeout=120) as url, h.chromium() as browser:
        yield url, browser


def test_the_map_switches_between_training_and_both_and_hovers_a_training_image(page: Page) -> None:
    page.goto(f"{page.base_url}/map?model=mnist-split&split=train")  # type: ignore[attr-defined]
    page.locator("h1").first.wait_for(timeout=90_000)
    h.wait_for_app(page, timeout=90_000)
    h.live_map_ready(page)
    assert h.live_map_points(page) == TRAIN
    x, y, index = h.live_map_point(page)
    page.mouse.move(x, y)
    page.get_by_text("reconstruction", exact=True).wait_for()
    expect(page.get_by_text(f"Training image #{index}", exact=True)).to_be_visible()  # named by its split
    assert max(h.canvas_pixels(page.locator("canvas.led-original"))[0::4]) > 200  # cut from the training sprite
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "training.png"))
    h.after_rerun(page, lambda: page.get_by_text("Both", exact=True).click())
    page.wait_for_function(f"() => globalThis.__latentMap.models.map.n === {TEST + TRAIN}", timeout=60_000)
    assert "split=all" in page.url
    page.screenshot(path=str(SHOTS / "both.png"))
    # On Both, a number is found among the images of the part picked beside it: training image #5 is point 205
    page.locator("select.led-find-part").select_option("Training")
    page.locator(".led-find input").fill("5")
    h.after_rerun(page, lambda: page.locator(".led-find input").press("Enter"))
    page.get_by_role("heading", name="Training image #5 ").wait_for()
    page.locator(".led-find input").fill(str(TRAIN))
    page.locator(".led-find input").press("Enter")
    page.get_by_text(f"No training image #{TRAIN}: there are {TRAIN}.").wait_for()


def test_both_coloured_by_a_score_draws_the_training_images_grey(page: Page) -> None:
    """Scores exist for the test images only: on Both they take the colour scale and the training images a grey
    that the legend names."""
    page.goto(f"{page.base_url}/map?model=mnist-split&split=all&colour=nll")  # type: ignore[attr-defined]
    page.locator("h1").first.wait_for(timeout=90_000)
    h.wait_for_app(page, timeout=90_000)
    h.live_map_ready(page)
    expect(page.get_by_text("training images: no score", exact=True)).to_be_visible()
    grey, shades = page.evaluate(f"""() => {{
      const {{ palette, index }} = globalThis.__latentMap.colours, colour = (i) => palette[index[i]];
      const test = Array.from({{ length: {TEST} }}, (_, i) => colour(i));
      return [[{TEST}, {TEST + TRAIN - 1}].map(colour).concat(palette.at(-1)), new Set(test).size];
    }}""")
    assert len(set(grey)) == 1 and shades > 5  # every training image grey; the test images along the scale
    pixels = h.canvas_pixels(page.locator("canvas.led-points"))
    rgb = {tuple(pixels[i:i + 3]) for i in range(0, len(pixels), 4) if pixels[i + 3]}
    assert any(max(abs(a - b) for a, b in zip(c, (0xB4, 0xB9, 0xC3), strict=True)) <= 2 for c in rgb), rgb  # drawn
    page.screenshot(path=str(SHOTS / "both_scored.png"))
