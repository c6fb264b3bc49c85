"""vae.analysis.repair: each corruption and its mask, inpainting's fit to the visible pixels, the baselines, PSNR."""

from __future__ import annotations

import math

import pytest
import torch

from vae.analysis.repair import (
    FILL,
    Corruption,
    baselines,
    gaussian_noise,
    inpaint,
    median_filter,
    missing_half,
    mse,
    nearest_fill,
    occlude,
    psnr,
    reconstruct,
    repairs,
    salt_and_pepper,
)
from vae.datasets.imageset import ImageSet
from vae.networks.model import VAE
from vae.networks.objectives import training_loss


@pytest.fixture
def digits(mnist_test: ImageSet) -> torch.Tensor:
    return mnist_test.floats(slice(0, 8))


def test_gaussian_noise_changes_every_pixel_a_little_and_hides_none(digits) -> None:
    out = gaussian_noise(digits, 0.2, torch.Generator().manual_seed(0))
    assert out.visible.shape == (8, 1, 28, 28) and out.visible.all() and not out.has_holes
    assert out.image.min() >= 0 and out.image.max() <= 1
    assert 0.05 < (out.image - digits).abs().mean() < 0.2
    assert torch.equal(Corruption("noise", 0.2).apply(digits, seed=3).image,
                       Corruption("noise", 0.2).apply(digits, seed=3).image)


def test_salt_and_pepper_hides_exactly_the_pixels_it_replaced() -> None:
    x = torch.full((4, 3, 28, 28), 0.3)  # RGB, a value neither salt nor pepper
    out = salt_and_pepper(x, 0.25, torch.Generator().manual_seed(0))
    hidden = ~out.visible.expand_as(x)
    assert 0.2 < hidden.float().mean() < 0.3
    assert torch.equal(out.image[~hidden], x[~hidden])  # the rest untouched
    assert set(out.image[hidden].unique().tolist()) == {0.0, 1.0}
    assert (out.image.amax(1) == out.image.amin(1))[~out.visible[:, 0]].all()  # all channels hit together


def test_a_box_hides_its_rectangle_and_is_clipped_to_the_image(digits) -> None:
    out = occlude(digits, 5, 10, 12, 40)
    expected = torch.ones(28, 28, dtype=torch.bool)
    expected[5:12, 10:] = False
    assert all(torch.equal(m[0], expected) for m in out.visible)
    assert (out.image[:, :, 5:12, 10:] == FILL).all()
    assert torch.equal(out.image[:, :, :5], digits[:, :, :5])
    assert Corruption("box", box=(5, 10, 12, 40)).apply(digits).visible.sum() == out.visible.sum()


