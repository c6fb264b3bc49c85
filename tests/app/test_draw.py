"""The Draw page: what the pad is handed, what a committed drawing shows, the hand-on to other pages, the fallback.

AppTest runs no JavaScript: the pad's commits are stood in for by the page's state (a committed
PadResult, as the pad's callback leaves it). What the pad does in the browser is
tests/browser/test_live_views.py's and test_draw.py's business.
"""

from __future__ import annotations

import pytest
import torch

from tests.app.app_helpers import ROOT, assert_clean, image_urls, live_data
from tests.app.test_interpolate import drawing as pen_drawing
from tests.ui.test_live_views import stroke_text
from ui import drawing
from ui import scores as pad_scores
from ui.live.pad import PadResult
from vae.analysis.atlas import load_atlas, load_test_set
from vae.models.sources import open_model

DRAW = "pages/draw.py"
STROKES = stroke_text((18, [40, 30, 60, 200]), (12, [20, 100, 200, 100]))


def committed(at, z: list[float], label: int | None = None) -> torch.Tensor:
    """Leave the page's state as the pad's callback does after a stroke; returns the drawing's input."""
    image = torch.rand(1, 28, 28)
    at.session_state["strokes"] = STROKES
    at.session_state["drawn"] = PadResult(True, committed=True, strokes=STROKES, z=z, image=image, label=label,
                                          fit="digit", score=100.0)
    at.run()
    assert_clean(at)
    return image


def test_the_pad_gets_the_networks_the_map_the_scores_and_the_framing(open_app) -> None:
    at = open_app(DRAW)
    assert_clean(at)
    assert at.title[0].value == "Draw"
    data = live_data(at, "pad")
    assert set(data["resources"]) == {"decoder", "encoder", "map", "scores"}
    assert data["input"] == {"channels": 1, "size": [28, 28], "darkBackground": True, "invert": "never",
                             "fit": "digit"}
    assert data["score"]["kind"] == "neg_elbo" and data["strokes"] == "" and not data["commitWanted"]
    assert any("lift the pen" in c.value for c in at.caption)
    at.segmented_control(key="framing").set_value("pad").run()
    assert live_data(at, "pad")["input"]["fit"] == "pad" and at.query_params["framing"] == "pad"


def test_strokes_from_the_link_are_replayed_and_encoded_at_once(open_app) -> None:
    at = open_app(DRAW, strokes=STROKES, projection="pca")
    assert_clean(at)
    data = live_data(at, "pad")
    assert data["strokes"] == STROKES and data["commitWanted"]  # Python has no code for it yet
    assert "PCA map (exact)" in data["mapCaption"]
    committed(at, [0.1, 0.2, 0.3, 0.4])
    assert not live_data(at, "pad")["commitWanted"] and at.query_params["strokes"] == STROKES


def test_strokes_that_are_not_a_drawing_are_ignored_with_a_notice(open_app) -> None:
    at = open_app(DRAW, strokes="%%%not-strokes")
    assert_clean(at)
    assert any("Ignored strokes=" in t.value for t in at.toast)
    assert live_data(at, "pad")["strokes"] == ""


def test_a_committed_drawing_shows_its_nearest_test_images_and_goes_to_the_sliders(open_app) -> None:
    at = open_app(DRAW)
    committed(at, [0.5, -0.25, 1.0, 0.0])
    assert any("Nearest test images" in m.value for m in at.markdown)
    assert len(image_urls(at)) == 8
    at.button(key="to_sliders").click().run()
    assert_clean(at)
    assert at.title[0].value == "Latent sliders" and at.query_params["z"] == "0.5,-0.25,1,0"
    assert at.query_params["model"] == "tiny"


@pytest.mark.parametrize("side", ["a", "b"])
def test_a_committed_drawing_opens_as_an_end_of_an_interpolation(open_app, side: str) -> None:
    at = open_app(DRAW)
    image = committed(at, [0.5, -0.25, 1.0, 0.0])
    at.button(key=f"to_interpolate_{side}").click().run()
    assert_clean(at)
    assert at.title[0].value == "Interpolate" and at.query_params["model"] == "tiny"
    assert at.query_params[f"{side}_source"] == "Drawing"
    assert at.segmented_control(key=f"{side}_source").value == "Drawing"
    sent = drawing.image(at.query_params[f"{side}_drawing"], (1, 28, 28))
    assert (sent - image).abs().max() <= 0.5 / 255 + 1e-6
    assert any("your drawing" in c for element in at.image for c in element.captions)
    assert len(at.get("download_button")) == 2  # both ends there: the path is drawn


def test_a_conditional_model_draws_as_the_chosen_class(open_app) -> None:
    at = open_app(DRAW, model="tiny-cond", label="4")
    assert_clean(at)
    assert live_data(at, "pad")["label"] == 4
    committed(at, [0.1, 0.2, 0.3], label=4)
    at.button(key="to_sliders").click().run()
    assert at.title[0].value == "Latent sliders" and at.query_params["label"] == "4"


def test_without_the_browser_an_uploaded_drawing_is_encoded_here(open_app, monkeypatch) -> None:
    monkeypatch.setenv("LATENT_EXPLORER_NO_BROWSER_DECODER", "1")
    at = open_app(DRAW)
    assert_clean(at)
    assert any("Browser decoding is switched off; upload a drawing instead" in c.value for c in at.caption)
    at.file_uploader(key="draw_upload").set_value(("ring.png", pen_drawing("ring"), "image/png")).run()
    assert_clean(at)
    assert any("−ELBO (anomaly score)" in m.value and "nats" in m.value for m in at.markdown)
    assert len(image_urls(at)) == 2 + 8  # the drawing, its reconstruction, the nearest test images
    at.button(key="to_interpolate_b").click().run()
    assert at.title[0].value == "Interpolate" and at.query_params["b_source"] == "Drawing"
    assert at.query_params["a_source"] == "Test image"  # the other end is left as it was


def test_a_drawing_of_another_size_in_the_link_is_ignored(open_app) -> None:
    at = open_app("pages/interpolate.py", a_source="Drawing", a_drawing=drawing.to_text(torch.rand(1, 8, 8)))
    assert_clean(at)
    assert any("Ignored a_drawing=" in t.value for t in at.toast)
    assert at.segmented_control(key="a_source").value == "Test image"


def test_the_pads_reference_scores_come_from_the_atlas_where_it_stores_them() -> None:
    for name, stored in (("mnist", "neg_elbo"), ("mnist-ae", "recon")):
        folder = ROOT / "checkpoints" / name
        ckpt, atlas = open_model(folder), load_atlas(folder)
        data, expected = load_test_set(ckpt.meta).subset(50), atlas.scores[stored][:50]
        assert torch.equal(pad_scores.scores_of_test_set(ckpt, data, atlas), expected)  # read, not recomputed
        torch.testing.assert_close(pad_scores.scores_of_test_set(ckpt, data), expected, atol=2e-4, rtol=1e-5)
