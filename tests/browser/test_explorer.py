"""The explorer in real Chromium, used as a person would: pick a model, look at the latent map and
select a point, move a slider, upload two images and interpolate, resample and download the grid as a
dataset, place an occluding box by dragging and see it repaired, and open a hostile link.

One `streamlit run app.py` serves every test of the session, one Chromium drives it, and each test
opens one page. The model is the shipped `checkpoints/mnist` when it has its atlas; otherwise a tiny
model, briefly trained, with a PCA atlas of the full MNIST test set, made in a temporary folder (so
nothing is ever written into checkpoints/). Images are decoded on the server (the live decoder has
its own tests), so every flow here is the plain Streamlit path. Screenshots: test-artifacts/explorer/.
"""

from __future__ import annotations

import importlib.util
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from PIL import Image
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.helpers import (
    ROOT,
    after_rerun,
    browser_marks,
    canvas_pixels,
    chromium,
    live_map_point,
    live_map_points,
    live_map_ready,
    screenshot_all,
    streamlit_server,
    wait_for_app,
)
from vae.analysis.atlas import ATLAS_META
from vae.datasets.data import load_dataset

pytestmark = browser_marks()
SHIPPED = ROOT / "checkpoints" / "mnist"
MNIST_TEST_SIZE = 10_000
SHOTS = ROOT / "test-artifacts" / "explorer"
IMAGE = '[data-testid="stImage"]'
WAIT = 120_000  # ms; the machine may be busy, and every wait is on a condition, so a long limit costs nothing


@dataclass(frozen=True)
class Explorer:
    url: str
    browser: Browser
    model: str  # the id of the model the tests explore


def stand_in_root(folder: Path) -> Path:
    """A checkpoint root holding a tiny MNIST model with a scored PCA atlas of all 10,000 test images."""
    from tests.app.app_helpers import make_checkpoint
    from vae.analysis.atlas import build_atlas, save_atlas
    from vae.analysis.scores import fit_reference, save_reference
    from vae.networks.config import ModelConfig
    from vae.store.checkpoint import load_checkpoint

    make_checkpoint(folder / "tiny", ModelConfig(arch="conv", latent_dim=4, hidden=4), train_steps=150)
    ckpt = load_checkpoint(folder / "tiny")
    reference = fit_reference(ckpt.model, load_dataset("mnist", "train").subset(1000))
    save_reference(ckpt.folder, reference)
    atlas = build_atlas(ckpt, load_dataset("mnist", "test"), use_umap=False, scores=True, reference=reference, nll_k=2)
    save_atlas(ckpt.folder, atlas)
    return folder


def has_scores(folder: Path) -> bool:
    """Whether a checkpoint's stored atlas holds anomaly scores."""
    return (folder / ATLAS_META).is_file() and "scores" in json.loads((folder / ATLAS_META).read_text())


@pytest.fixture(scope="module")
def explorer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Explorer]:
    env = {"LATENT_EXPLORER_NO_BROWSER_DECODER": "1", "LATENT_EXPLORER_ATLAS_UMAP": "0"}
    if has_scores(SHIPPED):
        model = "mnist"
    else:
        env["LATENT_EXPLORER_CHECKPOINTS"] = str(stand_in_root(tmp_path_factory.mktemp("checkpoints")))
        model = "tiny"
    with streamlit_server("app.py", env=env, timeout=120) as url, chromium() as browser:
        yield Explorer(url, browser, model)


