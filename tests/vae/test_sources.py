"""vae.models.interface and its three sources (vae.models.sources.open_model): ours, ONNX folders, trusted code;
model.json; `python -m vae export`; and every broken folder refused with one clear reason."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, numpy_helper

from vae.__main__ import main
from vae.models import onnx_model
from vae.models.interface import NotAvailable
from vae.models.model_json import DECODER, ENCODER, MODEL_JSON
from vae.models.sources import open_model
from vae.models.trusted import save_code_model
from vae.store.checkpoint import CheckpointError, load_checkpoint

SPATIAL = {"code": "examples.own_models.spatial:build", "latent_shape": [4, 7, 7], "image_shape": [1, 28, 28],
           "output": "logits", "dataset": "mnist"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny conditional conv VAE of ours and its ONNX folder, written by `python -m vae export`."""
    from vae.networks.config import ModelConfig
    from vae.networks.model import VAE
    from vae.store.checkpoint import save_checkpoint

    root = tmp_path_factory.mktemp("exported")
    torch.manual_seed(0)
    model = VAE(ModelConfig(arch="conv", latent_dim=4, hidden=4, num_classes=10)).eval()
    ours = save_checkpoint(root / "ours", model, {"dataset": "mnist", "class_names": [f"c{i}" for i in range(10)]})
    assert main(["export", str(ours), "--onnx", str(root / "onnx")]) == 0
    return ours, root / "onnx"


@pytest.fixture
def onnx_copy(exported, tmp_path) -> Path:
    """A fresh copy of the exported ONNX folder, to break."""
    return Path(shutil.copytree(exported[1], tmp_path / "copy"))


def test_the_round_trip_shows_the_same_images(exported) -> None:
    ours, onnx_folder = open_model(exported[0]), open_model(exported[1])
    assert (ours.model.source, onnx_folder.model.source) == ("checkpoint", "onnx")
    for attr in ("latent_shape", "image_shape", "class_names", "conditional", "posterior", "output", "num_classes"):
        assert getattr(ours.model, attr) == getattr(onnx_folder.model, attr), attr
    assert onnx_folder.meta["dataset"] == "mnist" and onnx_folder.class_names == [f"c{i}" for i in range(10)]
    x, y = torch.rand(7, 1, 28, 28), torch.arange(7)
    z = torch.randn(100, 4)
    with torch.no_grad():
        for a, b in zip(ours.model.encode(x, y), onnx_folder.model.encode(x, y), strict=True):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
        images = ours.model.image(z, torch.arange(100) % 10), onnx_folder.model.image(z, torch.arange(100) % 10)
    assert (images[0] - images[1]).abs().max() < 1e-4


def test_a_deterministic_model_has_no_log_variance(tiny_checkpoint, tmp_path) -> None:
    folder = tiny_checkpoint("ae", "mlp", objective="ae")
    main(["export", str(folder), "--onnx", str(tmp_path / "ae-onnx")])
    for opened in (open_model(folder), open_model(tmp_path / "ae-onnx")):
        mu, logvar = opened.model.encode(torch.rand(2, 1, 28, 28))
        assert mu.shape == (2, 4) and logvar is None and not opened.model.posterior


def test_a_spatial_latent_is_handed_out_flat_and_decoded_either_way(tmp_path) -> None:
    from examples.own_models.spatial import build

    torch.manual_seed(0)
    folder = save_code_model(tmp_path / "spatial", build(), SPATIAL)
    model = open_model(folder, trust_code=True).model
    assert model.latent_shape == (4, 7, 7) and model.latent_dim == 196
    with torch.no_grad():
        mu, logvar = model.encode(torch.rand(3, 1, 28, 28))
        assert mu.shape == logvar.shape == (3, 196)
        torch.testing.assert_close(model.decode(mu), model.decode(mu.reshape(3, 4, 7, 7)))
        image = model.image(mu)
    assert image.shape == (3, 1, 28, 28) and image.min() >= 0 and image.max() <= 1
    out = main(["export", str(folder), "--onnx", str(tmp_path / "spatial-onnx"), "--trust-code"])
    assert out == 0
    onnx_model_ = open_model(tmp_path / "spatial-onnx").model
    assert onnx_model_.latent_shape == (4, 7, 7)
    with torch.no_grad():
        assert (onnx_model_.image(mu) - image).abs().max() < 1e-4


