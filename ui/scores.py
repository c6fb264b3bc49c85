"""How unusual an image is to its model, and where that ranks among the test set's images.

A VAE scores an image by its -ELBO at the posterior mean (vae.objectives.negative_elbo_at_mean, in
nats): what it costs the model to encode and redraw it, the higher the more unusual. A plain or
Wasserstein autoencoder (cfg.objective "ae", "wae") has no posterior q(z|x), so no ELBO; it is scored
by its reconstruction error (per-pixel squared error), which says how well the model redraws the
image but not how likely the model finds it.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
import torch
from torch import Tensor

from ui.models import signature
from vae.checkpoint import Checkpoint
from vae.config import ModelConfig
from vae.data import ImageSet
from vae.model import VAE
from vae.objectives import negative_elbo_at_mean, reconstruction_error_at_mean

BATCH = 500


@dataclass(frozen=True)
class Score:
    """What a model's images are scored by: `kind` ("neg_elbo", "recon_error"), shown as `title` in
    `unit` with `digits` decimals; `note` says what the score means, or why it is this one."""

    kind: str
    title: str
    unit: str
    digits: int
    note: str


def score_of(cfg: ModelConfig) -> Score:
    if cfg.stochastic:
        return Score("neg_elbo", "−ELBO (anomaly score)", "nats", 1,
                     "−log p(x | z) + KL at the encoder's mean: what it costs the model to explain the image.")
    name = {"ae": "a plain autoencoder", "wae": "a Wasserstein autoencoder"}[cfg.objective]
    return Score("recon_error", "Reconstruction error", "(mean squared, per pixel)", 4,
                 f"This model is {name}: it has no posterior q(z|x), so no ELBO. The reconstruction error "
                 "stands in: how well it redraws the image, not how likely it finds it.")


@torch.no_grad()
def score_images(model: VAE, x: Tensor, y: Tensor | None = None) -> Tensor:
    """Each image's score (B,), by the model's kind of score (score_of)."""
    if model.cfg.stochastic:
        return negative_elbo_at_mean(model, x, y)
    return reconstruction_error_at_mean(model, x, y)


@st.cache_resource(max_entries=4, show_spinner="Scoring the test images (once per model)…")
def _test_scores(folder: str, sig: tuple[int, ...], dataset: str, _ckpt: Checkpoint, _data: ImageSet) -> Tensor:
    model = _ckpt.model
    scores = []
    for start in range(0, len(_data), BATCH):
        sl = slice(start, start + BATCH)
        scores.append(score_images(model, _data.floats(sl), _data.labels[sl] if model.cfg.conditional else None))
    return torch.cat(scores)


def test_set_scores(ckpt: Checkpoint, data: ImageSet | None) -> Tensor | None:
    """Every test image's score (score_images), computed once per model; None without the test images.

    The one place these are computed for the app, until the atlas carries them (its `neg_elbo`, by the
    same function, and its `recon_error` for the autoencoders): then this returns the atlas's.
    """
    if data is None:
        return None
    folder = ckpt.folder.resolve()
    return _test_scores(str(folder), signature(folder), data.name, ckpt, data)


def percentile(reference: Tensor, value: float) -> float:
    """Percent of the reference scores at or below `value` (0 to 100)."""
    return 100.0 * float((reference <= value).float().mean())
