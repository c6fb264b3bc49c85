"""The family in Chromium: pick three models on Compare and see a reconstruction row each and the
rate-distortion plot; a 2-D model's map is drawn over its decoded manifold."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from playwright.sync_api import Browser, Page

from tests.app.app_helpers import ATLAS_SUBSET, make_checkpoint
from tests.browser.helpers import (
    ROOT,
    browser_marks,
    chromium,
    live_map_points,
    live_map_ready,
    streamlit_server,
    wait_for_app,
)
from ui.show import labelled_rows
from vae.analysis.atlas import build_atlas, save_atlas
from vae.datasets.data import load_dataset
from vae.networks.config import ModelConfig
from vae.store.checkpoint import load_checkpoint
from vae.training.evaluate import evaluate

pytestmark = browser_marks()
SHOTS = ROOT / "test-artifacts" / "compare"
MODELS = {
    "tiny-vae": ModelConfig(arch="conv", latent_dim=4, hidden=4),
    "tiny-ae": ModelConfig(arch="conv", latent_dim=4, hidden=4, objective="ae"),
    "tiny-beta4": ModelConfig(arch="conv", latent_dim=4, hidden=4, beta=4.0),
    "tiny-2d": ModelConfig(arch="mlp", latent_dim=2, hidden=32),
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Browser]]:
    root = tmp_path_factory.mktemp("family")
    data = load_dataset("mnist", "test").subset(ATLAS_SUBSET)
    for seed, (name, cfg) in enumerate(MODELS.items()):
        make_checkpoint(root / name, cfg, seed=seed, train_steps=40)
        evaluate(load_checkpoint(root / name), data.subset(100), k=5)
        save_atlas(root / name, build_atlas(load_checkpoint(root / name), data, use_umap=False))
    env = {"LATENT_EXPLORER_CHECKPOINTS": str(root), "LATENT_EXPLORER_ATLAS_UMAP": "0"}
    with streamlit_server("app.py", env=env, timeout=120) as url, chromium() as browser:
        yield url, browser


def pick(page: Page, name: str) -> None:
    """Add a model in the Models multiselect, as a person does: type its name, click the option offered."""
    page.locator('[data-testid="stMultiSelect"]').first.locator("input").fill(name)
    option = page.get_by_role("option", name=name, exact=True)
    option.wait_for()  # the list has filtered (under load, an Enter pressed before that picks nothing)
    option.click()
    # the run it causes may be too quick to show as "running" (Compare's pictures are cached): the link tells
    page.wait_for_function("n => (new URL(location.href).searchParams.get('models') || '').split(',').includes(n)",
                           arg=name)
    wait_for_app(page)


def test_three_models_picked_give_three_reconstruction_rows_and_a_rate_distortion_plot(page: Page) -> None:
    page.goto(f"{page.base_url}/compare?models=tiny-vae")
    wait_for_app(page)
    assert "at least two models" in page.locator('[data-testid="stAlert"]').first.inner_text()
    pick(page, "tiny-ae")
    pick(page, "tiny-beta4")
    assert "models=tiny-vae%2Ctiny-ae%2Ctiny-beta4" in page.url or "models=tiny-vae,tiny-ae,tiny-beta4" in page.url
    page.get_by_text("Reconstructions of the same test images").wait_for()
    # the input row and one row per model, drawn as the page draws them (the first picture on the page, once the
    # run's pictures have replaced the two-model ones)
    expected = labelled_rows(torch.zeros(4, 10, 1, 28, 28), ["input", *list(MODELS)[:3]], ["#0"] * 10, tile=44)
    page.wait_for_function("h => document.querySelector('[data-testid=\"stImage\"] img')?.naturalHeight === h",
                           arg=expected.height)
    plot = page.locator(".js-plotly-plot").filter(has_text="Rate against distortion")
    plot.wait_for()
    assert plot.evaluate("gd => gd._fullData.filter(t => t.mode === 'markers+text').length") == 2  # VAE and β-VAE
    assert plot.evaluate("gd => (gd.layout.shapes || []).length") == 1  # the AE's distortion, as a line


def test_a_2d_model_is_drawn_over_its_decoded_manifold(page: Page) -> None:
    page.goto(f"{page.base_url}/map?model=tiny-2d")
    wait_for_app(page)
    live_map_ready(page)
    assert live_map_points(page) == ATLAS_SUBSET
    plot = "globalThis.__latentMap.plot"
    assert page.evaluate(f"() => !!{plot}.picture && {plot}.extent.length") == 4  # the manifold under the points
