"""The one model interface every page and command uses, whatever made the model (docs/own-models.md).

A `Model` says what the pages need to know: the latent shape (a vector (D,) or spatial (C, h, w)),
the image shape (C, H, W), the class names and whether the label is an input, whether the encoder is
a distribution (a posterior q(z|x)), and what the decoder outputs (`logits` of a Bernoulli, `probs`
in [0, 1], or a `mean` image). `encode` and `decode` are all a source implements; images go in and
out in [0, 1] whatever scaling the network itself expects.

Codes are handed out flat, (N, D) with D the product of the latent shape: every page so far works on
vectors. `decode` takes them flat or in the latent shape. Three sources implement it: this project's
checkpoints (`vae.models.ours`), ONNX folders (`vae.models.onnx_model`) and trusted PyTorch code (`vae.models.trusted`);
`vae.models.sources.open_model` opens any of them.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import Tensor, nn

OUTPUTS = ("logits", "probs", "mean")
PROB_EPS = 1e-6  # probabilities are clamped this far from 0 and 1 before they become logits


class NotAvailable(ValueError):
    """A number or view the model cannot give (no posterior, no likelihood, no gradients), with the reason."""


class Model(ABC):
    """A VAE (or autoencoder) as the explorer sees it. Subclasses set the attributes and implement the two
    `_encode`/`_decode` methods on batches already on `device`."""

    latent_shape: tuple[int, ...]
    image_shape: tuple[int, int, int]
    class_names: list[str]
    conditional: bool  # the label is an input of the encoder and the decoder
    posterior: bool  # the encoder gives the mean and log-variance of q(z|x); else the code alone
    output: str  # one of OUTPUTS
    kind: str  # in words, for people: "VAE", "β-VAE (β = 4)", "AE", "VAE (ONNX)"...
    source: str  # "checkpoint", "onnx" or "code"
    module: nn.Module | None = None  # the PyTorch module computing it, if any: then decode is differentiable
    device: torch.device = torch.device("cpu")

    @abstractmethod
    def _encode(self, x: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """x (N, C, H, W) in [0, 1] -> the code (N, *latent_shape) and its log-variance, or None."""

    @abstractmethod
    def _decode(self, z: Tensor, y: Tensor | None) -> Tensor:
        """z (N, *latent_shape) -> the decoder's output (N, C, H, W), of the declared kind."""

    # What the pages use.

    @property
    def latent_dim(self) -> int:
        return math.prod(self.latent_shape)

    @property
    def num_classes(self) -> int:
        """The number of labels the model takes; 0 for an unconditional model."""
        return len(self.class_names) if self.conditional else 0

    @property
    def channels(self) -> int:
        return self.image_shape[0]

    @property
    def parameter_count(self) -> int | None:
        """The number of weights, where they can be counted."""
        return None if self.module is None else sum(p.numel() for p in self.module.parameters())

    @property
    def architecture(self) -> str:
        """What computes it, in a few words, for the model card."""
        return {"onnx": "ONNX", "code": "own code"}.get(self.source, self.source)

    @property
    def likelihood(self) -> str | None:
        """Why the decoder has no Bernoulli likelihood (a `mean` image has no stated noise), or None."""
        if self.output == "mean":
            return "its decoder outputs a mean image with no stated likelihood (no logits or probabilities)"
        return None

    def encode(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Flat codes (N, D) and log-variances (N, D), or None without a posterior; on `device`."""
        mu, logvar = self._encode(x.to(self.device, torch.float32), self._labels(y, len(x)))
        return mu.flatten(1), None if logvar is None else logvar.flatten(1)

    def decode(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """The decoder's output (N, C, H, W) for codes (N, D) or (N, *latent_shape); on `device`."""
        z = z.to(self.device, torch.float32).reshape(len(z), *self.latent_shape)
        return self._decode(z, self._labels(y, len(z)))

    def image(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Decoded images in [0, 1] (the Bernoulli means, or the mean image clamped)."""
        return self.to_image(self.decode(z, y))

    def logits(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Bernoulli logits of p(x|z), for the likelihood-based numbers; NotAvailable without a likelihood."""
        return self.to_logits(self.decode(z, y))

    def to_image(self, out: Tensor) -> Tensor:
        """The decoder's output as an image in [0, 1]."""
        return torch.sigmoid(out) if self.output == "logits" else out.clamp(0, 1)

    def to_logits(self, out: Tensor) -> Tensor:
        """The decoder's output as Bernoulli logits; NotAvailable without a likelihood."""
        if self.likelihood:
            raise NotAvailable(self.likelihood)
        if self.output == "probs":
            p = out.clamp(PROB_EPS, 1 - PROB_EPS)
            return torch.log(p) - torch.log1p(-p)
        return out

    def describe(self) -> dict[str, Any]:
        """The interface's facts, JSON-able (what model.json declares)."""
        return {"latent_shape": list(self.latent_shape), "image_shape": list(self.image_shape),
                "output": self.output, "posterior": self.posterior, "conditional": self.conditional,
                "class_names": list(self.class_names)}

    def _labels(self, y: Tensor | None, n: int) -> Tensor | None:
        if not self.conditional:
            return None
        if y is None:
            raise ValueError("this model is conditional: pass class labels y")
        y = torch.as_tensor(y, dtype=torch.int64).reshape(-1).to(self.device)
        if len(y) != n:
            raise ValueError(f"got {len(y)} labels for {n} inputs")
        return y


def as_model(model: Any, class_names: list[str] | None = None) -> Model:
    """The interface of `model`: a Model as it is, one of our VAEs wrapped (`vae.models.ours`) with its class names."""
    if isinstance(model, Model):
        return model
    from vae.models.ours import Ours

    return Ours(model, class_names)
