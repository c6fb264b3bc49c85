"""The rule behind issue 10: no user action may reach Streamlit's exception box, whatever the model.

For a model of each kind the project supports (KINDS: one line each; add a kind there and it is walked),
trained for seconds in a temporary folder (or, for issue 19's models nobody here wrote, briefly trained and
opened as ONNX and as trusted code), the test walks every page that app.py lists (read from its st.Page
entries, so a page added later is walked too) through the sidebar's links, then clicks every button that moves
between pages (the map's "Open this code in the sliders" and "Interpolate from this image", a pin on the live
map -> "Open the pin in the sliders", and a drawing on the pad -> "Open in the sliders", "Interpolate:
drawing as A" and "Compress it"). With each kind trained here it also clicks every button of the Repair page (each
corruption, "Random", "New noise") and the Sample page's "Download ZIP", whose archive must read back as a
folder dataset. Each step must keep the model picked, show no exception element, no last-resort message, no
cut-off button label or misaligned live slider, and the app's log must stay free of tracebacks. A step that
fails leaves its screenshot in test-artifacts/walk/.
"""

from __future__ import annotations

import ast
import re
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.helpers import ROOT, after_rerun, browser_marks, chromium, streamlit_server, wait_for_app
from vae.datasets.data import load_dataset

pytestmark = browser_marks()
SHOTS = ROOT / "test-artifacts" / "walk"
WAIT = 120_000  # ms; every wait is on a condition, so a long limit costs nothing on a quiet machine
QUICK = ("--arch", "mlp", "--hidden", "32", "--latent-dim", "4", "--epochs", "1", "--subset", "1024",
         "--batch-size", "64", "--lr", "3e-3", "--quiet")
# Text shown cut off: an ellipsis in use (buttons, metrics, the live sliders' labels, inside shadow roots
# too), or the sidebar's picker holding more than it shows.
CUT_OFF = """() => {
  const cut = [], seen = (e) => e.offsetWidth && e.scrollWidth > e.clientWidth + 1;
  const walk = (root) => {
    for (const e of root.querySelectorAll("*")) {
      if (e.shadowRoot) walk(e.shadowRoot);
      if (getComputedStyle(e).textOverflow === "ellipsis" && seen(e)) cut.push(e.textContent);
    }
  };
  walk(document);
  for (const e of document.querySelectorAll('[data-testid="stSidebar"] input')) if (seen(e)) cut.push(e.value);
  return cut;
}"""
CORRUPTIONS = {"Noise": "noise", "Salt & pepper": "salt_pepper", "No top half": "top", "No bottom half": "bottom",
               "Box": "box"}  # the Repair page's, by label and by value in the link; the last is the default
LOG_ERRORS = re.compile(r"Traceback|Uncaught app exec|Exception in|\bERROR\b")


@dataclass(frozen=True)
class Kind:
    """A kind of model: its name in the picker, its data ("mnist", or one of FOLDERS) and its train flags
    (after QUICK, so they override it)."""

    name: str
    data: str
    flags: tuple[str, ...] = ()
    evaluate: bool = False  # evaluated too, so Home shows its metrics
    data_gone: bool = False  # its image folder is removed after training (moved away, deleted)
    own: str = ""  # a model nobody here wrote (tests/own_models.py): "NAME-code" or "NAME-onnx", not trained here


KINDS = (  # each of our lines a kind no other line covers: the walk is the slowest test (make test < 15 min)
    Kind("unlabelled", "digits", ("--normalise", "range")),  # 12-bit data in 16-bit files, no classes, z=4
    Kind("rgb", "tiles", ("--size", "32", "--channels", "3", "--arch", "conv", "--hidden", "4")),
    Kind("conditional", "mnist", ("--conditional", "--latent-dim", "16"), evaluate=True),  # two-digit dims
    Kind("data-gone", "gone", data_gone=True),
    # Issue 19's three models nobody here wrote, each as ONNX and as trusted code (tests/own_models.py); the
    # spatial-latent one, and every one on every page, are tests/app/test_own_models.py's. Short names: the
    # picker shows them.
    *(Kind(f"{short}-{source}", "own", own=f"{name}-{source}")
      for name, short in (("classic", "mlp"), ("conv-bn", "bn"), ("rgb-resnet", "res")) for source in ("onnx", "code")),
)
OURS = [k for k in KINDS if not k.own]  # Repair's and Sample's buttons are the pages' own, whatever the model:
# walked with each kind trained here (the others open every page in tests/app/test_own_models.py)
FOLDERS = {  # digit_folder's arguments: a folder of 16-bit PNGs without class subfolders, and RGB tiles sorted
    # by class, each with unreadable files among the images
    "digits": {"n": 300, "bits": 12, "junk": True},
    "tiles": {"n": 300, "classes": 3, "size": 32, "rgb": True, "junk": True},
    "gone": {"n": 60, "classes": 2},
}


