"""A small VAE with a spatial latent, (4, 7, 7), in the manner of Stable Diffusion's autoencoders: the
code is a stack of low-resolution maps, not a vector. The explorer's pages see it flattened (196 numbers).
model.json:

    {"code": "examples.own_models.spatial:build", "latent_shape": [4, 7, 7], "image_shape": [1, 28, 28],
     "output": "logits", "dataset": "mnist"}
"""

from __future__ import annotations

from torch import Tensor, nn


class SpatialVAE(nn.Module):
    def __init__(self, channels: int = 4, width: int = 16) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, width, 4, stride=2, padding=1), nn.SiLU(),  # 14x14
            nn.Conv2d(width, width, 4, stride=2, padding=1), nn.SiLU(),  # 7x7
            nn.Conv2d(width, 2 * channels, 3, padding=1),
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.SiLU(),
            nn.ConvTranspose2d(width, width, 4, stride=2, padding=1), nn.SiLU(),  # 14x14
            nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1),  # 28x28
        )

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)


def build() -> SpatialVAE:
    return SpatialVAE()
