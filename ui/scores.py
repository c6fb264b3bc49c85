"""Anomaly scores in the app.

The Anomalies page's scores: names for people, the stored score fit loaded once per checkpoint, and the
stored out-of-distribution benchmarks; the test set's scores themselves live in the atlas (vae.analysis.atlas).

The pad's score (Draw page): a VAE scores an image by its -ELBO at the posterior mean
(vae.networks.objectives.negative_elbo_at_mean, in nats), given the class picked for a conditional model. A plain or
Wasserstein autoencoder (cfg.objective "ae", "wae") has no posterior q(z|x), so no ELBO; it is scored by
its reconstruction error (per-pixel squared error), which says how well the model redraws the image but
not how likely the model finds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st
import torch
from torch import Tensor

from ui.models import signature
from vae.analysis.atlas import Atlas
from vae.analysis.ood import ROC_JSON, load_curves
from vae.analysis.scores import (
    NLL_K,
    REFERENCE_META,
    REFERENCE_TENSORS,
    SCORES,
    Described,
    Reference,
    ScoresError,
    available,
    load_reference,
    unavailable,
)
from vae.datasets.imageset import ImageSet
from vae.models.interface import Model, as_model
from vae.models.model_json import DECODER, ENCODER
from vae.networks.config import ModelConfig
from vae.networks.model import VAE
from vae.networks.objectives import negative_elbo_at_mean, reconstruction_error_at_mean
from vae.store.checkpoint import WEIGHTS, Checkpoint

Curves = dict[str, dict[str, dict[str, list[float]]]]


def title(name: str) -> str:
    return SCORES[name].title if name in SCORES else name


def describe(name: str, meta: dict[str, Any]) -> str:
    """What a score measures, in a sentence, with the k an atlas's likelihoods were estimated with."""
    score = SCORES[name]
    k = f" (k = {meta.get('nll_k', NLL_K)})" if name in ("nll", "complexity") else ""
    return f"**{score.title}**{k}, in {score.unit}: {score.about} Higher is more unusual."


def command_path(ckpt: Checkpoint) -> str:
    """The checkpoint's folder as a command run from here would name it: relative when it lies below here."""
    folder = ckpt.folder.resolve()
    return str(folder.relative_to(Path.cwd())) if folder.is_relative_to(Path.cwd()) else str(folder)


def add_scores_hint(ckpt: Checkpoint) -> str:
    return (f"`python -m vae atlas {command_path(ckpt)}` adds them: it fits two of the scores on training images, "
            "then scores every test image.")


def _mtimes(folder: Path, names: tuple[str, ...]) -> tuple[int, ...]:
    return tuple((folder / n).stat().st_mtime_ns if (folder / n).exists() else 0 for n in names)


@st.cache_resource(max_entries=8, show_spinner=False)
def _reference(folder: str, sig: tuple[int, ...], _model: Model) -> Reference | str | None:
    try:
        return load_reference(folder, _model)
    except ScoresError as err:
        return str(err)


def reference(ckpt: Checkpoint) -> tuple[Reference | None, str | None]:
    """The stored fit of the knn and stats scores, or None with why it cannot be used."""
    folder = ckpt.folder.resolve()
    found = _reference(str(folder), _mtimes(folder, (REFERENCE_TENSORS, REFERENCE_META, *WEIGHT_FILES)), ckpt.model)
    if found is None:
        return None, "This model has no score fit on training images yet, so knn and stats cannot score new images."
    if isinstance(found, str):
        return None, f"The score fit cannot be read ({found})."
    if found.stale:
        return None, "The score fit was made for earlier weights of this model, so knn and stats are left out."
    return found, None


@st.cache_resource(max_entries=8, show_spinner=False)
def _curves(folder: str, sig: tuple[int, ...]) -> Curves:
    return load_curves(folder)


def benchmarks(ckpt: Checkpoint) -> tuple[dict[str, Any], Curves]:
    """The stored benchmarks (config.json's `ood`: set -> entry) and their ROC curves (set -> score -> fpr, tpr)."""
    ood = ckpt.meta.get("ood")
    entries = {k: v for k, v in ood.items() if isinstance(v, dict)} if isinstance(ood, dict) else {}
    folder = ckpt.folder.resolve()
    return entries, _curves(str(folder), _mtimes(folder, (ROC_JSON,)))


BATCH = 500
FAMILY = {"ae": "a plain autoencoder", "wae": "a Wasserstein autoencoder"}
WEIGHT_FILES = (WEIGHTS, ENCODER, DECODER)  # whichever the model has


@dataclass(frozen=True)
class Score:
    """What a model's images are scored by: `kind` ("neg_elbo", "recon_error"), shown as `title` in
    `unit` with `digits` decimals; `note` says what the score means, or why it is this one."""

    kind: str
    title: str
    unit: str
    digits: int
    note: str


def score_of(model: Described) -> Score:
    """The model's score: -ELBO where it has one (a posterior and a likelihood), else the reconstruction error."""
    if "neg_elbo" in available(model):
        return Score("neg_elbo", "−ELBO (anomaly score)", "nats", 1,
                     "−log p(x | z) + KL at the encoder's mean: what it costs the model to explain the image.")
    cfg = model if isinstance(model, ModelConfig) else getattr(as_model(model), "config", None)  # ours only
    why = (f"This model is {FAMILY[cfg.objective]}: it has no posterior q(z|x), so no ELBO." if cfg is not None
           else f"This model has no ELBO: {unavailable(model)['neg_elbo']}.")
    return Score("recon_error", "Reconstruction error", "(mean squared, per pixel)", 4,
                 f"{why} The reconstruction error stands in: how well it redraws the image, not how likely it "
                 "finds it.")


@torch.no_grad()
def score_images(model: Model | VAE, x: Tensor, y: Tensor | None = None) -> Tensor:
    """Each image's score (B,), by the model's kind of score (score_of)."""
    if score_of(model).kind == "neg_elbo":
        return negative_elbo_at_mean(model, x, y)
    return reconstruction_error_at_mean(model, x, y)


@st.cache_resource(max_entries=4, show_spinner="Scoring the test images (once per model)…")
def _test_scores(folder: str, sig: tuple[int, ...], dataset: str, _ckpt: Checkpoint, _data: ImageSet) -> Tensor:
    model = _ckpt.model
    scores = []
    for start in range(0, len(_data), BATCH):
        sl = slice(start, start + BATCH)
        scores.append(score_images(model, _data.floats(sl), _data.labels[sl]))
    return torch.cat(scores)


STORED_AS = {"neg_elbo": "neg_elbo", "recon_error": "recon"}  # the pad's score under its name in an atlas


def scores_of_test_set(ckpt: Checkpoint, data: ImageSet | None, atlas: Atlas | None = None) -> Tensor | None:
    """The test images' scores (score_images), given its own label for a conditional model; None without them.

    An unconditional model's are read from `atlas` where it stores them for these images (vae.analysis.scores computes
    the very same numbers; the caller vouches that the atlas describes `data`); otherwise they are computed once
    per model. A conditional model's atlas scores each image by the
    class that fits it best instead, so its scores are always computed here.
    """
    if data is None:
        return None
    kind = STORED_AS[score_of(ckpt.model).kind]
    stored = atlas is not None and not atlas.stale and len(atlas) >= len(data) and kind in atlas.scores
    if stored and not ckpt.model.conditional:
        return atlas.scores[kind][:len(data)]
    folder = ckpt.folder.resolve()
    return _test_scores(str(folder), signature(folder), data.name, ckpt, data)
