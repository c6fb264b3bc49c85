"""The classical codecs the VAE codec is measured against, each an encode to bytes and a decode back.

Lossless, for binarized images: raw 1-bit packing; gzip, bz2 and lzma over the packed bits; PNG
(1-bit for greyscale, by Pillow); WebP lossless and JPEG XL lossless (libwebp and libjxl through
imagecodecs). Lossy: JPEG and WebP at a quality. Images are uint8 arrays (N, C, H, W); an image codec
codes one image, so a set is coded image by image or tiled into one picture (`tile`), since a 28x28
file is mostly header.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import math
from collections.abc import Callable
from dataclasses import dataclass

import imagecodecs
import numpy as np
from PIL import Image

JXL_EFFORT = 7  # libjxl's default: 9 takes minutes on the tiled test set for a few percent
WEBP_METHOD = 6  # libwebp's slowest, smallest
QUALITIES = (5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95)


@dataclass(frozen=True)
class Codec:
    name: str
    encode: Callable[[np.ndarray], bytes]  # (N, C, H, W) uint8 -> bytes
    decode: Callable[[bytes, tuple[int, ...]], np.ndarray]  # bytes, shape -> (N, C, H, W) uint8
    per_image: bool  # an image codec (one picture), not a byte stream compressor


def _packed(images: np.ndarray) -> bytes:
    return np.packbits(images.reshape(-1) > 0).tobytes()


def _unpacked(data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), count=math.prod(shape))
    return (bits * 255).astype(np.uint8).reshape(shape)


def _stream(compress: Callable[[bytes], bytes], decompress: Callable[[bytes], bytes], name: str) -> Codec:
    return Codec(name, lambda x: compress(_packed(x)), lambda d, shape: _unpacked(decompress(d), shape), False)


def picture(images: np.ndarray) -> np.ndarray:
    """One image (1, C, H, W) as the H x W (greyscale) or H x W x 3 array image codecs take."""
    c = images.shape[1]
    return images[0, 0] if c == 1 else np.ascontiguousarray(images[0].transpose(1, 2, 0))


def unpicture(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    c = shape[1]
    if array.ndim == 3 and c == 1:
        array = array[..., 0]
    return (array[None, None] if c == 1 else array.transpose(2, 0, 1)[None]).reshape(shape)


def _rgb(images: np.ndarray) -> np.ndarray:
    """WebP codes RGB only: greyscale is repeated into three channels (its transforms make that nearly free)."""
    a = picture(images)
    return np.ascontiguousarray(np.repeat(a[..., None], 3, axis=-1)) if a.ndim == 2 else a


def _png(images: np.ndarray) -> bytes:
    a = picture(images)
    pil = Image.fromarray(a > 127) if a.ndim == 2 else Image.fromarray(a)  # mode "1": one bit per pixel
    buf = io.BytesIO()
    pil.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _png_decode(data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    pil = Image.open(io.BytesIO(data))
    return unpicture(np.asarray(pil.convert("L" if shape[1] == 1 else "RGB")), shape)


LOSSLESS = {
    "raw 1-bit": _stream(lambda b: b, lambda b: b, "raw 1-bit"),
    "gzip": _stream(lambda b: gzip.compress(b, 9, mtime=0), gzip.decompress, "gzip"),
    "bz2": _stream(lambda b: bz2.compress(b, 9), bz2.decompress, "bz2"),
    "lzma": _stream(lambda b: lzma.compress(b, preset=9 | lzma.PRESET_EXTREME), lzma.decompress, "lzma"),
    "PNG": Codec("PNG", _png, _png_decode, True),
    "WebP lossless": Codec(
        "WebP lossless", lambda x: imagecodecs.webp_encode(_rgb(x), lossless=True, level=100, method=WEBP_METHOD),
        lambda d, shape: unpicture(imagecodecs.webp_decode(d)[..., :3] if shape[1] == 3
                                   else imagecodecs.webp_decode(d)[..., 0], shape), True),
    "JPEG XL lossless": Codec(
        "JPEG XL lossless", lambda x: imagecodecs.jpegxl_encode(picture(x), lossless=True, effort=JXL_EFFORT),
        lambda d, shape: unpicture(imagecodecs.jpegxl_decode(d), shape), True),
}


def jpeg(quality: int) -> Codec:
    return Codec(f"JPEG q{quality}", lambda x: imagecodecs.jpeg8_encode(picture(x), level=quality),
                 lambda d, shape: unpicture(imagecodecs.jpeg8_decode(d), shape), True)


def webp(quality: int) -> Codec:
    return Codec(f"WebP q{quality}", lambda x: imagecodecs.webp_encode(_rgb(x), level=quality, lossless=False,
                                                                method=WEBP_METHOD),
                 lambda d, shape: unpicture(imagecodecs.webp_decode(d)[..., :3] if shape[1] == 3
                                            else imagecodecs.webp_decode(d)[..., 0], shape), True)


LOSSY = {"JPEG": jpeg, "WebP": webp}


def tile(images: np.ndarray) -> np.ndarray:
    """N images laid out in a near-square grid as one image (1, C, rows x H, cols x W), zeros after the last."""
    n, c, h, w = images.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    canvas = np.zeros((rows * cols, c, h, w), dtype=images.dtype)
    canvas[:n] = images
    return canvas.reshape(rows, cols, c, h, w).transpose(2, 0, 3, 1, 4).reshape(1, c, rows * h, cols * w)


def untile(picture_: np.ndarray, n: int, shape: tuple[int, int, int]) -> np.ndarray:
    c, h, w = shape
    rows, cols = picture_.shape[2] // h, picture_.shape[3] // w
    return picture_[0].reshape(c, rows, h, cols, w).transpose(1, 3, 0, 2, 4).reshape(rows * cols, c, h, w)[:n]


def to_uint8(images) -> np.ndarray:
    """A float tensor or array in [0, 1] as uint8 (N, C, H, W)."""
    a = np.asarray(images, dtype=np.float32)
    return np.clip(np.round(a * 255), 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of the mean squared error over all images and pixels (uint8 arrays; peak 255)."""
    err = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if err == 0 else 10 * math.log10(255.0**2 / err)
