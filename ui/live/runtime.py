"""The in-browser model runtime, and what every live view shares.

The runtime (components/model_runtime) runs the model's networks in the browser: the decoder, the
encoder, and the map between places and codes. Each view (components/views: sliders, map, path,
pad; Python in ui/live/*.py) is a Streamlit component of its own that draws on every animation frame
with no server round trip; Python hears only about commits (a slider released, a place clicked, the
scrubber let go, a stroke ended). A view mounts two elements: the runtime's, whose data (the specs:
weights, atlas points, score lists) never changes for a model, so Streamlit sends it once and then
only a reference; and the view's own, small (the code, slider labels), naming the specs by id.

`LATENT_EXPLORER_NO_BROWSER_DECODER=1`, or `decoder=server` in the URL (held for the session),
switches the browser path off, which is how tests reach the fallbacks. A view that fails in the
browser reports why, and its page falls back for the rest of the session.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st
from torch import Tensor

from vae.atlas import Atlas
from vae.checkpoint import WEIGHTS, Checkpoint
from vae.export import UnsupportedNetwork, atlas_map_spec, decoder_spec, encoder_spec, values_spec
from vae.interface import as_model
from vae.model import VAE

COMPONENTS = Path(__file__).resolve().parents[2] / "components"
DISABLE_ENV = "LATENT_EXPLORER_NO_BROWSER_DECODER"
FAILED = "_live_failed"  # session_state: the ids of a view's specs -> why the browser could not run them
SERVER_ONLY = "_live_server_only"  # session_state: the URL asked for the server path
IMPORT = re.compile(r'^import [^;]*? from "(\.{1,2}/[^"]+)";\n', re.MULTILINE | re.DOTALL)

Spec = dict[str, Any]
R = TypeVar("R")


def bundle(entry: Path) -> str:
    """One ES module of `entry` and every module it imports (relative paths), each once, imports first.

    The modules' `import` lines only serve node's tests; here they are resolved by concatenation.
    """
    seen: list[Path] = []

    def add(path: Path) -> None:
        if path in seen:
            return
        source = path.read_text()
        for name in IMPORT.findall(source):
            add((path.parent / name).resolve())
        seen.append(path)

    add(entry.resolve())
    return "\n".join(IMPORT.sub("", path.read_text()) for path in seen)


_runtime = st.components.v2.component(
    "latent_explorer.model_runtime", js=bundle(COMPONENTS / "model_runtime" / "runtime.mjs"),
)


def view_component(name: str, styles: tuple[str, ...] = ()) -> Any:
    """The Streamlit component of components/views/<name>.mjs, styled by base.css and `styles` (css names)."""
    views = COMPONENTS / "views"
    css = "\n".join((views / f"{sheet}.css").read_text() for sheet in ("base", *styles))
    return st.components.v2.component(f"latent_explorer.{name}_view", css=css, js=bundle(views / f"{name}.mjs"))


@dataclass(frozen=True)
class Live:
    """What a view hands back in one run: `available` is False when the page must draw its fallback
    instead, and `error` then says why, in a sentence fit for a caption. Views add what they commit."""

    available: bool
    error: str | None = None


def _identity(ckpt: Checkpoint) -> tuple[Any, ...]:
    weights = ckpt.folder / WEIGHTS
    stat = weights.stat() if weights.is_file() else None
    return (str(ckpt.folder.resolve()), stat and (stat.st_mtime_ns, stat.st_size), id(ckpt.model))


@st.cache_resource(max_entries=8, show_spinner=False)
def _network_spec(_model: VAE | None, network: str, identity: tuple[Any, ...]) -> Spec | None:
    if _model is None:  # a model from elsewhere (ONNX, code): the hand-written runtime has no layers for it
        return None
    try:
        return (decoder_spec if network == "decoder" else encoder_spec)(_model)
    except UnsupportedNetwork:
        return None


def decoder_of(ckpt: Checkpoint) -> Spec | None:
    """vae.export.decoder_spec of the checkpoint's model, made once per loaded model; None if unsupported."""
    return _network_spec(getattr(as_model(ckpt.model), "vae", None), "decoder", _identity(ckpt))


def encoder_of(ckpt: Checkpoint) -> Spec | None:
    """vae.export.encoder_spec of the checkpoint's model, made once per loaded model; None if unsupported."""
    return _network_spec(getattr(as_model(ckpt.model), "vae", None), "encoder", _identity(ckpt))


@st.cache_resource(max_entries=8, show_spinner=False)
def _map_spec(_atlas: Atlas, projection: str, class_names: tuple[str, ...], identity: tuple[Any, ...]) -> Spec:
    return atlas_map_spec(_atlas, projection, list(class_names))


def atlas_spec(atlas: Atlas, projection: str, class_names: list[str]) -> Spec:
    """The map of an atlas in one projection, made once per atlas and projection (vae.export.atlas_map_spec)."""
    identity = (atlas.meta.get("weights_sha256"), len(atlas), id(atlas))
    return _map_spec(atlas, projection, tuple(class_names), identity)


@st.cache_resource(max_entries=16, show_spinner=False)
def _values_spec(_values: Tensor, identity: tuple[Any, ...]) -> Spec:
    return values_spec(_values)


def values_of(values: Tensor, name: str, owner: Any) -> Spec:
    """vae.export.values_spec of a list of numbers, made once per `name` and `owner` (an atlas, a model)."""
    return _values_spec(values, (name, id(owner), len(values)))


def browser_disabled() -> bool:
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


def unavailable(key: str, specs: Mapping[str, Spec | None], fallback: str) -> str | None:
    """Why the view `key` cannot run on these specs (a sentence ending in `fallback`), or None when it can.

    An error the view reported from the browser (its state value `error`) sticks for the session.
    """
    if any(spec is None for spec in specs.values()):
        return f"This model's networks cannot run in the browser; {fallback}."
    if browser_disabled():
        return f"Browser decoding is switched off; {fallback}."
    failed = st.session_state.setdefault(FAILED, {})
    ident = "+".join(spec["id"] for spec in specs.values())
    reported = st.session_state.get(key)  # the view's state from the browser, before this run mounts it
    if isinstance(reported, Mapping) and reported.get("error"):
        failed[ident] = str(reported["error"])[:200]
    if ident in failed:
        return f"Browser decoding failed ({failed[ident]}); {fallback}."
    return None


def mount(view: Any, key: str, data: dict[str, Any], specs: Mapping[str, Spec],
          read: Callable[[dict[str, Any] | None], R], on_commit: Callable[[R], None] | None = None) -> R:
    """Mount the runtime with `specs` and the view with `data` (plus the specs' ids as its resources).

    Returns `read(commit)`: what the view committed in this run (None when nothing). `on_commit(result)`
    runs before the script, like a widget's on_change, so the run that follows a commit can use it.
    """

    def committed() -> None:
        commit = st.session_state[key].get("commit")
        if on_commit is not None and isinstance(commit, dict):
            on_commit(read(commit))

    with st.container(gap=None):
        _runtime(key=f"{key}-runtime", data={"specs": list(specs.values())})
        result = view(key=key, data={**data, "resources": {name: spec["id"] for name, spec in specs.items()}},
                      on_error_change=lambda: None, on_commit_change=committed)
    return read(result.commit if isinstance(result.commit, dict) else None)
