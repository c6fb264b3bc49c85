"""The map view: a scatter of the atlas that decodes wherever the pointer is, in the browser; a click pins.

    result = live_map(decoder_of(ckpt), key="map", points=atlas_spec(atlas, "umap", names))
    if result.z is not None:          # the user clicked a place in this run
        ...

Points are coloured by class with the plotly map's palette (ui.maps.PALETTE) unless told otherwise:
`by_value(values, ...)` colours them along a colour scale and draws a colour bar. For a model with a
2-D latent space, `points=atlas_spec(atlas, "latent", names)` makes the map's coordinates the code itself
(z = (x, y), no inverse map), and a `Backdrop` (a PNG data URL and its extent) is drawn under the points.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from plotly import colors
from torch import Tensor

from ui import maps
from ui.live import runtime
from ui.live.sliders import finite
from vae.export import content_id

_view = runtime.view_component("map", ("map",))
PICTURE_FORMAT = "latent-explorer-picture/1"


@dataclass(frozen=True)
class Colouring:
    """How the points are coloured: `data` tells the view; `values` is the per-point numbers' spec, for a scale."""

    data: dict[str, Any]
    values: runtime.Spec | None = None


def by_class(class_names: Sequence[str]) -> Colouring:
    """Each point in its class's colour, as on the plotly map, with a legend of the classes present."""
    return Colouring({"kind": "classes", "palette": list(maps.PALETTE), "names": list(class_names)})


def _stops(scale: str | Sequence[tuple[float, str]]) -> list[list[Any]]:
    """A plotly colour scale (a name, or (position, colour) pairs) as [position, [r, g, b]] stops."""
    named = colors.get_colorscale(scale) if isinstance(scale, str) else [list(stop) for stop in scale]
    rgb = [colors.hex_to_rgb(c) if c.startswith("#") else colors.unlabel_rgb(c) for _, c in named]
    return [[float(p), [float(v) for v in c]] for (p, _), c in zip(named, rgb, strict=True)]


def by_value(values: Tensor, owner: Any, title: str, scale: str | Sequence[tuple[float, str]] = "Viridis",
             value_range: tuple[float, float] | None = None) -> Colouring:
    """Each point coloured by its value along a plotly colour scale, with a colour bar titled `title`.

    `owner` (the atlas, say) names the values for the cache: they travel to the browser once.
    The range defaults to the values' 1st to 99th percentile, so a few outliers do not wash out the rest.
    """
    if value_range is None:
        lo, hi = values.float().quantile(0.01).item(), values.float().quantile(0.99).item()
    else:
        lo, hi = value_range
    data = {"kind": "scale", "stops": _stops(scale), "range": finite((lo, hi), "the range"), "title": title}
    return Colouring(data, runtime.values_of(values.float(), f"colouring:{title}", owner))


@dataclass(frozen=True)
class Backdrop:
    """A picture drawn under the points: a PNG data URL and its extent (x0, x1, y0, y1) in map coordinates."""

    url: str
    extent: tuple[float, float, float, float]

    def spec(self) -> runtime.Spec:
        x0, x1, y0, y1 = finite(self.extent, "a backdrop's extent")
        if not (x0 < x1 and y0 < y1) or not self.url.startswith("data:image/"):
            raise ValueError("a backdrop needs an image data URL and an extent with x0 < x1 and y0 < y1")
        return {"format": PICTURE_FORMAT, "url": self.url, "id": content_id({"url": self.url})}


@dataclass(frozen=True)
class MapResult(runtime.Live):
    """Set only in the run a place was clicked: its code `z`, the place `xy`, the nearest atlas point's
    `index` and `label`."""

    z: list[float] | None = None
    xy: tuple[float, float] | None = None
    label: int | None = None
    index: int | None = None


def _result(commit: dict[str, Any] | None) -> MapResult:
    if commit is None:
        return MapResult(True)
    x, y = commit["xy"]
    return MapResult(True, z=[float(v) for v in commit["z"]], xy=(float(x), float(y)), label=commit.get("label"),
                     index=commit.get("index"))


def live_map(
    decoder: runtime.Spec | None,
    *,
    key: str,
    points: runtime.Spec,
    colouring: Colouring | None = None,
    pinned: tuple[float, float] | None = None,
    label: int | None = None,
    backdrop: Backdrop | None = None,
    image_size: int = 196,
    on_commit: Callable[[MapResult], None] | None = None,
) -> MapResult:
    """Mount the map of `points` (ui.live.runtime.atlas_spec) and return what was clicked.

    Hovering decodes, clicking pins; `pinned` marks a place already chosen. `label` is the class for
    a conditional decoder (default: the nearest atlas point's). `colouring` defaults to by_class.
    `on_commit(result)` runs before the script, like a widget's on_change.
    """
    why = runtime.unavailable(key, {"decoder": decoder}, "images come from the server")
    if why:
        return MapResult(False, why)
    if int(points["latent_dim"]) != int(decoder["latent_dim"]):
        raise ValueError("the map's points need the decoder's latent size")
    colouring = colouring or by_class(points["class_names"])
    specs = {"decoder": decoder, "map": points}
    if colouring.values is not None:
        if colouring.values["n"] != points["n"]:
            raise ValueError(f"a colouring needs one value per point ({points['n']}), got {colouring.values['n']}")
        specs["values"] = colouring.values
    if backdrop is not None:
        specs["picture"] = backdrop.spec()
    data = {
        "size": int(image_size), "label": label, "colouring": colouring.data,
        "pinned": None if pinned is None else finite(pinned, "pinned"),
        "extent": None if backdrop is None else list(backdrop.extent),
    }
    return runtime.mount(_view, key, data, specs, _result, on_commit)
