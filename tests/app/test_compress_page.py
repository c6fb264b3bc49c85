"""The Compress page: every kind of model (a deterministic one says it has no bits-back code, lossy still
works), an unlabelled RGB folder model, the files it offers decompressing, and bad files refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from tests.app.app_helpers import assert_clean, digit_folder, make_checkpoint, train_folder_model
from tests.app.test_family import FAMILY
from tests.app.test_interpolate import drawing as pen_drawing
from ui import drawing
from vae.compression import compress
from vae.store.checkpoint import load_checkpoint, weights_sha256

PAGE = "pages/compress.py"
MEMBERS = {name: FAMILY[name] for name in ("tiny-vae", "tiny-ae", "tiny-wae", "tiny-cvae")}


@pytest.fixture(scope="module")
def codec_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("codec-models")
    for seed, (name, cfg) in enumerate(MEMBERS.items()):
        make_checkpoint(root / name, cfg, seed=seed, train_steps=20)
    data = tmp_path_factory.mktemp("codec-data")
    train_folder_model(root / "rgb", digit_folder(data / "rgb", 60, rgb=True), "--channels", "3")
    return root


def opened(open_app, root: Path, **query: str) -> AppTest:
    at = open_app(PAGE, root=root, **query)
    assert_clean(at)
    return at


def charts(at: AppTest) -> dict[str, dict]:
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return {s["layout"]["title"]["text"]: s for s in specs}


@pytest.mark.parametrize("name", list(MEMBERS))
def test_every_member_compresses(open_app, codec_root: Path, name: str) -> None:
    at = opened(open_app, codec_root, model=name, index="3", precision="2")
    shown = charts(at)
    bars = shown["Lossless: this image's size under each codec"]["data"][0]["y"]
    assert {"PNG", "WebP lossless", "JPEG XL lossless", "gzip (bytes)"} <= set(bars)
    deterministic = MEMBERS[name].objective in ("ae", "wae")
    assert ("ours, in a chain" in bars) != deterministic
    assert any("No bits-back code" in i.value for i in at.info) == deterministic
    rd = shown["Lossy: quality against size"]["data"]
    assert [t["name"] for t in rd] == ["ours", "JPEG", "WebP", "chosen"]
    assert rd[3]["x"][0] == pytest.approx(rd[0]["x"][1])  # the chosen point: 2 bits per dimension
    assert at.query_params["precision"] == "2" and at.query_params["index"] == "3"


def test_the_downloaded_files_decompress_to_what_the_page_shows(open_app, download, codec_root: Path) -> None:
    at = opened(open_app, codec_root, model="tiny-vae", index="5", precision="3")
    folder = codec_root / "tiny-vae"
    model, sha = load_checkpoint(folder).model, weights_sha256(folder)
    lossless = compress.decompress(model, sha, download(at, "Download the lossless file"))
    assert lossless.header.mode == compress.LOSSLESS and lossless.images.shape == (1, 1, 28, 28)
    lossy = compress.decompress(model, sha, download(at, "Download the lossy file (3 bits per dimension)"))
    assert lossy.header.precision == 3


def test_a_deterministic_model_offers_no_lossless_file(open_app, codec_root: Path) -> None:
    at = opened(open_app, codec_root, model="tiny-ae")
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download the lossless file" not in labels
    assert any(label.startswith("Download the lossy") for label in labels)


def test_an_unlabelled_rgb_folder_model_compresses(open_app, codec_root: Path) -> None:
    at = opened(open_app, codec_root, model="rgb", index="1")
    assert "Lossy: quality against size" in charts(at)
    assert "ours, in a chain" in charts(at)["Lossless: this image's size under each codec"]["data"][0]["y"]


def test_a_drawing_from_the_link_is_compressed(open_app, codec_root: Path) -> None:
    text = drawing.to_text(torch.zeros(1, 28, 28).index_fill_(2, torch.arange(10, 14), 1.0))
    at = opened(open_app, codec_root, model="tiny-vae", source="Drawing", drawing=text)
    assert at.segmented_control(key="source").value == "Drawing"
    assert at.query_params["drawing"] == text


def test_the_draw_page_hands_its_drawing_to_compress(open_app, monkeypatch) -> None:
    monkeypatch.setenv("LATENT_EXPLORER_NO_BROWSER_DECODER", "1")  # the pad's fallback: an uploaded drawing
    at = open_app("pages/draw.py")
    at.file_uploader(key="draw_upload").set_value(("ring.png", pen_drawing("ring"), "image/png")).run()
    at.button(key="to_compress").click().run()
    assert_clean(at)
    assert at.title[0].value == "Compress" and at.query_params["source"] == "Drawing"
    assert "Lossless: this image's size under each codec" in charts(at)


def test_a_source_kept_from_another_page_that_is_not_offered_here_gives_way(open_app, codec_root: Path) -> None:
    """The session remembers every page's values under one key each: a source another page or model left
    behind ("Drawing" without a drawing here, "Test image" for a model whose images are gone) falls back."""
    at = open_app(None, root=codec_root, model="tiny-vae")
    at.session_state["_remembered"] = {"source": "Drawing"}
    at.query_params = {"model": "tiny-vae"}
    at.switch_page(PAGE).run()
    assert_clean(at)
    assert at.session_state["source"] == "Test image"
