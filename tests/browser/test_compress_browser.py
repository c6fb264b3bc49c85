"""The Compress page in Chromium: upload an image, see its size under every codec, download our lossless
file and decompress it on the same page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page

from tests.app.app_helpers import make_checkpoint
from tests.browser.helpers import ROOT, after_rerun, browser_marks, chromium, streamlit_server, wait_for_app
from vae.datasets.data import load_dataset
from vae.networks.config import ModelConfig

pytestmark = browser_marks()
SHOTS = ROOT / "test-artifacts" / "compress"
WAIT = 120_000


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Browser]]:
    root = tmp_path_factory.mktemp("codec")
    make_checkpoint(root / "tiny-vae", ModelConfig(arch="conv", latent_dim=4, hidden=4), train_steps=40)
    env = {"LATENT_EXPLORER_CHECKPOINTS": str(root), "LATENT_EXPLORER_ATLAS_UMAP": "0"}
    with streamlit_server("app.py", env=env, timeout=120) as url, chromium() as browser:
        yield url, browser


def test_upload_see_the_sizes_download_and_decompress(page: Page, app, tmp_path: Path) -> None:
    url, _ = app
    digit = tmp_path / "digit.png"
    Image.fromarray(load_dataset("mnist", "test").images[7, 0].numpy()).save(digit)
    page.set_default_timeout(WAIT)
    page.goto(f"{url}/compress?model=tiny-vae&source=Upload")
    wait_for_app(page, WAIT)
    image_input = page.locator('[data-testid="stFileUploader"]').filter(has_text="Your image").locator("input")
    after_rerun(page, lambda: image_input.set_input_files(digit))
    sizes = page.locator(".js-plotly-plot").filter(has_text="size under each codec")
    sizes.wait_for()
    for codec in ("PNG", "JPEG XL lossless", "ours, in a chain"):
        assert sizes.get_by_text(codec, exact=True).count() == 1, codec
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the lossless file").click()
    saved = tmp_path / "image.lxvc"
    download.value.save_as(saved)
    assert saved.read_bytes()[:4] == b"LXVC"
    packed = page.locator('[data-testid="stFileUploader"]').filter(has_text="Decompress a file").locator("input")
    after_rerun(page, lambda: packed.set_input_files(saved))
    page.get_by_text("1 image(s) of 1x28x28, lossless").wait_for()
    broken = tmp_path / "broken.lxvc"
    broken.write_bytes(saved.read_bytes()[:-6])
    after_rerun(page, lambda: packed.set_input_files(broken))
    page.get_by_text("broken.lxvc: truncated").wait_for()
