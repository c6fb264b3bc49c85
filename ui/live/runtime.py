"""The in-browser model runtime, and what every live view shares.

The runtime (components/model_runtime) runs the model's networks in the browser: the decoder and the
encoder as ONNX, with onnxruntime-web (which `make` installs from npm and copies into static/ort/,
served by Streamlit at app/static/ort/), and the map between places and codes. Each view
(components/views: sliders, map, path, pad; Python in ui/live/*.py) is a Streamlit component of its
own that draws on every animation frame with no server round trip; Python hears only about commits
(a slider released, a place clicked, the scrubber let go, a stroke ended). A view mounts two
elements: the runtime's, whose data (the specs: ONNX networks, atlas points, score lists) never
changes for a model, so Streamlit sends it once and then only a reference; and the view's own, small
(the code, slider labels), naming the specs by id.

`LATENT_EXPLORER_NO_BROWSER_DECODER=1`, or `decoder=server` in the URL (held for the session),
switches the browser path off, which is how tests reach the fallbacks; so does a missing static/ort/.
A view that fails in the browser reports why, and its page falls back for the rest of the session.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st
from torch import Tensor

from vae.analysis.atlas import Atlas
from vae.models.interface import Model, as_model
from vae.store.atomic import atomic_write
from vae.store.checkpoint import WEIGHTS, Checkpoint
from vae.store.export import atlas_map_spec, network_specs, values_spec
from vae.store.onnx_export import DECODER, ENCODER, OnnxNetworks, model_json, onnx_networks

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = ROOT / "components"
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")  # `make` copies them
ORT_STATIC = "static/ort"  # next to the app's main script, as Streamlit serves it
ONNX_CACHE = ROOT / ".cache" / "onnx"  # git-ignored: checkpoints' ONNX exports, a folder per weights hash
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


@st.cache_resource(max_entries=32, show_spinner=False)
def _weights_hash(_model: Model, identity: tuple[Any, ...]) -> str:
    """The sha256 of the model's description and its module's weights (hashed once per loaded model)."""
    digest = hashlib.sha256(repr((getattr(_model, "config", None), _model.describe())).encode())
    for name, tensor in _model.module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _exported(model: Model, weights: str) -> OnnxNetworks:
    """The model's ONNX networks: from ONNX_CACHE when these weights were exported before, else exported
    now (seconds) and stored there, so a server restart does not pay for it again."""
    folder = ONNX_CACHE / weights
    files = (folder / ENCODER, folder / DECODER)
    if all(file.is_file() for file in files):
        return OnnxNetworks(*(file.read_bytes() for file in files))
    nets = onnx_networks(model)
    with contextlib.suppress(OSError):  # a read-only install keeps the export in memory only
        for file, data in zip(files, nets, strict=True):
            atomic_write(file, lambda path, data=data: Path(path).write_bytes(data))
    return nets


@st.cache_resource(max_entries=8, show_spinner="Preparing the model for your browser (once per model)…")
def _network_specs(_ckpt: Checkpoint, weights: str, runtime: str) -> dict[str, Spec] | None:
    """The checkpoint's networks as ONNX specs (made once per weights, whoever asks), or None."""
    try:
        nets = _exported(_ckpt.model, weights)
    except Exception:  # an exporter failure of any kind means: decode on the server
        return None
    return _served(network_specs(nets.encoder, nets.decoder, model_json(_ckpt)), runtime)


def runtime_path() -> str:
    """The URL path where Streamlit serves onnxruntime-web's files (static/ort/ beside the main script)."""
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}/app/{ORT_STATIC}/" if base else f"/app/{ORT_STATIC}/"


def runtime_missing() -> str | None:
    """Why onnxruntime-web cannot be served (not installed by `make`, static serving off), or None.

    Streamlit serves static/ beside the main script: app.py's is ROOT/static; the test and bench apps
    elsewhere link theirs to it."""
    if not st.get_option("server.enableStaticServing"):
        return "static serving is off (server.enableStaticServing)"
    if not all((ROOT / ORT_STATIC / name).is_file() for name in ORT_FILES):
        return f"onnxruntime-web is not in {ORT_STATIC}/: run make"
    return None


