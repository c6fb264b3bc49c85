"""The model's shape and objective weight, saved as JSON beside the weights."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

ARCHITECTURES = ("mlp", "conv")
ACTIVATIONS = ("relu", "silu")
# vae: the ELBO (beta weighs its KL); ae: a plain autoencoder (the encoder's mean, no noise, no KL);
# wae: a Wasserstein autoencoder, WAE-MMD (the mean code, and mmd_weight x MMD between codes and prior samples).
OBJECTIVES = ("vae", "ae", "wae")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a VAE before loading its weights.

    `hidden` is the width of the MLP's hidden layers, or the channel count of the
    first convolution for `conv` (later layers double it).
    """

    arch: str = "conv"
    latent_dim: int = 16
    hidden: int = 400
    hidden_layers: int = 1
    beta: float = 1.0
    channels: int = 1
    height: int = 28
    width: int = 28
    num_classes: int = 0  # > 0 makes a conditional VAE
    activation: str = "silu"
    objective: str = "vae"
    mmd_weight: float = 0.0  # lambda of the WAE's MMD term; only wae uses it

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"arch must be one of {ARCHITECTURES}, got {self.arch!r}")
        if not 1 <= self.latent_dim <= 1024:
            raise ValueError(f"latent_dim must be in 1..1024, got {self.latent_dim}")
        if self.hidden < 1 or self.hidden_layers < 1:
            raise ValueError("hidden and hidden_layers must be positive")
        if not 0 <= self.beta < float("inf"):
            raise ValueError(f"beta must be a finite number >= 0, got {self.beta}")
        if self.height < 1 or self.width < 1:
            raise ValueError(f"height and width must be positive, got {self.height}x{self.width}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.arch == "conv" and self.hidden < 2:
            raise ValueError(f"conv needs hidden >= 2 (its last layers have hidden // 2 channels), got {self.hidden}")
        if self.arch == "conv" and (self.height % 4 or self.width % 4):
            raise ValueError(f"conv needs height and width divisible by 4, got {self.height}x{self.width}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.num_classes < 0:
            raise ValueError("num_classes must be >= 0")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if not 0 <= self.mmd_weight < float("inf"):
            raise ValueError(f"mmd_weight must be a finite number >= 0, got {self.mmd_weight}")
        if self.objective == "wae" and self.mmd_weight == 0:
            raise ValueError("a wae needs mmd_weight > 0 (the weight of its MMD term)")
        if self.objective != "vae" and self.beta != 1.0:
            raise ValueError(f"beta weighs the KL of a vae; an {self.objective} has no KL term (got beta {self.beta})")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.height, self.width)

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    @property
    def kind(self) -> str:
        """The family member in words: VAE, β-VAE (β = 4), CVAE, AE, WAE (λ = 10)."""
        if self.objective == "ae":
            name = "AE"
        elif self.objective == "wae":
            name = f"WAE (λ = {self.mmd_weight:g})"
        else:
            name = "VAE" if self.beta == 1 else f"β-VAE (β = {self.beta:g})"
        if not self.conditional:
            return name
        return "CVAE" if name == "VAE" else f"conditional {name}"

    @property
    def stochastic(self) -> bool:
        """Whether the encoder is a distribution q(z|x): only then are KL, the ELBO and likelihoods defined."""
        return self.objective == "vae"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**data)


PRESETS: dict[str, ModelConfig] = {
    # The classic PyTorch example: 784-400-20, one hidden layer each side.
    "mlp": ModelConfig(arch="mlp", latent_dim=20, hidden=400, hidden_layers=1, activation="relu"),
    # The shipped convolutional model.
    "conv": ModelConfig(arch="conv", latent_dim=16, hidden=32),
}
