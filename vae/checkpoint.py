"""Checkpoints: one folder per model, weights in `model.safetensors`, metadata in `config.json`.

Nothing here unpickles. Every write goes to a temporary file that is renamed into
place, so a crash mid-save leaves the previous checkpoint as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from vae.config import ModelConfig
from vae.model import VAE

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
FORMAT = "latent-explorer/1"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, truncated, unsafe or does not match its config."""


@dataclass
class Checkpoint:
    folder: Path
    model: VAE
    meta: dict[str, Any]

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def class_names(self) -> list[str]:
        return list(self.meta.get("class_names") or [])


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call write(tmp_path), then rename the temporary file over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; checkpoints are ordinary files
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable too (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json(path: Path, data: dict[str, Any]) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")

    atomic_write(path, write)


def write_tensors(path: Path, tensors: dict[str, Tensor]) -> None:
    atomic_write(path, lambda tmp: save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, tmp))


def read_meta(folder: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint's config.json, checked for the keys every reader needs."""
    path = Path(folder) / CONFIG
    if not path.is_file():
        raise CheckpointError(f"{path}: missing (a checkpoint folder holds {WEIGHTS} and {CONFIG})")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(meta, dict) or "model" not in meta:
        raise CheckpointError(f"{path}: has no 'model' section, so the architecture is unknown")
    try:
        ModelConfig.from_dict(meta["model"])
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: invalid model config ({err})") from err
    return meta


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
    if not path.is_file():
        raise CheckpointError(f"{path}: missing")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        # Checked only after a failed load: a valid safetensors header length may start with these bytes too.
        with open(path, "rb") as f:
            head = f.read(2)
        if head[:1] == b"\x80" or head == b"PK":
            raise CheckpointError(
                f"{path}: looks like a pickle or torch.save file; only safetensors are loaded, never pickles"
            ) from err
        raise CheckpointError(f"{path}: corrupt or truncated safetensors file ({err})") from err


def save_checkpoint(folder: str | os.PathLike, model: VAE, meta: dict[str, Any]) -> Path:
    """Write weights, then metadata (with the model config filled in), each atomically."""
    folder = Path(folder)
    meta = {**meta, "format": FORMAT, "model": model.cfg.to_dict()}
    write_tensors(folder / WEIGHTS, model.state_dict())
    write_json(folder / CONFIG, meta)
    return folder


def load_checkpoint(folder: str | os.PathLike, device: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild the model from config.json and load its weights, in eval mode."""
    folder = Path(folder)
    meta = read_meta(folder)
    model = VAE(ModelConfig.from_dict(meta["model"]))
    tensors = read_tensors(folder / WEIGHTS)
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
        raise CheckpointError(f"{folder / WEIGHTS}: does not match {CONFIG} ({shown})")
    model.load_state_dict(tensors)
    return Checkpoint(folder, model.to(device).eval(), meta)


def update_meta(folder: str | os.PathLike, **fields: Any) -> dict[str, Any]:
    """Merge fields into config.json (atomically) and return the new metadata."""
    folder = Path(folder)
    meta = {**read_meta(folder), **fields}
    write_json(folder / CONFIG, meta)
    return meta


def weights_sha256(folder: str | os.PathLike) -> str:
    """The sha256 of a checkpoint's weights file: what files computed from the weights record, to detect staleness."""
    digest = hashlib.sha256()
    with open(Path(folder) / WEIGHTS, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_checkpoints(root: str | os.PathLike) -> list[Path]:
    """Folders directly under root that hold a config.json, sorted by name."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / CONFIG).is_file())
