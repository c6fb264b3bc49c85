"""The VAE: a Gaussian encoder q(z|x), the reparameterization trick, and a Bernoulli decoder p(x|z).

Both networks are plain `nn.Sequential` stacks of a few layer kinds (Linear, Conv2d,
ConvTranspose2d, an activation, Flatten/Unflatten); the browser runs them as ONNX (see
`vae.store.onnx_export` and `vae.store.export.network_specs`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vae.networks.config import ModelConfig

ACTIVATION_LAYERS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "silu": nn.SiLU}
ENCODER_HEAD_WIDTH = 256
MAX_PARAMETERS = 2**30  # 4.3 GB of float32 weights: far beyond any model here, and before Adam's state


class ModelTooLarge(ValueError):
    """A config describes a model too large to build here."""


def _conv_trunk(cfg: ModelConfig) -> tuple[nn.Sequential, int]:
    """Two stride-2 convolutions: C x H x W -> 2c x H/4 x W/4, flattened."""
    act = ACTIVATION_LAYERS[cfg.activation]
    c = cfg.hidden
    trunk = nn.Sequential(
        nn.Conv2d(cfg.channels, c, 4, stride=2, padding=1), act(),
        nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), act(),
        nn.Flatten(),
    )
    return trunk, 2 * c * (cfg.height // 4) * (cfg.width // 4)


def _decoder(cfg: ModelConfig) -> nn.Sequential:
    act = ACTIVATION_LAYERS[cfg.activation]
    z_in = cfg.latent_dim + cfg.num_classes
    if cfg.arch == "mlp":
        layers: list[nn.Module] = []
        width = z_in
        for _ in range(cfg.hidden_layers):
            layers += [nn.Linear(width, cfg.hidden), act()]
            width = cfg.hidden
        layers += [nn.Linear(width, cfg.channels * cfg.height * cfg.width), nn.Unflatten(1, cfg.image_shape)]
        return nn.Sequential(*layers)
    c, h, w = cfg.hidden, cfg.height // 4, cfg.width // 4
    return nn.Sequential(
        nn.Linear(z_in, 2 * c * h * w), act(),
        nn.Unflatten(1, (2 * c, h, w)),
        nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1), act(),
        nn.ConvTranspose2d(c, c // 2, 4, stride=2, padding=1), act(),
        nn.Conv2d(c // 2, cfg.channels, 3, padding=1),
    )


class VAE(nn.Module):
    """A (optionally class-conditional) VAE whose decoder returns Bernoulli logits.

    The deterministic members of the family (cfg.objective "ae" and "wae") share the networks and
    decode the encoder's mean: their log-variance head is kept, so every member exports and loads
    alike, but it is never used.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        act = ACTIVATION_LAYERS[cfg.activation]
        if cfg.arch == "mlp":
            self.trunk = nn.Flatten()
            features = cfg.channels * cfg.height * cfg.width
            head_in, head = features + cfg.num_classes, []
            for _ in range(cfg.hidden_layers):
                head += [nn.Linear(head_in, cfg.hidden), act()]
                head_in = cfg.hidden
        else:
            self.trunk, features = _conv_trunk(cfg)
            head = [nn.Linear(features + cfg.num_classes, ENCODER_HEAD_WIDTH), act()]
            head_in = ENCODER_HEAD_WIDTH
        self.head = nn.Sequential(*head, nn.Linear(head_in, 2 * cfg.latent_dim))
        self.decoder = _decoder(cfg)

    def _with_label(self, h: Tensor, y: Tensor | None) -> Tensor:
        if not self.cfg.conditional:
            return h
        if y is None:
            raise ValueError("this VAE is conditional: pass class labels y")
        return torch.cat([h, F.one_hot(y.long(), self.cfg.num_classes).to(h.dtype)], dim=1)

    def encode(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Mean and log-variance of q(z|x), each (B, latent_dim)."""
        stats = self.head(self._with_label(self.trunk(x), y))
        mu, logvar = stats.chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Bernoulli logits of p(x|z), shaped like the images."""
        return self.decoder(self._with_label(z, y))

    @staticmethod
    def reparameterize(mu: Tensor, logvar: Tensor, eps: Tensor | None = None) -> Tensor:
        """z = mu + eps * sigma, eps ~ N(0, I) unless given; eps shaped (k, B, D) gives k samples per image."""
        eps = torch.randn_like(mu) if eps is None else eps
        return mu + eps * torch.exp(0.5 * logvar)

    def forward(
        self, x: Tensor, y: Tensor | None = None, eps: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Logits of p(x|z) for z ~ q(z|x), with the mean and log-variance of q.

        With eps of shape (k, B, D) the logits are (k * B, C, H, W): sample-major, so that
        training with several samples per image (the IWAE bound) goes through forward,
        the one call DistributedDataParallel synchronizes.
        """
        mu, logvar = self.encode(x, y)
        if self.cfg.stochastic:
            z = self.reparameterize(mu, logvar, eps)
        else:  # the code is the mean; k "samples" are k copies of it
            z = mu if eps is None else mu.expand(eps.shape[0], *mu.shape)
        if z.dim() == 3:
            y = None if y is None else y.repeat(z.shape[0])
            z = z.flatten(0, 1)
        return self.decode(z, y), mu, logvar


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def parameter_count(cfg: ModelConfig) -> int:
    """The parameters of the VAE that cfg describes, counted on the meta device (nothing is allocated)."""
    try:
        with torch.device("meta"):
            return count_parameters(VAE(cfg))
    except (RuntimeError, OverflowError, TypeError) as err:  # sizes whose bytes overflow int64
        raise ModelTooLarge(_too_large("more parameters than can be counted")) from err


def build(cfg: ModelConfig) -> VAE:
    """A new VAE for cfg; absurd sizes and failed allocations raise ModelTooLarge with a message, not a crash."""
    n = parameter_count(cfg)
    if n > MAX_PARAMETERS:
        raise ModelTooLarge(_too_large(f"{n:,} parameters ({4 * n / 1e9:,.1f} GB)"))
    try:
        return VAE(cfg)
    except (RuntimeError, MemoryError) as err:
        raise ModelTooLarge(f"could not allocate the model's {n:,} parameters ({4 * n / 1e9:.1f} GB): {err}") from err


def _too_large(size: str) -> str:
    return (f"the model would have {size}, more than the {MAX_PARAMETERS:,} allowed; "
            "check hidden, latent_dim and the image size")
