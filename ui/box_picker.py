"""Placing a box on an image by dragging: a plotly image with box selection, and the box it gives.

The box lives in four widget keys (top row, left column, height, width, in pixels), which number
inputs elsewhere on the page also edit: a drag on the picture writes them through the chart's
selection callback, so the numbers stay the one source of truth and go into the URL like any other value.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from torch import Tensor

KEYS = ("box_top", "box_left", "box_height", "box_width")
ACCENT = "#4f46e5"


def box_from_selection(selection: Any, height: int, width: int) -> tuple[int, int, int, int] | None:
    """(top, left, height, width) of the pixels a dragged box touches, clipped to the image; None
    when the selection holds no box. Pixel i spans [i - 0.5, i + 0.5] on the chart's axes."""
    boxes = (selection or {}).get("box") or []
    if not boxes:
        return None
    xs, ys = boxes[-1].get("x") or [], boxes[-1].get("y") or []
    if len(xs) < 2 or len(ys) < 2 or not all(isinstance(v, int | float) and math.isfinite(v) for v in xs + ys):
        return None

    def span(values: list[float], size: int) -> tuple[int, int]:
        lo = min(max(math.floor(min(values) + 0.5), 0), size - 1)
        hi = min(max(math.floor(max(values) + 0.5), lo), size - 1)
        return lo, hi - lo + 1

    top, rows = span(ys, height)
    left, cols = span(xs, width)
    return top, left, rows, cols


def figure(image: Tensor, box: tuple[int, int, int, int], size: int) -> go.Figure:
    """The (C, H, W) image as pixels, with the box outlined; dragging draws a new box."""
    arr = (image.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy())
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    top, left, rows, cols = box
    fig = go.Figure(go.Image(z=arr, hoverinfo="skip"))
    fig.add_shape(type="rect", x0=left - 0.5, x1=left + cols - 0.5, y0=top - 0.5, y1=top + rows - 0.5,
                  line={"color": ACCENT, "width": 2}, fillcolor="rgba(165, 180, 252, 0.4)")
    fig.update_xaxes(visible=False, range=[-0.5, arr.shape[1] - 0.5])
    # a narrow column shrinks the chart's width, not its height: the image then keeps to the top, level with
    # the images beside it
    fig.update_yaxes(visible=False, range=[arr.shape[0] - 0.5, -0.5], constraintoward="top")
    fig.update_layout(dragmode="select", width=size, height=size, margin={"l": 0, "r": 0, "t": 0, "b": 0},
                      newselection={"line": {"color": ACCENT, "width": 2, "dash": "solid"}},
                      activeselection={"fillcolor": ACCENT, "opacity": 0.15})
    return fig


def place(key: str, height: int, width: int) -> None:
    """Chart callback: the dragged box becomes the box."""
    picked = box_from_selection(st.session_state[key].get("selection"), height, width)
    if picked is not None:
        st.session_state.update(dict(zip(KEYS, picked, strict=True)))


def picker(image: Tensor, box: tuple[int, int, int, int], key: str, size: int = 200) -> None:
    """Draw the picker; a drag on it sets the box keys (and reruns the page)."""
    _, h, w = image.shape
    st.plotly_chart(figure(image, box, size), key=key, on_select=lambda: place(key, h, w), selection_mode="box",
                    width="content", config={"displayModeBar": False})