def test_probabilities_become_logits_and_a_mean_image_has_no_likelihood(tmp_path) -> None:
    from examples.own_models.classic import build

    folder = save_code_model(tmp_path / "classic", build(), {
        "code": "examples.own_models.classic:build", "latent_shape": [20], "image_shape": [1, 28, 28],
        "output": "probs"})
    model = open_model(folder, trust_code=True).model
    z = torch.randn(2, 20)
    with torch.no_grad():
        torch.testing.assert_close(torch.sigmoid(model.logits(z)), model.image(z), atol=1e-5, rtol=0)
    model.output = "mean"
    assert "mean image" in model.likelihood
    with pytest.raises(NotAvailable, match="no stated likelihood"):
        model.logits(z)


# Bad input: each is refused with one sentence naming the file and the reason.

def _edit_json(folder: Path, **changes) -> None:
    meta = json.loads((folder / MODEL_JSON).read_text())
    (folder / MODEL_JSON).write_text(json.dumps({**meta, **changes}))


def _edit_decoder(folder: Path, edit: Callable[[onnx.ModelProto], None]) -> None:
    proto = onnx.load(str(folder / DECODER))
    edit(proto)
    onnx.save(proto, str(folder / DECODER))


def refused(folder: Path, trust_code: bool = False) -> str:
    with pytest.raises(CheckpointError) as err:
        open_model(folder, trust_code=trust_code)
    return str(err.value)


