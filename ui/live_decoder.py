"""The live decoder: the VAE's decoder running in the browser, as a Streamlit component (components/live_decoder).

Dragging a latent slider, moving the pointer over the latent map or scrubbing an interpolation
redraws the image on every animation frame with no server round trip; Python hears only about
commits (a slider released, a map place clicked, the scrubber let go). A page uses it like this:

    spec = model_spec(ckpt)                         # vae.export.decoder_spec, made once per loaded model
    result = live_decoder("sliders", spec, key="sliders", z=z, dims=order, labels=names, inactive=off)
    if not result.available:                        # switched off, unsupported, or the JS failed
        st.caption(result.error)                    # ... and draw the server path instead
    elif result.z is not None:                      # the user released a slider in this run
        st.session_state.z = result.z

and for the map, `live_decoder("map", spec, key="live_map", atlas=atlas_spec(atlas, "umap", names))`.

The weights travel in a separate mount whose data never changes, so Streamlit's message cache
sends them once per model and then only a reference; the view's own data (the code, slider
labels) stays small. `LATENT_EXPLORER_NO_BROWSER_DECODER=1`, or `decoder=server` in the URL (held for the session),
switches the browser path off, which is how tests reach the fallback.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import streamlit as st
from torch import Tensor

from vae.atlas import Atlas
from vae.checkpoint import WEIGHTS, Checkpoint
from vae.export import UnsupportedDecoder, decoder_spec, map_spec
from vae.model import VAE

COMPONENT_DIR = Path(__file__).resolve().parent.parent / "components" / "live_decoder"
# Concatenated in this order into one ES module; their `import` lines only serve node's tests.
MODULES = ("decoder.mjs", "inverse_map.mjs", "component.mjs")
DISABLE_ENV = "LATENT_EXPLORER_NO_BROWSER_DECODER"
FAILED = "_live_decoder_failed"  # session_state: decoder spec id -> why the browser could not run it
SERVER_ONLY = "_live_decoder_server_only"  # session_state: the URL asked for the server path
Mode = Literal["sliders", "map", "path"]


def _bundle() -> str:
    parts = []
    for name in MODULES:
        source = (COMPONENT_DIR / name).read_text()
        parts.append(re.sub(r"^import .*?;\n", "", source, flags=re.MULTILINE | re.DOTALL))
    return "\n".join(parts)


_component = st.components.v2.component(
    "latent_explorer.live_decoder",
    css=(COMPONENT_DIR / "style.css").read_text(),
    js=_bundle(),
)


@dataclass(frozen=True)
class LiveDecoderResult:
    """What the live decoder hands back in one script run.

    `available` is False when the page must draw the server path instead; `error` then says why, in a
    sentence fit for a caption. `z` is set only in the run a user committed a code: slider released
    (sliders), place clicked (map, with `xy` and the nearest atlas point's `label`) or scrubber let
    go (path, with `t`).
    """

    available: bool
    error: str | None = None
    z: list[float] | None = None
    xy: tuple[float, float] | None = None
    label: int | None = None
    t: float | None = None


@st.cache_resource(max_entries=8, show_spinner=False)
def _model_spec(_model: VAE, identity: tuple[Any, ...]) -> dict[str, Any] | None:
    try:
        return decoder_spec(_model)
    except UnsupportedDecoder:
        return None


def model_spec(ckpt: Checkpoint) -> dict[str, Any] | None:
    """vae.export.decoder_spec of the checkpoint's model, made once per loaded model; None if unsupported."""
    weights = ckpt.folder / WEIGHTS
    stat = weights.stat() if weights.is_file() else None
    identity = (str(ckpt.folder.resolve()), stat and (stat.st_mtime_ns, stat.st_size), id(ckpt.model))
    return _model_spec(ckpt.model, identity)


@st.cache_resource(max_entries=8, show_spinner=False)
def _map_spec(_xy: Tensor, _mu: Tensor, _labels: Tensor, class_names: tuple[str, ...],
              identity: tuple[Any, ...]) -> dict[str, Any]:
    return map_spec(_xy, _mu, _labels, list(class_names))


def atlas_spec(atlas: Atlas, projection: str, class_names: list[str]) -> dict[str, Any]:
    """vae.export.map_spec of a vae.atlas.Atlas in one projection, made once per atlas and projection."""
    identity = (atlas.meta.get("weights_sha256"), projection, len(atlas), id(atlas))
    return _map_spec(atlas.coords[projection], atlas.mu, atlas.labels, tuple(class_names), identity)


def browser_decoding_disabled() -> bool:
    """True when the environment or the URL asks for the server path.

    `decoder=server` in the URL holds for the rest of the session (pages rewrite their URLs), until
    a `decoder=browser` turns it back.
    """
    if os.environ.get(DISABLE_ENV, "").strip().lower() in ("1", "true", "yes"):
        return True
    asked = st.query_params.get("decoder")
    if asked in ("server", "browser"):
        st.session_state[SERVER_ONLY] = asked == "server"
    return bool(st.session_state.get(SERVER_ONLY))


def _floats(values: Sequence[float], what: str) -> list[float]:
    out = [float(v) for v in values]
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"{what} must be finite numbers")
    return out


