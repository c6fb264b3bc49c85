"""The model's shape and objective weight (`ModelConfig`), and how it is trained (`TrainSettings`), both saved
as JSON beside the weights."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
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


MAX_SIZE = 1024  # --size: larger images are beyond what these models and the browser decoder are for
RUN_ONLY = {"recorded": False}  # how this run goes (resume or replace), not how the model was trained
ON_RESUME = {"on_resume": "current"}  # taken from the new command line when a run is resumed
RESUME_MAY_CHANGE = ("epochs",)  # given anew on --resume, it extends the run; all else is the saved run's


@dataclass(frozen=True)
class TrainSettings:
    """How a model is trained: the train command's flags (`--lr-min` is `lr_min`), built once by the command
    line and checked here. Recorded in config.json under "train" (`recorded`), less the RUN_ONLY fields;
    `vae.store.meta` derives its schema for that record from these fields.

    A new flag is a field here and an argument of the train command (its default comes from here).
    """

    dataset: str = "mnist"
    data_root: str | None = field(default=None, metadata=ON_RESUME)
    size: int | None = None
    channels: int | None = None
    normalise: str = "full"  # how a folder's images deeper than 8 bits become 8-bit (vae.datasets.levels)
    arch: str = "conv"
    latent_dim: int | None = None
    hidden: int | None = None
    hidden_layers: int | None = None
    activation: str | None = None
    objective: str | None = None
    beta: float | None = None
    mmd_weight: float | None = None
    conditional: bool = False
    binarize: str = "none"
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    lr_min: float | None = None  # None: --lr, a constant rate
    warmup_epochs: int = 0
    free_bits: float = 0.0
    iwae_k: int = 1
    init: str | None = None
    subset: int | None = None
    seed: int = 1
    device: str | None = field(default=None, metadata=ON_RESUME)
    out: str = field(default="", metadata=ON_RESUME)
    resume: bool = field(default=False, metadata={**RUN_ONLY, **ON_RESUME})
    overwrite: bool = field(default=False, metadata=RUN_ONLY)
    quiet: bool = field(default=False, metadata={**RUN_ONLY, **ON_RESUME})

    def __post_init__(self) -> None:
        if self.lr_min is None:
            object.__setattr__(self, "lr_min", self.lr)

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> TrainSettings:
        """Settings from a dict holding (at least) these fields: parsed flags, or a saved record."""
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})

    def recorded(self) -> dict[str, Any]:
        """What config.json keeps under "train"."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("recorded", True)}

    def resumed(self, saved: dict[str, Any], given: set[str]) -> TrainSettings:
        """The settings of the run being resumed (`saved`), where the command line may only give anew the
        ON_RESUME fields and RESUME_MAY_CHANGE; another flag in `given` that contradicts a saved setting is an
        error, rather than silently ignored or silently applied."""
        kept = {}
        for f in fields(self):
            key, flag = f.name, "--" + f.name.replace("_", "-")
            if key not in saved or f.metadata.get("on_resume") or (key in RESUME_MAY_CHANGE and flag in given):
                continue
            if flag in given and getattr(self, key) != saved[key]:
                raise ValueError(
                    f"{flag} {getattr(self, key)} differs from the run being resumed ({saved[key]}); "
                    "resume with the same settings, or train into a new --out"
                )
            kept[key] = saved[key]
        return replace(self, **kept)

    def check(self) -> None:
        """Refuse settings that cannot train, with one message naming each bad flag."""
        problems = []
        if self.size is not None and not 1 <= self.size <= MAX_SIZE:
            problems.append(f"--size must be in 1..{MAX_SIZE}, got {self.size}")
        elif self.size is not None and self.size % 4 and self.arch == "conv" and not self.init:
            problems.append(f"--size {self.size}: the conv architecture needs a multiple of 4 (or --arch mlp)")
        if self.epochs < 1:
            problems.append(f"--epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            problems.append(f"--batch-size must be >= 1, got {self.batch_size}")
        if not 0 < self.lr < math.inf:
            problems.append(f"--lr must be a positive number, got {self.lr}")
        if not 0 <= self.lr_min < math.inf:
            problems.append(f"--lr-min must be a number >= 0, got {self.lr_min}")
        if self.warmup_epochs < 0:
            problems.append(f"--warmup-epochs must be >= 0, got {self.warmup_epochs}")
        if not 0 <= self.free_bits < math.inf:
            problems.append(f"--free-bits must be a number >= 0, got {self.free_bits}")
        if self.subset is not None and self.subset < 1:
            problems.append(f"--subset must be >= 1, got {self.subset}")
        if self.iwae_k < 1:
            problems.append(f"--iwae-k must be >= 1, got {self.iwae_k}")
        elif self.iwae_k > 1 and (self.warmup_epochs or self.free_bits or self.beta not in (None, 1.0)):
            problems.append("--iwae-k > 1 trains the plain IWAE bound: no --beta, --warmup-epochs or --free-bits")
        objective = self.objective or "vae"
        if objective != "vae":
            vae_only = [flag for flag, used in (
                ("--beta", self.beta is not None), ("--iwae-k", self.iwae_k > 1),
                ("--warmup-epochs", self.warmup_epochs > 0), ("--free-bits", self.free_bits > 0),
            ) if used]
            if vae_only:
                problems.append(f"--objective {objective} has no KL term: {', '.join(vae_only)} apply to a vae only")
        if self.mmd_weight is not None and (objective != "wae" or not 0 < self.mmd_weight < math.inf):
            problems.append(f"--mmd-weight is the WAE's lambda: a positive number with --objective wae, "
                            f"got {self.mmd_weight} with --objective {objective}")
        if problems:
            raise ValueError("; ".join(problems))