@pytest.fixture
def page(explorer: Explorer, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh tab; after the test, a full-page screenshot, and no JavaScript error may have happened."""
    page = explorer.browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(WAIT)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    yield page
    SHOTS.mkdir(parents=True, exist_ok=True)
    screenshot_all(page, SHOTS / f"{request.node.name}.png")
    page.close()
    assert not errors, errors


def open_page(page: Page, explorer: Explorer, path: str = "", query: str = "") -> None:
    goto(page, f"{explorer.url}/{path}?model={explorer.model}{'&' + query if query else ''}")
    assert_clean(page)


def goto(page: Page, url: str) -> None:
    """Open a page and wait for its first run (the app reads idle before the script has even started)."""
    page.goto(url)
    page.locator("h1").first.wait_for()
    wait_for_app(page, WAIT)


def assert_clean(page: Page) -> None:
    """No traceback, no error box, no last-resort message on the page."""
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    text = page.locator("body").inner_text()
    assert "Traceback" not in text and "Something went wrong" not in text


def image_with_caption(page: Page, caption: str) -> Locator:
    return page.locator(IMAGE).filter(has_text=caption).locator("img")


def assert_shown(img: Locator) -> None:
    """The image is on screen and its bytes decoded (images load lazily, so scroll to it first)."""
    img.scroll_into_view_if_needed()
    img.evaluate("el => el.decode()")
    assert img.evaluate("el => el.naturalWidth") > 0


def changed_src(page: Page, img: Locator, before: str) -> str:
    """Wait until the image element shows new bytes (a new media URL), then for the run to end."""
    expect(img).not_to_have_attribute("src", before, timeout=WAIT)
    wait_for_app(page, WAIT)
    return img.get_attribute("src")


def pick_model(page: Page, name: str) -> None:
    """Choose a model in the sidebar's picker, as a user does, and wait for its model card."""
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').click()
    option = page.get_by_role("option", name=re.compile(rf"^{re.escape(name)} "))
    if option.get_attribute("aria-selected") == "true":
        option.click()  # already the chosen one: nothing reruns
    else:
        after_rerun(page, option.click)
    page.get_by_role("heading", name=f"Model card: {name}").wait_for()
    page.wait_for_url(f"**model={name}")


def test_home_pick_a_model(page: Page, explorer: Explorer) -> None:
    """Every model listed can be picked (each shows its card), and the last pick is the explored one."""
    goto(page, explorer.url)
    picker = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]')
    picker.click()
    names = [text.split(" ")[0] for text in page.get_by_role("option").all_inner_texts()]
    picker.click()  # closes the list
    assert explorer.model in names
    for name in [n for n in names if n != explorer.model] + [explorer.model]:
        pick_model(page, name)
    expect(page.locator('[data-testid="stMetric"]').nth(5)).to_be_visible(timeout=WAIT)  # six metrics at least
    expect(page.locator(".js-plotly-plot")).to_have_count(2, timeout=WAIT)  # the training curves, drawn after the run
    assert_clean(page)


def test_map_shows_every_test_image_and_a_click_shows_its_images(page: Page, explorer: Explorer) -> None:
    open_page(page, explorer, "map")
    live_map_ready(page)
    assert live_map_points(page) == MNIST_TEST_SIZE
    x, y, index = live_map_point(page)
    page.mouse.click(x, y)
    page.get_by_role("heading", name=f"Test image #{index} ").wait_for()
    wait_for_app(page, WAIT)
    for caption in ("original", "reconstruction"):
        assert_shown(image_with_caption(page, caption))
    assert f"selected={index}" in page.url


def test_the_map_coloured_by_a_score(page: Page, explorer: Explorer) -> None:
    """Colour by -> an anomaly score: the points take the score's colour scale, with its colour bar; a click
    still selects."""
    open_page(page, explorer, "map")
    live_map_ready(page)
    before = canvas_pixels(page.locator("canvas.led-points"))
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Colour by").click()
    after_rerun(page, page.get_by_role("option", name="Unusual statistics").click)
    expect(page.locator(".led-colourbar")).to_contain_text("Unusual statistics", timeout=WAIT)
    assert canvas_pixels(page.locator("canvas.led-points")) != before and "colour=stats" in page.url
    x, y, index = live_map_point(page)
    page.mouse.click(x, y)
    page.get_by_role("heading", name=f"Test image #{index} ").wait_for()
    assert_clean(page)


def test_slider_changes_the_decoded_image(page: Page, explorer: Explorer) -> None:
    open_page(page, explorer, "sliders")
    img = image_with_caption(page, "decoded from the code")
    before_src, before_pixels = img.get_attribute("src"), img.screenshot()
    page.locator('[data-testid="stSlider"] input[type="range"]').first.focus()
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    changed_src(page, img, before_src)
    assert img.screenshot() != before_pixels
    assert_clean(page)


