"""What a model folder's model.json may hold (an ONNX export, or trusted code), checked like config.json.

    {"latent_shape": [16], "image_shape": [1, 28, 28], "output": "logits", "input_range": [0, 1],
     "conditional": false, "class_names": ["0", ..., "9"], "dataset": "mnist"}

plus `"code": "module:callable"` for a model made by the user's own PyTorch code (`vae.models.trusted`).
Errors name the field and what was expected (`vae.store.meta`). What the explorer measures about such a
model (metrics, out-of-distribution results) is kept beside it in explorer.json, never in model.json.
"""

from __future__ import annotations

import math
import re
from typing import Any

from vae.models.interface import OUTPUTS, Model
from vae.store.meta import BOOLEAN, METRICS, STRING, STRINGS, Leaf, MetaError, Record, check, refuse

MODEL_JSON = "model.json"
ENCODER = "encoder.onnx"
DECODER = "decoder.onnx"
CODE_WEIGHTS = "model.safetensors"  # a trusted-code model's weights
NOTES_JSON = "explorer.json"  # what the explorer adds about a model it did not make
MAX_SIDE = 1024
MAX_LATENT = 1 << 16  # codes are vectors the pages hold by the thousand
CODE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
INPUT_RANGES = ([0, 1], [-1, 1])
DATASET_HELP = "mnist, fashion-mnist or folder:PATH"


def _positive_ints(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in v)


def _latent_shape(value: Any, where: str) -> None:
    if not _positive_ints(value) or len(value) not in (1, 3):
        refuse(where, "a list of 1 (D) or 3 (C, h, w) positive integers", value)
    if math.prod(value) > MAX_LATENT:
        raise MetaError(f"field '{where}': {math.prod(value):,} latent numbers, more than the {MAX_LATENT:,} allowed")


def _image_shape(value: Any, where: str) -> None:
    if not _positive_ints(value) or len(value) != 3:
        refuse(where, "a list of 3 positive integers (C, H, W)", value)
    if value[0] not in (1, 3):
        raise MetaError(f"field '{where}': {value[0]} channels; images have 1 (grey) or 3 (RGB)")
    if max(value[1:]) > MAX_SIDE:
        raise MetaError(f"field '{where}': {value[1]}x{value[2]} pixels, more than {MAX_SIDE} on a side")


SPEC = Record(
    {
        "format": STRING,
        "name": STRING,
        "kind": STRING,
        "latent_shape": _latent_shape,
        "image_shape": _image_shape,
        "output": Leaf(f"one of {', '.join(OUTPUTS)}", lambda v: v in OUTPUTS),
        "input_range": Leaf("[0, 1] or [-1, 1]", lambda v: v in INPUT_RANGES),
        "posterior": BOOLEAN,
        "conditional": BOOLEAN,
        "class_names": STRINGS,
        "dataset": STRING,
        "code": Leaf("\"module:callable\" (a Python module path and a name in it)",
                     lambda v: isinstance(v, str) and bool(CODE.match(v))),
    },
    required=("latent_shape", "image_shape", "output"),
)
NOTES = Record({"metrics": METRICS, "ood": Record()})


def validate(data: Any) -> dict[str, Any]:
    """data itself, with defaults filled in, when it is a valid model.json; else MetaError naming the field."""
    check(data, SPEC)
    if data.get("conditional") and len(data.get("class_names", [])) < 2:
        raise MetaError("field 'class_names': a conditional model needs the names of its (at least 2) classes")
    return {"input_range": [0, 1], "conditional": False, "class_names": [], **data}


def validate_notes(data: Any) -> dict[str, Any]:
    check(data, NOTES)
    return data


class Declared(Model):
    """A model whose facts model.json declares (ONNX and trusted code); `signed` inputs are in [-1, 1]."""

    def declare(self, spec: dict[str, Any]) -> None:
        self.latent_shape = tuple(spec["latent_shape"])
        self.image_shape = tuple(spec["image_shape"])  # type: ignore[assignment]
        self.output = spec["output"]
        self.conditional = spec["conditional"]
        self.class_names = list(spec["class_names"])
        self.signed = spec["input_range"] == [-1, 1]

    def named(self, spec: dict[str, Any]) -> str:
        """model.json's kind, else VAE or AE (the model card says where it comes from)."""
        return spec.get("kind") or ("VAE" if self.posterior else "AE")
