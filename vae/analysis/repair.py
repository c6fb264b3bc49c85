"""Corrupting images and repairing them: with the model, and with the classical filters it should beat.

A corruption returns the corrupted batch and the mask of the pixels that can still be trusted
(True = visible). Gaussian noise touches every pixel a little, so all of them stay "visible";
salt-and-pepper replaces some pixels outright, and a box or a missing half hides pixels: those
are False. Hidden pixels are shown to the encoder as mid-grey (FILL).

Repairs with the model: `reconstruct` decodes the encoder's mean of the corrupted image;
`inpaint` fits the code to the visible pixels only (MAP: maximize log p(x_visible | z) + log p(z)
with Adam, starting from the encoder's mean), then keeps the visible pixels and fills the hidden
ones from the decoded image. The classical baselines: a 3x3 median filter (for noise) and
nearest-visible-pixel fill (for holes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from vae.models.interface import Model, NotAvailable, as_model
from vae.networks.latent import decode
from vae.networks.model import VAE

KINDS = ("noise", "salt_pepper", "box", "top", "bottom")
FILL = 0.5  # what the encoder sees where pixels are hidden
INPAINT_STEPS = 50
INPAINT_LR = 0.1
MODEL_METHODS = ("reconstruction", "inpainting")  # the repairs that use the model; the rest are classical


@dataclass
class Corrupted:
    """A corrupted (B, C, H, W) batch in [0, 1] and its (B, 1, H, W) mask of trustworthy pixels."""

    image: Tensor
    visible: Tensor

    @property
    def has_holes(self) -> bool:
        """Whether some pixels are known to be lost (then inpainting and nearest fill apply)."""
        return not bool(self.visible.all())


@dataclass(frozen=True)
class Corruption:
    """One corruption and its parameter: `level` is the noise's sigma or the salt-and-pepper rate;
    `box` is (top, left, bottom, right) in pixels, bottom and right excluded, for kind "box"."""

    kind: str
    level: float = 0.0
    box: tuple[int, int, int, int] = (0, 0, 0, 0)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"corruption must be one of {KINDS}, got {self.kind!r}")
        if not (math.isfinite(self.level) and 0 <= self.level <= (1 if self.kind == "salt_pepper" else 2)):
            raise ValueError(f"{self.kind} level must be in 0..{1 if self.kind == 'salt_pepper' else 2}, "
                             f"got {self.level}")
        top, left, bottom, right = self.box
        if self.kind == "box" and not (0 <= top < bottom and 0 <= left < right):
            raise ValueError(f"box needs 0 <= top < bottom and 0 <= left < right, got {self.box}")

    def apply(self, x: Tensor, seed: int = 0) -> Corrupted:
        """The corrupted batch; the same seed gives the same noise."""
        gen = torch.Generator().manual_seed(seed)
        if self.kind == "noise":
            return gaussian_noise(x, self.level, gen)
        if self.kind == "salt_pepper":
            return salt_and_pepper(x, self.level, gen)
        if self.kind == "box":
            return occlude(x, *self.box)
        return missing_half(x, self.kind)

    def describe(self) -> str:
        if self.kind == "noise":
            return f"Gaussian noise, σ = {self.level:g}"
        if self.kind == "salt_pepper":
            return f"salt and pepper, {self.level:.0%} of pixels"
        if self.kind == "box":
            top, left, bottom, right = self.box
            return f"box over rows {top}–{bottom - 1}, columns {left}–{right - 1}"
        return f"missing {self.kind} half"


def _all_visible(x: Tensor) -> Tensor:
    return torch.ones(x.shape[0], 1, *x.shape[2:], dtype=torch.bool)


def gaussian_noise(x: Tensor, sigma: float, generator: torch.Generator | None = None) -> Corrupted:
    """x + N(0, sigma^2) per pixel and channel, clipped to [0, 1]; every pixel stays visible."""
    noise = torch.randn(x.shape, generator=generator) * sigma
    return Corrupted((x + noise).clamp(0, 1), _all_visible(x))


def salt_and_pepper(x: Tensor, rate: float, generator: torch.Generator | None = None) -> Corrupted:
    """A fraction `rate` of pixels (all channels together) set to black or white, half each; those are hidden."""
    shape = (x.shape[0], 1, *x.shape[2:])
    hit = torch.rand(shape, generator=generator) < rate
    salt = torch.rand(shape, generator=generator) < 0.5
    image = torch.where(hit, salt.to(x.dtype).expand_as(x), x)
    return Corrupted(image, ~hit)


def occlude(x: Tensor, top: int, left: int, bottom: int, right: int) -> Corrupted:
    """Rows top..bottom-1 and columns left..right-1 hidden (clipped to the image) and painted FILL."""
    visible = _all_visible(x)
    visible[:, :, max(top, 0):max(bottom, 0), max(left, 0):max(right, 0)] = False
    return Corrupted(torch.where(visible, x, torch.full_like(x, FILL)), visible)


def missing_half(x: Tensor, side: str) -> Corrupted:
    """The top or bottom half of the rows hidden (the middle row, for odd heights, stays)."""
    h, w = x.shape[2:]
    if side == "top":
        return occlude(x, 0, 0, h // 2, w)
    if side == "bottom":
        return occlude(x, h - h // 2, 0, h, w)
    raise ValueError(f"side must be 'top' or 'bottom', got {side!r}")


def reconstruct(model: Model | VAE, x: Tensor, y: Tensor | None = None) -> Tensor:
    """The decoded encoder's mean: the model's plain reconstruction of (possibly corrupted) images."""
    model = as_model(model)
    with torch.no_grad():
        mu, _ = model.encode(x, y)
    return decode(model, mu, y)


@dataclass
class Inpainting:
    """The repaired batch, the fitted codes, and log p(x_visible | z) per image after each step: (steps + 1, B)."""

    image: Tensor
    z: Tensor
    visible_log_likelihood: Tensor


def visible_log_likelihood(logits: Tensor, x: Tensor, visible: Tensor) -> Tensor:
    """log p(x_visible | z) per image under the Bernoulli decoder: minus the BCE summed over visible pixels."""
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return -(bce * visible.to(bce.dtype)).flatten(1).sum(1)


def inpaint(
    model: Model | VAE, x: Tensor, visible: Tensor, y: Tensor | None = None,
    steps: int = INPAINT_STEPS, lr: float = INPAINT_LR,
) -> Inpainting:
    """Fit the code to the visible pixels (MAP, Adam from the encoder's mean), fill the hidden ones.

    Maximizes log p(x_visible | z) + log p(z) per image, with p(z) the standard normal prior. For the
    deterministic members (objective "ae", "wae") the prior term is the standard normal too: it is what
    the app samples them from, and it keeps the fitted code where the decoder was trained. Only z is
    optimized; the model's weights get no gradient. Images are independent (Adam is per coordinate).
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    model = as_model(model)
    if why := cannot_inpaint(model):
        raise NotAvailable(why)
    x, visible = x.to(model.device), visible.to(model.device)
    with torch.no_grad():
        mu, _ = model.encode(x, y)
    z = mu.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    history = []
    for step in range(steps + 1):
        log_lik = visible_log_likelihood(model.logits(z, y), x, visible)
        history.append(log_lik.detach())
        if step == steps:
            break
        loss = -(log_lik - 0.5 * z.pow(2).sum(1)).sum()
        (grad,) = torch.autograd.grad(loss, [z])
        z.grad = grad
        opt.step()
    z = z.detach()
    filled = torch.where(visible.cpu(), x.cpu(), decode(model, z, y))
    return Inpainting(filled, z.cpu(), torch.stack(history).cpu())


def cannot_inpaint(model: Model | VAE) -> str | None:
    """Why inpainting (fitting the code by gradient to the visible pixels' likelihood) is not available, or None."""
    model = as_model(model)
    if model.module is None:
        return f"inpainting fits the code by gradient, and a model run by {model.source} gives no gradients"
    return model.likelihood


def median_filter(x: Tensor, size: int = 3) -> Tensor:
    """Each pixel replaced by the median of its size x size neighbourhood (per channel, edges reflected)."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"size must be odd and positive, got {size}")
    b, c, h, w = x.shape
    pad = size // 2
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    patches = F.unfold(padded.reshape(b * c, 1, h + 2 * pad, w + 2 * pad), size)  # (B*C, size*size, H*W)
    return patches.median(dim=1).values.reshape(b, c, h, w)


def nearest_fill(x: Tensor, visible: Tensor) -> Tensor:
    """Each hidden pixel takes the value of the nearest visible pixel (Euclidean; ties to the first in
    row-major order). An image with no visible pixel is left as it is."""
    out = x.clone()
    h, w = x.shape[2:]
    rows, cols = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    coords = torch.stack([rows.flatten(), cols.flatten()], 1).float()
    for i in range(x.shape[0]):
        seen = visible[i, 0].flatten()
        if seen.all() or not seen.any():
            continue
        nearest = torch.cdist(coords[~seen], coords[seen]).argmin(1)
        flat = out[i].reshape(x.shape[1], -1)
        flat[:, ~seen] = flat[:, seen][:, nearest]
    return out


def baselines(corrupted: Corrupted, kind: str) -> dict[str, Tensor]:
    """The classical repairs that fit a corruption, by name: the median filter for noise (salt and pepper
    included), nearest fill wherever pixels are known to be lost."""
    repairs = {}
    if kind in ("noise", "salt_pepper"):
        repairs["median filter"] = median_filter(corrupted.image)
    if corrupted.has_holes:
        repairs["nearest fill"] = nearest_fill(corrupted.image, corrupted.visible)
    return repairs


def repairs(
    model: Model | VAE, corrupted: Corrupted, kind: str, y: Tensor | None = None, steps: int = INPAINT_STEPS
) -> dict[str, Tensor]:
    """Every repair that fits the corruption, by name: the model's ("reconstruction", and "inpainting"
    where pixels are lost), then the classical baselines."""
    out = {"reconstruction": reconstruct(model, corrupted.image, y)}
    if corrupted.has_holes and not cannot_inpaint(model):
        out["inpainting"] = inpaint(model, corrupted.image, corrupted.visible, y, steps).image
    return out | baselines(corrupted, kind)


def mse(a: Tensor, b: Tensor) -> Tensor:
    """Mean squared error per image: shape (B,)."""
    return (a - b).pow(2).flatten(1).mean(1)


def psnr(a: Tensor, b: Tensor, peak: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio per image, in dB: shape (B,); identical images give +inf."""
    err = mse(a.double(), b.double())
    return torch.where(err > 0, 10 * torch.log10(peak**2 / err.clamp_min(1e-300)), torch.inf).float()
