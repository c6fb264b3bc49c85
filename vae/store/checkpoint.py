"""Checkpoints: one folder per model, weights in `model.safetensors`, metadata in `config.json`.

Nothing here unpickles. A checkpoint's files are saved as one step (`vae.store.atomic`), so a kill
mid-save leaves either the previous checkpoint or the new one, never a mix of the two.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from vae.models import model_json
from vae.models.model_json import DECODER, ENCODER, MODEL_JSON, NOTES_JSON
from vae.networks.config import ModelConfig
from vae.networks.model import VAE, ModelTooLarge, build
from vae.store.atomic import atomic_write, current, save_files
from vae.store.meta import MetaError, validate

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
OPTIMIZER = "optimizer.safetensors"  # Adam's state, in a training run's last/ folder, for --resume
FORMAT = "latent-explorer/1"


class CheckpointError(RuntimeError):
    """A checkpoint (or another model folder) is missing, corrupt, truncated, unsafe or does not match its config."""


@dataclass
class Checkpoint:
    """A model folder as loaded: our VAE from `load_checkpoint`, or any source's `vae.models.interface.Model` from
    `vae.models.sources.open_model` (what pages and commands use), with the folder's metadata."""

    folder: Path
    model: Any  # VAE | vae.models.interface.Model
    meta: dict[str, Any]

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def class_names(self) -> list[str]:
        return list(self.meta.get("class_names") or [])


def json_writer(data: dict[str, Any]) -> Callable[[str], None]:
    def write(path: str) -> None:
        with open(path, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")

    return write


def tensors_writer(tensors: dict[str, Tensor]) -> Callable[[str], None]:
    return lambda path: save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, path)


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, json_writer(data))


def write_tensors(path: Path, tensors: dict[str, Tensor]) -> None:
    atomic_write(path, tensors_writer(tensors))


