"""The decoder and the latent map as plain data, for re-running them outside PyTorch (the browser's live decoder).

`decoder_spec(model)` lists the decoder's layers in order, each with its float32 weights as base64
of little-endian bytes in PyTorch's own layout (Linear (out, in), Conv2d (out, in, k, k),
ConvTranspose2d (in, out, k, k)). `map_spec(xy, mu, labels)` holds what an inverse map from 2-D
map coordinates to latent codes needs. Both are JSON-able and carry an `id`, a hash of their
content, so a reader can tell a changed model from one it already holds.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from vae.model import VAE

DECODER_FORMAT = "latent-explorer-decoder/1"
MAP_FORMAT = "latent-explorer-map/1"


class UnsupportedDecoder(ValueError):
    """The decoder holds a layer the exported format cannot describe."""


def float32_base64(t: Tensor) -> str:
    """A tensor's values, flattened in row-major order, as base64 of little-endian float32."""
    arr = t.detach().cpu().to(torch.float32).contiguous().numpy().astype("<f4", copy=False)
    return base64.b64encode(arr.tobytes()).decode("ascii")


def _conv(kind: str, layer: nn.Conv2d | nn.ConvTranspose2d, kernel: int, stride: int, padding: int) -> dict[str, Any]:
    shape = (layer.kernel_size, layer.stride, layer.padding)
    expected = ((kernel, kernel), (stride, stride), (padding, padding))
    plain = layer.dilation == (1, 1) and layer.groups == 1 and layer.bias is not None
    if kind == "conv_transpose2d":
        plain = plain and layer.output_padding == (0, 0)
    if shape != expected or not plain:
        raise UnsupportedDecoder(
            f"{type(layer).__name__} must be kernel {kernel}, stride {stride}, padding {padding}, "
            f"no dilation or groups, with bias; got kernel {layer.kernel_size}, stride {layer.stride}, "
            f"padding {layer.padding}"
        )
    return {
        "type": kind, "in": layer.in_channels, "out": layer.out_channels,
        "kernel": kernel, "stride": stride, "padding": padding,
        "weight": float32_base64(layer.weight), "bias": float32_base64(layer.bias),
    }


def _layer(layer: nn.Module) -> dict[str, Any]:
    if isinstance(layer, nn.Linear):
        if layer.bias is None:
            raise UnsupportedDecoder("Linear layers need a bias")
        return {"type": "linear", "in": layer.in_features, "out": layer.out_features,
                "weight": float32_base64(layer.weight), "bias": float32_base64(layer.bias)}
    if isinstance(layer, nn.ReLU):
        return {"type": "relu"}
    if isinstance(layer, nn.SiLU):
        return {"type": "silu"}
    if isinstance(layer, nn.Unflatten):
        if layer.dim != 1 or len(layer.unflattened_size) != 3:
            raise UnsupportedDecoder("Unflatten must turn dimension 1 into (C, H, W)")
        return {"type": "unflatten", "shape": [int(s) for s in layer.unflattened_size]}
    if isinstance(layer, nn.ConvTranspose2d):
        return _conv("conv_transpose2d", layer, kernel=4, stride=2, padding=1)
    if isinstance(layer, nn.Conv2d):
        return _conv("conv2d", layer, kernel=3, stride=1, padding=1)
    raise UnsupportedDecoder(f"the browser decoder has no {type(layer).__name__} layer")


def _content_id(spec: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def decoder_spec(model: VAE) -> dict[str, Any]:
    """The decoder of `model` as data: input sizes, output image shape and the layer list.

    The input is the latent code, followed for conditional models by the one-hot class label;
    the output is Bernoulli logits shaped (C, H, W), which a reader turns into pixels with a sigmoid.
    Raises UnsupportedDecoder for a layer the format has no word for.
    """
    cfg = model.cfg
    spec: dict[str, Any] = {
        "format": DECODER_FORMAT,
        "latent_dim": cfg.latent_dim,
        "num_classes": cfg.num_classes,
        "image_shape": list(cfg.image_shape),
        "output": "bernoulli_logits",
        "layers": [_layer(layer) for layer in model.decoder],
    }
    spec["id"] = _content_id(spec)
    return spec


def map_spec(xy: Tensor, mu: Tensor, labels: Tensor, class_names: list[str] | None = None) -> dict[str, Any]:
    """The atlas points an inverse map needs: 2-D map coordinates (N, 2), latent means (N, D), labels (N,)."""
    n = len(xy)
    if xy.shape != (n, 2) or mu.ndim != 2 or len(mu) != n or labels.shape != (n,):
        raise ValueError(f"need xy (N, 2), mu (N, D) and labels (N,); got {tuple(xy.shape)}, "
                         f"{tuple(mu.shape)}, {tuple(labels.shape)}")
    if not (torch.isfinite(xy).all() and torch.isfinite(mu).all()):
        raise ValueError("map coordinates and latent means must be finite")
    spec: dict[str, Any] = {
        "format": MAP_FORMAT,
        "n": n,
        "latent_dim": int(mu.shape[1]),
        "xy": float32_base64(xy),
        "mu": float32_base64(mu),
        "labels": np.asarray(labels.detach().cpu(), dtype=np.int64).tolist(),
        "class_names": list(class_names or []),
    }
    spec["id"] = _content_id(spec)
    return spec
