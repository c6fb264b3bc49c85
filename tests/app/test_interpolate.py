"""The interpolation page: from test images by index or class, from uploads, and link fallbacks."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from tests.app.app_helpers import assert_clean, image_urls, live_data
from vae.datasets.data import load_dataset

INTERPOLATE = "pages/interpolate.py"


def drawing(kind: str) -> bytes:
    """A pen drawing on white paper: a bar ("1") or a ring ("0")."""
    image = Image.new("RGB", (200, 200), "white")
    draw = ImageDraw.Draw(image)
    if kind == "bar":
        draw.rectangle([90, 20, 110, 180], fill="black")
    else:
        draw.ellipse([40, 30, 160, 170], outline="black", width=18)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def test_a_path_between_two_test_images(open_app, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LATENT_EXPLORER_NO_BROWSER_DECODER", "1")  # the server scrubber
    at = open_app(INTERPOLATE, a="3", b="7", steps="5", method="spherical")
    assert_clean(at)
    assert at.title[0].value == "Interpolate"
    assert at.number_input(key="a").value == 3 and at.number_input(key="b").value == 7
    assert any("5 steps, spherical" in m.value for m in at.markdown)
    assert len(at.get("download_button")) == 2
    before = image_urls(at)
    at.slider(key="scrub5").set_value(4).run()
    assert_clean(at)
    assert any("step 4 of 5" in c for element in at.image for c in element.captions)
    assert image_urls(at) != before
    at.slider(key="steps").set_value(8).run()
    assert any("8 steps" in m.value for m in at.markdown)
    assert at.query_params["steps"] == "8" and at.query_params["a"] == "3"


def test_the_live_scrubber_gets_a_fine_path_and_the_step(open_app) -> None:
    at = open_app(INTERPOLATE, a="3", b="7", steps="5", step="4", method="spherical")
    assert_clean(at)
    data = live_data(at, "live_path")
    assert "decoder" in data["resources"] and len(data["path"]) == 64 and data["t"] == 0.75
    assert not [s for s in at.slider if s.key.startswith("scrub")]
    at.slider(key="steps").set_value(7).run()  # step 4 of 7 is halfway
    assert live_data(at, "live_path")["t"] == 0.5 and at.query_params["step"] == "4"


def test_forced_fallback_shows_the_server_scrubber_with_a_notice(open_app) -> None:
    at = open_app(INTERPOLATE, a="3", b="7", steps="5", decoder="server")
    assert_clean(at)
    assert any("Browser decoding is switched off" in c.value for c in at.caption)
    assert not at.get("bidi_component") and at.slider(key="scrub5").value == 1


def test_a_random_image_of_a_chosen_class(open_app) -> None:
    labels = load_dataset("mnist", "test").labels
    at = open_app(INTERPOLATE)
    at.selectbox(key="b_class").set_value(6).run()
    at.button(key="b_random").click().run()
    assert_clean(at)
    assert labels[at.number_input(key="b").value] == 6


def test_the_class_beside_a_test_image_reads_as_the_random_buttons(open_app) -> None:
    """Image A is a 7 while the box beside it says 6: the box must say it is the Random button's class."""
    labels = load_dataset("mnist", "test").labels
    at = open_app(INTERPOLATE, a="0")
    at.selectbox(key="a_class").set_value(6).run()
    assert_clean(at)
    assert int(labels[0]) != 6
    for side in ("a", "b"):
        box = at.selectbox(key=f"{side}_class")
        assert box.label != "Class" and "Random" in box.label
        assert "Random" in box.help and "caption" in box.help


def test_a_path_between_two_uploads(open_app) -> None:
    at = open_app(INTERPOLATE, a_source="Upload", b_source="Upload")
    assert_clean(at)
    assert any("Choose both images" in i.value for i in at.info)
    at.file_uploader(key="a_upload").set_value(("one.png", drawing("bar"), "image/png"))
    at.file_uploader(key="b_upload").set_value(("zero.png", drawing("ring"), "image/png"))
    at.run()
    assert_clean(at)
    assert not at.info and len(at.get("download_button")) == 2
    assert any("Inverted" in c.value for c in at.caption)  # dark ink on white paper, MNIST is the other way
    assert at.query_params["a_source"] == "Upload" and "a" not in at.query_params


def test_a_bad_upload_is_refused_with_a_message(open_app) -> None:
    at = open_app(INTERPOLATE, a_source="Upload")
    at.file_uploader(key="a_upload").set_value(("notes.png", b"this is not a picture", "image/png")).run()
    assert_clean(at)
    assert any("notes.png" in e.value and "not an image" in e.value for e in at.error)
    assert any("Choose both images" in i.value for i in at.info)


def test_hostile_values_in_the_link_fall_back(open_app) -> None:
    at = open_app(INTERPOLATE, a="99999", b="-4", steps="1000", method="evil", a_source="../../etc")
    assert_clean(at)
    notices = " ".join(t.value for t in at.toast)
    for key in ("a=", "b=", "steps=", "method=", "a_source="):
        assert f"Ignored {key}" in notices
    assert at.number_input(key="a").value == 0 and at.number_input(key="b").value == 1
    assert at.slider(key="steps").value == 10


def test_a_conditional_model_encodes_each_end_as_its_class(open_app) -> None:
    labels = load_dataset("mnist", "test").labels
    at = open_app(INTERPOLATE, model="tiny-cond", a="3", b="7")
    assert_clean(at)
    assert at.selectbox(key="label").value == labels[3]  # decoded as A's class until told otherwise
    before = image_urls(at)
    at.selectbox(key="label").set_value(5).run()
    assert_clean(at)
    after = image_urls(at)
    assert after[:4] == before[:4] and after[4] != before[4]  # ends and their reconstructions kept; path redrawn
    at.segmented_control(key="b_source").set_value("Upload").run()
    at.file_uploader(key="b_upload").set_value(("ring.png", drawing("ring"), "image/png")).run()
    assert_clean(at)
    assert len(at.get("download_button")) == 2


def test_a_links_values_survive_while_an_end_is_missing(open_app) -> None:
    at = open_app(INTERPOLATE, a_source="Upload", projection="pca", step="4", steps="6")
    assert any("Choose both images" in i.value for i in at.info)
    assert at.query_params["projection"] == "pca" and at.query_params["step"] == "4"
    at.segmented_control(key="a_source").set_value("Test image").run()
    assert_clean(at)
    assert at.segmented_control(key="projection").value == "pca" and at.query_params["step"] == "4"
