"""The latent map as a WebGL scatter: one trace per class (so the legend filters classes), the
dataset index of each point in `customdata`, and paths of latent codes drawn on top. A model with a
2-D latent is shown in its own plane, over the decoded manifold (Kingma & Welling, 2014, Fig. 4)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st
import torch
from plotly.colors import qualitative
from torch import Tensor

from ui import show
from vae.atlas import Atlas
from vae.checkpoint import Checkpoint
from vae.images import grid
from vae.latent import decode, plane_grid

AXIS_TITLES = {"latent": ("z0", "z1"), "umap": ("UMAP 1", "UMAP 2"), "pca": ("PC 1", "PC 2")}
PROJECTION_NAMES = {"latent": "Latent plane", "umap": "UMAP", "pca": "PCA"}
MANIFOLD_TILES = 20  # images across the decoded manifold behind a 2-D latent plane
PALETTE = qualitative.Plotly + qualitative.Dark24
PATH_COLOUR = "#111827"


def cache_key(ckpt: Checkpoint, atlas: Atlas) -> str:
    """Names an atlas for the cached figures: its checkpoint folder and the weights it was built from."""
    return f"{ckpt.folder.resolve()}:{atlas.meta.get('weights_sha256', '')}"


def colour(label: int) -> str:
    return PALETTE[label % len(PALETTE)]


def point_size(n: int) -> float:
    return 6.0 if n <= 1000 else 4.0 if n <= 5000 else 3.2


@st.cache_resource(max_entries=8, show_spinner=False)
def figure(key: str, _atlas: Atlas, projection: str, class_names: tuple[str, ...], muted: bool = False) -> go.Figure:
    """The map of every atlas point coloured by class (one trace and no legend without classes); `key` names
    the atlas (folder and weights hash).

    Muted maps (faint points, no hover) are the backdrop for paths. The figure is shared between
    sessions and reruns: callers copy it before adding traces.
    """
    xy = _atlas.coords[projection].numpy()
    labels = _atlas.labels
    fig = go.Figure()
    for label in torch.unique(labels).tolist():
        idx = torch.nonzero(labels == label).flatten().numpy()
        name = class_names[label] if label < len(class_names) else str(label)
        fig.add_trace(go.Scattergl(
            x=xy[idx, 0], y=xy[idx, 1], mode="markers", name=name if class_names else "test images", customdata=idx,
            marker={"size": point_size(len(labels)), "color": colour(label), "opacity": 0.25 if muted else 0.8},
            hovertemplate=f"#%{{customdata}}{' · ' + name if class_names else ''}<extra></extra>",
            hoverinfo="skip" if muted else None, showlegend=bool(class_names),
        ))
    x_title, y_title = AXIS_TITLES[projection]
    fig.update_layout(
        height=420 if muted else 640,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={"itemsizing": "constant", "y": 0.95, "yanchor": "top"},
        uirevision=f"{key}-{projection}",  # keep zoom and hidden classes across reruns
        dragmode="pan" if muted else "zoom",
        xaxis={"title": x_title, "showticklabels": False, "zeroline": False},
        yaxis={"title": y_title, "showticklabels": False, "zeroline": False, "scaleanchor": "x"},
    )
    return fig


@st.cache_resource(max_entries=8, show_spinner=False)
def backdrop(key: str, _atlas: Atlas, projection: str, class_names: tuple[str, ...]) -> dict[str, Any]:
    """The muted map as a plain dict, cheap to extend with a path on every rerun."""
    return figure(key, _atlas, projection, class_names, muted=True).to_dict()


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


def plane_extent(atlas: Atlas) -> tuple[tuple[float, float], tuple[float, float]]:
    """The square of the latent plane the backdrop covers: the test codes' range (99 % of them), at least ±3."""
    xy = atlas.coords["latent"]
    lo, hi = torch.quantile(xy, 0.005, dim=0), torch.quantile(xy, 0.995, dim=0)
    half = max(3.0, float((hi - lo).max()) / 2 * 1.1)
    cx, cy = ((lo + hi) / 2).tolist()
    return (cx - half, cx + half), (cy - half, cy + half)


@st.cache_resource(max_entries=8, show_spinner="Decoding the latent plane…")
def manifold(key: str, _ckpt: Checkpoint, _atlas: Atlas) -> dict[str, Any]:
    """The decoded manifold of a 2-D latent as a plotly layout image (a PNG data URL) spanning the plane."""
    (x0, x1), (y0, y1) = extent = plane_extent(_atlas)
    images = decode(_ckpt.model, plane_grid(*extent, MANIFOLD_TILES))
    picture = grid(images, ncol=MANIFOLD_TILES, pad=0)
    return {"source": show.inline_png(picture), "xref": "x", "yref": "y", "x": x0, "y": y1, "sizex": x1 - x0,
            "sizey": y1 - y0, "sizing": "stretch", "layer": "below", "opacity": 0.55}


def with_manifold(fig: go.Figure, backdrop_image: dict[str, Any]) -> go.Figure:
    """A copy of the map with the decoded manifold under its points, the axes fitted to it."""
    out = go.Figure(fig)
    x0, y1 = backdrop_image["x"], backdrop_image["y"]
    out.update_layout(
        images=[backdrop_image], plot_bgcolor="black",
        xaxis={"range": [x0, x0 + backdrop_image["sizex"]], "showticklabels": True, "showgrid": False},
        yaxis={"range": [y1 - backdrop_image["sizey"], y1], "showticklabels": True, "showgrid": False},
    )
    return out


def selected_indices(selection: dict[str, Any] | None) -> list[int]:
    """Dataset indices of the points in a plotly selection (they travel in customdata)."""
    points = (selection or {}).get("points", [])
    indices = []
    for point in points:
        data = point.get("customdata")
        if isinstance(data, list):
            data = data[0] if data else None
        if data is not None:
            indices.append(int(data))
    return sorted(set(indices))
