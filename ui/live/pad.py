"""The drawing pad: draw, and the browser encodes the drawing on every stroke update.

    result = draw_pad(decoder_of(ckpt), encoder_of(ckpt), key="pad", model_input=ModelInput(1, 28, 28),
                      score=PadScore(score_of(cfg), reference), strokes=strokes)
    if result.committed:              # a stroke ended (or undo, clear) in this run
        ...result.z, result.image     # the drawing's latent mean and the model input it came from

In the browser, on every stroke update: the drawing is made the model's input as an upload of the
same pixels would be (vae.datasets.uploads.prepare_upload, reproduced in components/model_runtime/
model_input.mjs), encoded to its posterior mean, decoded, scored (the -ELBO at the mean, or the
reconstruction error for autoencoders), ranked among the test set's scores, and placed on the
latent map as vae.analysis.atlas.Atlas.project would place it. The strokes are short text (parse_strokes
checks it), so a link can carry the drawing.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ui.live import runtime
from ui.live.map import Colouring, by_class
from ui.scores import Score
from vae.datasets.uploads import FIT_CHOICES, INVERT_CHOICES, WORKING_SCALE

_view = runtime.view_component("pad", ("map", "pad"))
MAX_SIDE = 256  # raster pixels per side: one byte per coordinate (components/views/strokes.mjs)
MAX_STROKE_TEXT = 60_000


@dataclass(frozen=True)
class ModelInput:
    """How the pad's picture becomes the model's input: vae.datasets.uploads.prepare_upload's options."""

    channels: int
    height: int
    width: int
    dark_background: bool = True
    invert: str = "auto"
    fit: str = "pad"


@dataclass(frozen=True)
class PadScore:
    """The score the pad shows (ui.scores.score_of) and the test set's scores, sorted, to rank it among
    (a values spec; None without them, and `no_reference` says why)."""

    score: Score
    reference: runtime.Spec | None = None
    no_reference: str = "The test images are not available, so the score cannot be ranked."


@dataclass(frozen=True)
class PadResult(runtime.Live):
    """Set only in a run the drawing was committed (`committed`): its `strokes`, and unless the pad is
    empty its latent mean `z`, the model input `image` (C, H, W) it was encoded from, the class `label`
    and framing `fit` it was encoded with, and its `score`."""

    committed: bool = False
    strokes: str = ""
    z: list[float] | None = None
    image: Tensor | None = None
    label: int | None = None
    fit: str | None = None
    score: float | None = None


def pad_side(height: int, width: int) -> int:
    """The pad's raster: square, no larger than prepare_upload takes without shrinking it first."""
    return min(WORKING_SCALE * min(height, width), MAX_SIDE)


def parse_strokes(raw: str) -> str:
    """The pad's strokes (components/views/strokes.mjs) if `raw` is well formed, written as the pad writes
    them (base64url without padding, so a commit of the same drawing is the same text); raises ValueError
    otherwise."""
    if len(raw) > MAX_STROKE_TEXT:
        raise ValueError("too long")
    try:
        data = base64.b64decode(raw + "=" * (-len(raw) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not a drawing") from None
    i = 0
    while i < len(data):
        count = int.from_bytes(data[i + 1:i + 3], "big") if i + 3 <= len(data) else 0
        if data[i] < 1 or count < 1 or i + 3 + 2 * count > len(data):
            raise ValueError("not a drawing")
        i += 3 + 2 * count
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _image(values: Any, shape: tuple[int, int, int]) -> Tensor | None:
    if not isinstance(values, list) or len(values) != math.prod(shape):
        return None
    image = torch.tensor(values, dtype=torch.float32).reshape(shape)
    return image if torch.isfinite(image).all() and image.min() >= 0 and image.max() <= 1 else None


def _reader(shape: tuple[int, int, int], latent_dim: int) -> Callable[[dict[str, Any] | None], PadResult]:
    """Commits to PadResults; a malformed commit counts as none."""

    def read(commit: dict[str, Any] | None) -> PadResult:
        try:
            strokes = parse_strokes(str(commit["strokes"])) if commit else None
        except ValueError:
            strokes = None
        if strokes is None:
            return PadResult(True)
        if not strokes:
            return PadResult(True, committed=True)
        z, image, label = commit.get("z"), _image(commit.get("x"), shape), commit.get("label")
        try:
            code, score = [float(v) for v in z], float(commit["score"])
        except (TypeError, ValueError, KeyError):
            return PadResult(True)
        if len(code) != latent_dim or image is None:
            return PadResult(True)
        return PadResult(True, committed=True, strokes=strokes, z=code, image=image,
                         label=label if isinstance(label, int) else None, fit=commit.get("fit"), score=score)

    return read


def draw_pad(
    decoder: runtime.Spec | None,
    encoder: runtime.Spec | None,
    *,
    key: str,
    model_input: ModelInput,
    score: PadScore,
    strokes: str = "",
    label: int | None = None,
    points: runtime.Spec | None = None,
    colouring: Colouring | None = None,
    map_caption: str = "",
    commit_wanted: bool = False,
    image_size: int = 168,
    on_commit: Callable[[PadResult], None] | None = None,
) -> PadResult:
    """Mount the pad and return what it committed in this run.

    `model_input` says how the drawing becomes the model's input; `score` what it is scored by;
    `strokes` is the drawing to start from (parse_strokes), replacing the pad's when it changes;
    `label` the class for a conditional model; `points` the atlas map (ui.live.runtime.atlas_spec)
    to place the drawing on, coloured by `colouring` (default by class) and captioned `map_caption`.
    With `commit_wanted` the pad commits its drawing as soon as it has encoded it (Python lacks it,
    or its framing or class changed). `on_commit(result)` runs before the script, like a widget's on_change.
    """
    why = runtime.unavailable(key, {"decoder": decoder, "encoder": encoder},
                              "upload a drawing instead, and the server encodes it")
    if why:
        return PadResult(False, why)
    if model_input.invert not in INVERT_CHOICES or model_input.fit not in FIT_CHOICES:
        raise ValueError(f"invert must be one of {INVERT_CHOICES} and fit one of {FIT_CHOICES}")
    shape = (model_input.channels, model_input.height, model_input.width)
    if list(shape) != list(encoder["image_shape"]) or encoder["latent_dim"] != decoder["latent_dim"]:
        raise ValueError("the pad needs an encoder and decoder of one model, and its input shape")
    side = pad_side(model_input.height, model_input.width)
    specs = {"decoder": decoder, "encoder": encoder}
    if points is not None:
        specs["map"] = points
    if score.reference is not None:
        specs["scores"] = score.reference
    data = {
        "size": int(image_size), "label": label, "side": side, "brush": round(side * 0.08),
        "maxBrush": round(side * 0.25), "strokes": parse_strokes(strokes), "commitWanted": bool(commit_wanted),
        "input": {"channels": model_input.channels, "size": [model_input.height, model_input.width],
                  "darkBackground": model_input.dark_background, "invert": model_input.invert,
                  "fit": model_input.fit},
        "score": {"kind": score.score.kind, "title": score.score.title, "unit": score.score.unit,
                  "digits": score.score.digits, "note": score.score.note, "noReference": score.no_reference},
        "colouring": (colouring or by_class(points["class_names"] if points else [])).data,
        "mapCaption": map_caption,
    }
    return runtime.mount(_view, key, data, specs, _reader(shape, int(decoder["latent_dim"])), on_commit)
