"""Models nobody here wrote, in the app: every page on each of them as ONNX and as trusted code, and broken model
folders listed with their reasons while every other model keeps working."""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path

import pytest

from tests.app.app_helpers import ATLAS_SUBSET, assert_clean
from vae.analysis.atlas import build_atlas, load_test_set, save_atlas
from vae.models.model_json import ENCODER, MODEL_JSON
from vae.models.sources import open_model

PAGES = ["pages/home.py", "pages/map.py", "pages/sliders.py", "pages/interpolate.py", "pages/sample.py",
         "pages/compare.py", "pages/anomalies.py", "pages/draw.py", "pages/repair.py", "pages/compress.py"]
MODELS = [f"{name}-{kind}" for name in ("classic", "conv-bn", "rgb-resnet", "spatial") for kind in ("onnx", "code")]
TRUST = "opened only when the app or command is started with --trust-code"


@pytest.fixture(scope="module")
def own_root(own_models, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The examples as ONNX and as code, each with a PCA atlas, beside three broken folders."""
    root = tmp_path_factory.mktemp("own")
    for name, folders in own_models.items():
        for kind, folder in zip(("code", "onnx"), folders, strict=True):
            target = Path(shutil.copytree(folder, root / f"{name}-{kind}"))
            ckpt = open_model(target, trust_code=True)
            data = load_test_set(ckpt.meta).subset(ATLAS_SUBSET)
            save_atlas(target, build_atlas(ckpt, data, use_umap=False))
    truncated = Path(shutil.copytree(root / "classic-onnx", root / "truncated-onnx"))
    (truncated / ENCODER).write_bytes((truncated / ENCODER).read_bytes()[:100])
    raises = root / "raises-on-import"
    raises.mkdir()
    (raises / "broken_vae.py").write_text("raise RuntimeError('no GPU here')\n")
    meta = json.loads((root / "spatial-code" / MODEL_JSON).read_text())
    (raises / MODEL_JSON).write_text(json.dumps({**meta, "code": "broken_vae:build"}))
    return root


@pytest.fixture
def trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app as `streamlit run app.py -- --trust-code` starts it."""
    monkeypatch.setattr(sys, "argv", [*sys.argv, "--trust-code"])


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("page", PAGES)
def test_every_page_on_every_model_from_elsewhere(open_app, own_root: Path, trusted, model: str, page: str) -> None:
    at = open_app(page, root=own_root, model=model)
    assert_clean(at)
    assert at.query_params["model"] == [model] or at.query_params["model"] == model


def test_a_pin_on_the_map_of_a_spatial_latent_reaches_the_sliders(open_app, own_root: Path, trusted) -> None:
    """196 numbers: the caption writes out the first ones, the button hands them all to the sliders."""
    z = ",".join(f"{(i % 7 - 3) / 10:g}" for i in range(4 * 7 * 7))
    at = open_app("pages/map.py", root=own_root, model="spatial-onnx", pin="0.5,-1", z=z)
    assert_clean(at)
    assert any(c.value.startswith("Pinned at (0.50, -1.00)") and c.value.endswith("… (196 in all)")
               for c in at.caption)
    at.button(key="pin_to_sliders").click().run()
    assert_clean(at)
    assert at.title[0].value == "Latent sliders" and at.query_params["z"] == z


def test_broken_folders_are_listed_with_their_reason_and_the_rest_work(open_app, own_root: Path, caplog,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    with caplog.at_level(logging.WARNING):
        monkeypatch.setattr(sys, "argv", [a for a in sys.argv if a != "--trust-code"])
        at = open_app("pages/home.py", root=own_root, model="classic-onnx")
    assert_clean(at)
    errors = [e.value for e in at.error]
    untrusted = {name: TRUST for name in [*MODELS[1::2], "raises-on-import"]}  # never imported: no flag
    for name, reason in {"truncated-onnx": "not an ONNX model, or truncated", **untrusted}.items():
        assert any(f"**{name}** is broken" in e and reason in e for e in errors), name
    assert not any("Traceback" in r.getMessage() or r.exc_info for r in caplog.records)
    shown = {m.label: m.value for m in at.metric}
    assert shown["Architecture"] == "ONNX" and shown["Latent size"] == "20" and shown["Kind"] == "VAE"


def test_trusted_code_opens_with_the_flag(open_app, own_root: Path, trusted) -> None:
    at = open_app("pages/home.py", root=own_root, model="spatial-code")
    assert_clean(at)
    shown = {m.label: m.value for m in at.metric}
    assert shown["Architecture"] == "own code" and shown["Latent size"] == "4×7×7"
    architecture = next(m for m in at.metric if m.label == "Architecture")
    assert "examples.own_models.spatial:build" in architecture.proto.help
    errors = [e.value for e in at.error]
    assert not any("**spatial-code** is broken" in e for e in errors)
    assert any("**raises-on-import** is broken" in e and "importing 'broken_vae' raised RuntimeError: no GPU here" in e
               for e in errors)