def app_pages() -> list[tuple[str, str]]:
    """(title, URL path) of every st.Page in app.py, as Streamlit names them ("" for the default page)."""
    pages = []
    for node in ast.walk(ast.parse((ROOT / "app.py").read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "Page":
            options = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
            path = options.get("url_path", Path(ast.literal_eval(node.args[0])).stem)
            pages.append((options["title"], "" if options.get("default") else path))
    return pages


def build_models(root: Path, data: Path) -> None:
    from tests.app.app_helpers import digit_folder
    from tests.own_models import make_own_models
    from vae.__main__ import main

    for name, options in FOLDERS.items():
        digit_folder(data / name, **options)
    own = make_own_models(data / "own", sorted({k.own.rsplit("-", 1)[0] for k in KINDS if k.own}))
    for kind in KINDS:
        if kind.own:
            name, source = kind.own.rsplit("-", 1)
            shutil.copytree(own[name][source == "onnx"], root / kind.name)
            assert main(["atlas", str(root / kind.name), "--no-umap", "--subset", "500", "--trust-code"]) == 0
            continue
        dataset = kind.data if kind.data == "mnist" else f"folder:{data / kind.data}"
        out = str(root / kind.name)
        assert main(["train", "--dataset", dataset, *QUICK, *kind.flags, "--out", out]) == 0
        assert main(["atlas", out, "--no-umap", "--subset", "1000"]) == 0
        if kind.evaluate:
            assert main(["evaluate", out, "--k", "2", "--subset", "200"]) == 0
        if kind.data_gone:
            shutil.rmtree(data / kind.data)


@dataclass
class App:
    url: str
    browser: Browser
    log: Path


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    root = tmp_path_factory.mktemp("checkpoints")
    build_models(root, tmp_path_factory.mktemp("data"))
    log = tmp_path_factory.mktemp("log") / "streamlit.log"
    env = {"LATENT_EXPLORER_CHECKPOINTS": str(root), "LATENT_EXPLORER_ATLAS_UMAP": "0"}
    with (streamlit_server("app.py", env=env, timeout=120, log=log, args=("--trust-code",)) as url,
          chromium() as browser):
        yield App(url, browser, log)


@pytest.fixture
def page(app: App) -> Iterator[Page]:
    page = app.browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(WAIT)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    yield page
    page.close()
    assert not errors, errors


def settle(page: Page) -> None:
    page.locator("h1").first.wait_for()
    wait_for_app(page, WAIT)


def check(page: Page, app: App, kind: Kind, where: str) -> None:
    """The page drew without an exception, on the model picked, with nothing cut off; the log is clean. A
    screenshot of a page that fails goes to test-artifacts/walk/ (one of every page took a minute a run)."""
    try:
        assert page.locator('[data-testid="stException"]').count() == 0, where
        assert "Something went wrong" not in page.locator("body").inner_text(), where
        picked = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"] input').input_value()
        assert picked.startswith(f"{kind.name} "), (where, picked)
        assert f"model={kind.name}" in page.url, (where, page.url)
        cut = page.evaluate(CUT_OFF)
        assert not cut, (where, "cut off", cut)
        offsets = page.locator(".led-slider").evaluate_all(
            "rows => [...new Set(rows.map(r => Math.round(r.querySelector('input').getBoundingClientRect().left"
            " - r.getBoundingClientRect().left)))]")
        assert len(offsets) <= 1, (where, "slider tracks start at", offsets)
        errors = [line for line in app.log.read_text().splitlines() if LOG_ERRORS.search(line)]
        assert not errors, (where, errors)
    except AssertionError:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SHOTS / f"{kind.name}-{where}.png")
        raise


def moved_to(page: Page, title: str) -> None:
    page.locator("h1", has_text=title).wait_for()
    wait_for_app(page, WAIT)


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_every_page_and_every_move_between_pages(page: Page, app: App, kind: Kind) -> None:
    pages = app_pages()
    assert {"Home", "Latent map", "Latent sliders", "Interpolate", "Sample", "Draw"} <= {t for t, _ in pages}
    page.goto(f"{app.url}/?model={kind.name}")
    settle(page)
    for title, path in pages:  # through the sidebar's links, as a person moves around
        page.locator('[data-testid="stSidebarNav"] a').filter(has=page.get_by_text(title, exact=True)).click()
        page.wait_for_url(re.compile(rf"/{re.escape(path)}(\?|$)"))
        settle(page)
        check(page, app, kind, path or "home")

    for button, title in (("Open this code in the sliders", "Latent sliders"),
                          ("Interpolate from this image", "Interpolate")):
        page.goto(f"{app.url}/map?model={kind.name}&selected=1")
        settle(page)
        page.get_by_role("button", name=button).click()
        moved_to(page, title)
        check(page, app, kind, f"map-to-{title.split()[-1].lower()}")
    assert ("a=1" in page.url) != kind.data_gone  # without test images, Interpolate offers uploads only
    page.goto(f"{app.url}/map?model={kind.name}")
    settle(page)
    overlay = page.locator("canvas.led-overlay")
    overlay.wait_for()
    expect(page.locator(".led-status")).to_have_text("")  # the decoder and the map have arrived: clicks count
    box = overlay.bounding_box()
    x, y = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5
    to_sliders = page.get_by_role("button", name="Open the pin in the sliders")
    for _ in range(5):  # a click while the component is still busy drawing may go unseen: click again
        page.mouse.move(x, y)
        page.mouse.click(x, y)
        try:
            to_sliders.wait_for(timeout=15_000)
            break
        except PlaywrightTimeout:
            continue
    wait_for_app(page, WAIT)
    to_sliders.click()
    moved_to(page, "Latent sliders")
    check(page, app, kind, "pin-to-sliders")

    # "Interpolate: drawing as B" is A's handler for the other end: tests/app/test_draw.py takes it
    for button, title in (("Open in the sliders", "Latent sliders"), ("Interpolate: drawing as A", "Interpolate"),
                          ("Compress it", "Compress")):
        page.goto(f"{app.url}/draw?model={kind.name}")
        settle(page)
        draw_a_stroke(page)
        page.get_by_role("button", name=button).click()
        moved_to(page, title)
        check(page, app, kind, f"draw-to-{title.split()[-1].lower()}")
        if title == "Interpolate":
            assert "a_source=Drawing" in page.url
            expect(page.get_by_text("your drawing")).to_be_visible()
        if title == "Compress":
            assert "source=Drawing" in page.url


@pytest.mark.parametrize("kind", OURS, ids=[k.name for k in OURS])
def test_every_button_of_repair_and_the_sample_download(page: Page, app: App, kind: Kind, tmp_path: Path) -> None:
    page.goto(f"{app.url}/repair?model={kind.name}")
    settle(page)
    if not kind.data_gone:  # without test images, Repair offers uploads only
        after_rerun(page, lambda: page.get_by_role("button", name="Random").click())
        check(page, app, kind, "repair-random")
    for corruption, value in CORRUPTIONS.items():
        page.get_by_role("radio", name=corruption, exact=True).click()
        page.wait_for_url(re.compile(rf"kind={value}(&|$)"))
        wait_for_app(page, WAIT)
        if value in ("noise", "salt_pepper"):
            seed = re.search(r"seed=(\d+)", page.url).group(1)
            page.get_by_role("button", name="New noise").click()
            page.wait_for_url(lambda url: f"seed={seed}&" not in f"{url}&")  # noqa: B023 (called at once)
            wait_for_app(page, WAIT)
        check(page, app, kind, f"repair-{value}")
    assert "kind=box" in page.url

    page.goto(f"{app.url}/sample?model={kind.name}&seed=2")
    settle(page)
    for attempt in range(3):  # a deferred download clicked as the page settles may be answered by none: again
        try:
            with page.expect_download(timeout=30_000) as download:
                page.get_by_role("button", name="Download ZIP").click()
            break
        except PlaywrightTimeout:
            assert attempt < 2, "Download ZIP gave no file in three clicks"
            wait_for_app(page, WAIT)
    download.value.save_as(tmp_path / "samples.zip")
    with zipfile.ZipFile(tmp_path / "samples.zip") as archive:
        archive.extractall(tmp_path / "samples")
        pngs = [n for n in archive.namelist() if n.endswith(".png")]
    back = [load_dataset(f"folder:{tmp_path / 'samples'}", split) for split in ("train", "test")]
    assert sum(len(b) for b in back) == len(pngs) > 0
    check(page, app, kind, "sample-zip")


def draw_a_stroke(page: Page) -> None:
    """One stroke across the pad, once the model has arrived; waits for the run its release causes."""
    pad = page.locator("canvas.led-pad-canvas")
    pad.wait_for()
    expect(page.locator(".led-status")).to_have_text("")
    box = pad.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.8, steps=10)
    page.mouse.up()
    page.get_by_role("button", name="Open in the sliders").wait_for()
    wait_for_app(page, WAIT)
