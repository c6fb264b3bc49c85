"""Uploaded image bytes to a model input, checked before anything is decoded.

The size is read from the header and refused above MAX_PIXELS before any pixel is
decoded (Pillow's decompression-bomb guard is turned into a refusal too). Animated files
give their first frame, transparent pixels are filled with white or black (whichever the
content stands out against), palette and CMYK images are converted, 16-bit ones scaled as the model's
training images were (vae.datasets.levels), and the EXIF
orientation is applied. Images whose background is the opposite of the training data's
(MNIST: light digits on black) are inverted, and the picture is letterboxed (or, for
digits, cropped and centred the way MNIST was made) to the model's size.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from vae.datasets.levels import Levels, to_8bit

MAX_PIXELS = 20_000_000
MAX_BYTES = 50 * 1024 * 1024
FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")
INVERT_CHOICES = ("auto", "always", "never")
FIT_CHOICES = ("pad", "digit")
WORKING_SCALE = 8  # shrink big pictures to this many times the model's size before any float maths
DIGIT_BOX = 20 / 28  # MNIST digits fit a 20x20 box inside the 28x28 frame, centred by mass
EXIF_ORIENTATION = 0x0112
NOT_AN_IMAGE = "This file is not an image that can be read here (use PNG, JPEG, GIF, WebP or BMP)."


class UploadError(ValueError):
    """An upload that cannot be used; the message is meant for the person who uploaded it."""


@dataclass
class PreparedImage:
    """A model input (C, H, W) in [0, 1], and what was done to get it, in words."""

    tensor: Tensor
    source_size: tuple[int, int]
    source_format: str
    notes: list[str] = field(default_factory=list)


def open_checked(data: bytes) -> Image.Image:
    """Open an image lazily and refuse it, before decoding pixels, if it is empty, unknown or too big."""
    if not data:
        raise UploadError("The file is empty.")
    if len(data) > MAX_BYTES:
        raise UploadError(f"The file is {len(data) / 2**20:.0f} MB; the limit is {MAX_BYTES // 2**20} MB.")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=FORMATS)
        except UnidentifiedImageError as err:
            raise UploadError(NOT_AN_IMAGE) from err
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            limit = f"{MAX_PIXELS / 1e6:.0f} megapixels"
            raise UploadError(f"The image has far too many pixels (the limit is {limit}).") from err
        except (OSError, SyntaxError, ValueError) as err:
            raise UploadError(f"The file is truncated or damaged: even its header cannot be read ({err}).") from err
    width, height = image.size
    if width < 1 or height < 1:
        raise UploadError("The image has no pixels.")
    if width * height > MAX_PIXELS:
        raise UploadError(
            f"The image is {width}×{height} ({width * height / 1e6:.1f} megapixels); the limit is "
            f"{MAX_PIXELS / 1e6:.0f} megapixels. Shrink it and upload it again."
        )
    return image


def decode_checked(image: Image.Image, target: tuple[int, int], notes: list[str]) -> Image.Image:
    """Decode the first frame fully (refusing truncated files) and turn it upright."""
    if getattr(image, "is_animated", False):
        notes.append("Animated image: its first frame is used.")
    if image.format == "JPEG":  # let libjpeg skip detail we would throw away anyway
        image.draft(None, (target[0] * WORKING_SCALE, target[1] * WORKING_SCALE))
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image.load()
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombWarning) as err:
            raise UploadError(f"The file is truncated or corrupt, so it cannot be decoded ({err}).") from err
    if image.getexif().get(EXIF_ORIENTATION, 1) not in (1, None):
        image = ImageOps.exif_transpose(image)
        notes.append("Turned upright using the photo's orientation tag.")
    return image


def composite(values: np.ndarray, alpha: np.ndarray | None, notes: list[str]) -> np.ndarray:
    """Fill transparent pixels with white behind dark content, with black behind light content."""
    if alpha is None or alpha.min() >= 1.0:
        return values
    luminance = values.mean(axis=2)
    weight = alpha.sum()
    content = float((luminance * alpha).sum() / weight) if weight > 0 else 0.0
    background = 1.0 if content < 0.5 else 0.0
    notes.append(
        f"Transparent areas filled with {'white' if background else 'black'} "
        f"(the visible content is {'dark' if background else 'light'})."
    )
    return values * alpha[..., None] + background * (1.0 - alpha[..., None])


def to_channels(values: np.ndarray, channels: int) -> np.ndarray:
    """(H, W, 1 or 3) to (H, W, channels): ITU-R 601 luminance for grey, repeated grey for colour."""
    if channels == 1 and values.shape[2] == 3:
        return (values @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[..., None]
    if channels == 3 and values.shape[2] == 1:
        return np.repeat(values, 3, axis=2)
    return values


def border_level(grey: np.ndarray) -> float:
    """Median brightness of the outermost pixels: a robust guess of the background."""
    edge = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return float(np.median(edge))


def fit_to(values: np.ndarray, size: tuple[int, int], fit: str, background: float) -> np.ndarray:
    """(H, W, C) floats to the model's size: letterboxed ("pad") or cropped and centred like MNIST ("digit")."""
    width, height = size
    if fit == "digit":
        values = crop_to_content(values, background)
        box = (max(1, round(width * DIGIT_BOX)), max(1, round(height * DIGIT_BOX)))
    else:
        box = (width, height)
    h, w = values.shape[:2]
    scale = min(box[0] / w, box[1] / h)
    inner = (max(1, round(w * scale)), max(1, round(h * scale)))
    resized = np.stack([resize_channel(values[..., c], inner) for c in range(values.shape[2])], axis=2)
    canvas = np.full((height, width, values.shape[2]), background, dtype=np.float32)
    top, left = (height - inner[1]) // 2, (width - inner[0]) // 2
    if fit == "digit":  # centre by mass, as MNIST did, within the frame
        mass = np.abs(resized - background).sum(axis=2)
        if mass.sum() > 0:
            rows, cols = np.indices(mass.shape)
            top = int(np.clip(round(height / 2 - (rows * mass).sum() / mass.sum()), 0, height - inner[1]))
            left = int(np.clip(round(width / 2 - (cols * mass).sum() / mass.sum()), 0, width - inner[0]))
    canvas[top:top + inner[1], left:left + inner[0]] = resized
    return canvas


