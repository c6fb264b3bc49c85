"""The latent map as still pictures, cached per atlas: every point a dot in its class's colour. Compare
shows them as they are; Interpolate and Anomalies draw a path or a point over a muted one in a plotly chart
that pans and zooms. A model with a 2-D latent gets its decoded manifold (Kingma & Welling, 2014, Fig. 4)
behind the live map. The live map itself is components/views/map.mjs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from PIL import Image, ImageDraw
from torch import Tensor

from ui import show
from vae.analysis.atlas import Atlas
from vae.datasets.images import grid
from vae.networks.latent import decode, plane_grid
from vae.store.checkpoint import Checkpoint

AXIS_TITLES = {"latent": ("z0", "z1"), "umap": ("UMAP 1", "UMAP 2"), "pca": ("PC 1", "PC 2")}
PROJECTION_NAMES = {"latent": "Latent plane", "umap": "UMAP", "pca": "PCA"}
MANIFOLD_TILES = 20  # images across the decoded manifold behind a 2-D latent plane
# The class colours of every map, the single source: Streamlit's categorical chart colours, which the
# in-browser map (components/views/map.mjs) draws its classes with too.
PALETTE = ["#0068c9", "#83c9ff", "#ff2b2b", "#ffabab", "#29b09d", "#7defa1", "#ff8700", "#ffd16a", "#6d3fc0",
           "#d5dae5"]
SCORE_SCALE = "Viridis"  # low scores dark, unusual ones bright
MUTED = 0.35  # how much of its class colour a backdrop's point keeps (the rest is white): the path stands out
BACKDROP_PIXELS = 480  # the backdrop picture's side, about the chart's own size at 420 pixels high
PATH_COLOUR = "#111827"


def cache_key(ckpt: Checkpoint, atlas: Atlas) -> str:
    """Names an atlas for the cached figures: its checkpoint folder and the weights it was built from."""
    return f"{ckpt.folder.resolve()}:{atlas.meta.get('weights_sha256', '')}"


def _dots(atlas: Atlas, projection: str, size: int, muted: bool) -> tuple[Image.Image, tuple[float, ...]]:
    """Every point a 2x2 dot in its class's colour (faded towards white when `muted`), on a white square;
    and the square's extent (x0, x1, y0, y1) in map coordinates, the same scale on both axes."""
    xy = atlas.coords[projection].numpy()
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    scale = (size - 8) / max(float((hi - lo).max()), 1e-9)
    offset = (size - (hi - lo) * scale) / 2
    px = ((xy[:, 0] - lo[0]) * scale + offset[0]).astype(np.int64).clip(0, size - 2)
    py = (size - 1 - ((xy[:, 1] - lo[1]) * scale + offset[1])).astype(np.int64).clip(0, size - 2)
    rgb = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in PALETTE], dtype=np.float32)
    if muted:
        rgb = 255 - (255 - rgb) * MUTED
    colours = rgb.astype(np.uint8)[atlas.labels.numpy() % len(PALETTE)]
    picture = np.full((size, size, 3), 255, dtype=np.uint8)
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        picture[py + dy, px + dx] = colours
    x0, y1 = lo[0] - offset[0] / scale, lo[1] + (size - offset[1]) / scale
    extent = (float(x0), float(x0 + size / scale), float(y1 - size / scale), float(y1))
    return Image.fromarray(picture), extent


