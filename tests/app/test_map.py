"""The latent map page: the atlas is built once when missing, selections from the link, fallbacks, staleness."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import torch

from tests.app.app_helpers import APP, ROOT, assert_clean, image_urls, live_data
from vae.analysis.atlas import ATLAS_META, ATLAS_TENSORS, build_atlas, load_atlas, save_atlas
from vae.datasets.data import load_dataset
from vae.networks.latent import encode_dataset
from vae.networks.model import VAE
from vae.store.checkpoint import load_checkpoint, save_checkpoint

MAP = "pages/map.py"


def chart_points(at) -> int:
    """Points on the in-browser map: the size of the map spec handed to the model runtime."""
    [spec] = [s for s in live_data(at, "live_map-runtime")["specs"] if s["format"] == "latent-explorer-map/1"]
    return spec["n"]


def test_the_map_is_built_once_with_the_whole_test_set_and_stored(open_app, fresh_root: Path) -> None:
    folder = fresh_root / "tiny"
    (folder / ATLAS_TENSORS).unlink()
    (folder / ATLAS_META).unlink()
    at = open_app(MAP, root=fresh_root)
    assert_clean(at)
    assert at.title[0].value == "Latent map"
    atlas = load_atlas(folder)
    assert len(atlas) == 10_000 and not atlas.stale and atlas.projections == ["pca"]
    assert chart_points(at) == 10_000
    built = (folder / ATLAS_TENSORS).stat().st_mtime_ns
    again = open_app(MAP, root=fresh_root)
    assert_clean(again)
    assert (folder / ATLAS_TENSORS).stat().st_mtime_ns == built  # loaded, not rebuilt
    assert chart_points(again) == 10_000


def test_a_read_only_checkpoint_keeps_its_map_in_memory(open_app, fresh_root: Path, monkeypatch) -> None:
    import ui.atlas

    def read_only(folder, atlas):
        raise PermissionError(13, "Permission denied", str(folder))

    monkeypatch.setattr(ui.atlas, "save_atlas", read_only)
    folder = fresh_root / "tiny"
    (folder / ATLAS_TENSORS).unlink()
    (folder / ATLAS_META).unlink()
    at = open_app(MAP, root=fresh_root)
    assert_clean(at)
    assert any("could not be saved" in w.value for w in at.warning)
    assert chart_points(at) == 10_000
    at.run()  # the next run finds it in memory
    assert_clean(at)
    assert not any("could not be saved" in w.value for w in at.warning) and chart_points(at) == 10_000


def test_one_selected_point_shows_its_images_code_and_neighbours(open_app) -> None:
    at = open_app(MAP, selected="5")
    assert_clean(at)
    assert at.subheader[0].value.startswith("Test image #5 · ")
    assert len(image_urls(at)) >= 2 + 8  # original, reconstruction, eight neighbours
    assert any(c.proto.spec and '"type":"bar"' in c.proto.spec.replace(" ", "") for c in at.get("plotly_chart"))
    assert at.query_params["selected"] == "5"


def test_many_selected_points_show_as_a_grid(open_app) -> None:
    at = open_app(MAP, selected="1,2,3", projection="pca")
    assert_clean(at)
    assert at.subheader[0].value == "3 points selected"
    assert at.query_params["selected"] == "1,2,3"


def test_hostile_values_in_the_link_fall_back(open_app) -> None:
    at = open_app(MAP, selected="99999", projection="umap")  # out of range; no UMAP in a PCA-only atlas
    assert_clean(at)
    notices = " ".join(t.value for t in at.toast)
    assert "selected" in notices and "projection" in notices
    assert at.segmented_control(key="projection").value == "pca"
    assert any("Nothing selected" in c.value for c in at.caption)
    at = open_app(MAP, selected="../../etc")
    assert_clean(at)
    assert "selected" in at.toast[0].value


def test_a_stale_map_is_flagged_and_can_be_rebuilt(open_app, fresh_root: Path) -> None:
    folder = fresh_root / "tiny"
    ckpt = load_checkpoint(folder)
    torch.manual_seed(99)
    save_checkpoint(folder, VAE(ckpt.model.cfg), ckpt.meta)
    at = open_app(MAP, root=fresh_root)
    assert_clean(at)
    assert any("earlier weights" in w.value for w in at.warning)
    at.button(key="rebuild_atlas").click().run()
    assert_clean(at)
    assert not load_atlas(folder).stale


def test_open_in_sliders_carries_the_code(open_app, model_root: Path) -> None:
    at = open_app(MAP, selected="7")
    at.button(key="to_sliders").click().run()
    assert_clean(at)
    assert at.title[0].value == "Latent sliders"
    ckpt = load_checkpoint(model_root / "tiny")
    mu, _ = encode_dataset(ckpt.model, load_dataset("mnist", "test").subset(8))
    assert live_data(at, "live_sliders")["z"] == [round(v, 2) for v in mu[7].tolist()]


def test_the_map_mounts_with_thumbnails_and_a_pin_reaches_the_sliders(open_app) -> None:
    at = open_app(MAP)
    assert_clean(at)
    data = live_data(at, "live_map")
    assert {"map", "decoder", "sprite"} <= set(data["resources"]) and data["pinned"] is None
    assert data["sprite"] == {"columns": 20, "tile": 28}  # the atlas's 400 test images, 20 to a row
    assert "pin" not in at.query_params
    at = open_app(MAP, pin="0.5,-1", z="1,2,3,0.5")  # a link to a pinned place
    assert_clean(at)
    assert live_data(at, "live_map")["pinned"] == [0.5, -1]
    assert any("Pinned at (0.50, -1.00)" in c.value for c in at.caption)
    assert at.query_params["pin"] == "0.5,-1" and at.query_params["z"] == "1,2,3,0.5"
    at.button(key="pin_to_sliders").click().run()
    assert_clean(at)
    assert at.title[0].value == "Latent sliders" and live_data(at, "live_sliders")["z"] == [1, 2, 3, 0.5]
    assert at.query_params["z"] == "1,2,3,0.5"


def test_a_pin_that_is_not_a_place_says_no_pin_is_used(open_app) -> None:
    at = open_app(MAP, pin="NaN")
    assert_clean(at)
    notice = next(t.value for t in at.toast if "pin" in t.value)
    assert "Using no pin instead" in notice and "None" not in notice
    assert "pin" not in at.query_params


def test_forced_fallback_keeps_the_map_without_decoding(open_app) -> None:
    at = open_app(MAP, decoder="server", selected="5")
    assert_clean(at)
    assert chart_points(at) == 400 and "decoder" not in live_data(at, "live_map")["resources"]
    assert any("Browser decoding is switched off" in c.value for c in at.caption)
    assert at.subheader[0].value.startswith("Test image #5")


def test_the_trustworthiness_is_shown_and_neighbours_kept_colour_the_map(open_app) -> None:
    at = open_app(MAP, colour="kept")
    assert_clean(at)
    assert any("Trustworthiness" in c.value for c in at.caption)
    colouring = live_data(at, "live_map")["colouring"]
    assert colouring["kind"] == "scale" and colouring["range"] == [0, 10] and "neighbours kept" in colouring["title"]


def test_opening_the_map_never_imports_umap(model_root: Path) -> None:
    """A stored atlas is read without umap (importing it takes seconds)."""
    script = f"""
