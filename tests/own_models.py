"""Models nobody here wrote (examples/own_models), trained for seconds and saved as trusted-code and ONNX folders.

`make_own_models(root)` writes, for each example, `root/NAME-code` (model.json naming the code, and
model.safetensors) and `root/NAME-onnx` (its export: encoder.onnx, decoder.onnx, model.json). The RGB
model trains on a small folder dataset of coloured, 64x64 MNIST digits written beside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from vae.datasets.data import ImageSet, load_dataset
from vae.models.sources import open_model
from vae.models.trusted import save_code_model
from vae.store.onnx_export import export_onnx

DIGITS = [str(i) for i in range(10)]
COLOURS = np.array([[230, 60, 60], [60, 200, 80], [70, 110, 240], [240, 200, 40], [200, 80, 220],
                    [40, 210, 210], [250, 140, 30], [150, 150, 150], [120, 70, 30], [255, 255, 255]])


@dataclass(frozen=True)
class OwnModel:
    module: str
    meta: dict[str, Any]
    steps: int


OWN_MODELS = {
    "classic": OwnModel("classic", {"latent_shape": [20], "image_shape": [1, 28, 28], "output": "probs"}, 100),
    "conv-bn": OwnModel("conv_bn", {"latent_shape": [16], "image_shape": [1, 28, 28], "output": "logits"}, 20),
    "rgb-resnet": OwnModel("rgb_resnet", {"latent_shape": [32], "image_shape": [3, 64, 64], "output": "mean",
                                          "input_range": [-1, 1]}, 6),
    "spatial": OwnModel("spatial", {"latent_shape": [4, 7, 7], "image_shape": [1, 28, 28], "output": "logits"},
                        60),
}


def coloured_digits(folder: Path, mnist: ImageSet, n: int = 200) -> Path:
    """A folder dataset (one subfolder per digit) of n MNIST digits, 64x64, each in its class's colour."""
    for i in range(n):
        label = int(mnist.labels[i])
        grey = mnist.images[i, 0].numpy().astype(np.float32) / 255
        rgb = (grey[..., None] * COLOURS[label]).astype(np.uint8)
        (folder / DIGITS[label]).mkdir(parents=True, exist_ok=True)
        Image.fromarray(rgb).resize((64, 64), Image.BILINEAR).save(folder / DIGITS[label] / f"{i:04d}.png")
    return folder


def train_briefly(net: nn.Module, x: torch.Tensor, meta: dict[str, Any], steps: int, seed: int = 0) -> nn.Module:
    """A few Adam steps on the negative ELBO (BCE for logits and probs, squared error for a mean image)."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    signed = meta.get("input_range") == [-1, 1]
    net.train()
    for _ in range(steps):
        batch = x[torch.randint(len(x), (32,))]
        target = batch * 2 - 1 if signed else batch
        mu, logvar = net.encode(target)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        out = net.decode(z).reshape(batch.shape)
        if meta["output"] == "logits":
            recon = F.binary_cross_entropy_with_logits(out, batch, reduction="sum")
        elif meta["output"] == "probs":
            recon = F.binary_cross_entropy(out.clamp(1e-6, 1 - 1e-6), batch, reduction="sum")
        else:
            recon = 0.5 * (out - target).pow(2).sum() / 0.1
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum()
        opt.zero_grad()
        ((recon + kl) / len(batch)).backward()
        opt.step()
    return net.eval()


def make_own_models(root: Path, names: list[str] | None = None) -> dict[str, tuple[Path, Path]]:
    """{name: (code folder, ONNX folder)} for the examples named (all by default)."""
    import importlib

    mnist = load_dataset("mnist", "train").subset(2000)
    rgb_data = None
    made = {}
    for name in names or list(OWN_MODELS):
        spec = OWN_MODELS[name]
        meta = {**spec.meta, "code": f"examples.own_models.{spec.module}:build", "class_names": DIGITS,
                "dataset": "mnist"}
        if spec.meta["image_shape"][0] == 3:
            rgb_data = rgb_data or coloured_digits(root / "colours", mnist)  # a short name: the model card shows it
            meta["dataset"] = f"folder:{rgb_data}"
            x = load_dataset(meta["dataset"], "train", size=64, channels=3).floats()
        else:
            x = mnist.floats()
        torch.manual_seed(0)
        net = importlib.import_module(f"examples.own_models.{spec.module}").build()
        train_briefly(net, x, meta, spec.steps)
        code = save_code_model(root / f"{name}-code", net, meta)
        onnx = export_onnx(open_model(code, trust_code=True), root / f"{name}-onnx")
        made[name] = (code, onnx)
    return made
