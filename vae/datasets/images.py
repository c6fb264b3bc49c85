"""Turning image tensors in [0, 1] into PIL images, grids, PNG and GIF bytes."""

from __future__ import annotations

import io
import os

import numpy as np
import torch
from PIL import Image
from torch import Tensor


def to_pil(image: Tensor, scale: int = 1) -> Image.Image:
    """One (C, H, W) image in [0, 1] as a greyscale or RGB PIL image, optionally enlarged."""
    arr = (image.detach().clamp(0, 1).mul(255).round().byte().cpu().numpy())
    pil = Image.fromarray(arr[0] if arr.shape[0] == 1 else np.transpose(arr, (1, 2, 0)))
    if scale != 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST)
    return pil


def grid(images: Tensor, ncol: int = 8, pad: int = 2, scale: int = 1) -> Image.Image:
    """A (N, C, H, W) batch tiled into rows of ncol, with `pad` dark pixels between tiles."""
    n, c, h, w = images.shape
    ncol = max(1, min(ncol, n))
    nrow = -(-n // ncol)
    canvas = np.zeros((c, nrow * (h + pad) + pad, ncol * (w + pad) + pad), dtype=np.float32)
    data = images.detach().clamp(0, 1).cpu().numpy()
    for i in range(n):
        r, col = divmod(i, ncol)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        canvas[:, y:y + h, x:x + w] = data[i]
    return to_pil(torch.from_numpy(canvas), scale)


def save_grid(images: Tensor, path: str | os.PathLike, ncol: int = 8, scale: int = 2) -> None:
    grid(images, ncol=ncol, scale=scale).save(path)


def png_bytes(image: Image.Image, compress_level: int = -1) -> bytes:
    """The image as PNG file bytes; zlib's default level unless told (0 = none, 9 = smallest)."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


PNG_COMPRESS_LEVEL = 9


def png_bits(images: Tensor) -> Tensor:
    """Length in bits of each (C, H, W) image of a batch as a PNG file, the generic lossless compressor's
    measure of how complex an image is (Serrà et al., 2020): shape (B,).

    The encoding, exactly: the image quantized to 8 bits as `to_pil` does (clamped to [0, 1], times 255,
    rounded), saved by Pillow as an 8-bit greyscale (1 channel) or RGB (3 channels) PNG with zlib level 9
    and Pillow's default filters, nothing else written; the length is the whole file's (signature,
    header, data and end chunks), times 8.
    """
    sizes = [8 * len(png_bytes(to_pil(image), PNG_COMPRESS_LEVEL)) for image in images]
    return torch.tensor(sizes, dtype=torch.float32)


def gif_bytes(frames: Tensor, scale: int = 4, ms_per_frame: int = 80, bounce: bool = True) -> bytes:
    """An animated, looping GIF of (N, C, H, W) frames; with bounce it plays forth and back."""
    pils = [to_pil(f, scale) for f in frames]
    if bounce and len(pils) > 2:
        pils = pils + pils[-2:0:-1]
    buf = io.BytesIO()
    pils[0].save(buf, format="GIF", save_all=True, append_images=pils[1:], duration=ms_per_frame, loop=0)
    return buf.getvalue()