def _served(specs: dict[str, Spec], runtime: str) -> dict[str, Spec]:
    return {role: {**spec, "runtime": runtime} for role, spec in specs.items()}


def checkpoint_specs(ckpt: Checkpoint) -> dict[str, Spec] | None:
    """The checkpoint's encoder and decoder specs for the browser (vae.store.export.network_specs of its ONNX
    export, made once per weights and cached), each naming where onnxruntime-web is served; None if
    the networks cannot be exported. An ONNX folder's files are served as they are."""
    model = as_model(ckpt.model, ckpt.class_names)
    if model.module is None:  # an ONNX folder: its own files, with what its model.json declares
        declared = {**model.describe(), "input_range": ckpt.meta.get("input_range", [0, 1])}
        try:
            return onnx_specs(*((ckpt.folder / name).read_bytes() for name in (ENCODER, DECODER)), declared)
        except (OSError, ValueError):
            return None
    return _network_specs(ckpt, _weights_hash(model, _identity(ckpt)), runtime_path())


@st.cache_resource(max_entries=8, show_spinner=False)
def _file_specs(encoder: bytes | None, decoder: bytes, model: str, runtime: str) -> dict[str, Spec]:
    return _served(network_specs(encoder, decoder, json.loads(model)), runtime)


def onnx_specs(encoder: bytes | None, decoder: bytes, model: Mapping[str, Any]) -> dict[str, Spec]:
    """The specs of ONNX files as they are (a model folder's encoder.onnx, decoder.onnx, model.json), for
    the browser: made once per content. Raises ValueError for a model.json the runtime cannot follow."""
    return _file_specs(encoder, decoder, json.dumps(dict(model), sort_keys=True), runtime_path())


def decoder_of(ckpt: Checkpoint) -> Spec | None:
    """The checkpoint's decoder for the browser (checkpoint_specs); None if it cannot run there."""
    specs = checkpoint_specs(ckpt)
    return specs and specs["decoder"]


def encoder_of(ckpt: Checkpoint) -> Spec | None:
    """The checkpoint's encoder for the browser (checkpoint_specs); None if it cannot run there."""
    specs = checkpoint_specs(ckpt)
    return specs and specs.get("encoder")


@st.cache_resource(max_entries=8, show_spinner=False)
def _map_spec(_atlas: Atlas, projection: str, class_names: tuple[str, ...], identity: tuple[Any, ...]) -> Spec:
    return atlas_map_spec(_atlas, projection, list(class_names))


def atlas_spec(atlas: Atlas, projection: str, class_names: list[str]) -> Spec:
    """The map of an atlas in one projection, made once per atlas and projection (vae.store.export.atlas_map_spec)."""
    identity = (atlas.meta.get("weights_sha256"), len(atlas), id(atlas))
    return _map_spec(atlas, projection, tuple(class_names), identity)


@st.cache_resource(max_entries=16, show_spinner=False)
def _values_spec(_values: Tensor, identity: tuple[Any, ...]) -> Spec:
    return values_spec(_values)


def values_of(values: Tensor, name: str, owner: Any) -> Spec:
    """vae.store.export.values_spec of a list of numbers, made once per `name` and `owner` (an atlas, a model)."""
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


def unavailable(key: str, specs: Mapping[str, Spec | None], fallback: str, decodes: bool = True) -> str | None:
    """Why the view `key` cannot run on these specs (a sentence ending in `fallback`), or None when it can.

    An error the view reported from the browser (its state value `error`) sticks for the session. A view
    that `decodes` nothing (the map without its decoder) still runs when browser decoding is switched off.
    """
    if any(spec is None for spec in specs.values()):
        return f"This model's networks cannot run in the browser; {fallback}."
    if decodes and browser_disabled():
        return f"Browser decoding is switched off; {fallback}."
    if any(spec.get("runtime") for spec in specs.values()) and (missing := runtime_missing()):
        return f"The browser runtime is missing ({missing}); {fallback}."
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
