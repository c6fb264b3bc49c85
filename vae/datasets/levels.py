"""Pixel levels: an image of any mode Pillow opens, as 8 bits per channel, read the same way in folders and uploads.

Pillow's own `convert("L")` clips 16-bit (`I;16`), 32-bit (`I`) and float (`F`) pixels to 0..255, so a
16-bit picture came out as a white silhouette. Images deeper than 8 bits are scaled here instead, by
one of two normalisations, recorded in config.json as `levels` so that uploads to a model are read
like the images it learned from:

- `full`: against the range of the file's type: 0..65535 for integers (16-bit files, and the 32-bit
  mode Pillow opens 16-bit data of some formats in), 0..1 for floats. Values outside it are clipped,
  and the notes say so.
- `range`: a folder's own lowest..highest value over all its deep images, stretched to 0..255. For
  12-bit sensor data in 16-bit files, which `full` shows nearly black (at most 16 of 255).

Images of 8 bits per channel (1, L, LA, P, PA, RGB, RGBA, CMYK, YCbCr, LAB, HSV, ...) are never rescaled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

NORMALISATIONS = ("full", "range")
PART_OF_RANGE = 0.25  # deep images whose highest value stays below this share of their type's range say so


@dataclass(frozen=True)
class Levels:
    """How images deeper than 8 bits become 8-bit: `normalise` is full or range; a range has its low..high
    (None until a folder has been looked at, and when it holds no deep image)."""

    normalise: str = "full"
    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        if self.normalise not in NORMALISATIONS:
            raise ValueError(f"normalise must be one of {NORMALISATIONS}, got {self.normalise!r}")

    def record(self) -> dict[str, Any]:
        """What config.json keeps (see vae.store.meta)."""
        if self.low is None or self.high is None:
            return {"normalise": self.normalise}
        return {"normalise": self.normalise, "low": self.low, "high": self.high}

    @classmethod
    def of(cls, meta: dict[str, Any]) -> Levels:
        """A checkpoint's levels; checkpoints made before they were recorded read as `full`."""
        recorded = meta.get("levels") or {}
        return cls(recorded.get("normalise", "full"), recorded.get("low"), recorded.get("high"))

    def span(self, mode: str) -> tuple[float, float]:
        """The values of a deep image of `mode` that become 0 and 255."""
        if self.normalise == "range" and self.low is not None and self.high is not None:
            return self.low, self.high
        return type_range(mode)


def is_deep(mode: str) -> bool:
    """Whether an image mode holds more than 8 bits per pixel: I;16 (and its byte orders), I and F."""
    return mode == "F" or mode.startswith("I")


def type_range(mode: str) -> tuple[float, float]:
    return (0.0, 1.0) if mode == "F" else (0.0, 65535.0)


def bits(mode: str) -> str:
    """A deep mode in words."""
    return "floating-point" if mode == "F" else "16-bit" if mode.startswith("I;16") else "32-bit"


def values(image: Image.Image) -> np.ndarray:
    """A deep image's pixel values as float64 (whatever its byte order)."""
    return np.asarray(image).astype(np.float64)


def scale(image: Image.Image, levels: Levels) -> tuple[Image.Image, bool]:
    """A deep image as 8-bit greyscale by `levels`, and whether any value fell outside the span (clipped)."""
    pixels = values(image)
    low, high = levels.span(image.mode)
    scaled = (pixels - low) * (255.0 / max(high - low, 1e-12))
    clipped = bool(pixels.size) and (pixels.min() < low or pixels.max() > high)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), "L"), clipped


def to_8bit(image: Image.Image, levels: Levels, notes: list[str]) -> Image.Image:
    """Any mode as L, LA, RGB or RGBA (8 bits per channel), keeping transparency; what was done goes in notes."""
    mode = image.mode
    if mode in ("L", "LA", "RGB", "RGBA"):
        return image
    if is_deep(mode):
        low, high = levels.span(mode)
        result, clipped = scale(image, levels)
        notes.append(f"{bits(mode).capitalize()} image read as {low:g}..{high:g} ({levels.normalise} range) "
                     f"and reduced to 8 bits" + (", values outside it clipped." if clipped else "."))
        return result
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        notes.append("Palette image converted to full colour.")
        return image.convert("RGBA" if has_alpha else "RGB")
    if mode in ("La", "RGBa"):
        return image.convert(mode.upper())
    if mode == "1":
        return image.convert("L")
    return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX
