"""An ONNX folder behind the model interface, run on the server with onnxruntime (docs/own-models.md).

The folder holds `encoder.onnx`, `decoder.onnx` and `model.json`. Encoder: input `x` float32
(N, C, H, W) in the input range model.json declares (plus `y` int64 (N,) for a conditional model),
outputs `mu` and `logvar`, or `z` alone. Decoder: input `z` (N, D) or (N, *latent_shape) (plus `y`),
one output (N, C, H, W) of the declared kind. Weights are inside the files: external data is refused,
as are files over MAX_BYTES, inputs and outputs that disagree with model.json, and operators
onnxruntime lacks (it refuses to build a session for them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from google.protobuf.message import DecodeError
from onnx.external_data_helper import uses_external_data
from onnxruntime.capi import onnxruntime_pybind11_state as _ort
from torch import Tensor

from vae.models.model_json import DECODER, ENCODER, Declared
from vae.store.checkpoint import CheckpointError

MAX_BYTES = 1 << 30  # 1 GiB a network: far beyond a VAE one explores, and what a browser tab could hold
CODE_OUTPUTS = (["mu", "logvar"], ["z"])
ORT_ERRORS = (_ort.Fail, _ort.InvalidArgument, _ort.InvalidGraph, _ort.InvalidProtobuf, _ort.NotImplemented,
              _ort.RuntimeException, _ort.NoSuchFile, _ort.EPFail)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:300]


def read_network(path: Path) -> tuple[bytes, int]:
    """The bytes of one ONNX file and its number of weights; refused when missing, too large, not ONNX, or with
    external data."""
    try:
        if not path.is_file():
            raise CheckpointError(f"{path}: missing (an ONNX model folder holds {ENCODER}, {DECODER} and model.json)")
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise CheckpointError(f"{path}: {size / 2**30:.1f} GiB, more than the {MAX_BYTES / 2**30:.0f} GiB a "
                                  "network may have here")
        data = path.read_bytes()
    except OSError as err:
        raise CheckpointError(f"{path}: cannot be read ({err.strerror or err})") from err
    try:
        proto = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"{path}: not an ONNX model, or truncated ({err})") from err
    if not proto.graph.node:
        raise CheckpointError(f"{path}: not an ONNX model, or truncated (its graph has no operations)")
    _refuse_external_data(path, proto)
    return data, sum(int(np.prod(t.dims)) for t in proto.graph.initializer)


def _refuse_external_data(path: Path, proto: onnx.ModelProto) -> None:
    tensors = list(proto.graph.initializer)
    tensors += [a.t for node in proto.graph.node for a in node.attribute if a.HasField("t")]
    for tensor in tensors:
        if uses_external_data(tensor):
            where = next((e.value for e in tensor.external_data if e.key == "location"), "?")
            outside = not (path.parent / where).resolve().is_relative_to(path.parent.resolve())
            raise CheckpointError(
                f"{path}: weight {tensor.name!r} is stored outside the file, in {where!r}"
                + (", a path outside the model's folder" if outside else "")
                + "; external data is refused: export with external_data=False so the weights are inside")


def session(path: Path, data: bytes) -> ort.InferenceSession:
    """An onnxruntime session on one thread (the machine is shared; small models run fastest so)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: a refused model is reported by its entry, not in the log
    try:
        return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except ORT_ERRORS as err:
        raise CheckpointError(f"{path}: onnxruntime cannot run it ({_first_line(err)})") from err


def _names(items: list[Any]) -> list[str]:
    return [i.name for i in items]


def _check_dims(path: Path, what: str, shape: list[Any], expected: tuple[int, ...]) -> None:
    """Fixed dimensions after the batch must equal what model.json declares (named ones are left to the run)."""
    if len(shape) != 1 + len(expected) or any(isinstance(d, int) and d != e
                                              for d, e in zip(shape[1:], expected, strict=True)):
        raise CheckpointError(f"{path}: {what} has shape {shape}, model.json declares (N, "
                              f"{', '.join(map(str, expected))})")


class OnnxModel(Declared):
    source = "onnx"

    def __init__(self, folder: Path, spec: dict[str, Any]) -> None:
        self.declare(spec)
        labels = ["y"] if self.conditional else []
        enc_path, dec_path = folder / ENCODER, folder / DECODER
        (enc_bytes, enc_weights), (dec_bytes, dec_weights) = read_network(enc_path), read_network(dec_path)
        self.encoder, self.decoder = session(enc_path, enc_bytes), session(dec_path, dec_bytes)
        self.weights = enc_weights + dec_weights
        if _names(self.encoder.get_inputs()) != ["x", *labels]:
            raise CheckpointError(f"{enc_path}: inputs {_names(self.encoder.get_inputs())}, the contract needs "
                                  f"{['x', *labels]} (model.json says conditional: {self.conditional})")
        _check_dims(enc_path, "input 'x'", self.encoder.get_inputs()[0].shape, self.image_shape)
        outputs = _names(self.encoder.get_outputs())
        if outputs not in CODE_OUTPUTS:
            raise CheckpointError(f"{enc_path}: outputs {outputs}; the contract needs ['mu', 'logvar'] or ['z']")
        self.posterior = outputs == CODE_OUTPUTS[0]
        if spec.get("posterior", self.posterior) != self.posterior:
            raise CheckpointError(f"{enc_path}: outputs {outputs}, but model.json says posterior: {spec['posterior']}")
        if _names(self.decoder.get_inputs()) != ["z", *labels]:
            raise CheckpointError(f"{dec_path}: inputs {_names(self.decoder.get_inputs())}, the contract needs "
                                  f"{['z', *labels]}")
        z_shape = self.decoder.get_inputs()[0].shape
        self.flat_z = len(z_shape) == 2
        _check_dims(dec_path, "input 'z'", z_shape, (self.latent_dim,) if self.flat_z else self.latent_shape)
        if len(self.decoder.get_outputs()) != 1:
            raise CheckpointError(f"{dec_path}: {len(self.decoder.get_outputs())} outputs; the contract needs one "
                                  "image (N, C, H, W)")
        _check_dims(dec_path, "its output", self.decoder.get_outputs()[0].shape, self.image_shape)
        self.kind = self.named(spec)

    @property
    def parameter_count(self) -> int:
        return self.weights

    @staticmethod
    def _run(sess: ort.InferenceSession, first: str, value: Tensor, y: Tensor | None) -> list[Tensor]:
        feeds = {first: value.detach().cpu().numpy().astype(np.float32, copy=False)}
        if y is not None:
            feeds["y"] = y.cpu().numpy().astype(np.int64, copy=False)
        try:
            outputs = sess.run(None, feeds)
        except ORT_ERRORS as err:
            raise RuntimeError(f"onnxruntime: {_first_line(err)}") from err
        return [torch.from_numpy(np.asarray(out)) for out in outputs]

    def _encode(self, x: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor | None]:
        codes = self._run(self.encoder, "x", x * 2 - 1 if self.signed else x, y)
        return codes[0], codes[1] if self.posterior else None

    def _decode(self, z: Tensor, y: Tensor | None) -> Tensor:
        (out,) = self._run(self.decoder, "z", z.flatten(1) if self.flat_z else z, y)
        if self.output == "mean" and self.signed:  # a mean image in the encoder's range, back to [0, 1]
            out = (out + 1) / 2
        return out
