"""Small decoders written the way other people write them, for the browser runtime's parity tests.

`ConvDecoder` has what the hand-written engine never ran: BatchNorm, LeakyReLU, nearest upsampling and a
residual block. It takes a spatial latent (C, h, w), as Stable Diffusion's autoencoders do, or a flat
one through a Linear; it ends in a sigmoid (output kind `probs`) or a tanh (a `mean` image in [-1, 1]).
`ConvEncoder` is a deterministic encoder (a code `z`, no posterior) for the spatial one.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Residual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels),
                                  nn.LeakyReLU(0.2), nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ConvDecoder(nn.Module):
    def __init__(self, latent: tuple[int, ...], channels: int = 1, width: int = 16, end: str = "sigmoid") -> None:
        super().__init__()
        first = ([nn.Linear(latent[0], width * 7 * 7), nn.Unflatten(1, (width, 7, 7))] if len(latent) == 1
                 else [nn.Conv2d(latent[0], width, 3, padding=1)])
        self.net = nn.Sequential(
            *first, nn.BatchNorm2d(width), nn.LeakyReLU(0.2),
            nn.Upsample(scale_factor=2, mode="nearest"), Residual(width),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(width, channels, 3, padding=1),
            nn.Sigmoid() if end == "sigmoid" else nn.Tanh(),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class ConvEncoder(nn.Module):
    def __init__(self, latent: tuple[int, int, int], width: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, width, 4, 2, 1), nn.BatchNorm2d(width), nn.LeakyReLU(0.2),
                                 nn.Conv2d(width, latent[0], 4, 2, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class FlatZ(nn.Module):
    """A spatial decoder taking its codes flat, (N, C*h*w), as vae.store.onnx_export exports ours: the browser
    must feed z as the network declares it (a (1, C, h, w) tensor broke every spatial model of ours there)."""

    def __init__(self, decoder: nn.Module, latent: tuple[int, ...]) -> None:
        super().__init__()
        self.decoder, self.latent = decoder, latent

    def forward(self, z: Tensor) -> Tensor:
        return self.decoder(z.reshape(-1, *self.latent))


def randomized(module: nn.Module, seed: int) -> nn.Module:
    """The module with random weights and BatchNorm statistics (not the identity a fresh one has), in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.3)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.2)
    return module.eval()


def onnx_bytes(module: nn.Module, example: Tensor, input_name: str, output_name: str) -> bytes:
    """The module exported as our ONNX contract expects (dynamo exporter, weights inside), as bytes."""
    program = torch.onnx.export(module.eval(), (example,), dynamo=True, external_data=False,
                                input_names=[input_name], output_names=[output_name], verbose=False)
    return program.model_proto.SerializeToString()


SPATIAL = (4, 7, 7)


def spatial_probs() -> tuple[nn.Module, nn.Module, dict]:
    """A decoder of a spatial latent (4, 7, 7) ending in probabilities, its deterministic encoder, and
    their model.json (the same weights on every call)."""
    torch.manual_seed(1)
    decoder, encoder = randomized(ConvDecoder(SPATIAL), 1), randomized(ConvEncoder(SPATIAL), 3)
    return decoder, encoder, {"latent_shape": list(SPATIAL), "image_shape": [1, 28, 28], "output": "probs"}


def rgb_mean() -> tuple[nn.Module, dict]:
    """An RGB decoder of a flat latent (6,) ending in a tanh: a mean image in [-1, 1], and its model.json."""
    torch.manual_seed(2)
    decoder = randomized(ConvDecoder((6,), channels=3, end="tanh"), 2)
    return decoder, {"latent_shape": [6], "image_shape": [3, 28, 28], "output": "mean", "input_range": [-1, 1]}


def as_image(output: Tensor, kind: str, value_range: tuple[float, float] = (0, 1)) -> Tensor:
    """The image in [0, 1] a decoder's output of this kind stands for (what the browser must draw)."""
    if kind == "logits":
        return torch.sigmoid(output)
    lo, hi = value_range if kind == "mean" else (0, 1)
    return ((output - lo) / (hi - lo)).clamp(0, 1)
