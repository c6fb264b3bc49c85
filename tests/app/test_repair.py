"""The repair page: test images and uploads, each corruption with the repairs that fit it, the box's
numbers, conditional and deterministic models, and link fallbacks."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from tests.app.app_helpers import assert_clean, image_urls, make_checkpoint
from ui.box_picker import box_from_selection
from vae.datasets.data import load_dataset
from vae.networks.config import ModelConfig

REPAIR = "pages/repair.py"


def titles(at) -> list[str]:
    """The strip's panel titles, in order."""
    return [m.value.strip("*") for m in at.markdown if m.value.startswith("**")]


def scores(at) -> list[str]:
    return [m.value for m in at.markdown if "PSNR" in m.value]


def pen_drawing() -> bytes:
    image = Image.new("RGB", (160, 160), "white")
    ImageDraw.Draw(image).ellipse([30, 20, 130, 140], outline="black", width=16)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def test_a_box_over_a_test_image_is_inpainted(open_app) -> None:
    at = open_app(REPAIR, index="4")
    assert_clean(at)
    assert at.title[0].value == "Repair"
    assert titles(at) == ["Original", "Corrupted", "Reconstruction", "Inpainting", "Nearest fill"]
    assert len(scores(at)) == 4 and sum(":green[" in s for s in scores(at)) == 1  # one best repair
    assert [at.number_input(key=k).value for k in ("box_top", "box_left", "box_height", "box_width")] == [9, 9, 10, 10]
    assert any(c.proto.spec and '"type":"image"' in c.proto.spec.replace(" ", "") for c in at.get("plotly_chart"))
    before = image_urls(at)
    at.number_input(key="box_top").set_value(2).run()
    assert_clean(at)
    after = image_urls(at)
    assert len(after) == 4 and all(a != b for a, b in zip(after, before, strict=True))  # the original is the picker
    assert at.query_params["box_top"] == "2" and at.query_params["kind"] == "box" and at.query_params["index"] == "4"


@pytest.mark.parametrize("kind, methods", [
    ("noise", ["Reconstruction", "Median filter"]),
    ("salt_pepper", ["Reconstruction", "Inpainting", "Median filter", "Nearest fill"]),
    ("top", ["Reconstruction", "Inpainting", "Nearest fill"]),
    ("bottom", ["Reconstruction", "Inpainting", "Nearest fill"]),
])
def test_each_corruption_shows_the_repairs_that_fit(open_app, kind: str, methods: list[str]) -> None:
    at = open_app(REPAIR, kind=kind)
    assert_clean(at)
    assert titles(at) == ["Original", "Corrupted", *methods]
    assert not at.get("plotly_chart")  # the box picker only for the box


def test_noise_level_and_new_noise_change_the_corruption(open_app) -> None:
    at = open_app(REPAIR, kind="salt_pepper", rate="20", seed="3")
    assert at.slider(key="rate").value == 20
    first = image_urls(at)
    at.button(key="new_noise").click().run()
    assert_clean(at)
    assert at.query_params["seed"] != "3" and image_urls(at)[1] != first[1]
    at.segmented_control(key="kind").set_value("noise").run()
    at.slider(key="sigma").set_value(0.6).run()
    assert_clean(at)
    assert at.query_params["sigma"] == "0.6" and "rate" not in at.query_params


def test_random_picks_another_test_image(open_app) -> None:
    at = open_app(REPAIR, index="0")
    at.button(key="random").click().run()
    assert_clean(at)
    assert at.query_params["index"] == str(at.number_input(key="index").value)


def test_an_upload_is_repaired(open_app) -> None:
    at = open_app(REPAIR, source="Upload", kind="bottom")
    assert_clean(at)
    assert any("Upload an image" in i.value for i in at.info)
    at.file_uploader(key="upload").set_value(("ring.png", pen_drawing(), "image/png")).run()
    assert_clean(at)
    assert titles(at)[:3] == ["Original", "Corrupted", "Reconstruction"] and not at.info
    assert any("your upload" in m.value for m in at.markdown)
    at.file_uploader(key="upload").set_value(("bad.png", b"not a picture", "image/png")).run()
    assert_clean(at)
    assert any("bad.png" in e.value for e in at.error)


def test_a_conditional_model_is_given_the_label(open_app) -> None:
    labels = load_dataset("mnist", "test").labels
    at = open_app(REPAIR, model="tiny-cond", index="3", kind="top")
    assert_clean(at)
    assert any(f"#3 · {labels[3].item()}" in m.value for m in at.markdown)
    assert len(titles(at)) == 5
    at.segmented_control(key="source").set_value("Upload").run()
    at.file_uploader(key="upload").set_value(("ring.png", pen_drawing(), "image/png")).run()
    assert_clean(at)
    before = image_urls(at)
    at.selectbox(key="label").set_value(5).run()
    assert_clean(at)
    assert at.query_params["label"] == "5" and image_urls(at)[2:] != before[2:]


def test_a_deterministic_model_inpaints_too(open_app, fresh_root: Path) -> None:
    make_checkpoint(fresh_root / "tiny-ae", ModelConfig(arch="conv", latent_dim=4, hidden=4, objective="ae"))
    at = open_app(REPAIR, root=fresh_root, model="tiny-ae", kind="box")
    assert_clean(at)
    assert "Inpainting" in titles(at)


def test_hostile_values_in_the_link_fall_back(open_app) -> None:
    at = open_app(REPAIR, kind="blur", index="-1", box_top="99", box_width="0", sigma="nan", source="../x")
    assert_clean(at)
    notices = " ".join(t.value for t in at.toast)
    for key in ("kind=", "index=", "box_top=", "box_width=", "source="):
        assert f"Ignored {key}" in notices
    assert at.number_input(key="box_top").value == 9 and titles(at)[3] == "Inpainting"


def test_a_box_past_the_edge_is_clipped(open_app) -> None:
    at = open_app(REPAIR, box_top="20", box_left="20", box_height="28", box_width="28")
    assert_clean(at)
    assert any("rows 20–27, columns 20–27" in c.value for c in at.caption)


def test_a_dragged_box_covers_the_pixels_it_touches() -> None:
    assert box_from_selection({"box": [{"x": [7.9, 16.3], "y": [19.1, 7.9]}]}, 28, 28) == (8, 8, 12, 9)
    assert box_from_selection({"box": [{"x": [-5, 40], "y": [3.2, 3.3]}]}, 28, 28) == (3, 0, 1, 28)
    assert box_from_selection({"box": [], "points": []}, 28, 28) is None
    assert box_from_selection(None, 28, 28) is None
    assert box_from_selection({"box": [{"x": ["a", 2], "y": [1, 2]}]}, 28, 28) is None
    assert box_from_selection({"box": [{"x": [float("nan"), 2], "y": [1, 2]}]}, 28, 28) is None