def crop_to_content(values: np.ndarray, background: float, threshold: float = 0.2) -> np.ndarray:
    """The bounding box of the pixels that differ clearly from the background (all of it if none do)."""
    rows, cols = np.nonzero(np.abs(values - background).max(axis=2) > threshold)
    if len(rows) == 0:
        return values
    return values[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def resize_channel(channel: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    resized = Image.fromarray(channel.astype(np.float32), "F").resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized), 0.0, 1.0)


def prepare_upload(
    data: bytes,
    channels: int,
    height: int,
    width: int,
    *,
    dark_background: bool = True,
    invert: str = "auto",
    fit: str = "pad",
    levels: Levels | None = None,
) -> PreparedImage:
    """Bytes of an uploaded image as a (channels, height, width) tensor in [0, 1].

    `dark_background` says how the training images look (MNIST: True, light strokes on black);
    with invert="auto" an upload with the other kind of background is inverted. `levels` reads an image deeper
    than 8 bits as the model's training images were read (vae.datasets.levels).
    Raises UploadError with a message for the user when the upload cannot be used.
    """
    if invert not in INVERT_CHOICES or fit not in FIT_CHOICES:
        raise ValueError(f"invert must be one of {INVERT_CHOICES} and fit one of {FIT_CHOICES}")
    notes: list[str] = []
    image = open_checked(data)
    source_size, source_format = image.size, image.format or "unknown"
    image = to_8bit(decode_checked(image, (width, height), notes), levels or Levels(), notes)
    image.thumbnail((width * WORKING_SCALE, height * WORKING_SCALE), Image.Resampling.LANCZOS)
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    alpha = pixels[..., -1] if image.mode in ("LA", "RGBA") else None
    colour = pixels[..., :-1] if alpha is not None else pixels
    colour = composite(colour, alpha, notes)
    colour = to_channels(colour, channels)
    grey = colour.mean(axis=2)
    light_background = border_level(grey) > 0.5
    flip = invert == "always" or (invert == "auto" and light_background == dark_background)
    if flip:
        colour = 1.0 - colour
        if invert == "auto":
            notes.append(
                f"Inverted: the picture has a {'light' if light_background else 'dark'} background and the "
                f"model was trained on {'light on dark' if dark_background else 'dark on light'} images."
            )
        else:
            notes.append("Inverted, as asked.")
    background = border_level(colour.mean(axis=2))
    fitted = fit_to(colour, (width, height), fit, background)
    if source_size != (width, height):
        how = "cropped to the content, scaled and centred like MNIST" if fit == "digit" else "scaled to fit"
        notes.append(f"{source_size[0]}×{source_size[1]} {how} to {width}×{height}.")
    tensor = torch.from_numpy(np.ascontiguousarray(fitted.transpose(2, 0, 1))).float()
    return PreparedImage(tensor, source_size, source_format, notes)
