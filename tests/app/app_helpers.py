"""Helpers for the explorer's tests (a module of its own: conftest files are not for importing)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from vae.datasets.data import load_dataset
from vae.networks.config import ModelConfig
from vae.networks.model import VAE
from vae.networks.objectives import training_loss
from vae.store.checkpoint import save_checkpoint

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
ATLAS_SUBSET = 400  # test images in the tiny models' atlases
TRAIN_SUBSET = 2000  # training images the tiny models see
MNIST_CLASSES = load_dataset("mnist", "test").class_names


def make_checkpoint(folder: Path, cfg: ModelConfig, seed: int = 0, train_steps: int = 0) -> Path:
    """A checkpoint with a short made-up history; with train_steps, briefly trained on MNIST so
    that different codes decode to visibly different images."""
    torch.manual_seed(seed)
    model = VAE(cfg)
    if train_steps:
        data = load_dataset("mnist", "train").subset(TRAIN_SUBSET)
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        for _ in range(train_steps):
            idx = torch.randint(0, len(data), (64,))
            y = data.labels[idx] if cfg.conditional else None
            loss = training_loss(model, data.floats(idx), y).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
    history = [
        {"epoch": e, "step": 10 * e, "train_loss": 200.0 - e, "train_kl": 5.0 + e, "test_loss": 199.0 - e,
         "test_kl": 5.5 + e, "seconds": 1.0}
        for e in (1, 2, 3)
    ]
    meta = {"dataset": "mnist", "class_names": MNIST_CLASSES, "binarize": "none", "history": history,
            "command": "python -m vae train --tiny", "best_epoch": 3}
    return save_checkpoint(folder, model.eval(), meta)


def image_urls(at: AppTest) -> list[str]:
    """Media URLs of every image on the page; they name the image's bytes, so new pixels give a new URL."""
    return [url for element in at.image for url in element.value]


def assert_clean(at: AppTest) -> None:
    """No exception reached the page, and the last-resort error message did not show."""
    assert not at.exception, [e.value for e in at.exception]
    assert not [e.value for e in at.error if "Something went wrong" in e.value]


def live_data(at: AppTest, key: str) -> dict:
    """What the page handed the live view mounted with this key (AppTest runs no JavaScript)."""
    [element] = [e for e in at.get("bidi_component") if e.key == key]
    return json.loads(element.proto.json)


def digit_folder(folder: Path, n: int, classes: int = 0, size: int = 28, rgb: bool = False, bits: int = 8,
                 junk: bool = False) -> Path:
    """A folder dataset made of MNIST test digits, as a user might bring one: without class subfolders, or
    sorted by class into `classes` subfolders (class c holds digits c, c + classes, ...); RGB ones are tinted
    by class on a light background. With `bits` above 8 (greyscale only), 16-bit PNGs holding that many bits
    (12: sensor data, 0..4095); with `junk`, files that cannot be read lie among the images."""
    data = load_dataset("mnist", "test").subset(n)
    tints = [(220, 60, 40), (40, 160, 70), (50, 80, 220), (200, 150, 20)]
    for i in range(n):
        label = i % classes if classes else 0
        where = folder / f"class{label}" if classes else folder
        where.mkdir(parents=True, exist_ok=True)
        digit = Image.fromarray(data.images[i, 0].numpy()).resize((size, size))
        if rgb:
            ink = np.asarray(digit, dtype=np.float32)[..., None] / 255
            tint = np.array(tints[label % len(tints)], dtype=np.float32)
            digit = Image.fromarray((245 * (1 - ink) + tint * ink).astype(np.uint8))
        elif bits > 8:
            top = 2**bits - 1
            digit = Image.fromarray((np.asarray(digit, dtype=np.float64) / 255 * top).round().astype(np.uint16))
        digit.save(where / f"{i:04d}.png")
    if junk:
        where = folder / "class0" if classes else folder
        whole = (where / "0000.png").read_bytes()
        for name, content in {"empty.png": b"", "cut.png": whole[: len(whole) // 2],
                              "noise.jpg": bytes(range(256)) * 4, "notes.webp": b"not an image"}.items():
            (where / name).write_bytes(content)
    return folder


def train_folder_model(out: Path, folder: Path, *flags: str) -> Path:
    """A model of a folder dataset trained for one quick epoch by the train command, with a PCA atlas."""
    from vae.__main__ import main

    run = ["train", "--dataset", f"folder:{folder}", "--arch", "mlp", "--hidden", "16", "--epochs", "1",
           "--batch-size", "32", "--lr", "3e-3", "--quiet", "--out", str(out), *flags]
    assert main(run) == 0
    assert main(["atlas", str(out), "--no-umap"]) == 0
    return out
