"""The checkpoints that ship: each loads, is the kind its name says, carries honest metrics, and the
conditional one draws the digit it is asked for (judged by the shipped classifier)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vae.networks.classifier import instrument_for, logits_of
from vae.store.checkpoint import load_checkpoint
from vae.training.evaluate import prior_samples

CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"
FAMILY_KINDS = {
    "mnist-vae": "VAE", "mnist-ae": "AE", "mnist-beta4": "β-VAE (β = 4)", "mnist-cvae": "CVAE",
    "mnist-wae": "WAE (λ = 10)", "mnist-2d": "VAE",
}
LIKELIHOOD_FREE = {"mnist-ae", "mnist-wae"}


@pytest.mark.parametrize("name", sorted(FAMILY_KINDS))
def test_each_family_member_is_the_kind_its_name_says_with_its_figures(name: str) -> None:
    ckpt = load_checkpoint(CHECKPOINTS / name)
    metrics = ckpt.meta["metrics"]
    assert ckpt.model.cfg.kind == FAMILY_KINDS[name]
    assert metrics["test_images"] == 10_000 and metrics["fid"] > 0
    if name in LIKELIHOOD_FREE:
        assert "nll_binarized" not in metrics and "rate" not in metrics
        assert {"nll_binarized", "rate", "continuous_test_loss"} <= set(metrics["not_defined"])
    else:
        assert metrics["nll_k"] == 1000 and metrics["rate"] > 0
        assert metrics["continuous_test_loss"] == pytest.approx(metrics["rate"] + metrics["distortion"], abs=0.02)


def test_the_family_shares_one_recipe_but_for_its_one_change() -> None:
    shared = ("arch", "epochs", "lr", "lr_min", "seed", "binarize", "batch_size")
    recipes = {name: load_checkpoint(CHECKPOINTS / name).meta["train"] for name in FAMILY_KINDS}
    for key in shared:
        assert len({str(r[key]) for r in recipes.values()}) == 1, key
    assert load_checkpoint(CHECKPOINTS / "mnist-2d").model.cfg.latent_dim == 2


def test_the_shipped_cvae_draws_the_class_it_is_asked_for() -> None:
    ckpt = load_checkpoint(CHECKPOINTS / "mnist-cvae")
    instrument = instrument_for("mnist", CHECKPOINTS / "classifiers")
    assert instrument is not None
    labels = torch.arange(200) % 10
    with torch.no_grad():
        predicted = logits_of(instrument.model, prior_samples(ckpt.model, 200, labels=labels)).argmax(1)
    assert (predicted == labels).float().mean() >= 0.85  # 0.909 over 1,000 samples