def digit_pngs(folder: Path) -> list[Path]:
    """Two MNIST test digits as a user might have them: a plain grey PNG (light on dark, 4x larger),
    and a dark digit on a transparent background, RGBA, in an odd non-square size."""
    data = load_dataset("mnist", "test").subset(2)
    grey = Image.fromarray(data.images[0, 0].numpy(), "L").resize((112, 112))
    ink = Image.fromarray(data.images[1, 0].numpy(), "L").resize((45, 61))
    rgba = Image.new("RGBA", ink.size, (20, 20, 40, 0))
    rgba.putalpha(ink)
    paths = [folder / "grey.png", folder / "rgba.png"]
    grey.save(paths[0])
    rgba.save(paths[1])
    return paths


def test_upload_two_images_and_get_a_strip(page: Page, explorer: Explorer, tmp_path: Path) -> None:
    open_page(page, explorer, "interpolate", "a_source=Upload&b_source=Upload")
    inputs = page.locator('[data-testid="stFileUploader"] input[type="file"]')
    for i, path in enumerate(digit_pngs(tmp_path)):
        after_rerun(page, lambda: inputs.nth(i).set_input_files(path))  # noqa: B023 (called at once)
    page.get_by_text("10 steps, linear").wait_for()
    assert_clean(page)
    expect(page.get_by_text("Transparent areas filled with white")).to_be_visible()
    sizes = page.locator(f"{IMAGE} img").evaluate_all("els => els.map(e => [e.naturalWidth, e.naturalHeight])")
    assert any(w >= 8 * h for w, h in sizes), sizes  # a 10-step strip is one long row
    expect(image_with_caption(page, "step 1 of 10")).to_have_count(1, timeout=WAIT)


def metric_value(page: Page, label: str) -> Locator:
    return page.locator('[data-testid="stMetric"]').filter(has_text=label).locator('[data-testid="stMetricValue"]')


def test_anomalies_rank_flag_and_score_an_upload(page: Page, explorer: Explorer, tmp_path: Path) -> None:
    """A ranked gallery; moving the threshold changes how many are flagged; an upload gets its percentile."""
    open_page(page, explorer, "anomalies")
    ranked = page.locator(IMAGE).filter(has_text=re.compile(r"^#\d+ · ")).first  # the most unusual, captioned
    ranked.wait_for()
    assert ranked.locator("img").count() == 12
    assert_shown(ranked.locator("img").first)
    flagged = metric_value(page, "Flagged")
    before = flagged.inner_text()
    assert before == "100"  # 1 % of the 10,000 test images to start with
    thumb = page.locator('[data-testid="stSlider"]').filter(has_text="Threshold").get_by_role("slider")
    thumb.focus()
    for _ in range(30):
        page.keyboard.press("ArrowLeft")
    expect(flagged).not_to_have_text(before, timeout=WAIT)
    wait_for_app(page, WAIT)
    assert int(flagged.inner_text().replace(",", "")) > 100 and "threshold=" in page.url
    upload = page.locator('[data-testid="stFileUploader"] input[type="file"]')
    after_rerun(page, lambda: upload.set_input_files(digit_pngs(tmp_path)[0]))
    percentile = metric_value(page, "Percentile in the test set")
    percentile.wait_for()
    assert 0 <= float(percentile.inner_text()) <= 100
    assert_shown(image_with_caption(page, "your image · its reconstruction"))
    assert page.locator(".js-plotly-plot").filter(has_text="your image").count() == 1  # its place on the map
    assert_clean(page)


def test_new_seed_gives_a_new_sample_grid(page: Page, explorer: Explorer) -> None:
    open_page(page, explorer, "sample")
    grid = page.locator(IMAGE).locator("img").first
    before_src, before_pixels = grid.get_attribute("src"), grid.screenshot()
    seed = page.get_by_label("Seed")
    seed.fill("7")
    seed.press("Enter")
    changed_src(page, grid, before_src)
    page.get_by_text("seed 7 ·").wait_for()
    assert grid.screenshot() != before_pixels
    assert "seed=7" in page.url


