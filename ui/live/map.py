"""The map view: every atlas point on a canvas that pans and zooms, in the browser. Hovering a point shows its
image (from a `Sprite` sheet) beside its reconstruction, hovering between points decodes the place, a click
pins, and Box and Lasso select; zoomed in, thumbnails replace the dots.

    result = live_map(decoder_of(ckpt), key="map", points=atlas_spec(atlas, "umap", names))
    if result.z is not None:          # the user clicked a place in this run
        ...
    if result.selected is not None:   # the user selected points in this run
        ...

Without a decoder (one the browser cannot run, or browser decoding switched off) the map still draws,
selects and shows images; only decoding is off, and `result.error` says why.

Points are coloured by class with the plotly map's palette (ui.maps.PALETTE) unless told otherwise:
`by_value(values, ...)` colours them along a colour scale and draws a colour bar. For a model with a
2-D latent space, `points=atlas_spec(atlas, "latent", names)` makes the map's coordinates the code itself
(z = (x, y), no inverse map), and a `Backdrop` (a PNG data URL and its extent) is drawn under the points.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image
from plotly import colors
from torch import Tensor

from ui import maps, show
from ui.live import runtime
from ui.live.sliders import finite
from vae.store.export import content_id

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
             value_range: tuple[float, float] | None = None, missing: str | None = None) -> Colouring:
    """Each point coloured by its value along a plotly colour scale, with a colour bar titled `title`.

    `owner` (the atlas, say) names the values for the cache: they travel to the browser once.
    The range defaults to the values' 1st to 99th percentile, so a few outliers do not wash out the rest.
    With `missing` (the legend's words for them), the values may cover only the first points: the others
    are drawn grey.
    """
    if value_range is None:
        lo, hi = values.float().quantile(0.01).item(), values.float().quantile(0.99).item()
    else:
        lo, hi = value_range
    data = {"kind": "scale", "stops": _stops(scale), "range": finite((lo, hi), "the range"), "title": title}
    if missing is not None:
        data["missing"] = missing
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


SPRITE_MAX_PX = 8192  # a sprite sheet's side: 8192 x 8192 holds about 85,000 tiles of 28 pixels


@dataclass(frozen=True)
class Sprite:
    """The point images as one PNG sheet (a data URL): image i is the tile at column i % columns, row
    i // columns, each `tile` pixels square."""

    url: str
    columns: int
    tile: int

    def spec(self) -> runtime.Spec:
        return {"format": PICTURE_FORMAT, "url": self.url, "id": content_id({"url": self.url})}


def sprite_sheet(images: Tensor) -> Sprite | None:
    """A sprite sheet of uint8 images (N, C, H, W), square, greyscale or RGB; None when they would not fit."""
    n, c, h, w = images.shape
    columns = int(np.ceil(np.sqrt(n)))
    if h != w or c not in (1, 3) or columns * h > SPRITE_MAX_PX:
        return None
    rows = -(-n // columns)
    sheet = np.zeros((rows * columns, h, w, c), dtype=np.uint8)
    sheet[:n] = images.permute(0, 2, 3, 1).numpy()
    sheet = sheet.reshape(rows, columns, h, w, c).transpose(0, 2, 1, 3, 4).reshape(rows * h, columns * w, c)
    picture = Image.fromarray(sheet[..., 0] if c == 1 else sheet, "L" if c == 1 else "RGB")
    return Sprite(show.inline_png(picture), columns, h)


@dataclass(frozen=True)
class MapResult(runtime.Live):
    """Set only in the run a place was clicked: its code `z`, the place `xy`, the nearest atlas point's
    `index` and `label`; and in a run points were selected (a click on one, Box, Lasso, Find), `selected`."""

    z: list[float] | None = None
    xy: tuple[float, float] | None = None
    label: int | None = None
    index: int | None = None
    selected: list[int] | None = None


def _result(commit: dict[str, Any] | None, note: str | None = None) -> MapResult:
    if commit is None:
        return MapResult(True, note)
    picked = commit.get("selected", commit.get("indices"))
    selected = sorted({int(i) for i in picked}) if isinstance(picked, list) else None
    if commit.get("kind") != "pin":
        return MapResult(True, note, selected=selected)
    x, y = commit["xy"]
    return MapResult(True, note, z=[float(v) for v in commit["z"]], xy=(float(x), float(y)),
                     label=commit.get("label"), index=commit.get("index"), selected=selected)


def live_map(
    decoder: runtime.Spec | None,
    *,
    key: str,
    points: runtime.Spec,
    colouring: Colouring | None = None,
    pinned: tuple[float, float] | None = None,
    label: int | None = None,
    backdrop: Backdrop | None = None,
    sprite: Sprite | None = None,
    selected: Sequence[int] | None = None,
    focus: int | None = None,
    parts: Sequence[tuple[str, int]] | None = None,
    image_size: int = 196,
    on_commit: Callable[[MapResult], None] | None = None,
) -> MapResult:
    """Mount the map of `points` (ui.live.runtime.atlas_spec) and return what was clicked or selected.

    Hovering decodes, clicking pins; `pinned` marks a place already chosen, `selected` rings points (None
    leaves the map's own selection alone), `focus` zooms to a point when it changes. `parts` names the points by
    part and number in it, in point order (("Test image", 10000), ("Training image", 60000)); the hover labels
    and Find # follow it (default: "image #i"). `label` is the class for
    a conditional decoder (default: the nearest atlas point's). `colouring` defaults to by_class.
    `on_commit(result)` runs before the script, like a widget's on_change.
    """
    note = None
    if decoder is None:
        note = "This model's decoder cannot run in the browser, so hovering shows images but decodes nothing."
    elif runtime.browser_disabled():
        note, decoder = "Browser decoding is switched off, so hovering shows images but decodes nothing.", None
    if decoder is not None and int(points["latent_dim"]) != int(decoder["latent_dim"]):
        raise ValueError("the map's points need the decoder's latent size")
    colouring = colouring or by_class(points["class_names"])
    specs = {"map": points} if decoder is None else {"decoder": decoder, "map": points}
    if colouring.values is not None:
        n = colouring.values["n"]
        if not (n == points["n"] or ("missing" in colouring.data and n < points["n"])):  # the first points' values
            raise ValueError(f"a colouring needs one value per point ({points['n']}), got {n}")
        specs["values"] = colouring.values
    if backdrop is not None:
        specs["picture"] = backdrop.spec()
    if sprite is not None:
        specs["sprite"] = sprite.spec()
    why = runtime.unavailable(key, specs, "so the map is off", decodes=decoder is not None)
    if why:
        return MapResult(False, why)
    data = {
        "size": int(image_size), "label": label, "colouring": colouring.data, "class_palette": list(maps.PALETTE),
        "pinned": None if pinned is None else finite(pinned, "pinned"),
        "extent": None if backdrop is None else list(backdrop.extent),
        "sprite": None if sprite is None else {"columns": sprite.columns, "tile": sprite.tile},
        "selected": None if selected is None else [int(i) for i in selected],
        "focus": None if focus is None else int(focus),
        "parts": None if parts is None else [[str(name), int(n)] for name, n in parts],
    }
    counted = None if parts is None else sum(n for _, n in data["parts"])
    if counted is not None and counted != points["n"]:
        raise ValueError(f"the parts count {counted} points, the map has {points['n']}")
    return runtime.mount(_view, key, data, specs, lambda commit: _result(commit, note), on_commit)