def _view_data(mode: Mode, spec: dict[str, Any], atlas: dict[str, Any] | None, **opts: Any) -> dict[str, Any]:
    latent_dim = int(spec["latent_dim"])
    data: dict[str, Any] = {"mode": mode, "decoder": spec["id"], "map": None,
                            "size": int(opts["image_size"]), "label": opts["label"]}
    if mode == "sliders":
        z = _floats(opts["z"] if opts["z"] is not None else [0.0] * latent_dim, "z")
        dims = list(opts["dims"]) if opts["dims"] is not None else list(range(latent_dim))
        labels = list(opts["labels"]) if opts["labels"] is not None else [f"z{d}" for d in dims]
        if len(z) != latent_dim or len(labels) != len(dims) or not all(0 <= d < latent_dim for d in dims):
            raise ValueError(f"sliders need z of length {latent_dim}, dims within it, and one label per dim")
        lo, hi = opts["bounds"]
        data |= {"z": z, "bounds": [float(lo), float(hi)], "step": float(opts["step"]),
                 "sliders": [{"dim": int(d), "label": str(name), "inactive": d in opts["inactive"]}
                             for d, name in zip(dims, labels, strict=True)]}
    elif mode == "map":
        if atlas is None or int(atlas["latent_dim"]) != latent_dim:
            raise ValueError("map mode needs an atlas (vae.export.map_spec) with the decoder's latent size")
        pinned = opts["pinned"]
        data |= {"map": atlas["id"], "pinned": None if pinned is None else _floats(pinned, "pinned")}
    elif mode == "path":
        path = [_floats(code, "path codes") for code in opts["path"] or []]
        if len(path) < 2 or any(len(code) != latent_dim for code in path):
            raise ValueError(f"path mode needs at least two codes of length {latent_dim}")
        data |= {"path": path, "t": min(1.0, max(0.0, float(opts["t"]))), "endLabels": list(opts["end_labels"])}
    else:
        raise ValueError(f"mode must be 'sliders', 'map' or 'path', got {mode!r}")
    return data


def live_decoder(
    mode: Mode,
    spec: dict[str, Any] | None,
    *,
    key: str,
    z: Sequence[float] | None = None,
    label: int | None = None,
    dims: Sequence[int] | None = None,
    labels: Sequence[str] | None = None,
    inactive: Collection[int] = (),
    bounds: tuple[float, float] = (-3.0, 3.0),
    step: float = 0.01,
    atlas: dict[str, Any] | None = None,
    pinned: tuple[float, float] | None = None,
    path: Sequence[Sequence[float]] | None = None,
    t: float = 0.0,
    end_labels: tuple[str, str] = ("A", "B"),
    image_size: int = 196,
    on_commit: Callable[[LiveDecoderResult], None] | None = None,
) -> LiveDecoderResult:
    """Mount the live decoder and return what the user committed in this run.

    mode "sliders": one slider per entry of `dims` (default: every dimension in order), captioned by
    `labels`, those in `inactive` faded, all within `bounds`; `z` is the full code (default zeros).
    mode "map": the atlas `map_spec` drawn as a scatter; hovering decodes, clicking pins; `pinned`
    marks a place already chosen. mode "path": a scrubber along `path` (codes from A to B, as from
    vae.latent.interpolate) starting at `t` in [0, 1]. `label` is the class for a conditional
    decoder (map mode defaults to the nearest atlas point's). `spec` is vae.export.decoder_spec(model),
    or None for a decoder it cannot describe. Python values passed here replace what the user set only
    when they change, so a page can reset or randomize the code by passing a new `z`.
    `on_commit(result)` runs before the script, like a widget's on_change, so the run that follows a
    commit already passes the committed values back (a later reset to the old values then counts as a change).
    """
    if spec is None:
        return LiveDecoderResult(False, "This model's decoder cannot run in the browser; images come from the server.")
    if browser_decoding_disabled():
        return LiveDecoderResult(False, "Browser decoding is switched off; images come from the server.")
    failed = st.session_state.setdefault(FAILED, {})
    reported = st.session_state.get(key)  # the view's state from the browser, before this run mounts it
    if isinstance(reported, Mapping) and reported.get("error"):
        failed[spec["id"]] = str(reported["error"])[:200]
    if spec["id"] in failed:
        return LiveDecoderResult(False, f"Browser decoding failed ({failed[spec['id']]}); images come from the server.")
    data = _view_data(mode, spec, atlas, z=z, label=label, dims=dims, labels=labels, inactive=set(inactive),
                      bounds=bounds, step=step, pinned=pinned, path=path, t=t, end_labels=end_labels,
                      image_size=image_size)

    def committed() -> None:
        if on_commit is not None:
            on_commit(_committed(st.session_state[key].get("commit")))

    with st.container(gap=None):
        _component(key=f"{key}-weights", data={"load": {"decoder": spec, "map": atlas if mode == "map" else None}})
        result = _component(key=key, data=data, on_error_change=lambda: None, on_commit_change=committed)
    return _committed(result.commit)


def _committed(commit: Any) -> LiveDecoderResult:
    if not isinstance(commit, dict):
        return LiveDecoderResult(True)
    xy = commit.get("xy")
    return LiveDecoderResult(
        True,
        z=[float(v) for v in commit["z"]],
        xy=None if xy is None else (float(xy[0]), float(xy[1])),
        label=commit.get("label"),
        t=commit.get("t"),
    )
