"""Generated datasets: images decoded from prior samples, laid out as a `folder:` dataset.

One file list (`dataset_files`) makes both the folder that `python -m vae generate` writes and the
ZIP the Sample page offers: PNGs directly in the folder for an unconditional model, or one subfolder
per class for a conditional one, named `NN-name` so that `folder:DIR` (which sorts subfolders by
name) reads back the model's classes in the model's order. `manifest.json` beside them says how
they were made.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import secrets
import shutil
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from vae.datasets.images import png_bytes, to_pil
from vae.models.interface import as_model
from vae.networks.latent import decode, sample_prior
from vae.store.checkpoint import Checkpoint, weights_sha256

MANIFEST = "manifest.json"
KIND = "latent-explorer/generated"
MAX_IMAGES = 200_000
MAX_TEMPERATURE = 10.0
BATCH = 1000


def class_counts(num_classes: int, n: int | None = None, per_class: int | None = None) -> list[int]:
    """Images per class (one entry for an unconditional model): `per_class` each, or `n` spread evenly.

    Refuses counts that are not positive or add up to more than MAX_IMAGES.
    """
    if (n is None) == (per_class is None):
        raise ValueError("give the number of images (--n) or, for a conditional model, --per-class; not both")
    if per_class is not None and num_classes == 0:
        raise ValueError("--per-class needs a conditional model; this one has no classes, use --n")
    groups = max(num_classes, 1)
    counts = [per_class] * groups if per_class is not None else [n // groups + (i < n % groups) for i in range(groups)]
    total = sum(counts)
    if min(counts) < 1 or total > MAX_IMAGES:
        asked = f"--per-class {per_class}" if per_class is not None else f"--n {n}"
        raise ValueError(f"{asked} asks for {total} images; give 1..{MAX_IMAGES} in all, at least one per class")
    return counts


def check_temperature(temperature: float) -> float:
    if not (math.isfinite(temperature) and 0 < temperature <= MAX_TEMPERATURE):
        raise ValueError(f"the temperature must be a number in (0, {MAX_TEMPERATURE:g}], got {temperature}")
    return temperature


def generate(ckpt: Checkpoint, counts: list[int], temperature: float = 1.0, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Images decoded from N(0, temperature^2 I) codes, class by class: (N, C, H, W) in [0, 1], and labels (N,)."""
    model = as_model(ckpt.model)
    labels = torch.arange(len(counts)).repeat_interleave(torch.tensor(counts))
    codes = sample_prior(len(labels), model.latent_dim, check_temperature(temperature), seed)
    parts = [
        decode(model, codes[i:i + BATCH], labels[i:i + BATCH])
        for i in range(0, len(labels), BATCH)
    ]
    return torch.cat(parts), labels


def class_folders(names: list[str]) -> list[str]:
    """Folder names that sort like the classes: a zero-padded index, then the name in safe characters."""
    width = len(str(max(len(names) - 1, 0)))
    folders = []
    for i, name in enumerate(names):
        safe = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")[:40]
        folders.append(f"{i:0{width}d}" + (f"-{safe}" if safe else ""))
    return folders


def manifest(
    ckpt: Checkpoint, names: list[str], counts: list[int], temperature: float, seed: int, command: str
) -> dict[str, Any]:
    """How a generated dataset was made: enough to make it again and to know which weights made it.
    `names` are the classes of a conditional model ([] for an unconditional one)."""
    return {
        "kind": KIND, "command": command, "seed": seed, "temperature": temperature,
        "counts": dict(zip(class_folders(names), counts, strict=True)) if names else {"images": counts[0]},
        "total": sum(counts), "checkpoint": str(ckpt.folder), "weights_sha256": weights_sha256(ckpt.folder),
        "dataset": ckpt.meta.get("dataset"),
    }


def class_names(ckpt: Checkpoint) -> list[str]:
    """The conditional model's class names (numbers where the checkpoint names none); [] if unconditional."""
    names = ckpt.class_names
    return [names[i] if i < len(names) else str(i) for i in range(as_model(ckpt.model).num_classes)]


def dataset_files(images: Tensor, labels: Tensor, names: list[str], meta: dict[str, Any]) -> list[tuple[str, bytes]]:
    """(relative path, bytes) of every file: the PNGs (in class folders when `names` are given), the manifest."""
    folders = class_folders(names) if names else None
    width = len(str(max(len(images) - 1, 0)))
    files = []
    for i, (image, label) in enumerate(zip(images, labels.tolist(), strict=True)):
        name = f"{i:0{width}d}.png"
        files.append((f"{folders[label]}/{name}" if folders else name, png_bytes(to_pil(image))))
    files.append((MANIFEST, (json.dumps(meta, indent=2) + "\n").encode()))
    return files


def zip_bytes(files: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files:
            archive.writestr(path, data)
    return buf.getvalue()


def is_generated(folder: Path) -> bool:
    """Whether a folder holds a dataset this module wrote (its manifest says so)."""
    try:
        return json.loads((folder / MANIFEST).read_text()).get("kind") == KIND
    except (OSError, ValueError, AttributeError):
        return False


def check_out(out: str | os.PathLike, overwrite: bool = False) -> None:
    """Refuse an output folder that is a file, or is not empty (unless `overwrite`, and then only when it
    holds an earlier generated dataset, which its manifest says: nothing else is ever deleted)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a folder")
    if not (out.is_dir() and any(out.iterdir())):
        return
    if not overwrite:
        raise ValueError(f"{out} is not empty; pick another folder, or pass --overwrite to replace an earlier output")
    if not is_generated(out):
        raise ValueError(f"{out} holds files that `generate` did not write (no {MANIFEST} of its own); "
                         "it is left alone: pick another folder")


def write_dataset(files: list[tuple[str, bytes]], out: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write the files into a new folder beside `out`, then rename it into place: never half a dataset.
    `out` is checked by check_out first."""
    check_out(out, overwrite)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.{secrets.token_hex(4)}.tmp"
    staging.mkdir()  # not mkdtemp: its folders are private (0700), and this one becomes the dataset
    try:
        for path, data in files:
            (staging / path).parent.mkdir(parents=True, exist_ok=True)
            (staging / path).write_bytes(data)
        if out.is_dir():  # empty, or an earlier output: set it aside, move the new one in, then delete it
            old = staging.with_name(staging.name + ".old")
            out.rename(old)
            staging.rename(out)
            shutil.rmtree(old)
        else:
            staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return out
