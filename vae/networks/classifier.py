"""A small image classifier, used as a measuring instrument for generated images.

Sample quality is measured as the Fréchet distance between the classifier's penultimate-layer
features of real test images and of generated ones (the usual "FID on MNIST" practice, with a
LeNet-sized network instead of Inception), and as the classifier's mean confidence on the samples.
These figures compare models within this project; they are not comparable with Inception-FID papers.

The instrument is trained by `python -m vae classifier --dataset mnist --out checkpoints/classifiers/mnist`
and stored like a model: weights in safetensors, metadata (dataset, accuracy, command) in JSON.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vae.datasets.data import batches
from vae.datasets.imageset import ImageSet
from vae.store.checkpoint import (
    CONFIG,
    WEIGHTS,
    CheckpointError,
    read_json_object,
    read_tensors,
    write_json,
    write_tensors,
)

FEATURES = 128
KIND = "classifier"
INSTRUMENTS = Path(__file__).resolve().parents[2] / "checkpoints" / "classifiers"


class Classifier(nn.Module):
    """LeNet-sized: two 5x5 convolutions with max-pooling, a 128-unit feature layer, a linear read-out."""

    def __init__(self, channels: int = 1, size: int = 28, num_classes: int = 10) -> None:
        super().__init__()
        self.channels, self.size, self.num_classes = channels, size, num_classes
        side = ((size // 2) - 4) // 2
        self.features = nn.Sequential(
            nn.Conv2d(channels, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * side * side, FEATURES), nn.ReLU(),
        )
        self.readout = nn.Linear(FEATURES, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Class logits for images in [0, 1]."""
        return self.readout(self.features(x))


@dataclass
class Instrument:
    folder: Path
    model: Classifier
    meta: dict[str, Any]


def train_classifier(
    train: ImageSet, test: ImageSet | None = None, epochs: int = 5, seed: int = 0, lr: float = 1e-3,
    batch_size: int = 128,
) -> tuple[Classifier, list[dict[str, float]]]:
    """Train a Classifier with Adam on train's labels; returns it (in eval mode) and per-epoch test accuracy."""
    if not train.class_names:
        raise ValueError(f"{train.name} has no class labels to train a classifier on")
    c, h, _ = train.image_shape
    torch.manual_seed(seed)
    model = Classifier(c, h, len(train.class_names))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(seed)
    history = []
    for epoch in range(epochs):
        model.train()
        for x, y in batches(train, batch_size, shuffle=True, generator=order):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        if test is not None:
            history.append({"epoch": epoch + 1, "test_accuracy": round(accuracy(model, test), 5)})
    return model.eval(), history


@torch.no_grad()
def logits_of(model: Classifier, images: Tensor, batch_size: int = 1000) -> Tensor:
    return torch.cat([model(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])


@torch.no_grad()
def features_of(model: Classifier, images: Tensor, batch_size: int = 1000) -> Tensor:
    """Penultimate-layer features (N, 128) of images in [0, 1]."""
    return torch.cat([model.features(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])


def accuracy(model: Classifier, data: ImageSet) -> float:
    return (logits_of(model, data.floats()).argmax(1) == data.labels).float().mean().item()


def confidence(model: Classifier, images: Tensor) -> float:
    """Mean top-class probability: how sure the classifier is that the images show one of its classes."""
    return F.softmax(logits_of(model, images), dim=1).max(dim=1).values.mean().item()


def frechet_distance(a: Tensor, b: Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (rows are samples).

    |mu_a - mu_b|^2 + tr(A + B - 2 (A B)^(1/2)); the trace of (A B)^(1/2) is the sum of the square roots of
    the eigenvalues of A^(1/2) B A^(1/2), a symmetric matrix, so no general matrix square root is needed
    and singular covariances (features that never fire) are harmless.
    """
    a64, b64 = a.double().numpy(), b.double().numpy()
    cov_a, cov_b = np.atleast_2d(np.cov(a64, rowvar=False)), np.atleast_2d(np.cov(b64, rowvar=False))
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(values.clip(min=0))) @ vectors.T
    cross = np.sqrt(np.linalg.eigvalsh(root_a @ cov_b @ root_a).clip(min=0)).sum()
    distance = ((a64.mean(0) - b64.mean(0)) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * cross
    return float(max(distance, 0.0))


def save_instrument(folder: str | os.PathLike, model: Classifier, meta: dict[str, Any]) -> Path:
    folder = Path(folder)
    shape = {"channels": model.channels, "size": model.size, "num_classes": model.num_classes}
    write_tensors(folder / WEIGHTS, model.state_dict())
    write_json(folder / CONFIG, {**meta, "kind": KIND, "classifier": shape})
    return folder


def load_instrument(folder: str | os.PathLike) -> Instrument:
    """Load a stored classifier, checking its metadata and weights."""
    folder = Path(folder)
    meta = read_json_object(folder / CONFIG)
    shape = meta.get("classifier")
    if meta.get("kind") != KIND or not isinstance(shape, dict):
        raise CheckpointError(f"{folder / CONFIG}: not a classifier (no 'kind': '{KIND}' with its shape)")
    try:
        model = Classifier(int(shape["channels"]), int(shape["size"]), int(shape["num_classes"]))
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{folder / CONFIG}: invalid classifier shape {shape!r}") from err
    tensors = read_tensors(folder / WEIGHTS)
    if set(tensors) != set(model.state_dict()) or not all(
        tensors[k].shape == v.shape for k, v in model.state_dict().items()
    ):
        raise CheckpointError(f"{folder / WEIGHTS}: does not match the classifier in {CONFIG}")
    if not all(torch.isfinite(t).all() for t in tensors.values()):
        raise CheckpointError(f"{folder / WEIGHTS}: holds NaN or infinite weights")
    model.load_state_dict(tensors)
    return Instrument(folder, model.eval(), meta)


def instrument_for(dataset: str, root: str | os.PathLike = INSTRUMENTS) -> Instrument | None:
    """The stored classifier for a dataset (checkpoints/classifiers/<dataset>), or None when there is none."""
    folder = Path(root) / dataset
    return load_instrument(folder) if (folder / CONFIG).is_file() else None


def sample_quality(instrument: Instrument, real: Tensor, generated: Tensor) -> dict[str, float]:
    """Fréchet distance (real vs generated, in the classifier's feature space) and confidence on the generated."""
    if min(len(real), len(generated)) < 2:
        raise ValueError("the Fréchet distance needs at least 2 images on each side")
    fd = frechet_distance(features_of(instrument.model, real), features_of(instrument.model, generated))
    return {"fid": fd if math.isfinite(fd) else float("nan"), "confidence": confidence(instrument.model, generated)}
