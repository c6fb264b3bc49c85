"""Widening: the wide model computes what the narrow one did, and its new units can learn."""

from __future__ import annotations

import pytest
import torch

from vae.networks.objectives import negative_elbo
from vae.networks.widen import widen


@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("num_classes", [0, 3])
def test_the_wide_model_computes_what_the_narrow_one_did(tiny_model, arch: str, num_classes: int) -> None:
    narrow = tiny_model(arch, num_classes=num_classes).eval()
    wide = widen(narrow, narrow.cfg.hidden * 2)
    assert wide.cfg.hidden == narrow.cfg.hidden * 2 and not wide.training
    assert sum(p.numel() for p in wide.parameters()) > sum(p.numel() for p in narrow.parameters())
    x, z = torch.rand(5, 1, 28, 28), torch.randn(5, narrow.cfg.latent_dim)
    y = torch.tensor([0, 1, 2, 0, 1]) if num_classes else None
    for got, want in zip(wide.encode(x, y), narrow.encode(x, y), strict=True):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(wide.decode(z, y), narrow.decode(z, y), atol=1e-6, rtol=1e-6)


def test_the_new_units_learn(tiny_model) -> None:
    narrow = tiny_model("conv")
    wide = widen(narrow, narrow.cfg.hidden + 8)
    new_inputs = slice(2 * narrow.cfg.hidden, None)  # the first ConvTranspose2d's inputs from new channels
    assert torch.count_nonzero(wide.decoder[3].weight[new_inputs]) == 0
    negative_elbo(wide, torch.rand(4, 1, 28, 28).round()).loss.backward()
    assert torch.count_nonzero(wide.decoder[3].weight.grad[new_inputs]) > 0


def test_a_model_only_grows(tiny_model) -> None:
    model = tiny_model("mlp")
    with pytest.raises(ValueError, match="only grows"):
        widen(model, model.cfg.hidden - 1)
