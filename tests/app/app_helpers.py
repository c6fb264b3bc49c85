"""Helpers for the explorer's tests (a module of its own: conftest files are not for importing)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from streamlit.testing.v1 import AppTest

from vae.checkpoint import save_checkpoint
from vae.config import ModelConfig
from vae.data import load_dataset
from vae.model import VAE
from vae.objectives import negative_elbo

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
            loss = negative_elbo(model, data.floats(idx), y).loss
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