def test_a_truncated_or_foreign_file_is_refused(onnx_copy) -> None:
    data = (onnx_copy / ENCODER).read_bytes()
    (onnx_copy / ENCODER).write_bytes(data[: len(data) // 2])
    assert f"{onnx_copy / ENCODER}: not an ONNX model, or truncated" in refused(onnx_copy)
    (onnx_copy / ENCODER).write_text("<html>not a model</html>")
    assert f"{onnx_copy / ENCODER}: not an ONNX model" in refused(onnx_copy)
    (onnx_copy / ENCODER).unlink()
    assert f"{onnx_copy / ENCODER}: missing" in refused(onnx_copy)


@pytest.mark.parametrize(("changes", "reason"), [
    ({"latent_shape": [5]}, "input 'z' has shape ['batch', 4], model.json declares (N, 5)"),
    ({"image_shape": [1, 32, 32]}, "input 'x' has shape ['batch', 1, 28, 28], model.json declares (N, 1, 32, 32)"),
    ({"conditional": False}, "inputs ['x', 'y'], the contract needs ['x']"),
    ({"posterior": False}, "outputs ['mu', 'logvar'], but model.json says posterior: False"),
    ({"latent_shape": [2, 2, 2]}, "input 'z' has shape ['batch', 4], model.json declares (N, 8)"),
])
def test_shapes_that_disagree_with_model_json_are_refused(onnx_copy, changes: dict, reason: str) -> None:
    _edit_json(onnx_copy, **changes)
    assert reason in refused(onnx_copy)


@pytest.mark.parametrize(("changes", "reason"), [
    ({"output": "pixels"}, "field 'output': expected one of logits, probs, mean, got a string ('pixels')"),
    ({"latent_shape": 4}, "field 'latent_shape': expected a list of 1 (D) or 3 (C, h, w) positive integers"),
    ({"latent_shape": [1000, 1000]}, "field 'latent_shape': expected a list of 1 (D) or 3"),
    ({"latent_shape": [100000]}, "100,000 latent numbers, more than the 65,536 allowed"),
    ({"image_shape": [2, 28, 28]}, "field 'image_shape': 2 channels"),
    ({"image_shape": [1, 100000, 28]}, "more than 1024 on a side"),
    ({"input_range": [0, 255]}, "field 'input_range': expected [0, 1] or [-1, 1]"),
    ({"class_names": []}, "a conditional model needs the names of its (at least 2) classes"),
    ({"code": "rm -rf /"}, "field 'code': expected \"module:callable\""),
])
def test_model_json_fields_are_checked_by_name(onnx_copy, changes: dict, reason: str) -> None:
    _edit_json(onnx_copy, **changes)
    message = refused(onnx_copy)
    assert message.startswith(f"{onnx_copy / MODEL_JSON}: ") and reason in message


def test_an_operator_onnxruntime_lacks_is_refused(onnx_copy) -> None:
    def mystery(proto: onnx.ModelProto) -> None:
        proto.graph.node[0].op_type, proto.graph.node[0].domain = "Mystery", "com.example"
        proto.opset_import.append(onnx.helper.make_opsetid("com.example", 1))

    _edit_decoder(onnx_copy, mystery)
    message = refused(onnx_copy)
    assert f"{onnx_copy / DECODER}: onnxruntime cannot run it" in message and "Mystery" in message


def test_a_model_that_outputs_nan_is_refused(onnx_copy) -> None:
    def poison(proto: onnx.ModelProto) -> None:
        for init in proto.graph.initializer:
            if init.data_type == TensorProto.FLOAT:
                init.CopyFrom(numpy_helper.from_array(np.full_like(numpy_helper.to_array(init), np.nan), init.name))

    _edit_decoder(onnx_copy, poison)
    assert "the decoder outputs NaN or infinite values" in refused(onnx_copy)


def test_an_absurdly_large_file_is_refused_unread(onnx_copy) -> None:
    with open(onnx_copy / DECODER, "r+b") as f:
        f.truncate(onnx_model.MAX_BYTES + 1)  # sparse: nothing is written, and nothing may be read
    assert f"{onnx_copy / DECODER}: 1.0 GiB, more than the 1 GiB a network may have here" in refused(onnx_copy)


def test_external_data_is_refused_inside_the_folder_or_out(onnx_copy) -> None:
    def external(location: str) -> Callable[[onnx.ModelProto], None]:
        def edit(proto: onnx.ModelProto) -> None:
            init = proto.graph.initializer[0]
            init.ClearField("raw_data")
            init.data_location = TensorProto.EXTERNAL
            del init.external_data[:]
            init.external_data.add(key="location", value=location)
        return edit

    (onnx_copy.parent / "secret.bin").write_bytes(b"\0" * 4096)
    _edit_decoder(onnx_copy, external("../secret.bin"))
    message = refused(onnx_copy)
    assert "stored outside the file, in '../secret.bin', a path outside the model's folder" in message
    assert "external data is refused" in message


def test_code_is_imported_only_with_trust_code(tmp_path, monkeypatch) -> None:
    from examples.own_models.spatial import build

    folder = save_code_model(tmp_path / "spatial", build(), SPATIAL)
    message = refused(folder)
    assert "runs Python code (examples.own_models.spatial:build)" in message and "--trust-code" in message
    imported = []
    monkeypatch.setattr("importlib.import_module", lambda name: imported.append(name))
    refused(folder)
    assert imported == []  # refused before anything was imported


def test_code_that_raises_on_import_is_one_message(tmp_path) -> None:
    folder = tmp_path / "raises"
    folder.mkdir()
    (folder / "broken_vae.py").write_text("raise RuntimeError('no GPU here')\n")
    (folder / MODEL_JSON).write_text(json.dumps({**SPATIAL, "code": "broken_vae:build"}))
    assert "importing 'broken_vae' raised RuntimeError: no GPU here" in refused(folder, trust_code=True)
    (folder / "broken_vae.py").write_text("import sys\nsys.exit(3)\n")
    assert "importing 'broken_vae' raised SystemExit: 3" in refused(folder, trust_code=True)
    (folder / "broken_vae.py").write_text("def build():\n    return 42\n")
    assert "must return an nn.Module with encode and decode methods; got int" in refused(folder, trust_code=True)


def test_code_from_the_folder_with_weights_that_do_not_fit(tmp_path) -> None:
    from examples.own_models.spatial import SpatialVAE

    folder = save_code_model(tmp_path / "own", SpatialVAE(width=8), {**SPATIAL, "code": "own_vae:build"})
    (folder / "own_vae.py").write_text("from examples.own_models.spatial import SpatialVAE\n\n"
                                       "def build():\n    return SpatialVAE(width=8)\n")
    assert open_model(folder, trust_code=True).model.latent_dim == 196
    (folder / "own_vae.py").write_text("from examples.own_models.spatial import SpatialVAE\n\n"
                                       "def build():\n    return SpatialVAE(width=16)\n")
    assert f"{folder / 'model.safetensors'}: does not fit the module" in refused(folder, trust_code=True)


def test_our_checkpoints_open_as_before(tiny_checkpoint) -> None:
    folder = tiny_checkpoint("tiny", "conv", num_classes=10)
    opened, loaded = open_model(folder), load_checkpoint(folder)
    assert opened.model.kind == loaded.model.cfg.kind and opened.model.vae is not None
    assert opened.model.class_names == [str(i) for i in range(10)] and opened.meta == loaded.meta
