"""The path view: a scrubber along a list of latent codes from A to B, decoded in the browser as it moves.

    result = live_path(decoder_of(ckpt), key="path", path=codes, t=0.5)
    if result.t is not None:          # the user let go of the scrubber in this run
        ...
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ui.live import runtime
from ui.live.sliders import finite

_view = runtime.view_component("path", ("path",))


@dataclass(frozen=True)
class PathResult(runtime.Live):
    """`t` (in [0, 1]) and its code `z` are set only in the run the scrubber was let go."""

    t: float | None = None
    z: list[float] | None = None


def view_data(latent_dim: int, path: Sequence[Sequence[float]], t: float,
              end_labels: tuple[str, str]) -> dict[str, Any]:
    """What the view draws, checked: raises ValueError for fewer than two codes or codes of the wrong size."""
    codes = [finite(code, "path codes") for code in path]
    if len(codes) < 2 or any(len(code) != latent_dim for code in codes):
        raise ValueError(f"a path needs at least two codes of length {latent_dim}")
    return {"path": codes, "t": min(1.0, max(0.0, float(t))), "endLabels": list(end_labels)}


def _result(commit: dict[str, Any] | None) -> PathResult:
    if commit is None:
        return PathResult(True)
    return PathResult(True, t=float(commit["t"]), z=[float(v) for v in commit["z"]])


def live_path(
    decoder: runtime.Spec | None,
    *,
    key: str,
    path: Sequence[Sequence[float]],
    t: float = 0.0,
    label: int | None = None,
    end_labels: tuple[str, str] = ("A", "B"),
    image_size: int = 196,
    on_commit: Callable[[PathResult], None] | None = None,
) -> PathResult:
    """Mount a scrubber along `path` (codes from A to B, as from vae.networks.latent.interpolate) starting at `t`.

    `label` is the class for a conditional decoder; a new `t` from Python moves the scrubber.
    `on_commit(result)` runs before the script, like a widget's on_change.
    """
    why = runtime.unavailable(key, {"decoder": decoder}, "images come from the server")
    if why:
        return PathResult(False, why)
    data = view_data(int(decoder["latent_dim"]), path, t, end_labels) | {"size": int(image_size), "label": label}
    return runtime.mount(_view, key, data, {"decoder": decoder}, _result, on_commit)
