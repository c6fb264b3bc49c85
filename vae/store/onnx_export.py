"""Our checkpoints as ONNX folders: `encoder.onnx`, `decoder.onnx` and `model.json` (docs/own-models.md).

The contract, which any framework's export can meet:
- encoder: input `x` float32 (N, C, H, W) in [0, 1], plus `y` int64 (N,) for a conditional model;
  outputs `mu` and `logvar` (N, D) for a VAE, or `z` (N, D) alone for a deterministic model (AE, WAE);
- decoder: input `z` float32 (N, D), plus `y`; output `x` (N, C, H, W), here Bernoulli `logits`;
- the batch axis N is dynamic; the weights are inside each file (no external data).

`onnx_networks(model)` gives the two networks as bytes, in memory (what the browser is served);
`export_onnx(checkpoint, out)` writes the folder. Both take our VAEs and any model behind the interface
that a PyTorch module computes (trusted code); a `mean` output in [-1, 1] is exported mapped to [0, 1].
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from vae.models.interface import Model, as_model
from vae.models.model_json import DECODER, ENCODER, MODEL_JSON
from vae.models.ours import Ours
from vae.networks.model import VAE
from vae.store.atomic import atomic_write
from vae.store.checkpoint import Checkpoint, write_json

FORMAT = "latent-explorer-onnx/1"
EXAMPLE_BATCH = 2  # a batch of 1 would let the exporter fold the batch axis to a constant
CHECK_BATCH = 3  # the export is run once on another batch size


class OnnxNetworks(NamedTuple):
    encoder: bytes
    decoder: bytes


class _Encoder(nn.Module):
    """x (and y) -> (mu, logvar) for a model with a posterior, or the code z alone; codes flat (N, D)."""

    def __init__(self, model: Model) -> None:
        super().__init__()
        self.net, self.model = model.module, model  # the module registered, so its weights become initializers

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
        mu, logvar = self.model._encode(x, y)
        return mu.flatten(1) if logvar is None else (mu.flatten(1), logvar.flatten(1))


class _Decoder(nn.Module):
    """z (N, D) (and y) -> the decoder's output (N, C, H, W)."""

    def __init__(self, model: Model) -> None:
        super().__init__()
        self.net, self.model = model.module, model

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.model._decode(z.reshape(-1, *self.model.latent_shape), y)


def _to_bytes(module: nn.Module, first: str, example: Tensor, labels: bool, outputs: list[str]) -> bytes:
    """One network exported with torch.onnx's dynamo exporter, the batch axis dynamic, as serialized bytes."""
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    args: tuple[Tensor, ...] = (example,)
    shapes: dict[str, Any] = {first: {0: batch}}
    if labels:
        args += (torch.zeros(EXAMPLE_BATCH, dtype=torch.int64),)
        shapes["y"] = {0: batch}
    with warnings.catch_warnings():  # x and y share the batch axis, which the exporter reports as a warning
        warnings.filterwarnings("ignore", message=".*axis name", category=UserWarning)
        program = torch.onnx.export(
            module.eval(), args, dynamo=True, external_data=False, dynamic_shapes=shapes,
            input_names=[first, *(["y"] if labels else [])], output_names=outputs, verbose=False,
        )
    return program.model_proto.SerializeToString()


@torch.no_grad()
def onnx_networks(model: VAE | Model) -> OnnxNetworks:
    """The encoder and decoder of one of our VAEs (or any model backed by a PyTorch module) as ONNX bytes,
    per the contract above."""
    model = as_model(model)
    if model.module is None:
        raise ValueError(f"a model from {model.source} has no PyTorch module to export")
    model.module.to("cpu").eval()
    model.device = torch.device("cpu")
    x = torch.rand(EXAMPLE_BATCH, *model.image_shape)
    z = torch.zeros(EXAMPLE_BATCH, model.latent_dim)
    codes = ["mu", "logvar"] if model.posterior else ["z"]
    encoder, decoder = _Encoder(model), _Decoder(model)
    nets = OnnxNetworks(
        encoder=_to_bytes(encoder, "x", x, model.conditional, codes),
        decoder=_to_bytes(decoder, "z", z, model.conditional, ["x"]),
    )
    _check_batch(nets.encoder, encoder, "x", torch.rand(CHECK_BATCH, *model.image_shape), model.conditional)
    _check_batch(nets.decoder, decoder, "z", torch.randn(CHECK_BATCH, model.latent_dim), model.conditional)
    return nets


def _check_batch(data: bytes, module: nn.Module, first: str, value: Tensor, labels: bool) -> None:
    """Run the export on another batch size than it was traced with: code that fixed the batch (a reshape to
    len(x), say) is caught here, not in the browser."""
    import onnxruntime as ort

    y = torch.zeros(len(value), dtype=torch.int64) if labels else None
    feeds = {first: value.numpy(), **({"y": y.numpy()} if labels else {})}
    try:
        got = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)
    except Exception as err:  # onnxruntime's own exception types
        raise ValueError(f"the exported network does not run on a batch of {len(value)}: {err}") from err
    want = module(value, y)
    for a, b in zip(got, want if isinstance(want, tuple) else (want,), strict=True):
        if a.shape != tuple(b.shape) or not np.allclose(a, b.numpy(), atol=1e-4, rtol=1e-4):
            raise ValueError(f"the exported network disagrees with PyTorch on a batch of {len(value)}")


def model_json(ckpt: Checkpoint) -> dict[str, Any]:
    """The model.json describing a model exported by `onnx_networks`: its inputs are [0, 1] images."""
    model = as_model(ckpt.model, ckpt.class_names)
    meta = {"format": FORMAT, "name": ckpt.name, **model.describe(), "input_range": [0, 1]}
    if isinstance(model, Ours):  # our family's names (VAE, AE, β-VAE...); others are named by the ONNX source
        meta["kind"] = model.kind
    if "dataset" in ckpt.meta:
        meta["dataset"] = ckpt.meta["dataset"]
    return meta


def export_onnx(ckpt: Checkpoint, out: str | os.PathLike) -> Path:
    """Write the ONNX folder for a checkpoint and return it; each file is written whole or not at all."""
    nets = onnx_networks(ckpt.model)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / ENCODER, lambda path: Path(path).write_bytes(nets.encoder))
    atomic_write(out / DECODER, lambda path: Path(path).write_bytes(nets.decoder))
    write_json(out / MODEL_JSON, model_json(ckpt))  # last: a folder without it is not a model yet
    return out