import sys
from pathlib import Path
import ui.models
ui.models.PROJECT_CHECKPOINTS = Path({str(model_root)!r})
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({APP!r}, default_timeout=60).run()
at.query_params["selected"] = "3"
at.switch_page({MAP!r}).run()
assert not at.exception and at.title[0].value == "Latent map", at.exception
assert "umap" not in sys.modules, "umap was imported"
print("ok")
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "LATENT_EXPLORER_CHECKPOINTS": ""}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]


def test_the_map_shows_test_training_or_both_images_once_an_atlas_of_both_is_built(open_app, fresh_root: Path) -> None:
    at = open_app(MAP, root=fresh_root)
    assert_clean(at)
    assert any("--split all" in c.value for c in at.caption)  # how to put the training images on the map
    folder = fresh_root / "tiny"
    ckpt = load_checkpoint(folder)
    test, train = load_dataset("mnist", "test").subset(30), load_dataset("mnist", "train").subset(50)
    save_atlas(folder, build_atlas(ckpt, test, use_umap=False, train=train, scores=True, nll_k=2))
    at = open_app(MAP, root=fresh_root, split="train", selected="3", colour="nll")
    assert_clean(at)
    assert chart_points(at) == 50 and live_data(at, "live_map")["sprite"]["columns"] == 8
    assert live_data(at, "live_map")["parts"] == [["Training image", 50]]  # the view names its points so
    assert at.subheader[0].value.startswith("Training image #3 · ")
    colour = at.selectbox(key="colour")
    assert colour.value == "class" and colour.options == ["Class", "Neighbours kept"]  # no scores for training images
    assert "test images only" in colour.help
    assert at.query_params["split"] == "train"
    at.segmented_control(key="split").set_value("all").run()
    assert_clean(at)
    assert chart_points(at) == 80 and at.query_params["split"] == "all" and "selected" not in at.query_params
    assert any(c.value.startswith("30 test and 50 training images") for c in at.caption)
    assert "Neighbours kept" in at.selectbox(key="colour").options and len(at.selectbox(key="colour").options) > 3
    assert live_data(at, "live_map")["parts"] == [["Test image", 30], ["Training image", 50]]
    at.segmented_control(key="split").set_value("test").run()
    at.selectbox(key="colour").set_value("nll").run()
    assert_clean(at)
    assert chart_points(at) == 30 and live_data(at, "live_map")["colouring"]["kind"] == "scale"
    assert live_data(at, "live_map")["parts"] is None  # the test map: "image #i" as ever
    at.segmented_control(key="split").set_value("all").run()  # coloured by a score, then Both: training images grey
    assert_clean(at)
    colouring = live_data(at, "live_map")["colouring"]
    assert at.selectbox(key="colour").value == "nll" and colouring["kind"] == "scale"
    assert colouring["missing"] == "training images: no score" and "stay grey" in at.selectbox(key="colour").help
    at = open_app(MAP, root=fresh_root, split="all", selected="40", colour="nll")
    assert_clean(at)
    assert at.subheader[0].value.startswith("Training image #10 · ")
    assert any(c.value == "Anomaly scores are kept for the test images only." for c in at.caption)
    neighbours = [caption for element in at.image for caption in element.captions if " · d " in caption]
    assert len(neighbours) == 8  # named as the map view names points, "training #12", "test #3"
    assert all(re.match(r"(test|training) #\d+ · ", name) for name in neighbours), neighbours
