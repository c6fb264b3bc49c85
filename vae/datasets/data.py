"""Datasets by name, held in memory as uint8 tensors, and batching over them.

Names: `mnist`, `fashion-mnist` (torchvision), and `folder:PATH` (a folder of images,
with one subfolder per class or without; see vae/datasets/folder.py). The data root comes from the `data_root`
argument, else the LATENT_EXPLORER_DATA environment variable, else `./data`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import Tensor

from vae.datasets import folder
from vae.datasets.imageset import DataError, ImageSet, MissingDataError
from vae.datasets.levels import Levels

DATA_ROOT_ENV = "LATENT_EXPLORER_DATA"
BINARIZATIONS = ("none", "dynamic")
DOWNLOAD_TIMEOUT_S = 10  # per network operation, so a blocked network fails in seconds, not minutes

TORCHVISION_SETS = {
    "mnist": ("MNIST", "MNIST"),
    "fashion-mnist": ("FashionMNIST", "FashionMNIST"),
}
RAW_FILES = [
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
]


def data_root(root: str | os.PathLike | None = None) -> Path:
    return Path(root or os.environ.get(DATA_ROOT_ENV) or "data")


def load_dataset(
    name: str,
    split: str = "train",
    root: str | os.PathLike | None = None,
    size: int | None = None,
    channels: int | None = None,
    levels: Levels | None = None,
    classes: Sequence[str] | None = None,
) -> ImageSet:
    """Load a dataset split ("train" or "test") by name; see the module docstring. `levels` and `classes`
    (a checkpoint's recorded class order) apply to folder: datasets (see vae.datasets.folder.load_folder)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if name.startswith(folder.PREFIX):
        return folder.load_folder(Path(name[len(folder.PREFIX):]), split, 28 if size is None else size, channels or 1,
                                  levels, classes)
    if name not in TORCHVISION_SETS:
        raise ValueError(f"unknown dataset {name!r}: use mnist, fashion-mnist or folder:PATH")
    if size not in (None, 28) or channels not in (None, 1):
        raise ValueError(f"{name} is 28x28 greyscale; size and channels apply to folder: datasets only")
    return _load_torchvision(name, split, data_root(root))


def _load_torchvision(name: str, split: str, root: Path) -> ImageSet:
    import torchvision

    cls_name, subdir = TORCHVISION_SETS[name]
    make, train, raw = getattr(torchvision.datasets, cls_name), split == "train", root / subdir / "raw"
    if all((raw / f).is_file() for f in RAW_FILES):  # never touch the network when the files are there
        try:
            ds = make(root=str(root), train=train)
        except Exception as err:
            raise DataError(f"{raw.resolve()}: could not read the {name} files ({err})") from err
    else:
        try:
            with _socket_timeout(DOWNLOAD_TIMEOUT_S):
                ds = make(root=str(root), train=train, download=True)
        except Exception as err:  # torchvision raises RuntimeError, URLError or OSError, depending on what failed
            expected = ", ".join(RAW_FILES)
            raise MissingDataError(
                f"{name} is not in the data root {root.resolve()} and could not be downloaded ({err}).\n"
                f"Expected the files {raw.resolve()}/{{{expected}}} (gzipped or not).\n"
                f"Connect to the internet once so torchvision can download them, copy them there, or "
                f"point --data-root or ${DATA_ROOT_ENV} at a folder that has them."
            ) from err
    images = ds.data.unsqueeze(1).contiguous()
    return ImageSet(name, images, ds.targets.long(), list(ds.classes), split={"rule": "the dataset's own split"})


def dataset_missing(name: str, root: str | os.PathLike | None = None) -> str | None:
    """Why a dataset's images are not on disk, or None when they are; cheap (no image is read)."""
    if name.startswith(folder.PREFIX):
        return folder.missing(name)
    if name not in TORCHVISION_SETS:
        return f"unknown dataset {name!r}"
    raw = data_root(root).resolve() / TORCHVISION_SETS[name][1] / "raw"
    if all((raw / f).is_file() for f in RAW_FILES):
        return None
    return f"{name} is not downloaded to {raw}"


@contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """torchvision's downloads set no timeout; bound them while this block runs."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def binarize(x: Tensor, mode: str, generator: torch.Generator | None = None) -> Tensor:
    """`none` keeps intensities; `dynamic` draws each pixel from Bernoulli(intensity)."""
    if mode == "none":
        return x
    if mode == "dynamic":
        return torch.bernoulli(x, generator=generator)
    raise ValueError(f"binarization must be one of {BINARIZATIONS}, got {mode!r}")


def batches(
    data: ImageSet,
    batch_size: int,
    *,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
    rank: int = 0,
    world_size: int = 1,
) -> Iterator[tuple[Tensor, Tensor]]:
    """Yield (float images, labels) batches; with world_size > 1, this rank's shard only."""
    order = torch.randperm(len(data), generator=generator) if shuffle else torch.arange(len(data))
    if world_size > 1:  # equal shards, so every rank runs the same number of steps
        order = order[: len(order) - len(order) % world_size][rank::world_size]
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        yield data.floats(idx), data.labels[idx]
