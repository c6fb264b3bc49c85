"""vae.store.onnx_export: our checkpoints' networks as ONNX, run by onnxruntime, match PyTorch."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx.external_data_helper import uses_external_data

from vae.store.checkpoint import load_checkpoint
from vae.store.onnx_export import DECODER, ENCODER, MODEL_JSON, export_onnx, onnx_networks


def session(data: bytes) -> ort.InferenceSession:
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize(("arch", "overrides", "outputs"), [
    ("conv", {}, ["mu", "logvar"]),
    ("mlp", {"num_classes": 3}, ["mu", "logvar"]),
    ("mlp", {"objective": "ae"}, ["z"]),
])
def test_networks_match_pytorch_on_any_batch(tiny_model: Callable, arch: str, overrides: dict,
                                             outputs: list[str]) -> None:
    model = tiny_model(arch, **overrides)
    nets = onnx_networks(model)
    enc, dec = session(nets.encoder), session(nets.decoder)
    labels = ["y"] if model.cfg.conditional else []
    assert [i.name for i in enc.get_inputs()] == ["x", *labels]
    assert [o.name for o in enc.get_outputs()] == outputs
    assert [i.name for i in dec.get_inputs()] == ["z", *labels]
    for n in (1, 5):  # the batch axis is dynamic
        x, z = torch.rand(n, *model.cfg.image_shape), torch.randn(n, model.cfg.latent_dim)
        y = torch.arange(n) % 3 if labels else None
        extra = {"y": y.numpy()} if labels else {}
        with torch.no_grad():
            mu, logvar = model.encode(x, y)
            logits = model.decode(z, y)
        got = enc.run(None, {"x": x.numpy(), **extra})
        np.testing.assert_allclose(got[0], mu.numpy(), atol=1e-5)
        if len(outputs) == 2:
            np.testing.assert_allclose(got[1], logvar.numpy(), atol=1e-5)
        (out,) = dec.run(None, {"z": z.numpy(), **extra})
        assert out.shape == (n, *model.cfg.image_shape)
        np.testing.assert_allclose(out, logits.numpy(), atol=1e-4)


def test_export_writes_the_folder_with_weights_inside(tiny_checkpoint: Callable, tmp_path: Path) -> None:
    ckpt = load_checkpoint(tiny_checkpoint("tiny", "conv", num_classes=10))
    out = export_onnx(ckpt, tmp_path / "onnx")
    assert sorted(p.name for p in out.iterdir()) == sorted([ENCODER, DECODER, MODEL_JSON])
    for name in (ENCODER, DECODER):
        proto = onnx.load(str(out / name))
        assert not any(uses_external_data(t) for t in proto.graph.initializer)
    meta = json.loads((out / MODEL_JSON).read_text())
    assert meta["latent_shape"] == [4] and meta["image_shape"] == [1, 28, 28]
    assert meta["output"] == "logits" and meta["posterior"] is True and meta["conditional"] is True
    assert meta["class_names"] == [str(i) for i in range(10)] and meta["dataset"] == "mnist"
