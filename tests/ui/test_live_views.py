"""ui.live's Python side in AppTest: when views mount, when they fall back, what they refuse; the bundles.

What the browser does with the components is tests/browser/test_live_views.py's business.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import torch
from streamlit.testing.v1 import AppTest

from ui.live import map as live_map_module
from ui.live import path as live_path_module
from ui.live import runtime
from ui.live import sliders as live_sliders_module
from ui.live.map import Backdrop, _stops, by_value
from ui.live.pad import _reader, pad_side, parse_strokes
from ui.live.runtime import COMPONENTS, atlas_spec, bundle, decoder_of, encoder_of
from vae.analysis.atlas import Atlas
from vae.networks.config import ModelConfig
from vae.networks.model import VAE
from vae.store.checkpoint import Checkpoint

ROOT = Path(__file__).resolve().parents[2]
VIEWS = ("sliders", "map", "path", "pad")


def spec() -> dict[str, Any]:
    """A decoder spec as the browser gets one (what its network is does not matter to the Python side)."""
    return {"format": "latent-explorer-onnx-decoder/1", "id": "decoder", "latent_shape": [2], "latent_dim": 2,
            "image_shape": [1, 28, 28], "output": "logits", "conditional": False, "onnx": "",
            "runtime": "/app/static/ort/"}


def page(without_spec: bool = False) -> None:
    import streamlit as st

    from tests.ui.test_live_views import spec
    from ui.live.sliders import live_sliders

    result = live_sliders(None if without_spec else spec(), key="live")
    st.text(f"available={result.available} error={result.error} z={result.z}")


def run(query: dict[str, str] | None = None, **kwargs: object) -> AppTest:
    at = AppTest.from_function(page, kwargs=kwargs, default_timeout=60)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


def test_mounts_the_runtime_and_the_view_and_reports_nothing_committed_yet() -> None:
    at = run()
    assert not at.exception
    assert at.text[0].value == "available=True error=None z=None"
    assert [e.key for e in at.get("bidi_component")] == ["live-runtime", "live"]


def test_environment_variable_forces_the_server_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LATENT_EXPLORER_NO_BROWSER_DECODER", "1")
    assert "available=False error=Browser decoding is switched off" in run().text[0].value


def test_url_parameter_forces_the_server_path_for_the_session() -> None:
    at = run(query={"decoder": "server"})
    assert "switched off" in at.text[0].value
    del at.query_params["decoder"]  # pages rewrite their URL after the first run
    assert "switched off" in at.run().text[0].value
    at.query_params["decoder"] = "browser"
    assert "available=True" in at.run().text[0].value


def test_a_decoder_without_a_spec_falls_back() -> None:
    assert "cannot run in the browser" in run(without_spec=True).text[0].value


def test_without_onnxruntime_files_the_view_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "ORT_FILES", ("not-installed.wasm",))
    assert "The browser runtime is missing (onnxruntime-web is not in static/ort/: run make)" in run().text[0].value


def test_an_error_from_the_browser_sticks_for_the_session() -> None:
    at = AppTest.from_function(page, default_timeout=60)
    at.session_state["live"] = {"error": "the model runtime has no tanh layer"}
    at.run()
    assert "Browser decoding failed (the model runtime has no tanh layer)" in at.text[0].value
    at.run()
    assert "Browser decoding failed" in at.text[0].value


@pytest.mark.parametrize(("make", "message"), [
    (lambda: live_sliders_module.view_data(2, [0.0], None, None, set(), (-3, 3), 0.1, ()), "z of length 2"),
    (lambda: live_sliders_module.view_data(2, None, [0, 5], None, set(), (-3, 3), 0.1, ()), "dims within it"),
    (lambda: live_sliders_module.view_data(2, None, None, None, set(), (-3, 3), 0.1,
                                           [live_sliders_module.Direction("d", [1.0])]), "every direction needs 2"),
    (lambda: live_sliders_module.view_data(2, [float("nan"), 0], None, None, set(), (-3, 3), 0.1, ()), "finite"),
    (lambda: live_path_module.view_data(2, [[0.0, 0.0]], 0, ("A", "B")), "at least two codes"),
    (lambda: Backdrop("data:image/png;base64,AA", (1, 0, 0, 1)).spec(), "x0 < x1"),
    (lambda: Backdrop("https://example.com/a.png", (0, 1, 0, 1)).spec(), "data URL"),
])
def test_bad_arguments_are_refused(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_directions_are_sent_with_their_values_clamped_into_their_bounds() -> None:
    data = live_sliders_module.view_data(2, None, None, None, set(), (-3, 3), 0.1,
                                         [live_sliders_module.Direction("smile", [0.5, -1], value=9, bounds=(-2, 2))])
    assert data["directions"] == [{"label": "smile", "vector": [0.5, -1.0], "bounds": [-2.0, 2.0], "value": 2.0}]
    assert data["z"] == [0.0, 0.0] and [s["label"] for s in data["sliders"]] == ["z0", "z1"]


def small_atlas(n: int = 5) -> Atlas:
    return Atlas({"pca": torch.randn(n, 2), "umap": torch.randn(n, 2)}, torch.randn(n, 2), torch.zeros(n, 2),
                 torch.zeros(n), torch.arange(n) % 2, torch.zeros(2), torch.eye(2), {"weights_sha256": "abc"})


def test_specs_are_exported_once_per_weights_and_atlas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "ONNX_CACHE", tmp_path / "cache")
    model = VAE(ModelConfig(arch="conv", latent_dim=2, hidden=4))
    ckpt = Checkpoint(tmp_path, model, {})
    assert decoder_of(ckpt) is decoder_of(ckpt) and encoder_of(ckpt) is encoder_of(ckpt)
    assert decoder_of(ckpt)["format"] == "latent-explorer-onnx-decoder/1"
    assert decoder_of(ckpt)["runtime"] == "/app/static/ort/" and encoder_of(ckpt)["latent_dim"] == 2
    exports = []
    monkeypatch.setattr(runtime, "onnx_networks", lambda m: exports.append(m) or [][0])
    twin = VAE(model.cfg)
    twin.load_state_dict(model.state_dict())
    assert decoder_of(Checkpoint(tmp_path, twin, {})) is decoder_of(ckpt) and not exports  # same weights: cached
    other = VAE(model.cfg)
    assert decoder_of(Checkpoint(tmp_path, other, {})) is None and exports == [other]  # export failed: server
    runtime._network_specs.clear()  # a server restart: the export is read back from the disk cache
    assert decoder_of(ckpt)["id"] == decoder_of(Checkpoint(tmp_path, twin, {}))["id"] and len(exports) == 1
    assert len(list((tmp_path / "cache").iterdir())) == 1
    atlas = small_atlas()
    assert atlas_spec(atlas, "pca", ["a", "b"]) is atlas_spec(atlas, "pca", ["a", "b"])
    assert atlas_spec(atlas, "pca", ["a", "b"])["class_names"] == ["a", "b"]
    assert atlas_spec(atlas, "pca", [])["placement"]["rule"] == "pca"
    assert atlas_spec(atlas, "umap", [])["placement"] == {"rule": "neighbours", "k": 8}


def test_a_value_colouring_carries_plotly_colour_stops_and_a_robust_range() -> None:
    stops = _stops("Viridis")
    assert stops[0] == [0.0, [68.0, 1.0, 84.0]] and stops[-1][0] == 1.0
    assert _stops([(0, "rgb(0, 0, 0)"), (1, "#ffffff")]) == [[0.0, [0.0, 0.0, 0.0]], [1.0, [255.0, 255.0, 255.0]]]
    values = torch.arange(101.0)
    colouring = by_value(values, values, "score", "Reds")
    assert colouring.data["range"] == [1.0, 99.0] and colouring.values["n"] == 101
    assert by_value(values, values, "score", value_range=(0, 5)).data["range"] == [0.0, 5.0]


def stroke_text(*strokes: tuple[int, list[int]]) -> str:
    data = b"".join(bytes([size, len(points) // 2 >> 8, len(points) // 2 & 255, *points]) for size, points in strokes)
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_strokes_are_checked_before_they_reach_the_pad() -> None:
    good = stroke_text((18, [10, 20, 30, 40]), (3, [5, 5]))
    assert parse_strokes(good) == good and parse_strokes("") == ""
    for bad in ("%%%", stroke_text((0, [1, 1])), good[:-3], "A" * 70_000):
        with pytest.raises(ValueError):
            parse_strokes(bad)
    assert pad_side(28, 28) == 224 and pad_side(32, 32) == 256 and pad_side(64, 64) == 256 and pad_side(8, 8) == 64


def test_a_pad_commit_is_read_and_a_malformed_one_counts_as_none() -> None:
    read, strokes = _reader((1, 2, 2), 3), stroke_text((18, [1, 2]))
    done = read({"strokes": strokes, "z": [1, 2, 3], "x": [0, 0.5, 1, 0], "label": 4, "fit": "pad", "score": 91.5})
    assert done.committed and done.z == [1.0, 2.0, 3.0] and done.image.shape == (1, 2, 2) and done.label == 4
    assert read({"strokes": "", "z": None, "x": None}).committed  # a cleared pad
    for bad in ({"strokes": strokes, "z": [1, 2], "x": [0, 0, 0, 0], "score": 1},
                {"strokes": strokes, "z": [1, 2, 3], "x": [0, 0, 9, 0], "score": 1},
                {"strokes": strokes, "z": [1, 2, 3], "x": [0, 0, 0, 0]},
                {"strokes": "%%", "z": [1, 2, 3], "x": [0, 0, 0, 0], "score": 1}, None):
        assert not read(bad).committed


def test_every_bundle_is_one_valid_module() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    entries = [COMPONENTS / "model_runtime" / "runtime.mjs", *(COMPONENTS / "views" / f"{v}.mjs" for v in VIEWS)]
    for entry in entries:
        source = bundle(entry)
        assert "\nimport " not in source and source.count("export default") == 1, entry
        check = subprocess.run([node, "--input-type=module", "--check"], input=source, capture_output=True, text=True)
        assert check.returncode == 0, f"{entry.name}: {check.stderr}"
    assert live_map_module.PICTURE_FORMAT in (COMPONENTS / "model_runtime" / "runtime.mjs").read_text()


def test_strokes_are_written_as_the_pad_writes_them() -> None:
    good = stroke_text((18, [10, 20, 30, 40]))
    padded = good + "=" * (-len(good) % 4)
    assert parse_strokes(padded) == good
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    loose = good[:-1] + alphabet[alphabet.index(good[-1]) + 1]  # the same bytes, with a stray bit in the last letter
    assert parse_strokes(loose) == good
