"""The latent sliders page: slider -> image, start points, KL order, the link.

AppTest runs no JavaScript, so the live decoder (the default) is checked by what the page hands it;
the other tests drive the server path (the st.sliders), which browser decoding switched off forces.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.app.app_helpers import assert_clean, image_urls, live_data
from vae.analysis.atlas import load_atlas
from vae.datasets.data import load_dataset
from vae.networks.latent import attribute_vector, encode_dataset
from vae.networks.objectives import kl_per_dim
from vae.store.checkpoint import load_checkpoint

SLIDERS = "pages/sliders.py"
NO_BROWSER = "LATENT_EXPLORER_NO_BROWSER_DECODER"


@pytest.fixture(autouse=True)
def server_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NO_BROWSER, "1")


def code(at, dim: int = 4) -> list[float]:
    return [at.slider(key=f"z{d}").value for d in range(dim)]


def test_moving_a_slider_changes_the_image_and_the_link(open_app) -> None:
    at = open_app(SLIDERS)
    assert_clean(at)
    assert at.title[0].value == "Latent sliders"
    before = image_urls(at)
    at.slider(key="z2").set_value(2.5).run()
    assert_clean(at)
    after = image_urls(at)
    assert after[0] != before[0] and after[1] != before[1]  # the decoded image and the traversal grid
    assert at.query_params["z"] == "0,0,2.5,0"


def test_the_live_decoder_gets_the_code_in_kl_order(open_app, model_root: Path, monkeypatch) -> None:
    monkeypatch.delenv(NO_BROWSER)
    atlas = load_atlas(model_root / "tiny")
    expected = torch.argsort(kl_per_dim(atlas.mu, atlas.logvar).mean(0), descending=True).tolist()
    at = open_app(SLIDERS, z="0,1,0,-2")
    assert_clean(at)
    assert not [s for s in at.slider if s.key.startswith("z")]  # no server sliders
    data = live_data(at, "live_sliders")
    assert "decoder" in data["resources"] and data["z"] == [0, 1, 0, -2]
    assert [s["dim"] for s in data["sliders"]] == expected and "KL" in data["sliders"][0]["label"]
    assert len(image_urls(at)) == 1  # the traversal grid; the decoded image is the browser's
    at.button(key="reset").click().run()
    assert live_data(at, "live_sliders")["z"] == [0, 0, 0, 0] and at.query_params["z"] == "0,0,0,0"


def test_forced_fallback_shows_server_sliders_with_a_notice(open_app, monkeypatch) -> None:
    monkeypatch.delenv(NO_BROWSER)
    at = open_app(SLIDERS, decoder="server")
    assert_clean(at)
    assert any("Browser decoding is switched off" in c.value for c in at.caption)
    assert code(at) == [0, 0, 0, 0] and not at.get("bidi_component")
    at.slider(key="z0").set_value(1.0).run()
    assert at.query_params["z"] == "1,0,0,0"


def test_sliders_are_ordered_by_kl_from_the_atlas(open_app, model_root: Path) -> None:
    atlas = load_atlas(model_root / "tiny")
    expected = torch.argsort(kl_per_dim(atlas.mu, atlas.logvar).mean(0), descending=True).tolist()
    at = open_app(SLIDERS)
    shown = [int(s.key[1:]) for s in at.slider if s.key.startswith("z")]
    assert shown == expected
    assert "KL" in at.slider(key=f"z{expected[0]}").label


def test_reset_randomize_and_start_from_a_test_image(open_app, model_root: Path) -> None:
    at = open_app(SLIDERS, z="1,1,1,1")
    assert code(at) == [1, 1, 1, 1]
    at.button(key="reset").click().run()
    assert code(at) == [0, 0, 0, 0]
    at.button(key="randomize").click().run()
    assert code(at) != [0, 0, 0, 0] and at.query_params["z"] != "0,0,0,0"
    at.number_input(key="image").set_value(3).run()
    at.button(key="from_image").click().run()
    assert_clean(at)
    ckpt = load_checkpoint(model_root / "tiny")
    mu, _ = encode_dataset(ckpt.model, load_dataset("mnist", "test").subset(4))
    assert code(at) == [round(v, 2) for v in mu[3].tolist()]


def test_bad_codes_in_the_link_fall_back_to_zero(open_app) -> None:
    for bad in ("1,2", "a,b,c,d", "nan,0,0,0", "../../etc"):
        at = open_app(SLIDERS, z=bad)
        assert_clean(at)
        assert code(at) == [0, 0, 0, 0] and "Ignored z=" in at.toast[0].value
    at = open_app(SLIDERS, z="9,-9,0,0")  # out of range: clamped, not refused
    assert code(at) == [4, -4, 0, 0]


def test_a_conditional_model_decodes_the_chosen_class(open_app) -> None:
    at = open_app(SLIDERS, model="tiny-cond")
    assert_clean(at)
    before = image_urls(at)
    at.selectbox(key="label").set_value(7).run()
    assert_clean(at)
    assert image_urls(at)[0] != before[0] and at.query_params["label"] == "7"


def test_the_code_survives_a_visit_to_another_page(open_app) -> None:
    at = open_app(SLIDERS)
    at.slider(key="z1").set_value(-1.5).run()
    at.switch_page("pages/sample.py").run()
    assert "z" not in at.query_params
    at.switch_page(SLIDERS).run()
    assert_clean(at)
    assert code(at) == [0, -1.5, 0, 0] and at.query_params["z"] == "0,-1.5,0,0"


def test_a_direction_between_two_class_means_goes_to_the_live_sliders(open_app, model_root: Path, monkeypatch) -> None:
    monkeypatch.delenv(NO_BROWSER)
    atlas = load_atlas(model_root / "tiny")
    at = open_app(SLIDERS)
    assert_clean(at)
    assert not live_data(at, "live_sliders")["directions"]  # off until asked for
    at.toggle(key="direction").set_value(True).run()
    at.selectbox(key="dir_from").set_value(3).run()
    at.selectbox(key="dir_to").set_value(8).run()
    assert_clean(at)
    [sent] = live_data(at, "live_sliders")["directions"]
    expected = attribute_vector(atlas.mu, atlas.labels, 3, 8)
    assert sent["label"] == "3 → 8" and sent["value"] == 0 and sent["bounds"] == [-2, 2]
    assert torch.allclose(torch.tensor(sent["vector"]), expected, atol=1e-6)
    assert at.query_params["direction"] == "1" and at.query_params["dir_to"] == "8"
    at.selectbox(key="dir_to").set_value(3).run()
    assert any("two different classes" in c.value for c in at.caption)
    assert not live_data(at, "live_sliders")["directions"]


def test_the_direction_moves_the_server_image_and_the_traversal(open_app) -> None:
    at = open_app(SLIDERS, direction="1", dir_from="0", dir_to="1")
    assert_clean(at)
    before = image_urls(at)
    at.slider(key="dir_amount").set_value(1.5).run()
    assert_clean(at)
    after = image_urls(at)
    assert after[0] != before[0] and after[1] != before[1] and at.query_params["dir_amount"] == "1.5"
    assert at.query_params["z"] == "0,0,0,0"  # the code itself stays; the direction is added to it


def test_no_direction_without_classes(open_app, own_root: Path) -> None:
    at = open_app(SLIDERS, root=own_root, model="digits")
    assert_clean(at)
    assert not [t for t in at.toggle if t.key == "direction"]
