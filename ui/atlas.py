"""The atlas in the app: loaded once per checkpoint, or built once (with a progress bar) and stored.

A stored atlas is read without importing umap. Building takes a lock per checkpoint, so two
sessions asking at once build it once. If the checkpoint folder is read-only, the built atlas
is kept in memory instead. Set LATENT_EXPLORER_ATLAS_UMAP=0 to build PCA-only atlases
(seconds instead of a minute; the tests do).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import streamlit as st
import torch
from torch import Tensor

from vae.analysis.atlas import Atlas, AtlasError, AtlasMissing, build_atlas, files, load_atlas, save_atlas
from vae.datasets.imageset import ImageSet
from vae.networks.latent import decode, encode_dataset
from vae.networks.objectives import kl_per_dim
from vae.store.checkpoint import Checkpoint

UMAP_ENV = "LATENT_EXPLORER_ATLAS_UMAP"
STATS_SUBSET = 2000  # test images encoded for KL order when there are neither metrics nor an atlas
ACTIVE_VARIANCE = 0.01  # Burda et al.'s active-unit threshold, as in vae.training.evaluate


def _signature(folder: Path, split: str = "test") -> tuple[int, ...]:
    paths = [folder / name for name in files(split)] + [folder / "model.safetensors"]
    return tuple(_mtime(f) for f in paths)


def _mtime(path: Path) -> int:
    """Modification time, 0 where the file is missing, -1 where it cannot be looked at (loading then says why)."""
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0
    except OSError:
        return -1


@st.cache_resource(max_entries=8, show_spinner=False)
def _load(folder: str, sig: tuple[int, ...], split: str = "test") -> Atlas:
    return load_atlas(folder, split)


@st.cache_resource(max_entries=8, show_spinner=False)
def _part(folder: str, sig: tuple[int, ...], split: str, _whole: Atlas) -> Atlas:
    return _whole.part(split)


def whole(ckpt: Checkpoint) -> Atlas | str | None:
    """The checkpoint's atlas of both splits (`python -m vae atlas CHECKPOINT --split all`; never built here: it
    takes minutes), None when it has none, or why it cannot be used (unreadable, or of earlier weights)."""
    folder = ckpt.folder.resolve()
    try:
        atlas = _load(str(folder), _signature(folder, "all"), "all")
    except AtlasMissing:
        return None
    except AtlasError as err:
        return f"The map of all images cannot be read: {err}"
    return "The map of all images was built from earlier weights of this model." if atlas.stale else atlas


def part(ckpt: Checkpoint, atlas: Atlas, split: str) -> Atlas:
    """Atlas.part, made once per stored atlas (its identity keeps the map's browser data cached)."""
    folder = ckpt.folder.resolve()
    return _part(str(folder), _signature(folder, "all"), split, atlas)


@st.cache_resource(show_spinner=False)
def _shared() -> dict:
    """Build locks per folder, and atlases that could not be written to disk."""
    return {"lock": threading.Lock(), "locks": {}, "memory": {}}


def _lock(folder: Path) -> threading.Lock:
    shared = _shared()
    with shared["lock"]:
        return shared["locks"].setdefault(str(folder), threading.Lock())


def stored(ckpt: Checkpoint) -> Atlas | None:
    """The checkpoint's atlas if it has one (on disk or kept in memory); never builds."""
    folder = ckpt.folder.resolve()
    try:
        return _load(str(folder), _signature(folder))
    except AtlasMissing:
        return _shared()["memory"].get(str(folder))


def _build(ckpt: Checkpoint, data: ImageSet) -> Atlas:
    """Build the atlas with a progress bar and store it beside the checkpoint (call with its lock held)."""
    folder = ckpt.folder.resolve()
    note = st.caption(
        f"This model has no latent map yet, so it is being built now from {len(data):,} test images, once: "
        "it is stored beside the checkpoint and opens at once next time."
    )
    bar = st.progress(0.0, text="Building the latent map: encoding the test set…")

    def progress(fraction: float, message: str) -> None:
        bar.progress(min(1.0, fraction), text=message)

    try:
        atlas = build_atlas(ckpt, data, progress, use_umap=os.environ.get(UMAP_ENV, "1") != "0")
    except ImportError:
        st.warning("umap-learn is not installed, so the map offers PCA only.")
        atlas = build_atlas(ckpt, data, progress, use_umap=False)
    try:
        save_atlas(folder, atlas)
    except OSError as err:
        _shared()["memory"][str(folder)] = atlas
        st.warning(f"The map could not be saved beside the checkpoint ({err}); it is kept until the app restarts.")
    bar.empty()
    note.empty()
    return atlas


def point_images(ckpt: Checkpoint, atlas: Atlas, data: ImageSet | None, indices: Tensor) -> Tensor:
    """The test images of these atlas points; their reconstructions when the images are not available
    (pass data=None too when the atlas does not describe them: see describes)."""
    if data is not None:
        return data.floats(indices)
    y = atlas.labels[indices]
    return decode(ckpt.model, atlas.mu[indices], y)


def rebuild(ckpt: Checkpoint, data: ImageSet) -> Atlas:
    with _lock(ckpt.folder.resolve()):
        return _build(ckpt, data)


def get(ckpt: Checkpoint, data: ImageSet | None) -> Atlas | None:
    """The stored atlas, or one built now (once) when there is none; None with a message on failure."""
    try:
        atlas = stored(ckpt)
    except AtlasError as err:
        st.error(f"The stored latent map cannot be read: {err}")
        if data is not None and st.button("Rebuild the latent map", key="rebuild_broken_atlas"):
            return rebuild(ckpt, data)
        return None
    if atlas is not None:
        return atlas
    if data is None:
        st.info("This checkpoint has no latent map yet, and building one needs the test images.")
        return None
    with _lock(ckpt.folder.resolve()):
        try:  # another session may have built it while this one waited for the lock
            atlas = stored(ckpt)
        except AtlasError:
            atlas = None
        return atlas or _build(ckpt, data)


@st.cache_resource(max_entries=8, show_spinner=False)
def _describes(folder: str, sig: tuple[int, ...], data_id: int, images: str | None, n: int, _atlas: Atlas,
               _data: ImageSet) -> bool:
    return _atlas.describes(_data)


def describes(ckpt: Checkpoint, atlas: Atlas, data: ImageSet) -> bool:
    """Atlas.describes, once per atlas and loaded image set (hashing 10,000 images takes a while)."""
    folder = ckpt.folder.resolve()
    return _describes(str(folder), _signature(folder), id(data), atlas.meta.get("images_sha256"), len(atlas), atlas,
                      data)


@st.cache_resource(max_entries=8, show_spinner="Measuring each latent dimension…")
def _encoded_stats(folder: str, sig: tuple[int, ...], _ckpt: Checkpoint, _data: ImageSet) -> tuple[Tensor, Tensor]:
    mu, logvar = encode_dataset(_ckpt.model, _data.subset(STATS_SUBSET))
    return kl_per_dim(mu, logvar).mean(dim=0), mu.var(dim=0)


@st.cache_resource(max_entries=8, show_spinner="Encoding test images…")
def _encoded_codes(folder: str, sig: tuple[int, ...], _ckpt: Checkpoint, _data: ImageSet) -> tuple[Tensor, Tensor]:
    part = _data.subset(STATS_SUBSET)
    return encode_dataset(_ckpt.model, part)[0], part.labels


def class_codes(ckpt: Checkpoint, data: ImageSet | None) -> tuple[Tensor, Tensor, str] | None:
    """Latent means of labelled test images, their labels, and where they come from: the stored atlas's,
    else the first 2,000 test images encoded now; None when neither is available."""
    try:
        atlas = stored(ckpt)
    except AtlasError:
        atlas = None
    if atlas is not None and not atlas.stale and atlas.mu.shape[1] == ckpt.model.latent_dim:
        return atlas.mu, atlas.labels, "the latent map's test images"
    if data is None:
        return None
    folder = ckpt.folder.resolve()
    mu, labels = _encoded_codes(str(folder), _signature(folder), ckpt, data)
    return mu, labels, f"the first {len(labels):,} test images"


def latent_stats(ckpt: Checkpoint, data: ImageSet | None) -> tuple[Tensor | None, Tensor, str] | None:
    """KL (nats) and posterior-mean variance per dimension, and where they come from.

    From the evaluate metrics when present, else from a stored atlas, else from encoding
    the first 2,000 test images; None when none of these is available. The KL is None for the
    deterministic members (ae, wae), which have no posterior.
    """
    dim, stochastic = ckpt.model.latent_dim, ckpt.model.posterior
    found = _stored_stats(ckpt, dim)
    if found is None and data is not None:
        folder = ckpt.folder.resolve()
        kl_t, var_t = _encoded_stats(str(folder), _signature(folder), ckpt, data)
        found = kl_t, var_t, f"the first {min(STATS_SUBSET, len(data)):,} test images"
    if found is None:
        return None
    kl, variance, source = found
    return (kl if stochastic else None), variance, source


def _stored_stats(ckpt: Checkpoint, dim: int) -> tuple[Tensor | None, Tensor, str] | None:
    metrics = ckpt.meta.get("metrics") or {}
    kl, var = metrics.get("kl_per_dim"), metrics.get("latent_variance")
    kl_ok = isinstance(kl, list) and len(kl) == dim
    if isinstance(var, list) and len(var) == dim and (kl_ok or not ckpt.model.posterior):
        return (torch.tensor(kl) if kl_ok else None), torch.tensor(var), "the evaluate metrics"
    try:
        atlas = stored(ckpt)
    except AtlasError:
        atlas = None
    if atlas is not None and not atlas.stale and atlas.mu.shape[1] == dim:
        return atlas.kl_per_dim, atlas.mean_variance, "the latent map's test images"
    return None


def active(variance: Tensor) -> Tensor:
    return variance > ACTIVE_VARIANCE
