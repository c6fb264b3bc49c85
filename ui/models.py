"""Finding, loading and picking models; the picked model is shared by every page.

Model folders are looked for in the project's `checkpoints/` folder and in the folders named
by $LATENT_EXPLORER_CHECKPOINTS (several separated by the path separator) or by
`streamlit run app.py -- --checkpoints DIR`. Each of those may be a model folder itself or
hold model folders: our checkpoints (config.json), ONNX folders and trusted code (model.json),
all opened behind `vae.models.interface.Model` (`vae.models.sources.open_model`). Code is imported only when
the app was started with `-- --trust-code`. A folder that fails to load is listed with its reason.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import streamlit as st
import torch

from ui import state
from vae.analysis.atlas import load_test_set
from vae.datasets.data import data_root, dataset_missing
from vae.datasets.folder import PREFIX, locate
from vae.datasets.imageset import DataError, ImageSet
from vae.datasets.levels import Levels
from vae.models.interface import Model
from vae.models.model_json import DECODER, ENCODER, MODEL_JSON, NOTES_JSON
from vae.models.ours import Ours
from vae.models.sources import open_model
from vae.models.trusted import TRUST_FLAG
from vae.store.checkpoint import CONFIG, WEIGHTS, Checkpoint, CheckpointError

ENV = "LATENT_EXPLORER_CHECKPOINTS"
PROJECT_CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
DEFAULT_MODEL = "mnist"  # the flagship shipped model opens first when present
SHOWN = "_model_shown"  # the model the session's page state belongs to
SOURCE_WORDS = {"onnx": "ONNX", "code": "code"}


@dataclass(frozen=True)
class Entry:
    """A checkpoint folder as listed to the user: `id` names it in URLs; `error` says why it is broken."""

    id: str
    folder: Path
    error: str | None = None


def _command_line() -> argparse.Namespace:
    """The app's own arguments, after `--`: `--checkpoints DIR` (repeatable) and `--trust-code`."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--checkpoints", action="append", default=[])
    parser.add_argument(TRUST_FLAG, dest="trust_code", action="store_true")
    args, _ = parser.parse_known_args(sys.argv[1:])
    return args


def extra_roots() -> list[Path]:
    """Folders named by the environment variable and by `-- --checkpoints DIR` on the command line."""
    named = [p for p in os.environ.get(ENV, "").split(os.pathsep) if p.strip()]
    return [Path(p).expanduser() for p in named + _command_line().checkpoints]


def trust_code() -> bool:
    """Whether the app was started with `-- --trust-code`: only then is a model's own Python code imported."""
    return _command_line().trust_code


def _holds_checkpoint(folder: Path) -> bool:
    """Whether a folder holds weights, a config or a model.json; one that cannot be looked into counts, so that
    it is listed as broken with the reason (one unreadable folder must never hide the others)."""
    try:
        return any((folder / name).is_file() for name in (CONFIG, WEIGHTS, MODEL_JSON))
    except OSError:
        return True


def candidate_folders(root: Path) -> list[Path]:
    """root itself if it is a checkpoint folder, else its subfolders that hold weights or a config."""
    if _holds_checkpoint(root):
        return [root]
    try:
        subfolders = sorted(p for p in root.iterdir() if not p.name.startswith(".") and p.is_dir())
    except NotADirectoryError:
        return []
    except OSError:
        return [root]  # cannot be listed: one broken entry, with the reason
    return [p for p in subfolders if _holds_checkpoint(p)]


def signature(folder: Path) -> tuple[int, ...]:
    """Changes whenever the weights or the description are rewritten (training saves after every epoch)."""
    names = (WEIGHTS, CONFIG, MODEL_JSON, NOTES_JSON, ENCODER, DECODER)
    stats = [(folder / name).stat() for name in names if (folder / name).is_file()]
    return tuple(v for s in stats for v in (s.st_mtime_ns, s.st_size))


@st.cache_resource(max_entries=16, show_spinner=False)
def _load(folder: str, sig: tuple[int, ...], trusted: bool) -> Checkpoint | str:
    """The opened model, or the reason it cannot be opened (cached either way)."""
    try:
        return open_model(folder, trust_code=trusted)
    except CheckpointError as err:
        return str(err)
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as err:
        return f"{folder}: could not be loaded ({type(err).__name__}: {err})"


