"""The train command's checks, made before any data is read or model built: --out, --device, and the command
line as config.json records it. `run` makes them and hands the checked run to vae.training.train.train."""

from __future__ import annotations

import os
import shlex
import tempfile
from pathlib import Path
from typing import Any

import torch

from vae.networks.config import TrainSettings
from vae.store.checkpoint import CONFIG
from vae.training.train import LAST, train


def run(settings: TrainSettings, argv: list[str]) -> dict[str, Any]:
    """Train as the command line `argv` (after `train`) says; returns the final metadata."""
    out = check_out(settings)
    device = pick_device(settings.device)
    given = {a.split("=", 1)[0] for a in argv if a.startswith("--")}
    return train(settings, out, device, command_line(argv), given)


def command_line(argv: list[str]) -> str:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    launcher = f"torchrun --nproc-per-node {world} -m vae" if world > 1 else "python -m vae"
    return f"{launcher} train {shlex.join(argv)}"


def check_out(settings: TrainSettings) -> Path:
    """Every rule about --out, checked before any data is read or model built; returns the folder.

    It names a folder ('' would train into the current one); a folder that holds a trained model is
    continued with --resume or replaced with --overwrite, never silently; and it can be written: a
    probe file goes into the nearest folder of the path that exists (nothing is created yet, so a
    refused run leaves nothing behind).
    """
    if not settings.out.strip():
        raise ValueError("--out is empty: name the folder to train into (it is created if missing)")
    out = Path(settings.out)
    if settings.resume and settings.overwrite:
        raise ValueError(f"--resume continues the model in {out} and --overwrite replaces it: pass one of them")
    trained = [p for p in (out / CONFIG, out / LAST / CONFIG) if p.is_file()]
    if trained and not (settings.resume or settings.overwrite):
        raise ValueError(
            f"{out} holds a trained model already ({trained[0]}); pass --resume to continue it or --overwrite "
            "to replace it, or train into another --out"
        )
    existing = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise ValueError(f"--out {out}: {existing} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".latent-explorer-probe.")
        os.close(fd)
        os.remove(probe)
    except OSError as err:
        raise ValueError(f"--out {out}: cannot write in {existing} ({err.strerror or err})") from err
    return out


def pick_device(name: str | None) -> torch.device:
    """The --device to train on: a device torch knows that this machine has (default: cuda when available)."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"--device {name!r} is not a device (cpu, cuda, cuda:N or mps)") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine (no GPU, or a torch built "
                         "without CUDA); use --device cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {name}: MPS is not available on this machine; use --device cpu")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"--device {name!r} is not a device (cpu, cuda, cuda:N or mps)")
    return device