@pytest.mark.parametrize("height", [28, 27])
def test_missing_halves(height: int) -> None:
    x = torch.rand(2, 1, height, 20)
    top, bottom = missing_half(x, "top"), missing_half(x, "bottom")
    assert (~top.visible[:, :, : height // 2]).all() and top.visible[:, :, height // 2:].all()
    assert (~bottom.visible[:, :, height - height // 2:]).all() and bottom.visible[:, :, : height - height // 2].all()
    with pytest.raises(ValueError, match="top"):
        missing_half(x, "left")


@pytest.mark.parametrize("bad", [
    {"kind": "blur"}, {"kind": "noise", "level": -0.1}, {"kind": "noise", "level": math.nan},
    {"kind": "salt_pepper", "level": 1.5}, {"kind": "box", "box": (10, 5, 10, 8)},
])
def test_bad_corruptions_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        Corruption(**bad)


def briefly_trained(model: VAE, data: ImageSet, steps: int = 150) -> VAE:
    """A few seconds of training on the model's own objective, so that the decoder's output depends on the code."""
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        idx = torch.randint(0, len(data), (64,), generator=gen)
        x = data.floats(idx).expand(-1, model.cfg.channels, -1, -1)
        y = data.labels[idx] if model.cfg.conditional else None
        loss = training_loss(model, x, y).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    for p in model.parameters():
        p.grad = None
    return model.eval()


@pytest.mark.parametrize("overrides", [
    {}, {"num_classes": 10}, {"channels": 3}, {"objective": "ae"}, {"objective": "wae", "mmd_weight": 10.0},
])
def test_inpainting_raises_the_visible_likelihood_and_keeps_visible_pixels(
    tiny_model, mnist_test: ImageSet, overrides
) -> None:
    model = briefly_trained(tiny_model("conv", **overrides), mnist_test)
    x = mnist_test.floats(slice(0, 6)).expand(-1, model.cfg.channels, -1, -1)
    y = mnist_test.labels[:6] if model.cfg.conditional else None
    broken = Corruption("bottom").apply(x)
    result = inpaint(model, broken.image, broken.visible, y, steps=30)
    curve = result.visible_log_likelihood
    assert curve.shape == (31, 6)
    assert (curve[-1] > curve[0]).all()
    assert (curve[1:] >= curve[:-1] - 1.0).float().mean() > 0.9  # it climbs, Adam's wobbles aside
    keep = broken.visible.expand_as(x)
    assert torch.equal(result.image[keep], broken.image[keep])
    assert result.image.min() >= 0 and result.image.max() <= 1
    assert all(p.grad is None for p in model.parameters())
    assert reconstruct(model, broken.image, y).shape == x.shape


def test_zero_steps_decodes_the_encoders_mean(tiny_model) -> None:
    model = tiny_model("mlp")
    x = torch.rand(3, 1, 28, 28)
    broken = Corruption("top").apply(x)
    result = inpaint(model, broken.image, broken.visible, steps=0)
    hide = ~broken.visible.expand_as(x)
    torch.testing.assert_close(result.image[hide], reconstruct(model, broken.image)[hide])


def test_median_filter_removes_an_isolated_speck_and_keeps_flat_areas() -> None:
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 4, 4] = 1.0
    assert median_filter(x).abs().max() == 0
    flat = torch.full((2, 3, 6, 6), 0.4)
    torch.testing.assert_close(median_filter(flat), flat)


def test_nearest_fill_copies_the_nearest_visible_pixel() -> None:
    x = torch.zeros(2, 1, 1, 5)
    x[:, 0, 0] = torch.tensor([0.1, 0.0, 0.0, 0.0, 0.9])
    visible = torch.tensor([True, False, False, False, True]).reshape(1, 1, 1, 5).repeat(2, 1, 1, 1)
    visible[1] = False
    out = nearest_fill(x, visible)
    torch.testing.assert_close(out[0, 0, 0], torch.tensor([0.1, 0.1, 0.1, 0.9, 0.9]))
    assert torch.equal(out[1], x[1])  # nothing visible: left alone


def test_the_baselines_fit_the_corruption(digits) -> None:
    assert set(baselines(Corruption("noise", 0.3).apply(digits), "noise")) == {"median filter"}
    assert set(baselines(Corruption("salt_pepper", 0.1).apply(digits), "salt_pepper")) == {
        "median filter", "nearest fill"}
    assert set(baselines(Corruption("top").apply(digits), "top")) == {"nearest fill"}


def test_psnr_is_infinite_for_identical_images_and_right_otherwise() -> None:
    a = torch.rand(3, 1, 8, 8)
    b = a.clone()
    b[1] = (a[1] + 0.1).clamp(max=2)  # MSE 0.01: 20 dB
    values = psnr(a, b)
    assert math.isinf(values[0]) and values[0] > 0 and math.isinf(values[2])
    assert values[1].item() == pytest.approx(20.0, abs=1e-4)
    assert mse(a, b)[1].item() == pytest.approx(0.01, rel=1e-5)


def test_repairs_names_every_method_that_fits(tiny_model, digits) -> None:
    model = tiny_model("conv")
    noisy = repairs(model, Corruption("noise", 0.2).apply(digits), "noise")
    assert list(noisy) == ["reconstruction", "median filter"]
    holes = repairs(model, Corruption("box", box=(4, 4, 20, 20)).apply(digits), "box", steps=3)
    assert list(holes) == ["reconstruction", "inpainting", "nearest fill"]
    assert all(v.shape == digits.shape for v in holes.values())