def load(entry: Entry) -> Checkpoint | str:
    try:
        sig = signature(entry.folder)
    except OSError as err:
        return f"{err.filename or entry.folder}: cannot be read ({err.strerror or err})"
    return _load(str(entry.folder.resolve()), sig, trust_code())


def discover() -> list[Entry]:
    """Every checkpoint folder found, loaded (cached) to know whether it works."""
    folders: list[Path] = []
    missing: list[Entry] = []
    for root in [PROJECT_CHECKPOINTS, *extra_roots()]:
        if root != PROJECT_CHECKPOINTS and not os.path.exists(root):  # False too where it cannot be looked at
            missing.append(Entry(str(root), root, f"{root}: named as a checkpoint folder but does not exist"))
        folders += [f for f in candidate_folders(root) if f.resolve() not in {g.resolve() for g in folders}]
    names = [f.name for f in folders]
    entries = []
    for folder in folders:
        ident = folder.name if names.count(folder.name) == 1 else f"{folder.parent.name}/{folder.name}"
        result = load(Entry(ident, folder))
        entries.append(Entry(ident, folder, result if isinstance(result, str) else None))
    return entries + missing


def _forget_page_state(model: str) -> None:
    """A different model means a different latent space: every page starts afresh, its link too."""
    for key in list(st.session_state):
        if key != state.MODEL_KEY:
            del st.session_state[key]
    st.query_params.from_dict({state.MODEL_KEY: model})


def pick_model() -> Checkpoint | None:
    """The sidebar's model picker; returns the chosen checkpoint (None when none works)."""
    entries = discover()
    working = [e for e in entries if e.error is None]
    if not working:
        st.session_state["_entries"] = entries
        st.sidebar.warning("No working model found.")
        return None
    ids = [e.id for e in working]
    default = DEFAULT_MODEL if DEFAULT_MODEL in ids else ids[0]
    current = st.session_state.get(state.MODEL_KEY)
    if current not in ids:  # the first run, a page switch that dropped it, or it broke or vanished since
        st.session_state.pop(state.MODEL_KEY, None)
        current = state.initial(state.MODEL_KEY, default, state.choice(ids))
    # However the model changed (the picker, a vanished model, a page switch that lost it), no page may
    # see the state of another model's latent space.
    if st.session_state.setdefault(SHOWN, current) != current:
        _forget_page_state(current)
    st.session_state[SHOWN] = current
    st.session_state["_entries"] = entries
    by_id = {e.id: e for e in working}
    # The model is the picker's default, never set through session_state: so the browser shows the right one
    # even should it redraw the picker without the value it holds (it showed the first model, now and then,
    # after a click on the current page's link).
    chosen = st.sidebar.selectbox(
        "Model", ids, index=ids.index(current), key=state.MODEL_KEY,
        format_func=lambda i: f"{i} · {describe(by_id[i])}",
        help="Every checkpoint under checkpoints/ and under $" + ENV + ".",
    )
    broken = len(entries) - len(working)
    if broken:
        st.sidebar.caption(f":orange[{broken} broken checkpoint folder{'s' * (broken > 1)}] (see Home).")
    return load(by_id[chosen])  # type: ignore[return-value]


def describe(entry: Entry) -> str:
    """The picker's short description: the dataset (unless the model is named after it), the architecture (ours)
    or the source (ONNX, code), and the latent size."""
    ckpt = load(entry)
    if isinstance(ckpt, str):
        return "broken"
    model, dataset = ckpt.model, dataset_label(ckpt.meta.get("dataset", "?"))
    made = model.config.arch if isinstance(model, Ours) else SOURCE_WORDS[model.source]
    return f"{'' if dataset == entry.id else dataset + ', '}{made}, z={latent_words(model)}"


def latent_words(model: Model) -> str:
    """The latent size as people write it: 16, or 4×7×7 for a spatial latent."""
    return "×".join(map(str, model.latent_shape))


def dataset_label(name: str) -> str:
    """A dataset's name where space is short: a folder dataset by its folder's name."""
    return Path(name.removeprefix(PREFIX)).name or name if name.startswith(PREFIX) else name


def dataset_of(ckpt: Checkpoint) -> str:
    """The checkpoint's dataset name, with a folder's path as found (old checkpoints kept it relative)."""
    return locate(ckpt.meta.get("dataset", "?"), ckpt.folder)


