"""The evaluation metrics as people read them: one list, shared by the model card and the Compare table.

A metric that does not exist for a kind of model (vae.training.evaluate's `not_defined`) is shown as such,
with the reason, never as a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from vae.store.checkpoint import Checkpoint


@dataclass(frozen=True)
class Metric:
    key: str  # the key in config.json's "metrics"
    label: str
    digits: int
    better: str | None  # "lower" or "higher": which way is better, for marking the best of a column; None: a trade-off
    help: str
    given_label: bool = False  # a conditional model's figure is conditioned on the label, so not comparable


METRICS = (
    Metric("nll_binarized", "NLL (nats)", 2, "lower",
           "-log p(x) of the binarized test set by importance sampling; the k is in the model card", given_label=True),
    Metric("continuous_test_loss", "Test loss (nats)", 2, "lower",
           "-ELBO against the grey levels, one sample: BCE + KL (the PyTorch example's convention)", given_label=True),
    Metric("rate", "Rate, KL (nats)", 2, None,
           "KL(q(z|x) || p(z)), averaged over the test set: the information the codes carry about each image; "
           "a trade-off against distortion, so no best is marked"),
    Metric("distortion", "Distortion (nats)", 2, "lower",
           "The reconstruction term: BCE of the decoded code against the grey levels"),
    Metric("active_units", "Active units", 0, "higher",
           "Dimensions whose code varies across images (variance of the mean > 0.01); the others are unused"),
    Metric("recon_mse", "Recon. MSE", 4, "lower", "Mean squared error per pixel of the mean code's reconstruction"),
    Metric("fid", "Sample FID", 2, "lower",
           "Fréchet distance between the measuring classifier's features of test images and of prior samples; "
           "relative to this project's small classifier, not comparable with Inception-FID figures"),
    Metric("confidence", "Sample confidence", 3, "higher",
           "The measuring classifier's mean top-class probability on prior samples: do they look like any class?"),
)


def value(ckpt: Checkpoint, key: str) -> float | None:
    """A metric's stored value, or None when it is not measured or not defined.

    Rate and distortion are derived from an older evaluation that stored neither: the rate is the sum of the
    (analytic, so exact) KL per dimension, the distortion the test loss less that rate.
    """
    stored = (ckpt.meta.get("metrics") or {})
    raw = stored.get(key)
    if raw is None and key in ("rate", "distortion") and "not_defined" not in stored:
        kl, loss = stored.get("kl_per_dim"), stored.get("continuous_test_loss")
        if isinstance(kl, list) and all(isinstance(v, int | float) for v in kl) and isinstance(loss, int | float):
            raw = sum(kl) if key == "rate" else loss - sum(kl)
    return float(raw) if isinstance(raw, int | float) and math.isfinite(raw) else None


def missing_reason(ckpt: Checkpoint, key: str) -> str:
    """Why a metric has no value for this model."""
    metrics = ckpt.meta.get("metrics") or {}
    why = (metrics.get("not_defined") or {}).get(key)
    if why:
        return f"Not defined: {why}."
    if not metrics:
        return f"Not evaluated yet: `python -m vae evaluate {ckpt.folder}`."
    if key in ("fid", "confidence"):
        return "Not measured: there was no measuring classifier for this dataset (`python -m vae classifier`)."
    return "Not measured by the evaluation stored for this model."


def formatted(ckpt: Checkpoint, metric: Metric) -> str:
    v = value(ckpt, metric.key)
    if v is None:
        return "not defined" if metric.key in ((ckpt.meta.get("metrics") or {}).get("not_defined") or {}) else "–"
    return f"{v:,.{metric.digits}f}"


def row(ckpt: Checkpoint) -> dict[str, Any]:
    """A model's metrics keyed by label, None where there is no value (one float type per column)."""
    return {m.label: value(ckpt, m.key) for m in METRICS}
