"""Our checkpoints as ONNX folders: `encoder.onnx`, `decoder.onnx` and `model.json` (docs/own-models.md).

The contract, which any framework's export can meet:
- encoder: input `x` float32 (N, C, H, W) in [0, 1], plus `y` int64 (N,) for a conditional model;
  outputs `mu` and `logvar` (N, D) for a VAE, or `z` (N, D) alone for a deterministic model (AE, WAE);
- decoder: input `z` float32 (N, D), plus `y`; output `x` (N, C, H, W), here Bernoulli `logits`;
- the batch axis N is dynamic; the weights are inside each file (no external data).

`onnx_networks(model)` gives the two networks as bytes, in memory (what the browser is served);
`export_onnx(checkpoint, out)` writes the folder.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from vae.atomic import atomic_write
from vae.checkpoint import Checkpoint, write_json
from vae.model import VAE

ENCODER = "encoder.onnx"
DECODER = "decoder.onnx"
MODEL_JSON = "model.json"
FORMAT = "latent-explorer-onnx/1"
EXAMPLE_BATCH = 2  # a batch of 1 would let the exporter fold the batch axis to a constant


class OnnxNetworks(NamedTuple):
    encoder: bytes
    decoder: bytes


class _Encoder(nn.Module):
    """x (and y) -> (mu, logvar) for a VAE, or the code z alone for a deterministic model."""

    def __init__(self, model: VAE) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
        mu, logvar = self.model.encode(x, y)
        return (mu, logvar) if self.model.cfg.stochastic else mu


class _Decoder(nn.Module):
    def __init__(self, model: VAE) -> None:
        super().__init__()
        self.model = model

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.model.decode(z, y)


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
def onnx_networks(model: VAE) -> OnnxNetworks:
    """The encoder and decoder of one of our VAEs as ONNX bytes, per the contract above."""
    cfg = model.cfg
    model = model.to("cpu").eval()
    x = torch.rand(EXAMPLE_BATCH, *cfg.image_shape)
    z = torch.zeros(EXAMPLE_BATCH, cfg.latent_dim)
    codes = ["mu", "logvar"] if cfg.stochastic else ["z"]
    return OnnxNetworks(
        encoder=_to_bytes(_Encoder(model), "x", x, cfg.conditional, codes),
        decoder=_to_bytes(_Decoder(model), "z", z, cfg.conditional, ["x"]),
    )


def model_json(ckpt: Checkpoint) -> dict[str, Any]:
    """The model.json describing a checkpoint exported by `onnx_networks`."""
    cfg = ckpt.model.cfg
    return {
        "format": FORMAT,
        "name": ckpt.name,
        "kind": cfg.kind,
        "latent_shape": [cfg.latent_dim],
        "image_shape": list(cfg.image_shape),
        "output": "logits",
        "input_range": [0, 1],
        "posterior": cfg.stochastic,
        "conditional": cfg.conditional,
        "class_names": ckpt.class_names,
        "dataset": ckpt.meta.get("dataset", "mnist"),
    }


def export_onnx(ckpt: Checkpoint, out: str | os.PathLike) -> Path:
    """Write the ONNX folder for a checkpoint and return it; each file is written whole or not at all."""
    nets = onnx_networks(ckpt.model)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / ENCODER, lambda path: Path(path).write_bytes(nets.encoder))
    atomic_write(out / DECODER, lambda path: Path(path).write_bytes(nets.decoder))
    write_json(out / MODEL_JSON, model_json(ckpt))  # last: a folder without it is not a model yet
    return out