def data_missing(ckpt: Checkpoint) -> str | None:
    """Why the checkpoint's test images are not on disk, or None; cheap (nothing is loaded)."""
    return dataset_missing(dataset_of(ckpt), data_root())


def current() -> Checkpoint | None:
    """The model picked in the sidebar (app.py runs the picker before every page)."""
    entries = st.session_state.get("_entries", [])
    chosen = st.session_state.get(state.MODEL_KEY)
    for entry in entries:
        if entry.id == chosen and entry.error is None:
            result = load(entry)
            return None if isinstance(result, str) else result
    return None


def require_model() -> Checkpoint:
    """The picked model, or stop the page with a pointer to Home."""
    ckpt = current()
    if ckpt is None:
        st.info("No model to explore yet. Home lists the checkpoint folders found and how to train one.")
        st.page_link("pages/home.py", label="Go to Home", icon=":material/home:")
        st.stop()
    return ckpt


def open_page(title: str, caption: str) -> tuple[Checkpoint, ImageSet | None, list[str]]:
    """A page's first lines: the model picked (the page stops here without one), the page's title and caption
    over it, and the model's test images (None when they are missing, with why) and class names."""
    ckpt = require_model()
    st.title(title)
    st.caption(caption)
    return ckpt, load_test_images(ckpt), class_names(ckpt)


@st.cache_resource(max_entries=4, ttl=300, show_spinner="Loading the test images…")
def _load_test_images(dataset: str, train: tuple[tuple[str, Any], ...], levels: tuple[tuple[str, Any], ...],
                       class_names: tuple[str, ...], image_shape: tuple[int, ...] | None, root: str,
                       split: str = "test") -> ImageSet | str:
    """The test images (or the training images), or why they are missing (cached too: a failed download attempt
    takes seconds)."""
    meta = {"dataset": dataset, "train": dict(train), "levels": dict(levels), "class_names": list(class_names)}
    try:
        return load_test_set(meta | ({"image_shape": list(image_shape)} if image_shape else {}), root, split=split)
    except (DataError, ValueError, OSError) as err:
        return str(err)


@st.cache_resource(max_entries=2, ttl=300, show_spinner=False)
def _joined(ids: tuple[tuple[int, int], ...], _sets: tuple[ImageSet, ...]) -> ImageSet:
    parts = [data.subset(n) for data, (_, n) in zip(_sets, ids, strict=True)]
    return replace(parts[0], images=torch.cat([p.images for p in parts]), labels=torch.cat([p.labels for p in parts]))


def joined(parts: list[tuple[ImageSet, int]]) -> ImageSet:
    """The first n images of each set, one set after the other (cached), as an atlas of both splits holds them."""
    return _joined(tuple((id(data), n) for data, n in parts), tuple(data for data, _ in parts))


def load_test_images(ckpt: Checkpoint, split: str = "test") -> ImageSet | None:
    """The checkpoint's test images (cached), read with its recorded levels and class order, or None with a
    message saying how to get them; split="train" gives the training images."""
    train, shape = ckpt.meta.get("train") or {}, ckpt.meta.get("image_shape")
    data = _load_test_images(dataset_of(ckpt), (("size", train.get("size")), ("channels", train.get("channels"))),
                             tuple(Levels.of(ckpt.meta).record().items()), tuple(ckpt.class_names),
                             tuple(shape) if shape else None, str(data_root()), split)
    if isinstance(data, str):
        st.warning(f"The {split} images are not available, so parts of this page are off. {data}",
                   icon=":material/image:")
        return None
    return data


def class_input(ckpt: Checkpoint, n: int, label: int | None = None) -> torch.Tensor | None:
    """The decoder's labels for n codes of a conditional model (all `label`, else cycling through
    the classes); None for an unconditional model."""
    classes = ckpt.model.num_classes
    if not classes:
        return None
    return torch.full((n,), label, dtype=torch.long) if label is not None else torch.arange(n) % classes


def class_names(ckpt: Checkpoint) -> list[str]:
    """Names for the model's classes (or the dataset's), falling back to numbers."""
    names = ckpt.class_names
    count = ckpt.model.num_classes or len(names)
    return [names[i] if i < len(names) else str(i) for i in range(count)]
