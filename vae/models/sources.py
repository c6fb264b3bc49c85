"""Open any model folder behind the one interface: ours (config.json), ONNX or trusted code (model.json).

`open_model` is what the app and the commands call. Whatever is wrong with a folder (a missing or
truncated file, shapes that disagree with model.json, an operator onnxruntime lacks, code that is not
trusted or raises, a model that outputs NaN) is a CheckpointError with one clear sentence.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from vae.models.interface import Model
from vae.models.ours import Ours
from vae.store.checkpoint import Checkpoint, CheckpointError, is_model_folder, load_checkpoint, read_model_meta

CHECK_BATCH = 2


def open_model(folder: str | os.PathLike, trust_code: bool = False, device: str | torch.device = "cpu") -> Checkpoint:
    """The model in folder behind `vae.models.interface.Model`, with the folder's metadata."""
    folder = Path(folder)
    if not is_model_folder(folder):
        ckpt = load_checkpoint(folder, device)
        return Checkpoint(folder, Ours(ckpt.model, ckpt.class_names), ckpt.meta)
    meta = read_model_meta(folder)
    if "code" in meta:
        from vae.models.trusted import CodeModel

        model: Model = CodeModel(folder, meta, trust_code)
    else:
        from vae.models.onnx_model import OnnxModel

        model = OnnxModel(folder, meta)
    check_runs(folder, model)
    return Checkpoint(folder, model, meta)


@torch.no_grad()
def check_runs(folder: Path, model: Model) -> None:
    """Encode and decode a small batch once: outputs of the declared shapes, finite, or the model is refused."""
    x = torch.full((CHECK_BATCH, *model.image_shape), 0.5)
    y = torch.zeros(CHECK_BATCH, dtype=torch.int64) if model.conditional else None
    try:
        mu, logvar = model.encode(x, y)
        out = model.decode(torch.zeros(CHECK_BATCH, model.latent_dim), y)
    except (RuntimeError, ValueError, TypeError) as err:
        raise CheckpointError(f"{folder}: running the model on a batch of {CHECK_BATCH} failed "
                              f"({type(err).__name__}: {_first_line(err)})") from err
    expected = (CHECK_BATCH, model.latent_dim)
    for name, t in (("code", mu), ("log-variance", logvar)):
        if t is not None and tuple(t.shape) != expected:
            raise CheckpointError(f"{folder}: the encoder's {name} has {t.numel() // CHECK_BATCH} numbers an image, "
                                  f"model.json's latent_shape {list(model.latent_shape)} makes {model.latent_dim}")
    if tuple(out.shape) != (CHECK_BATCH, *model.image_shape):
        raise CheckpointError(f"{folder}: the decoder outputs shape {list(out.shape[1:])}, model.json's "
                              f"image_shape is {list(model.image_shape)}")
    for name, t in (("encoder", mu), ("encoder", logvar), ("decoder", out)):
        if t is not None and not torch.isfinite(t).all():
            raise CheckpointError(f"{folder}: the {name} outputs NaN or infinite values on a plain grey image; "
                                  "the model is broken")
    if model.output == "probs" and not ((out >= 0) & (out <= 1)).all():
        raise CheckpointError(f"{folder}: model.json says the decoder outputs probs, but it gives values outside "
                              "[0, 1]; declare logits or mean")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:300]
