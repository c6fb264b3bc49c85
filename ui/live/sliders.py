"""The sliders view: one slider per latent dimension, and optional direction sliders, decoded in the browser.

    result = live_sliders(decoder_of(ckpt), key="sliders", z=z, dims=order, labels=names, inactive=off)
    if not result.available:          # switched off, unsupported, or the JS failed
        st.caption(result.error)      # ... and draw server sliders instead
    elif result.z is not None:        # the user released a slider in this run
        st.session_state.z = result.z

A direction is a latent vector d_i with a slider s_i of its own: the decoded code is z + sum_i s_i d_i,
and a release commits the code z and every s_i.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from ui.live import runtime

_view = runtime.view_component("sliders", ("sliders",))


@dataclass(frozen=True)
class Direction:
    """A direction slider: `vector` (one number per latent dimension) times the slider's value in `bounds`."""

    label: str
    vector: Sequence[float]
    value: float = 0.0
    bounds: tuple[float, float] = (-3.0, 3.0)


@dataclass(frozen=True)
class SlidersResult(runtime.Live):
    """`z` and `directions` (the direction sliders' values) are set only in the run a slider was released."""

    z: list[float] | None = None
    directions: list[float] | None = None


def finite(values: Sequence[float], what: str) -> list[float]:
    out = [float(v) for v in values]
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"{what} must be finite numbers")
    return out


def view_data(latent_dim: int, z: Sequence[float] | None, dims: Sequence[int] | None, labels: Sequence[str] | None,
              inactive: Collection[int], bounds: tuple[float, float], step: float,
              directions: Sequence[Direction]) -> dict[str, Any]:
    """What the view draws, checked: raises ValueError for codes, dimensions or directions of the wrong size."""
    z = finite(z if z is not None else [0.0] * latent_dim, "z")
    dims = list(dims) if dims is not None else list(range(latent_dim))
    labels = list(labels) if labels is not None else [f"z{d}" for d in dims]
    if len(z) != latent_dim or len(labels) != len(dims) or not all(0 <= d < latent_dim for d in dims):
        raise ValueError(f"sliders need z of length {latent_dim}, dims within it, and one label per dim")
    if any(len(d.vector) != latent_dim for d in directions):
        raise ValueError(f"every direction needs {latent_dim} numbers")
    return {
        "z": z, "bounds": finite(bounds, "bounds"), "step": float(step),
        "sliders": [{"dim": int(d), "label": str(name), "inactive": d in inactive}
                    for d, name in zip(dims, labels, strict=True)],
        "directions": [{"label": d.label, "vector": finite(d.vector, "directions"),
                        "bounds": finite(d.bounds, "bounds"),
                        "value": min(d.bounds[1], max(d.bounds[0], float(d.value)))} for d in directions],
    }


def _result(commit: dict[str, Any] | None) -> SlidersResult:
    if commit is None:
        return SlidersResult(True)
    return SlidersResult(True, z=[float(v) for v in commit["z"]], directions=[float(v) for v in commit["directions"]])


def live_sliders(
    decoder: runtime.Spec | None,
    *,
    key: str,
    z: Sequence[float] | None = None,
    dims: Sequence[int] | None = None,
    labels: Sequence[str] | None = None,
    inactive: Collection[int] = (),
    bounds: tuple[float, float] = (-3.0, 3.0),
    step: float = 0.01,
    label: int | None = None,
    directions: Sequence[Direction] = (),
    image_size: int = 196,
    on_commit: Callable[[SlidersResult], None] | None = None,
) -> SlidersResult:
    """Mount the sliders and return what the user committed in this run.

    One slider per entry of `dims` (default: every dimension in order), captioned by `labels`, those
    in `inactive` faded, all within `bounds`; `z` is the full code (default zeros); `directions` add
    their own sliders below. `label` is the class for a conditional decoder. `decoder` is
    ui.live.runtime.decoder_of(ckpt), None for a decoder the browser cannot run. Python's values
    (z, the directions' values) replace what the user set only when they change, so a page can reset
    the code by passing a new `z`. `on_commit(result)` runs before the script, like a widget's on_change.
    """
    why = runtime.unavailable(key, {"decoder": decoder}, "images come from the server")
    if why:
        return SlidersResult(False, why)
    data = view_data(int(decoder["latent_dim"]), z, dims, labels, set(inactive), bounds, step, directions)
    data |= {"size": int(image_size), "label": label}
    return runtime.mount(_view, key, data, {"decoder": decoder}, _result, on_commit)
