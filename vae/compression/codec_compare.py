"""The VAE codec beside the classical ones on the same images: sizes, times and rate-distortion points.

Used by bench/compress.py on whole test sets and by the Compress page on one image. Every lossless
code is decoded again and checked equal to its input; sizes are whole files (headers included) unless
a row says otherwise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from vae.compression import codecs, compress
from vae.networks.model import VAE


@dataclass
class Row:
    """One lossless code of a set of images."""

    codec: str
    layout: str  # "whole set" (one stream), "per image" (a file each, summed), "tiled" (one picture), "chained"
    bits: int  # in all
    pixels: int
    images: int
    encode_s: float  # per image
    decode_s: float  # per image
    note: str = ""

    @property
    def bits_per_pixel(self) -> float:
        return self.bits / self.pixels


@dataclass
class Point:
    """One lossy code: its rate, its distortion, and (when asked) the decoded images."""

    codec: str
    setting: str
    bits_per_image: float
    psnr: float
    decoded: np.ndarray | None = field(default=None, repr=False)


def _timed(f, *args):
    start = time.perf_counter()
    out = f(*args)
    return out, time.perf_counter() - start


def _check(codec: str, got: np.ndarray, want: np.ndarray) -> None:
    if not np.array_equal(got, want):
        raise AssertionError(f"{codec}: the lossless round trip changed the images")


def _encode_all(codec: codecs.Codec, parts: list[np.ndarray]) -> list[bytes]:
    return [codec.encode(p) for p in parts]


def _decode_all(codec: codecs.Codec, blobs: list[bytes], parts: list[np.ndarray]) -> list[np.ndarray]:
    return [codec.decode(b, p.shape) for b, p in zip(blobs, parts, strict=True)]


def baseline_lossless(x: np.ndarray, layouts: tuple[str, ...] = ("whole set", "per image", "tiled")) -> list[Row]:
    """Every classical lossless codec on binary uint8 images (N, C, H, W) of 0 and 255: the byte stream
    compressors over the whole set; the image codecs per image and on the set tiled as one picture."""
    n, pixels, rows = len(x), x.size, []
    for name, codec in codecs.LOSSLESS.items():
        for layout in layouts:
            if (layout == "whole set") == codec.per_image or (layout == "tiled" and n == 1):
                continue
            if layout == "per image":
                parts = [x[i:i + 1] for i in range(n)]
            else:
                parts = [codecs.tile(x)] if layout == "tiled" else [x]
            blobs, enc = _timed(_encode_all, codec, parts)
            back, dec = _timed(_decode_all, codec, blobs, parts)
            for got, want in zip(back, parts, strict=True):
                _check(name, got, want)
            rows.append(Row(name, layout, 8 * sum(map(len, blobs)), pixels, n, enc / n, dec / n))
    return rows


def ours_lossless(model: VAE, weights: str, x: Tensor, labels: Tensor | None = None, *, k: int = 1,
                  chains: int = compress.CHAINS, precision: int = compress.DEFAULT_PRECISION,
                  per_image: bool = False) -> Row:
    """Our bits-back code of binarized images (N, C, H, W): chained through one stack, or (per_image) a file
    for each image, each paying its own initial bits. Bits are the coded data without our header (compress.HEADER);
    the note says how many are the initial bits the first images borrow."""
    parts = [slice(i, i + 1) for i in range(len(x))] if per_image else [slice(0, len(x))]
    blobs, enc = _timed(lambda: [compress.compress_lossless(
        model, weights, x[p], None if labels is None else labels[p], precision, k, 1 if per_image else chains,
        check=False) for p in parts])
    decoded, dec = _timed(lambda: [compress.decompress(model, weights, b) for b in blobs])
    for d, p in zip(decoded, parts, strict=True):
        if not torch.equal(d.images, x[p].float()):
            raise AssertionError("our lossless round trip changed the images")
    initial = sum(compress.initial_bits(model, b) for b in blobs)
    layout = "per image" if per_image else "chained"
    name = "ours BB-ANS" if k == 1 else f"ours IW k={k}"
    bits = sum(compress.payload_bits(b) for b in blobs)
    note = f"initial bits {initial:,} ({initial / len(x):.1f} per image)"
    if not per_image:
        note += f", {chains} chains"
    return Row(name, layout, bits, x.numel(), len(x), enc / len(x), dec / len(x), note)


def _psnr_points(name: str, setting: str, bits: float, decoded: np.ndarray, x8: np.ndarray,
                 keep: bool) -> Point:
    return Point(name, setting, bits, codecs.psnr(decoded, x8), decoded if keep else None)


def lossy_curve(model: VAE, weights: str, x: Tensor, labels: Tensor | None = None,
                precisions: tuple[int, ...] = compress.LOSSY_PRECISIONS,
                qualities: tuple[int, ...] = codecs.QUALITIES, tiled: bool = False, keep: bool = False) -> list[Point]:
    """PSNR against bits per image for ours at each precision and JPEG and WebP at each quality, on images
    (N, C, H, W) in [0, 1], all compared at 8 bits (decoded images rounded as a PNG of them would be).
    Ours: the bits each image adds to a file (`compress.lossy_bits`; a file adds its header and rounds up to
    whole 32-bit words); JPEG, WebP: a file per image, or (tiled) one file of the set as a picture."""
    x8 = codecs.to_uint8(x)
    n, points = len(x), []
    for precision in precisions:
        blob = compress.compress_lossy(model, weights, x, labels, precision)
        decoded = codecs.to_uint8(compress.decompress(model, weights, blob).images)
        bits = compress.lossy_bits(model, precision)
        points.append(_psnr_points("ours", f"{precision} bits/dim", bits, decoded, x8, keep))
    for name, make in codecs.LOSSY.items():
        for q in qualities:
            codec = make(q)
            if tiled:
                picture = codecs.tile(x8)
                blob = codec.encode(picture)
                decoded = codecs.untile(codec.decode(blob, picture.shape), n, x8.shape[1:])
                bits = 8 * len(blob) / n
            else:
                blobs = [codec.encode(x8[i:i + 1]) for i in range(n)]
                decoded = np.concatenate([codec.decode(b, x8[i:i + 1].shape) for i, b in enumerate(blobs)])
                bits = 8 * sum(map(len, blobs)) / n
            points.append(_psnr_points(name, f"q{q}", bits, decoded, x8, keep))
    return points
