"""The commands on models nobody here wrote, as trusted code and as ONNX: evaluate gives the numbers that exist
(and says why the others do not), atlas, ood and generate work on every source."""

from __future__ import annotations

import json
import math

import pytest
import torch

from vae.__main__ import main
from vae.analysis.atlas import load_atlas
from vae.models.model_json import MODEL_JSON, NOTES_JSON
from vae.models.sources import open_model
from vae.store.checkpoint import read_meta

SOURCES = [(name, kind) for name in ("classic", "conv-bn", "rgb-resnet", "spatial") for kind in ("code", "onnx")]


def folder_of(own_models, name: str, kind: str):
    return own_models[name][0 if kind == "code" else 1]


def args(kind: str) -> list[str]:
    return ["--trust-code"] if kind == "code" else []


@pytest.mark.parametrize(("name", "kind"), SOURCES)
def test_code_and_onnx_decode_the_same_images(own_models, name: str, kind: str) -> None:
    code, onnx = (open_model(f, trust_code=True).model for f in own_models[name])
    z = torch.randn(100, code.latent_dim, generator=torch.Generator().manual_seed(1))
    y = torch.arange(100) % 10 if code.conditional else None
    with torch.no_grad():
        assert (code.image(z, y) - onnx.image(z, y)).abs().max() < 1e-4


@pytest.mark.parametrize(("name", "kind"), SOURCES)
def test_evaluate_gives_the_numbers_that_exist(own_models, capsys, name: str, kind: str) -> None:
    folder = folder_of(own_models, name, kind)
    before = (folder / MODEL_JSON).read_text()
    assert main(["evaluate", str(folder), "--subset", "30", "--k", "2", "--json", *args(kind)]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert 0 < metrics["test_images"] <= 30 and math.isfinite(metrics["recon_mse"])  # the RGB folder holds 19
    if name == "rgb-resnet":  # a mean image: no likelihood, so no NLL, ELBO or distortion, each with why
        assert {"nll_binarized", "continuous_test_loss", "distortion"} <= set(metrics["not_defined"])
        assert "nll_binarized" not in metrics and "no stated likelihood" in metrics["not_defined"]["distortion"]
    else:
        assert math.isfinite(metrics["nll_binarized"]) and metrics["not_defined"] == {}
    assert (folder / MODEL_JSON).read_text() == before  # the user's model.json is never rewritten
    assert json.loads((folder / NOTES_JSON).read_text())["metrics"]["test_images"] == metrics["test_images"]
    assert read_meta(folder)["metrics"]["recon_mse"] == metrics["recon_mse"]


@pytest.mark.parametrize(("name", "kind"), SOURCES)
def test_atlas_and_generate(own_models, tmp_path, name: str, kind: str) -> None:
    folder = folder_of(own_models, name, kind)
    assert main(["atlas", str(folder), "--subset", "40", "--no-umap", "--no-scores", *args(kind)]) == 0
    atlas = load_atlas(folder)
    assert atlas.mu.shape[1] == open_model(folder, trust_code=True).model.latent_dim and not atlas.stale
    assert main(["generate", str(folder), "--n", "5", "--out", str(tmp_path / "made"), *args(kind)]) == 0
    manifest = json.loads((tmp_path / "made" / "manifest.json").read_text())
    assert manifest["total"] == 5 and len(manifest["weights_sha256"]) == 64


@pytest.mark.parametrize(("name", "kind"), [("classic", "onnx"), ("rgb-resnet", "code")])
def test_ood_on_models_from_elsewhere(own_models, capsys, name: str, kind: str) -> None:
    folder = folder_of(own_models, name, kind)
    against = "fashion-mnist" if name == "classic" else "noise"
    assert main(["ood", str(folder), "--against", against, "--subset", "30", "--k", "2", "--json",
                 *args(kind)]) == 0
    scores = json.loads(capsys.readouterr().out)[against]["scores"]
    assert "recon" in scores and ("nll" in scores) == (name == "classic")
    assert against in read_meta(folder)["ood"]


def test_the_commands_refuse_code_without_trust_code(own_models, capsys) -> None:
    assert main(["evaluate", str(own_models["classic"][0]), "--subset", "5"]) == 2
    assert "--trust-code" in capsys.readouterr().err