def snapshots(maps: list[tuple[str, Atlas, str]], ncol: int = 3, size: int = 360) -> Image.Image:
    """Maps (title, atlas, projection) side by side, `ncol` to a row, each titled below: one picture for a page
    that shows several maps (Compare), which costs the browser one image to decode and lay out, where a WebGL
    chart of 10,000 points per model took most of the page's time, and separate images ~10 ms each."""
    font = show.label_font(max(12, size // 22))
    gap, below = size // 24, int(font.size * 2)
    rows = -(-len(maps) // ncol)
    width = min(ncol, len(maps))
    canvas = Image.new("RGB", (width * size + (width - 1) * gap, rows * (size + below)), "white")
    draw = ImageDraw.Draw(canvas)
    for n, (title, atlas, projection) in enumerate(maps):
        x, y = (n % ncol) * (size + gap), (n // ncol) * (size + below)
        canvas.paste(_dots(atlas, projection, size, muted=False)[0], (x, y))
        draw.rectangle([x, y, x + size - 1, y + size - 1], outline=(226, 232, 240))
        draw.text((x + size / 2, y + size + below / 2), title, fill=show.LABELS["RGB"][1], font=font, anchor="mm")
    return canvas


@st.cache_resource(max_entries=8, show_spinner=False)
def backdrop(key: str, _atlas: Atlas, projection: str) -> dict[str, Any]:
    """The muted map, a plotly figure as a plain dict, for a path or a point drawn over it on every rerun.

    The points are one still picture stretched over the axes (it pans and zooms with them): the browser
    draws a few path markers instead of a WebGL scatter of every point, which cost Interpolate ~170 ms a visit.
    """
    picture, (x0, x1, y0, y1) = _dots(_atlas, projection, BACKDROP_PIXELS, muted=True)
    x_title, y_title = AXIS_TITLES[projection]
    image = {"source": show.inline_png(picture), "xref": "x", "yref": "y", "x": x0, "y": y1, "sizex": x1 - x0,
             "sizey": y1 - y0, "sizing": "stretch", "layer": "below"}
    return {"data": [], "layout": {
        "height": 420, "margin": {"l": 10, "r": 10, "t": 10, "b": 10}, "images": [image], "dragmode": "pan",
        "uirevision": f"{key}-{projection}",  # keep the zoom across reruns
        "xaxis": {"title": {"text": x_title}, "range": [x0, x1], "showticklabels": False, "showgrid": False,
                  "zeroline": False},
        "yaxis": {"title": {"text": y_title}, "range": [y0, y1], "showticklabels": False, "showgrid": False,
                  "zeroline": False, "scaleanchor": "x"},
        "plot_bgcolor": "white",
    }}


def with_path(base: dict[str, Any], xy: Tensor, current: int | None = None) -> dict[str, Any]:
    """The backdrop with a path of points over it: ends labelled A and B, step `current` ringed."""
    x, y = xy[:, 0].tolist(), xy[:, 1].tolist()
    traces = [go.Scatter(
        x=x, y=y, mode="lines+markers", name="path", showlegend=False,
        line={"color": PATH_COLOUR, "width": 3},
        marker={"size": 8, "color": PATH_COLOUR, "line": {"color": "white", "width": 1.5}},
        hovertemplate="step %{customdata}<extra></extra>", customdata=list(range(1, len(x) + 1)),
    )]
    if current is not None:
        traces.append(go.Scatter(
            x=[x[current]], y=[y[current]], mode="markers", name="current step", showlegend=False, hoverinfo="skip",
            marker={"size": 18, "color": "rgba(0,0,0,0)", "line": {"color": "#f59e0b", "width": 3.5}},
        ))
    ends = [
        {"x": x[i], "y": y[i], "text": f"<b>{name}</b>", "showarrow": False, "yshift": 16,
         "bgcolor": "white", "bordercolor": PATH_COLOUR, "borderpad": 2, "font": {"size": 13, "color": PATH_COLOUR}}
        for i, name in ((0, "A"), (len(x) - 1, "B"))
    ]
    layout = {**base["layout"], "annotations": ends}
    return {"data": [*base["data"], *(t.to_plotly_json() for t in traces)], "layout": layout}


def with_marker(base: dict[str, Any], x: float, y: float, text: str) -> dict[str, Any]:
    """The backdrop with one point ringed and labelled over it."""
    ring = go.Scatter(
        x=[x], y=[y], mode="markers", name=text, showlegend=False, hovertemplate=f"{text}<extra></extra>",
        marker={"size": 16, "color": "rgba(0,0,0,0)", "line": {"color": PATH_COLOUR, "width": 3}},
    )
    label = {"x": x, "y": y, "text": f"<b>{text}</b>", "showarrow": False, "yshift": 18, "bgcolor": "white",
             "bordercolor": PATH_COLOUR, "borderpad": 2, "font": {"size": 13, "color": PATH_COLOUR}}
    margin = {**base["layout"].get("margin", {}), "t": 36}  # room for the label of a point at the top edge
    layout = {**base["layout"], "annotations": [label], "margin": margin}
    return {"data": [*base["data"], ring.to_plotly_json()], "layout": layout}


def plane_extent(atlas: Atlas) -> tuple[tuple[float, float], tuple[float, float]]:
    """The square of the latent plane the backdrop covers: the test codes' range (99 % of them), at least ±3."""
    xy = atlas.coords["latent"]
    lo, hi = torch.quantile(xy, 0.005, dim=0), torch.quantile(xy, 0.995, dim=0)
    half = max(3.0, float((hi - lo).max()) / 2 * 1.1)
    cx, cy = ((lo + hi) / 2).tolist()
    return (cx - half, cx + half), (cy - half, cy + half)


@st.cache_resource(max_entries=8, show_spinner="Decoding the latent plane…")
def manifold(key: str, _ckpt: Checkpoint, _atlas: Atlas) -> dict[str, Any]:
    """The decoded manifold of a 2-D latent as a PNG data URL (`source`) and the square of the plane it spans
    (plotly layout image keys)."""
    (x0, x1), (y0, y1) = extent = plane_extent(_atlas)
    images = decode(_ckpt.model, plane_grid(*extent, MANIFOLD_TILES))
    picture = grid(images, ncol=MANIFOLD_TILES, pad=0)
    return {"source": show.inline_png(picture), "xref": "x", "yref": "y", "x": x0, "y": y1, "sizex": x1 - x0,
            "sizey": y1 - y0, "sizing": "stretch", "layer": "below", "opacity": 0.55}
