"""An MNIST convolutional VAE in the shape of pythae's default MNIST networks, written from their
description and made smaller: strided convolutions with BatchNorm and LeakyReLU down to 7x7, a linear
layer to the mean and log-variance; the decoder goes back up with nearest-neighbour upsampling and
3x3 convolutions (BatchNorm, LeakyReLU), ending in Bernoulli logits. model.json:

    {"code": "examples.own_models.conv_bn:build", "latent_shape": [16], "image_shape": [1, 28, 28],
     "output": "logits", "dataset": "mnist"}
"""

from __future__ import annotations

from torch import Tensor, nn


def _block(c_in: int, c_out: int, **conv: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, **conv), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]


class ConvBNVAE(nn.Module):
    def __init__(self, latent: int = 16, width: int = 16) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            *_block(1, width, kernel_size=4, stride=2, padding=1),  # 14x14
            *_block(width, 2 * width, kernel_size=4, stride=2, padding=1),  # 7x7
            nn.Flatten(),
        )
        self.to_stats = nn.Linear(2 * width * 49, 2 * latent)
        self.from_code = nn.Sequential(nn.Linear(latent, 2 * width * 49), nn.LeakyReLU(0.2),
                                       nn.Unflatten(1, (2 * width, 7, 7)))
        self.decoder = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), *_block(2 * width, width, kernel_size=3, padding=1),
            nn.Upsample(scale_factor=2, mode="nearest"), *_block(width, width, kernel_size=3, padding=1),
            nn.Conv2d(width, 1, kernel_size=3, padding=1),
        )

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.to_stats(self.encoder(x)).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(self.from_code(z))


def build() -> ConvBNVAE:
    return ConvBNVAE()
