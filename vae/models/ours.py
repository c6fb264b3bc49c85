"""This project's checkpoints behind the model interface: a `vae.networks.model.VAE` and its class names."""

from __future__ import annotations

from torch import Tensor

from vae.models.interface import Model
from vae.networks.config import ModelConfig
from vae.networks.model import VAE


class Ours(Model):
    """One of our VAEs. The deterministic members (AE, WAE) have no posterior: their unused log-variance
    head is not handed out. Decoding is differentiable (the Repair page's inpainting fits codes by gradient)."""

    source = "checkpoint"
    output = "logits"

    def __init__(self, vae: VAE, class_names: list[str] | None = None) -> None:
        cfg = vae.cfg
        self.vae = self.module = vae
        self.latent_shape = (cfg.latent_dim,)
        self.image_shape = cfg.image_shape
        self.conditional = cfg.conditional
        self.posterior = cfg.stochastic
        self.kind = cfg.kind
        names = list(class_names or [])
        self.class_names = [names[i] if i < len(names) else str(i) for i in range(cfg.num_classes)] or names
        self.device = next(vae.parameters()).device

    @property
    def config(self) -> ModelConfig:
        return self.vae.cfg

    @property
    def architecture(self) -> str:
        return f"{self.config.arch} · {self.config.activation}"

    def _encode(self, x: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor | None]:
        mu, logvar = self.vae.encode(x, y)
        return mu, logvar if self.posterior else None

    def _decode(self, z: Tensor, y: Tensor | None) -> Tensor:
        return self.vae.decode(z, y)


def objective_of(model: Model) -> str | None:
    """Our training objective (vae, ae, wae) for one of our checkpoints; None for a model made elsewhere."""
    return model.config.objective if isinstance(model, Ours) else None
