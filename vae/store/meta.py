"""What a checkpoint's config.json may hold: the fields readers use, with their types, checked in one place.

`validate` runs whenever a checkpoint is read (`vae.store.checkpoint.read_meta`), so the app's pages,
`evaluate`, `atlas` and `train --resume` can rely on these types; a wrong one is refused with the
field's path and what was expected. Keys not named here pass untouched, so new fields can be added
to config.json without changing this module (give them a line here once something reads them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from vae.datasets.levels import NORMALISATIONS
from vae.networks.config import ModelConfig, TrainSettings


class MetaError(ValueError):
    """A config.json field has the wrong type (or a required one is missing)."""


@dataclass(frozen=True)
class Leaf:
    """A value that passes `ok`; `what` says what was expected, in JSON's words."""

    what: str
    ok: Callable[[Any], bool]


@dataclass(frozen=True)
class ListOf:
    item: Spec


@dataclass(frozen=True)
class Record:
    """An object whose named fields have their specs (`required` ones must be there) and whose other
    fields all meet `others` (None: anything)."""

    fields: dict[str, Spec] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    others: Spec | None = None


Spec = Leaf | ListOf | Record | Callable[[Any, str], None]  # a function checks what the others cannot say


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _or_null(leaf: Leaf) -> Leaf:
    return Leaf(f"{leaf.what} or null", lambda v: v is None or leaf.ok(v))


STRING = Leaf("a string", lambda v: isinstance(v, str))
INTEGER = Leaf("an integer", _is_int)
NUMBER = Leaf("a number", _is_number)
BOOLEAN = Leaf("true/false", lambda v: isinstance(v, bool))
STRINGS = ListOf(STRING)
NORMALISATION = Leaf(" or ".join(map(repr, NORMALISATIONS)), lambda v: v in NORMALISATIONS)
# How a folder's images deeper than 8 bits were read (vae.datasets.levels); absent in checkpoints made before: full.
LEVELS = Record({"normalise": NORMALISATION, "low": NUMBER, "high": NUMBER}, required=("normalise",))

# The training settings (vae.networks.config.TrainSettings' recorded fields), as `train --resume` and the pages read
# them back: each of its type, or null (older checkpoints recorded unset flags as null), a flag true/false.
SETTING_TYPES = {"str": STRING, "int": INTEGER, "float": NUMBER}
TRAIN = Record({
    f.name: BOOLEAN if f.type == "bool" else _or_null(SETTING_TYPES[f.type.split(" | ")[0]])
    for f in fields(TrainSettings) if f.metadata.get("recorded", True)
})
METRICS = Record(
    {
        **dict.fromkeys(("continuous_test_loss", "nll_binarized", "nll_k", "active_units", "recon_mse",
                         "test_images", "seconds", "rate", "distortion", "fid", "confidence"), _or_null(NUMBER)),
        "kl_per_dim": ListOf(NUMBER),
        "latent_variance": ListOf(NUMBER),
        "dataset": STRING,
        "not_defined": Record(others=STRING),  # metric name -> why this kind of model has no such number
    }
)
PROVENANCE = {  # what an --init record shares with the top level
    "command": STRING,
    "resumed_with": STRINGS,
    "train": TRAIN,
    "history": ListOf(Record({"epoch": INTEGER, "step": INTEGER}, others=_or_null(NUMBER))),
    "init": lambda value, where: check(value, INIT, where),  # the --init checkpoint's record, any depth
}
META = Record(
    {
        **PROVENANCE,
        "dataset": STRING,
        "class_names": STRINGS,
        "levels": LEVELS,
        "binarize": STRING,
        "metrics": METRICS,
        "best_epoch": INTEGER,
        "train_state": Record({"epoch": INTEGER, "step": INTEGER}, required=("epoch", "step")),
        "model": lambda value, where: _check_model(value, where),
    }
)
INIT = Record({**PROVENANCE, "checkpoint": STRING})
JSON_WORDS = {dict: "an object", list: "a list", str: "a string", bool: "true/false", int: "a number",
              float: "a number", type(None): "null"}
MODEL_TYPES = {int: INTEGER, float: NUMBER, str: STRING}


def validate(meta: Any) -> dict[str, Any]:
    """Return meta itself when every field readers use has its type; else raise MetaError naming the field."""
    if isinstance(meta, dict) and "model" not in meta:
        raise MetaError("has no 'model' section, so the architecture is unknown")
    check(meta, META, "")
    return meta


def check(value: Any, spec: Spec, where: str = "") -> None:
    """Raise MetaError naming the field where value does not meet spec (config.json's, model.json's)."""
    if isinstance(spec, Leaf):
        if not spec.ok(value):
            refuse(where, spec.what, value)
    elif isinstance(spec, ListOf):
        if not isinstance(value, list):
            refuse(where, "a list", value)
        for i, item in enumerate(value):
            check(item, spec.item, f"{where}[{i}]")
    elif isinstance(spec, Record):
        _check_record(value, spec, where)
    else:
        spec(value, where)


def _check_record(value: Any, spec: Record, where: str) -> None:
    if not isinstance(value, dict):
        refuse(where, "an object", value)
    for name in spec.required:
        if name not in value:
            raise MetaError(f"field '{_join(where, name)}': missing")
    for name, item in value.items():
        sub = spec.fields.get(name, spec.others)
        if sub is not None:
            check(item, sub, _join(where, name))


def _check_model(value: Any, where: str) -> None:
    """ModelConfig's fields with the types of their defaults, then ModelConfig's own checks."""
    if not isinstance(value, dict):
        refuse(where, "an object", value)
    for f in fields(ModelConfig):
        if f.name in value:
            check(value[f.name], MODEL_TYPES[type(f.default)], _join(where, f.name))
    try:
        ModelConfig.from_dict(value)
    except (TypeError, ValueError) as err:
        raise MetaError(f"field '{where}': invalid model config ({err})") from err


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def refuse(where: str, expected: str, value: Any) -> None:
    """Raise MetaError: the field at `where` is not what was expected."""
    kind = JSON_WORDS.get(type(value), "a value")
    shown = "" if value is None else f" ({_short(repr(value))})"
    raise MetaError(f"field '{where or '(top level)'}': expected {expected}, got {kind}{shown}")


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
