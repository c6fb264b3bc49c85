"""An RGB 64x64 convolutional VAE with residual blocks, written from the common description of such
models: images scaled to [-1, 1], strided convolutions with a residual block at each scale down to
8x8, a linear layer to the mean and log-variance; the decoder mirrors it with transposed convolutions
and ends in tanh, a mean image in [-1, 1]. model.json:

    {"code": "examples.own_models.rgb_resnet:build", "latent_shape": [32], "image_shape": [3, 64, 64],
     "output": "mean", "input_range": [-1, 1], "dataset": "folder:PATH"}
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Residual(nn.Module):
    """x + conv(act(conv(act(x)))), the channel count kept."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.SiLU(), nn.Conv2d(channels, channels, 3, padding=1),
                                  nn.SiLU(), nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class RGBResNetVAE(nn.Module):
    def __init__(self, latent: int = 32, width: int = 16) -> None:
        super().__init__()
        w = width
        self.encoder = nn.Sequential(
            nn.Conv2d(3, w, 4, stride=2, padding=1), Residual(w),  # 32x32
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), Residual(2 * w),  # 16x16
            nn.Conv2d(2 * w, 2 * w, 4, stride=2, padding=1), Residual(2 * w),  # 8x8
            nn.SiLU(), nn.Flatten(),
        )
        self.to_stats = nn.Linear(2 * w * 64, 2 * latent)
        self.from_code = nn.Sequential(nn.Linear(latent, 2 * w * 64), nn.Unflatten(1, (2 * w, 8, 8)))
        self.decoder = nn.Sequential(
            Residual(2 * w), nn.ConvTranspose2d(2 * w, 2 * w, 4, stride=2, padding=1),  # 16x16
            Residual(2 * w), nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1),  # 32x32
            Residual(w), nn.ConvTranspose2d(w, w, 4, stride=2, padding=1),  # 64x64
            nn.SiLU(), nn.Conv2d(w, 3, 3, padding=1),
        )

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.to_stats(self.encoder(x)).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: Tensor) -> Tensor:
        return torch.tanh(self.decoder(self.from_code(z)))


def build() -> RGBResNetVAE:
    return RGBResNetVAE()