def test_the_sample_grid_downloads_as_a_folder_dataset(page: Page, explorer: Explorer, tmp_path: Path) -> None:
    open_page(page, explorer, "sample", "seed=3&n=16")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download ZIP").click()
    archive = tmp_path / "samples.zip"
    download.value.save_as(archive)
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
        z.extractall(tmp_path / "samples")
    assert len([n for n in names if n.endswith(".png")]) == 16 and "manifest.json" in names
    manifest = json.loads((tmp_path / "samples" / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["total"] == 16 and "--n 16" in manifest["command"]
    back = [load_dataset(f"folder:{tmp_path / 'samples'}", split) for split in ("train", "test")]
    assert sum(len(b) for b in back) == 16


def test_drag_a_box_on_the_image_and_see_it_inpainted(page: Page, explorer: Explorer) -> None:
    open_page(page, explorer, "repair", "kind=box&index=0")
    titles = page.locator("strong").filter(has_text=re.compile(r"^(Corrupted|Reconstruction|Inpainting)$"))
    expect(titles).to_have_text(["Corrupted", "Reconstruction", "Inpainting"])
    repaired = page.locator(f"{IMAGE} img").nth(2)  # the strip's images in that order (the original is the picker)
    assert_shown(repaired)
    before_src, before_pixels = repaired.get_attribute("src"), repaired.screenshot()
    area = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()  # the original, as a box picker

    def drag() -> None:
        page.mouse.move(area["x"] + area["width"] * 0.1, area["y"] + area["height"] * 0.5)
        page.mouse.down()
        page.mouse.move(area["x"] + area["width"] * 0.9, area["y"] + area["height"] * 0.95, steps=10)
        page.mouse.up()

    after_rerun(page, drag)
    changed_src(page, repaired, before_src)
    assert repaired.screenshot() != before_pixels
    box = {k: int(v[0]) for k, v in parse_qs(urlparse(page.url).query).items() if k.startswith("box_")}
    assert 12 <= box["box_top"] <= 15 and 12 <= box["box_height"] <= 16  # about rows 14..27 of 28
    assert 1 <= box["box_left"] <= 4 and 21 <= box["box_width"] <= 26
    assert page.get_by_label("Top row").input_value() == str(box["box_top"])
    assert_clean(page)


def test_hostile_link_falls_back_with_a_notice(page: Page, explorer: Explorer) -> None:
    goto(page, f"{explorer.url}/sample?model=../../etc&seed=../../etc/passwd")
    page.get_by_text("Ignored model='../../etc'").wait_for()
    page.get_by_text("Ignored seed='../../etc/passwd'").wait_for()
    assert_clean(page)
    page.get_by_text("seed 0 ·").wait_for()  # the default model's samples, from the default seed


def test_page_speed_bench_runs(explorer: Explorer) -> None:
    """bench/page_speed.py's measurements, in quick mode, against this app (timings are never checked here)."""
    spec = importlib.util.spec_from_file_location("bench_page_speed", ROOT / "bench" / "page_speed.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    args = bench.parse_args(["--quick"])
    rows = bench.measure(explorer.browser, explorer.url, explorer.model, MNIST_TEST_SIZE, args.loads, args.presses,
                         args.warmup, args.clicks)  # the earlier tests warmed the app
    assert len(bench.PAGES) == (ROOT / "app.py").read_text().count("st.Page(")  # every page
    assert [r["measure"] for r in rows] == [
        *(f"{name}: sidebar click → idle" for name in [*list(bench.PAGES.values())[1:], "Home"]),
        *(f"{name}: cold load → interactive" for name in bench.PAGES.values()), "Latent map: 10,000 points drawn",
        "Slider key → new image src", "Slider key → new image painted",
    ]
    assert all(r["samples"] >= 1 and 0 < r["p50_ms"] <= r["p95_ms"] <= r["max_ms"] for r in rows)
    assert bench.table(rows).startswith("| measure | samples | p50 ms | p95 ms | max ms | target |")
