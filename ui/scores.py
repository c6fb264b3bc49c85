"""Anomaly scores in the app: names for people, the stored score fit loaded once per checkpoint, and the
stored out-of-distribution benchmarks. The test set's scores themselves live in the atlas (vae.atlas)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from vae.checkpoint import WEIGHTS, Checkpoint
from vae.config import ModelConfig
from vae.ood import ROC_JSON, load_curves
from vae.scores import NLL_K, REFERENCE_META, REFERENCE_TENSORS, SCORES, Reference, ScoresError, load_reference

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
def _reference(folder: str, sig: tuple[int, ...], cfg: ModelConfig) -> Reference | str | None:
    try:
        return load_reference(folder, cfg)
    except ScoresError as err:
        return str(err)


def reference(ckpt: Checkpoint) -> tuple[Reference | None, str | None]:
    """The stored fit of the knn and stats scores, or None with why it cannot be used."""
    folder = ckpt.folder.resolve()
    found = _reference(str(folder), _mtimes(folder, (REFERENCE_TENSORS, REFERENCE_META, WEIGHTS)), ckpt.model.cfg)
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
