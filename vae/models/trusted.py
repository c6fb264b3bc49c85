"""A VAE from the user's own PyTorch code behind the model interface, imported only with --trust-code.

model.json names `"code": "module:callable"`; the callable, called with no arguments, returns an
`nn.Module` with `encode(x[, y])` (the code, or a (mean, log-variance) pair) and `decode(z[, y])`
(the output model.json declares); its weights are in `model.safetensors` beside model.json. The
module is looked for in the model's folder first (`module.py`, or `package/module.py` for a dotted
name), then on the Python path. Importing code runs it, so this happens only when the app or the
command was started with `--trust-code`, never because a folder or a link names the code.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import math
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from torch import Tensor, nn

from vae.models import model_json
from vae.models.model_json import CODE_WEIGHTS, MODEL_JSON, Declared
from vae.store.checkpoint import CheckpointError, check_finite, read_tensors, write_json, write_tensors

TRUST_FLAG = "--trust-code"


def _import(folder: Path, module: str) -> ModuleType:
    """The module from the model's folder when it is there (under a name of its own), else by its name."""
    path = folder.joinpath(*module.split(".")).with_suffix(".py")
    if not path.is_file():
        return importlib.import_module(module)
    name = f"latent_explorer_code_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]}_{module}"
    spec = importlib.util.spec_from_file_location(name, path)
    loaded = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.path.insert(0, str(folder))  # so that the module's own imports of its neighbours work
    try:
        spec.loader.exec_module(loaded)  # type: ignore[union-attr]
    finally:
        sys.path.remove(str(folder))
    return loaded


def build_module(folder: Path, code: str) -> nn.Module:
    """Import `module:callable` and call it; every failure, the module's own errors included, is one message."""
    module_name, attr = code.split(":")
    try:
        module = _import(folder, module_name)
    except (Exception, SystemExit) as err:  # the user's code may raise anything while it is imported
        raise CheckpointError(f"{folder / MODEL_JSON}: importing {module_name!r} raised "
                              f"{type(err).__name__}: {err}") from err
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise CheckpointError(f"{folder / MODEL_JSON}: module {module_name!r} has no callable {attr!r}")
    try:
        net = factory()
    except (Exception, SystemExit) as err:
        raise CheckpointError(f"{folder / MODEL_JSON}: {code}() raised {type(err).__name__}: {err}") from err
    missing = [m for m in ("encode", "decode") if not callable(getattr(net, m, None))]
    if not isinstance(net, nn.Module) or missing:
        lacking = f" without {' and '.join(missing)}" if missing else ""
        raise CheckpointError(f"{folder / MODEL_JSON}: {code}() must return an nn.Module with encode and decode "
                              f"methods; got {type(net).__name__}{lacking}")
    return net


def load_weights(folder: Path, net: nn.Module) -> None:
    path = folder / CODE_WEIGHTS
    tensors = read_tensors(path)
    check_finite(path, tensors)
    try:
        net.load_state_dict(tensors)
    except RuntimeError as err:
        first = str(err).strip().splitlines()
        raise CheckpointError(f"{path}: does not fit the module ({' '.join(first[:3])[:300]})") from err


class CodeModel(Declared):
    source = "code"

    def __init__(self, folder: Path, spec: dict[str, Any], trust_code: bool) -> None:
        if not trust_code:
            raise CheckpointError(f"{folder / MODEL_JSON}: this model runs Python code ({spec['code']}); it is "
                                  f"opened only when the app or command is started with {TRUST_FLAG}, for code "
                                  "you trust")
        self.net = self.module = build_module(folder, spec["code"]).eval()
        load_weights(folder, self.net)
        self.declare(spec)
        self.posterior = spec.get("posterior", True)
        self.kind = self.named(spec)
        self.code = spec["code"]

    def _args(self, y: Tensor | None) -> tuple[Tensor, ...]:
        return () if y is None else (y,)

    def _encode(self, x: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor | None]:
        out = self.net.encode(x * 2 - 1 if self.signed else x, *self._args(y))
        if isinstance(out, tuple | list):
            if not self.posterior or len(out) != 2:
                raise ValueError(f"encode returned {len(out)} values; model.json says posterior: {self.posterior}, "
                                 "so it should return " + ("(mean, log-variance)" if self.posterior else "the code"))
            return out[0], out[1]
        if self.posterior:
            raise ValueError("encode returned one tensor; a model with a posterior returns (mean, log-variance) "
                             "(or say posterior: false in model.json)")
        return out, None

    def _decode(self, z: Tensor, y: Tensor | None) -> Tensor:
        out = self.net.decode(z, *self._args(y))
        if out.dim() == 2 and out.shape[1] == math.prod(self.image_shape):  # flat, as a notebook's MLP gives it
            out = out.reshape(-1, *self.image_shape)
        return (out + 1) / 2 if self.output == "mean" and self.signed else out


def save_code_model(folder: str | os.PathLike, net: nn.Module, meta: dict[str, Any]) -> Path:
    """Write a trusted-code model folder: the module's weights as model.safetensors, and model.json (`meta`, which
    names the code and declares the shapes; validated first)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_tensors(folder / CODE_WEIGHTS, net.state_dict())
    write_json(folder / MODEL_JSON, model_json.validate(meta))
    return folder
