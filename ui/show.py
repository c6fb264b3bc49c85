"""Drawing small images large and sharp, with the app's shared look.

Images are enlarged with nearest-neighbour on the server, so a 28x28 digit shows as
crisp blocks at any size, and the page CSS asks the browser to keep them pixelated
should it scale them again.
"""

from __future__ import annotations

import base64
import functools
import io
import math
from collections.abc import Sequence

import streamlit as st
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from vae.datasets.images import grid, to_pil

CSS = """
<style>
  [data-testid="stImage"] img, [data-testid="stFullScreenFrame"] img { image-rendering: pixelated; }
  [data-testid="stImageCaption"] { font-size: 0.8rem; }
  .block-container { padding-top: 2.2rem; max-width: 1400px; }
  h1 { font-size: 2rem !important; }
  div[data-testid="stMetricValue"] { font-size: 1.55rem !important; }
</style>
"""
STRETCHED = 320  # pixels a stretched image is enlarged to before the browser scales it
LABELS = {"RGB": ((244, 245, 248), (31, 36, 48)), "L": (245, 36)}  # (paper, ink) of labelled grids, by mode


def apply_style() -> None:
    st.html(CSS)


def icon() -> Image.Image:
    """The app's icon, drawn here so that nothing is fetched from the network: points in clusters."""
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle([0, 0, 63, 63], radius=14, fill=(79, 70, 229, 255))
    for x, y, r in [(20, 22, 6), (30, 16, 4), (44, 26, 7), (22, 42, 5), (40, 46, 6), (31, 33, 3)]:
        draw.ellipse([x - r, y - r, x + r, y + r], fill=(255, 255, 255, 235))
    return image


def enlarge(pil: Image.Image, width: int) -> Image.Image:
    """Nearest-neighbour enlargement to at least `width` pixels wide."""
    scale = max(1, math.ceil(width / pil.width))
    return pil if scale == 1 else pil.resize((pil.width * scale, pil.height * scale), Image.Resampling.NEAREST)


def inline_png(pil: Image.Image) -> str:
    """The image as a PNG data URL: lossless, and it arrives with the page update itself.

    A media-file URL would make the browser fetch the image in a second request, which the
    server answers only between the script's steps; on a slider change that added up to
    ~230 ms before the new image could be drawn.
    """
    buf = io.BytesIO()
    pil.save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def picture(pil: Image.Image, caption: str | None = None, width: int | str = "content") -> None:
    st.image(inline_png(pil), caption=caption, width=width)


def image(x: Tensor, caption: str | None = None, width: int | str = 140) -> None:
    """One (C, H, W) image in [0, 1]; width "stretch" fills the column."""
    picture(enlarge(to_pil(x), width if isinstance(width, int) else STRETCHED), caption, width)


def images(batch: Tensor, captions: Sequence[str] | None = None, width: int = 84) -> None:
    """Several images side by side, wrapping, each with its caption."""
    if len(batch) == 0:
        return
    pils = [enlarge(to_pil(x), width) for x in batch]
    st.image([inline_png(p) for p in pils], caption=list(captions) if captions is not None else None, width=width)


def grid_image(batch: Tensor, ncol: int, tile: int = 56) -> Image.Image:
    """A grid of images, each tile about `tile` pixels wide."""
    return grid(batch, ncol=ncol, pad=2, scale=max(1, round(tile / batch.shape[-1])))


def image_grid(batch: Tensor, ncol: int, tile: int = 56, caption: str | None = None) -> None:
    picture(grid_image(batch, ncol, tile), caption)


@functools.cache
def label_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def labelled_rows(rows: Tensor, labels: Sequence[str], column_labels: Sequence[str], tile: int = 48) -> Image.Image:
    """A (R, K, C, H, W) grid with a label left of each row and above each column.

    Greyscale images give a greyscale picture: a third of the bytes to encode, send and decode.
    """
    r, k = rows.shape[:2]
    body = grid_image(rows.reshape(r * k, *rows.shape[2:]), ncol=k, tile=tile)
    drawn = (body.width - 2) // k  # a tile as drawn: images larger than `tile` are not shrunk
    font = label_font(max(11, max(tile, drawn) // 4))
    left = max(int(font.getlength(t)) for t in labels) + 14
    top = int(font.size * 1.8)
    paper, ink = LABELS[body.mode]
    canvas = Image.new(body.mode, (left + body.width, top + body.height), paper)
    canvas.paste(body, (left, top))
    draw = ImageDraw.Draw(canvas)
    step_y, step_x = (body.height - 2) / r, (body.width - 2) / k
    for i, text in enumerate(labels):
        draw.text((left - 7, top + 1 + (i + 0.5) * step_y), text, fill=ink, font=font, anchor="rm")
    for j, text in enumerate(column_labels):
        draw.text((left + 1 + (j + 0.5) * step_x, top / 2), text, fill=ink, font=font, anchor="mm")
    return canvas