def read_meta(folder: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint's config.json, its fields checked against `vae.store.meta` (the types every reader relies on);
    for a model folder we did not make, its model.json with what the explorer noted beside it (explorer.json)."""
    if is_model_folder(Path(folder)):
        return read_model_meta(Path(folder))
    path = current(Path(folder), CONFIG)
    meta = read_json_object(path)
    try:
        return validate(meta)
    except MetaError as err:
        raise CheckpointError(f"{path}: {err}") from err


def is_model_folder(folder: Path) -> bool:
    """Whether a folder holds a model described by model.json (ONNX or code) rather than one of our checkpoints.
    False when that cannot be told: reading the folder as a checkpoint then says what is wrong."""
    try:
        return not current(folder, CONFIG).is_file() and (folder / MODEL_JSON).is_file()
    except OSError:
        return False


def read_model_meta(folder: Path) -> dict[str, Any]:
    """model.json, validated (`vae.models.model_json`), with the explorer's notes about the model merged in."""
    try:
        meta = model_json.validate(read_json_object(folder / MODEL_JSON))
        notes = folder / NOTES_JSON
        return {**meta, **(model_json.validate_notes(read_json_object(notes)) if notes.is_file() else {})}
    except MetaError as err:
        raise CheckpointError(f"{folder / MODEL_JSON}: {err}") from err


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object in path (validation is the caller's), with an error naming the file when it cannot be."""
    try:
        if not path.is_file():
            raise CheckpointError(f"{path}: missing (a checkpoint folder holds {WEIGHTS} and {CONFIG})")
        data = json.loads(path.read_text())
    except OSError as err:
        raise CheckpointError(f"{path}: cannot be read ({err.strerror or err})") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: holds {type(data).__name__}, not a JSON object")
    return data


def training_commands(meta: dict[str, Any]) -> list[str]:
    """The commands that made a checkpoint, in order: those behind its --init weights, its own, its resumptions."""
    init = meta.get("init")
    earlier = training_commands(init) if isinstance(init, dict) else []
    own = [meta["command"]] if isinstance(meta.get("command"), str) else []
    return [*earlier, *own, *[c for c in meta.get("resumed_with", []) if isinstance(c, str)]]


def training_epochs(meta: dict[str, Any]) -> list[int]:
    """Epochs of each run behind a checkpoint, in order (an --init run's as its settings asked)."""
    init = meta.get("init")
    earlier = training_epochs(init) if isinstance(init, dict) else []
    history, settings = meta.get("history"), meta.get("train") or {}
    own = len(history) if isinstance(history, list) else settings.get("epochs")
    return [*earlier, *([own] if isinstance(own, int) else [])]


def read_tensors(path: Path) -> dict[str, Tensor]:
    """Load a safetensors file, refusing pickles and naming the file in every error."""
    try:
        if not path.is_file():  # before opening: a named pipe would block
            raise CheckpointError(f"{path}: missing")
        with open(path, "rb") as f:  # safetensors reports a file it may not read as missing
            head = f.read(2)
    except OSError as err:
        raise CheckpointError(f"{path}: cannot be read ({err.strerror or err})") from err
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        # Checked only after a failed load: a valid safetensors header length may start with these bytes too.
        if head[:1] == b"\x80" or head == b"PK":
            raise CheckpointError(
                f"{path}: looks like a pickle or torch.save file; only safetensors are loaded, never pickles"
            ) from err
        raise CheckpointError(f"{path}: corrupt or truncated safetensors file ({err})") from err


def save_checkpoint(
    folder: str | os.PathLike, model: VAE, meta: dict[str, Any], extra: dict[str, dict[str, Tensor]] | None = None
) -> Path:
    """Write weights, metadata (with the model config filled in) and any `extra` tensor files, all as one
    step (`vae.store.atomic.save_files`): a kill at any moment leaves the previous checkpoint or the new one."""
    folder = Path(folder)
    meta = {**meta, "format": FORMAT, "model": model.cfg.to_dict()}
    writers = {WEIGHTS: tensors_writer(model.state_dict()), CONFIG: json_writer(meta)}
    save_files(folder, writers | {name: tensors_writer(t) for name, t in (extra or {}).items()})
    return folder


def load_checkpoint(folder: str | os.PathLike, device: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild the model from config.json and load its weights, in eval mode."""
    folder = Path(folder)
    meta = read_meta(folder)
    try:
        model = build(ModelConfig.from_dict(meta["model"]))
    except ModelTooLarge as err:
        raise CheckpointError(f"{folder / CONFIG}: {err}") from err
    weights = current(folder, WEIGHTS)
    tensors = read_tensors(weights)
    expected = model.state_dict()
    problems = [f"missing {k}" for k in expected if k not in tensors]
    problems += [f"unexpected {k}" for k in tensors if k not in expected]
    problems += [
        f"{k} has shape {tuple(tensors[k].shape)}, config needs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in tensors and tensors[k].shape != v.shape
    ]
    if problems:
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise CheckpointError(f"{weights}: does not match {CONFIG} ({shown})")
    check_finite(weights, tensors)
    model.load_state_dict(tensors)
    return Checkpoint(folder, model.to(device).eval(), meta)


def check_finite(path: Path, tensors: dict[str, Tensor]) -> None:
    """Refuse weights holding NaN or inf: such a model decodes nothing and would fail later, far from the cause."""
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise CheckpointError(f"{path}: weights not finite (NaN or infinite values in {shown}); the training that "
                              "wrote them diverged or the file is damaged")


def update_meta(folder: str | os.PathLike, **fields: Any) -> dict[str, Any]:
    """Merge fields into config.json (atomically) and return the new metadata."""
    folder = Path(folder)
    if is_model_folder(folder):  # model.json is the user's: what the explorer measures goes beside it
        notes = folder / NOTES_JSON
        write_json(notes, {**(read_json_object(notes) if notes.is_file() else {}), **fields})
        return read_meta(folder)
    meta = {**read_meta(folder), **fields}
    save_files(folder, {CONFIG: json_writer(meta)})
    return meta


def weight_files(folder: Path) -> list[Path]:
    """The files holding a model's weights: model.safetensors, or an ONNX folder's two networks."""
    weights = current(folder, WEIGHTS)
    return [weights] if weights.is_file() or not is_model_folder(folder) else [folder / ENCODER, folder / DECODER]


def weights_sha256(folder: str | os.PathLike) -> str:
    """The sha256 of a checkpoint's weights file (of an ONNX folder's two networks, one after the other): what
    files computed from the weights record, to detect staleness. Remembered while the files are unchanged (same
    paths, inodes, modification times and sizes: a save replaces the file)."""
    stats = [(p, p.stat()) for p in (f.resolve() for f in weight_files(Path(folder)))]
    return _files_sha256(tuple((str(p), s.st_ino, s.st_mtime_ns, s.st_size) for p, s in stats))


@functools.lru_cache(maxsize=32)
def _files_sha256(files: tuple[tuple[str, int, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for path, _, _, _ in files:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def find_checkpoints(root: str | os.PathLike) -> list[Path]:
    """Folders directly under root that hold a config.json, sorted by name."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / CONFIG).is_file())


def optimizer_tensors(opt: torch.optim.Optimizer) -> dict[str, Tensor]:
    """Adam's per-parameter state flattened into named tensors, for safetensors (saved as OPTIMIZER)."""
    out = {}
    for idx, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            out[f"{idx}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return out


def load_optimizer(opt: torch.optim.Optimizer, folder: Path, step: int) -> None:
    """Load Adam's state from folder/OPTIMIZER, checking it was saved at the same step as the weights."""
    path = folder / OPTIMIZER
    tensors = read_tensors(path)
    saved_steps = {int(v.item()) for k, v in tensors.items() if k.endswith(".step")}
    if saved_steps != {step}:
        raise CheckpointError(
            f"{path}: optimizer state is from step {sorted(saved_steps)}, the weights in {folder} from step {step}; "
            "the files are not from one save (copied by hand, or a save interrupted in an older version), so the "
            "run cannot be resumed exactly. Train again into a new --out."
        )
    state: dict[int, dict[str, Tensor]] = {}
    for name, value in tensors.items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    opt.load_state_dict({"state": state, "param_groups": opt.state_dict()["param_groups"]})
