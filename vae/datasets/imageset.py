"""What every dataset loads into: `ImageSet`, the errors of reading one, and the image file suffixes read.

A module of its own so that the dataset readers (vae/datasets/data.py, vae/datasets/folder.py) and everything that uses
their images import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from torch import Tensor

from vae.datasets.levels import Levels

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


class DataError(RuntimeError):
    """A dataset cannot be read: missing, empty, or holding unreadable files."""


class MissingDataError(DataError):
    """A dataset is not on disk and could not be downloaded."""


@dataclass
class ImageSet:
    """Images as uint8 (N, C, H, W), integer labels (N,), and the names of the classes.

    `split` records how the train/test split was made and `levels` how images deeper than 8 bits were
    read (both stored in config.json by training); `notes` say what was found and skipped on the way, for people.
    """

    name: str
    images: Tensor
    labels: Tensor
    class_names: list[str]
    split: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    levels: Levels = field(default_factory=Levels)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def floats(self, index: Tensor | slice | None = None) -> Tensor:
        """Images as float32 in [0, 1]."""
        images = self.images if index is None else self.images[index]
        return images.float().div_(255)

    def subset(self, n: int) -> ImageSet:
        return replace(self, images=self.images[:n], labels=self.labels[:n])
