"""Latent operations (encode, decode, interpolate, traverse, sample, compare) and the image helpers."""

from __future__ import annotations

import io

import pytest
import torch
from PIL import Image

from vae.datasets.images import gif_bytes, grid, png_bytes, to_pil
from vae.datasets.imageset import ImageSet
from vae.networks.latent import (
    attribute_vector,
    class_means,
    decode,
    encode_dataset,
    every_class,
    interpolate,
    lerp,
    nearest_neighbours,
    plane_grid,
    sample_prior,
    slerp,
    traverse,
)


def test_encode_dataset_matches_encode_in_batches(tiny_model, mnist_test: ImageSet) -> None:
    model = tiny_model("conv", num_classes=10)
    data = mnist_test.subset(50)
    mu, logvar = encode_dataset(model, data, batch_size=16)
    assert mu.shape == logvar.shape == (50, 4)
    with torch.no_grad():
        mu_all, logvar_all = model.encode(data.floats(), data.labels)
    torch.testing.assert_close(mu, mu_all)
    torch.testing.assert_close(logvar, logvar_all)
    empty = encode_dataset(model, data.subset(0))
    assert empty[0].shape == (0, 4)


def test_decode_gives_images_in_unit_range(tiny_model) -> None:
    images = decode(tiny_model("mlp"), torch.randn(3, 4) * 5)
    assert images.shape == (3, 1, 28, 28) and images.min() >= 0 and images.max() <= 1
    assert not images.requires_grad


def test_lerp_and_slerp_end_points() -> None:
    a, b = torch.tensor([1.0, 0.0, 2.0]), torch.tensor([-1.0, 3.0, 0.5])
    t = torch.tensor([0.0, 0.5, 1.0])
    for fn in (lerp, slerp):
        path = fn(a, b, t)
        assert path.shape == (3, 3)
        torch.testing.assert_close(path[0], a)
        torch.testing.assert_close(path[-1], b)
    torch.testing.assert_close(lerp(a, b, t)[1], (a + b) / 2)


def test_slerp_keeps_the_norm_between_codes_of_equal_norm() -> None:
    a, b = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 3.0])
    norms = slerp(a, b, torch.linspace(0, 1, 7)).norm(dim=1)
    torch.testing.assert_close(norms, torch.full((7,), 3.0))
    assert lerp(a, b, torch.tensor([0.5])).norm() < 2.5  # lerp cuts the corner


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_slerp_falls_back_to_lerp_for_parallel_or_opposite_codes(sign: float) -> None:
    a = torch.tensor([1.0, 2.0])
    b = sign * 2 * a
    t = torch.linspace(0, 1, 5)
    path = slerp(a, b, t)
    assert torch.isfinite(path).all()
    torch.testing.assert_close(path, lerp(a, b, t))


def test_interpolate() -> None:
    a, b = torch.zeros(4), torch.ones(4)
    for method in ("linear", "spherical"):
        path = interpolate(a + 0.1, b, 9, method)
        assert path.shape == (9, 4)
        torch.testing.assert_close(path[0], a + 0.1)
        torch.testing.assert_close(path[-1], b)
    with pytest.raises(ValueError, match="steps"):
        interpolate(a, b, 1)
    with pytest.raises(ValueError, match="method"):
        interpolate(a, b, 3, "cubic")


def test_traverse_changes_only_one_dimension() -> None:
    z = torch.tensor([0.5, -1.0, 2.0])
    values = torch.linspace(-3, 3, 5)
    codes = traverse(z, 1, values)
    assert codes.shape == (5, 3)
    assert torch.equal(codes[:, 1], values)
    assert torch.equal(codes[:, [0, 2]], z[[0, 2]].expand(5, 2))
    assert torch.equal(z, torch.tensor([0.5, -1.0, 2.0]))  # the input is left alone


def test_sample_prior_is_reproducible_by_seed() -> None:
    assert torch.equal(sample_prior(5, 3, seed=7), sample_prior(5, 3, seed=7))
    assert not torch.equal(sample_prior(5, 3, seed=7), sample_prior(5, 3, seed=8))
    torch.testing.assert_close(sample_prior(5, 3, temperature=0.5, seed=7), 0.5 * sample_prior(5, 3, seed=7))
    assert sample_prior(20000, 2, temperature=2.0, seed=0).std().item() == pytest.approx(2.0, abs=0.05)


def test_class_means_and_attribute_vector() -> None:
    mu = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [0.0, 6.0]])
    labels = torch.tensor([0, 0, 2, 2])
    means = class_means(mu, labels, 4)
    torch.testing.assert_close(means[[0, 2]], torch.tensor([[1.0, 0.0], [0.0, 5.0]]))
    assert torch.isnan(means[1]).all() and torch.isnan(means[3]).all()  # empty classes
    torch.testing.assert_close(attribute_vector(mu, labels, 0, 2), torch.tensor([-1.0, 5.0]))


def test_nearest_neighbours() -> None:
    codes = torch.tensor([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0], [0.0, 2.0]])
    idx, dist = nearest_neighbours(torch.tensor([0.1, 0.0]), codes, k=2)
    assert idx.tolist() == [[0, 1]]
    torch.testing.assert_close(dist, torch.tensor([[0.1, 0.9]]))
    idx, _ = nearest_neighbours(torch.tensor([[5.0, 4.0], [0.0, 1.9]]), codes, k=10)
    assert idx.shape == (2, 4) and idx[0, 0] == 2 and idx[1, 0] == 3


def test_images_grid_png_and_gif() -> None:
    images = torch.rand(10, 1, 28, 28)
    assert to_pil(images[0]).size == (28, 28) and to_pil(images[0], scale=3).size == (84, 84)
    assert to_pil(torch.rand(3, 5, 6)).mode == "RGB"
    g = grid(images, ncol=4, pad=2)
    assert g.size == (4 * 30 + 2, 3 * 30 + 2)
    assert png_bytes(g).startswith(b"\x89PNG")
    gif = Image.open(io.BytesIO(gif_bytes(images[:4], scale=2)))
    assert gif.format == "GIF" and gif.size == (56, 56) and gif.n_frames == 6  # forth and back


def test_every_class_keeps_the_code_and_changes_the_label(tiny_model, mnist_test) -> None:
    model = tiny_model("mlp", num_classes=10)
    x, y = mnist_test.floats(slice(0, 3)), mnist_test.labels[:3]
    grid = every_class(model, x, y)
    assert grid.shape == (3, 10, 1, 28, 28)
    mu, _ = model.encode(x, y)
    for i in range(3):  # row i, column c: image i's code decoded as class c
        torch.testing.assert_close(grid[i, 7], decode(model, mu[i:i + 1], torch.tensor([7]))[0])
    with pytest.raises(ValueError, match="conditional"):
        every_class(tiny_model("mlp"), x, y)


def test_plane_grid_is_laid_out_like_an_image() -> None:
    codes = plane_grid((-2.0, 2.0), (0.0, 1.0), 4)
    assert codes.shape == (16, 2)
    torch.testing.assert_close(codes[0], torch.tensor([-1.5, 0.875]))  # top left cell's centre
    torch.testing.assert_close(codes[3], torch.tensor([1.5, 0.875]))  # top right
    torch.testing.assert_close(codes[12], torch.tensor([-1.5, 0.125]))  # bottom left
