"""The page bench/live_decode.py drives: the shipped decoder live in the browser, and through a plain st.slider.

URL parameter `mode`: `sliders`, `map` and `pad` mount ui.live's views; `server` is the plain path (st.slider,
decode on the server, st.image). The checkpoint comes from $LATENT_EXPLORER_BENCH_CHECKPOINT (default
checkpoints/mnist); without a stored atlas, a PCA one is built in memory from the test set.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import streamlit as st
import torch

from ui.live.map import live_map
from ui.live.pad import ModelInput, PadScore, draw_pad
from ui.live.runtime import checkpoint_specs
from ui.live.sliders import live_sliders
from ui.scores import score_of
from vae.analysis.atlas import AtlasError, build_atlas, load_atlas, load_test_set
from vae.datasets.images import to_pil
from vae.datasets.imageset import DataError
from vae.networks.latent import decode
from vae.store.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from vae.store.export import atlas_map_spec

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "mnist"
CHECKPOINT = os.environ.get("LATENT_EXPLORER_BENCH_CHECKPOINT", str(SHIPPED))


@st.cache_resource
def load(folder: str) -> tuple[Checkpoint, dict[str, dict[str, Any]] | None, dict[str, Any], str, float]:
    ckpt = load_checkpoint(folder)
    try:
        atlas = load_atlas(folder)
    except AtlasError:
        atlas = build_atlas(ckpt, load_test_set(ckpt.meta), use_umap=False)
    projection = "umap" if "umap" in atlas.coords else "pca"
    points = atlas_map_spec(atlas, projection, ckpt.class_names)
    started = time.perf_counter()
    networks = checkpoint_specs(ckpt)  # exported to ONNX, or read back from the disk cache: a first visit's cost
    return ckpt, networks, points, projection, time.perf_counter() - started


try:
    ckpt, networks, points, projection, export_s = load(CHECKPOINT)
except (CheckpointError, DataError, AtlasError) as err:
    st.error(f"Cannot bench {CHECKPOINT}: {err}")
    st.stop()
st.caption(f"{ckpt.name}: {ckpt.model.cfg.arch}, latent {ckpt.model.cfg.latent_dim}; map: {projection}; "
           f"ONNX networks ready in {export_s:.2f} s")
mode = st.query_params.get("mode", "sliders")
decoder, encoder = (networks[role] if networks else None for role in ("decoder", "encoder"))
if mode == "server":
    z = torch.zeros(1, ckpt.model.cfg.latent_dim)
    z[0, 0] = st.slider("z0", -3.0, 3.0, 0.0, 0.01)
    y = torch.zeros(1, dtype=torch.long) if ckpt.model.cfg.conditional else None
    st.image(to_pil(decode(ckpt.model, z, y)[0], scale=7))
    st.caption(f"decoded from z0 = {z[0, 0]:+.2f}")  # last on the page: the bench sees a run end when it changes
elif mode == "sliders":
    result = live_sliders(decoder, key=mode)
elif mode == "map":
    result = live_map(decoder, key=mode, points=points)
else:
    cfg = ckpt.model.cfg
    result = draw_pad(decoder, encoder, key=mode, model_input=ModelInput(cfg.channels, cfg.height, cfg.width),
                      score=PadScore(score_of(cfg)), points=points, label=0 if cfg.conditional else None)
if mode != "server" and not result.available:
    st.error(result.error)
