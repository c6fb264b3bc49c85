"""ui.live_decoder's Python side in AppTest: when it mounts, when it falls back, what it refuses.

What the browser does with the component is tests/browser/test_live_decoder.py's business.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from streamlit.testing.v1 import AppTest

from ui.live_decoder import _view_data, atlas_spec, model_spec
from vae.atlas import Atlas
from vae.checkpoint import Checkpoint
from vae.config import ModelConfig
from vae.export import decoder_spec, map_spec
from vae.model import VAE


def spec() -> dict[str, Any]:
    return decoder_spec(VAE(ModelConfig(arch="mlp", latent_dim=2, hidden=8)))


def page(without_spec: bool = False) -> None:
    import streamlit as st

    from tests.test_live_decoder_ui import spec
    from ui.live_decoder import live_decoder

    result = live_decoder("sliders", None if without_spec else spec(), key="live")
    st.text(f"available={result.available} error={result.error} z={result.z}")


def run(query: dict[str, str] | None = None, **kwargs: object) -> AppTest:
    at = AppTest.from_function(page, kwargs=kwargs, default_timeout=60)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


def test_mounts_and_reports_nothing_committed_yet() -> None:
    at = run()
    assert not at.exception
    assert at.text[0].value == "available=True error=None z=None"


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


def test_an_error_from_the_browser_sticks_for_the_session() -> None:
    at = AppTest.from_function(page, default_timeout=60)
    at.session_state["live"] = {"error": "the live decoder has no tanh layer"}
    at.run()
    assert "Browser decoding failed (the live decoder has no tanh layer)" in at.text[0].value
    at.run()
    assert "Browser decoding failed" in at.text[0].value


@pytest.mark.parametrize(("mode", "options", "message"), [
    ("sliders", {"z": [0.0]}, "sliders need z of length 2"),
    ("sliders", {"dims": [0, 5]}, "sliders need"),
    ("map", {"atlas": None}, "map mode needs an atlas"),
    ("path", {"path": [[0.0, 0.0]]}, "at least two codes"),
    ("orbit", {}, "mode must be"),
])
def test_bad_arguments_are_refused(mode: str, options: dict[str, Any], message: str) -> None:
    defaults = {"z": None, "label": None, "dims": None, "labels": None, "inactive": set(), "bounds": (-3, 3),
                "step": 0.01, "pinned": None, "path": None, "t": 0.0, "end_labels": ("A", "B"), "image_size": 96}
    atlas = map_spec(torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=message):
        _view_data(mode, spec(), options.pop("atlas", atlas), **{**defaults, **options})


def test_specs_are_made_once_per_model_and_atlas(tmp_path: Path) -> None:
    ckpt = Checkpoint(tmp_path, VAE(ModelConfig(arch="conv", latent_dim=2, hidden=4)), {})
    assert model_spec(ckpt) is model_spec(ckpt)
    assert model_spec(ckpt)["id"] == decoder_spec(ckpt.model)["id"]
    other = VAE(ModelConfig(arch="conv", latent_dim=2, hidden=4))
    other.decoder.append(torch.nn.Tanh())
    assert model_spec(Checkpoint(tmp_path, other, {})) is None  # another model: made afresh, and unsupported
    n = 5
    atlas = Atlas({"pca": torch.randn(n, 2)}, torch.randn(n, 2), torch.zeros(n, 2), torch.zeros(n),
                  torch.arange(n) % 2, torch.zeros(2), torch.eye(2), {"weights_sha256": "abc"})
    assert atlas_spec(atlas, "pca", ["a", "b"]) is atlas_spec(atlas, "pca", ["a", "b"])
    assert atlas_spec(atlas, "pca", ["a", "b"])["class_names"] == ["a", "b"]
