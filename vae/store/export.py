"""The networks and the latent map as plain data, for re-running them outside PyTorch (the browser's model runtime).

`network_specs(encoder, decoder, model)` wraps ONNX networks (ours from vae.store.onnx_export, or a user's
files as they are) with what the runtime needs to feed and read them (components/model_runtime runs
them with onnxruntime-web). `map_spec(xy, mu, labels)` holds what a map between 2-D
map coordinates and latent codes needs, both ways: the inverse map (a place to a code) and the
placement of a code on the map (vae.analysis.atlas.Atlas.project's rule); `latent_plane_spec` is the map of a
2-D latent space, whose coordinates are the code itself. All are JSON-able and carry an `id`, a hash
of their content, so a reader can tell a changed model from one it already holds.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import numpy as np
import torch
from torch import Tensor

from vae.analysis.atlas import NEIGHBOURS_FOR_PLACEMENT, Atlas

ONNX_DECODER_FORMAT = "latent-explorer-onnx-decoder/1"
ONNX_ENCODER_FORMAT = "latent-explorer-onnx-encoder/1"
OUTPUT_KINDS = ("logits", "probs", "mean")
MAP_FORMAT = "latent-explorer-map/1"
VALUES_FORMAT = "latent-explorer-values/1"


def float32_base64(t: Tensor) -> str:
    """A tensor's values, flattened in row-major order, as base64 of little-endian float32."""
    arr = t.detach().cpu().to(torch.float32).contiguous().numpy().astype("<f4", copy=False)
    return base64.b64encode(arr.tobytes()).decode("ascii")


def content_id(spec: dict[str, Any]) -> str:
    """A short hash of a JSON-able dict's content: specs carry it as their `id`."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def _with_id(spec: dict[str, Any]) -> dict[str, Any]:
    spec["id"] = content_id(spec)
    return spec


def network_specs(encoder: bytes | None, decoder: bytes, model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The ONNX networks of a model as the browser's runtime loads them: {"encoder": spec, "decoder": spec}.

    `encoder` and `decoder` are ONNX files' bytes, sent as they are (base64); `model` is the model.json
    of vae.store.onnx_export (latent_shape, image_shape, output, input_range, conditional, class_names).
    Without an encoder, only the decoder's spec is made. Each spec's `id` hashes its content.
    """
    output = model.get("output", "logits")
    if output not in OUTPUT_KINDS:
        raise ValueError(f"the decoder's output kind must be one of {', '.join(OUTPUT_KINDS)}, not {output!r}")
    latent = [int(n) for n in model["latent_shape"]]
    shared = {"latent_shape": latent, "latent_dim": int(np.prod(latent)),  # pages use the code flattened
              "image_shape": [int(n) for n in model["image_shape"]],
              "input_range": [float(v) for v in model.get("input_range", [0, 1])],
              "conditional": bool(model.get("conditional", False)),
              "num_classes": len(model.get("class_names") or []) if model.get("conditional") else 0}
    if shared["conditional"] and not shared["num_classes"]:
        raise ValueError("a conditional model needs its class names (the label's range)")
    nets = {"decoder": (ONNX_DECODER_FORMAT, decoder), "encoder": (ONNX_ENCODER_FORMAT, encoder)}
    return {role: _with_id({"format": fmt, **shared, "output": output,
                            "onnx": base64.b64encode(data).decode("ascii")})
            for role, (fmt, data) in nets.items() if data is not None}


def _check_points(xy: Tensor, mu: Tensor, labels: Tensor) -> None:
    n = len(xy)
    if xy.shape != (n, 2) or mu.ndim != 2 or len(mu) != n or labels.shape != (n,):
        raise ValueError(f"need xy (N, 2), mu (N, D) and labels (N,); got {tuple(xy.shape)}, "
                         f"{tuple(mu.shape)}, {tuple(labels.shape)}")
    if not (torch.isfinite(xy).all() and torch.isfinite(mu).all()):
        raise ValueError("map coordinates and latent means must be finite")


def _points(kind: str, xy: Tensor, mu: Tensor, labels: Tensor, class_names: list[str] | None) -> dict[str, Any]:
    _check_points(xy, mu, labels)
    return {
        "format": MAP_FORMAT,
        "kind": kind,
        "n": len(xy),
        "latent_dim": int(mu.shape[1]),
        "xy": float32_base64(xy),
        "mu": float32_base64(mu),
        "labels": np.asarray(labels.detach().cpu(), dtype=np.int64).tolist(),
        "class_names": list(class_names or []),
    }


def map_spec(
    xy: Tensor, mu: Tensor, labels: Tensor, class_names: list[str] | None = None,
    pca: tuple[Tensor, Tensor] | None = None,
) -> dict[str, Any]:
    """The atlas points a map needs: 2-D map coordinates (N, 2), latent means (N, D), labels (N,).

    `pca` is the projection's (mean (D,), basis (2, D)) when the map is a PCA, which places any code
    exactly; without it a code is placed by its nearest atlas means, as vae.analysis.atlas.Atlas.project does.
    """
    spec = _points("atlas", xy, mu, labels, class_names)
    if pca is None:
        spec["placement"] = {"rule": "neighbours", "k": NEIGHBOURS_FOR_PLACEMENT}
    else:
        mean, basis = pca
        if mean.shape != (mu.shape[1],) or basis.shape != (2, mu.shape[1]):
            raise ValueError(f"the PCA needs a mean ({mu.shape[1]},) and a basis (2, {mu.shape[1]})")
        spec["placement"] = {"rule": "pca", "mean": float32_base64(mean), "basis": float32_base64(basis)}
    return _with_id(spec)


def atlas_map_spec(atlas: Atlas, projection: str, class_names: list[str] | None = None) -> dict[str, Any]:
    """map_spec of an atlas in one of its projections ("umap", "pca"; "latent", a 2-D latent space shown as it
    is, is its latent_plane_spec, whose places are the codes)."""
    if projection == "latent":
        return latent_plane_spec(atlas.mu, atlas.labels, class_names)
    pca = (atlas.pca_mean, atlas.pca_basis) if projection == "pca" else None
    return map_spec(atlas.coords[projection], atlas.mu, atlas.labels, class_names, pca)


def latent_plane_spec(mu: Tensor, labels: Tensor, class_names: list[str] | None = None) -> dict[str, Any]:
    """The map of a 2-D latent space: map coordinates are the code itself, z = (x, y), with no inverse map.

    `mu` (N, 2) are the atlas means, drawn as the map's points.
    """
    if mu.ndim != 2 or mu.shape[1] != 2:
        raise ValueError(f"a latent plane needs a 2-D latent space; the means are {tuple(mu.shape)}")
    return _with_id({**_points("latent_plane", mu, mu, labels, class_names), "placement": {"rule": "identity"}})


def values_spec(values: Tensor) -> dict[str, Any]:
    """A list of numbers (N,): per-point values to colour a map by, or a test set's scores to rank against."""
    if values.ndim != 1 or not torch.isfinite(values).all():
        raise ValueError(f"values must be finite and one-dimensional, got shape {tuple(values.shape)}")
    return _with_id({"format": VALUES_FORMAT, "n": len(values), "values": float32_base64(values)})
