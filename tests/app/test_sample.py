"""The sample page: seeds and temperature decide the grid; conditional models sample per class."""

from __future__ import annotations

import io
import json
import zipfile

from tests.app.app_helpers import assert_clean, image_urls

SAMPLE = "pages/sample.py"


def test_the_seed_decides_the_grid(open_app) -> None:
    at = open_app(SAMPLE)
    assert_clean(at)
    assert at.title[0].value == "Sample"
    first = image_urls(at)
    at.number_input(key="seed").set_value(1).run()
    assert image_urls(at) != first and at.query_params["seed"] == "1"
    at.number_input(key="seed").set_value(0).run()
    assert image_urls(at) == first


def test_resample_temperature_and_grid_size(open_app) -> None:
    at = open_app(SAMPLE, seed="5", temperature="0.5", n="16")
    assert at.number_input(key="seed").value == 5 and at.slider(key="temperature").value == 0.5
    first = image_urls(at)
    at.button(key="resample").click().run()
    assert at.number_input(key="seed").value != 5 and image_urls(at) != first
    at.select_slider(key="n").set_value(100).run()
    assert_clean(at)
    assert any(c.value.startswith("100 samples") for c in at.caption)
    assert len(at.get("download_button")) == 2


def test_a_conditional_model_samples_each_class(open_app) -> None:
    at = open_app(SAMPLE, model="tiny-cond", per_class="3")
    assert_clean(at)
    assert at.slider(key="per_class").value == 3
    assert any(c.value.startswith("30 samples") for c in at.caption)


def test_hostile_values_in_the_link_fall_back(open_app) -> None:
    at = open_app(SAMPLE, seed="-1", temperature="nan", n="7")
    assert_clean(at)
    notices = " ".join(t.value for t in at.toast)
    assert "Ignored seed=" in notices and "Ignored temperature=" in notices and "Ignored n=" in notices
    assert at.number_input(key="seed").value == 0 and at.slider(key="temperature").value == 1.0


def test_the_grid_downloads_as_a_zip_too(open_app, download) -> None:
    at = open_app(SAMPLE, model="tiny-cond", per_class="2")
    assert_clean(at)
    assert {b.proto.label for b in at.get("download_button")} == {"Download PNG", "Download ZIP"}
    archive = zipfile.ZipFile(io.BytesIO(download(at, "Download ZIP")))
    folders = {name.split("/")[0] for name in archive.namelist() if name.endswith(".png")}
    assert len(folders) == 10 and len(archive.namelist()) == 21  # 2 per class, and the manifest
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["total"] == 20 and "--per-class 2" in manifest["command"]
    assert download(at, "Download PNG").startswith(b"\x89PNG")
