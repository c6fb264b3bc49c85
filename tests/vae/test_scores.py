"""vae.analysis.scores and vae.datasets.images.png_bits: each anomaly score ranks far-off images above test images
on tiny
trained models (a VAE, a conditional VAE, a plain autoencoder), the fitted reference round-trips, and the
scores reach the atlas."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.app.app_helpers import make_checkpoint
from vae.__main__ import main
from vae.analysis.atlas import build_atlas, load_atlas, save_atlas
from vae.analysis.scores import (
    REFERENCE_META,
    REFERENCE_TENSORS,
    SCORES,
    ScoresError,
    available,
    fit_reference,
    load_reference,
    save_reference,
    score_images,
    score_set,
    unavailable,
)
from vae.datasets.data import load_dataset
from vae.datasets.images import png_bits, png_bytes, to_pil
from vae.networks.config import ModelConfig
from vae.networks.model import VAE
from vae.networks.objectives import negative_elbo_at_mean
from vae.store.checkpoint import load_checkpoint, save_checkpoint

MODELS = {
    "vae": ModelConfig(arch="conv", latent_dim=4, hidden=4),
    "conditional": ModelConfig(arch="mlp", latent_dim=3, hidden=32, num_classes=10),
    "ae": ModelConfig(arch="mlp", latent_dim=3, hidden=32, objective="ae"),
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The three tiny models, each briefly trained on MNIST, in checkpoint folders."""
    root = tmp_path_factory.mktemp("scored")
    return {name: make_checkpoint(root / name, cfg, train_steps=150) for name, cfg in MODELS.items()}


@pytest.fixture(scope="module")
def train_images():
    return load_dataset("mnist", "train").subset(1000)


def test_png_bits_is_the_length_of_the_8_bit_png_file() -> None:
    x = torch.rand(2, 1, 28, 28)
    bits = png_bits(x)
    for image, b in zip(x, bits, strict=True):
        data = png_bytes(to_pil(image), compress_level=9)
        assert b == 8 * len(data)
        decoded = np.asarray(Image.open(io.BytesIO(data)))
        assert decoded.dtype == np.uint8 and np.array_equal(decoded, np.asarray(to_pil(image)))  # lossless, 8 bits
    assert png_bits(torch.rand(1, 3, 8, 8)).shape == (1,)  # RGB too


def test_png_bits_orders_images_by_complexity(mnist_test) -> None:
    flat, digit, noise = torch.full((1, 28, 28), 0.3), mnist_test.floats(slice(0, 1))[0], torch.rand(1, 28, 28)
    bits = png_bits(torch.stack([flat, digit, noise]))
    assert bits[0] < bits[1] < bits[2]


def test_deterministic_models_lack_the_likelihood_scores() -> None:
    assert available(MODELS["vae"]) == list(SCORES)
    for objective in ("ae", "wae"):
        cfg = ModelConfig(arch="mlp", latent_dim=3, hidden=8, objective=objective, mmd_weight=1.0)
        assert available(cfg) == ["recon", "knn", "stats"]
        assert set(unavailable(cfg)) == {"neg_elbo", "nll", "complexity"}
        assert all("no posterior" in why for why in unavailable(cfg).values())
    assert unavailable(MODELS["vae"]) == {}


@pytest.mark.parametrize("name", list(MODELS))
def test_far_off_images_score_higher_than_test_images(name: str, trained, train_images, mnist_test) -> None:
    model = load_checkpoint(trained[name]).model
    reference = fit_reference(model, train_images)
    near = mnist_test.floats(slice(0, 100))
    far = 1 - near  # inverted digits: a bright background the model never saw
    near_scores = score_images(model, near, reference, k=8)
    far_scores = score_images(model, far, reference, k=8)
    assert list(near_scores) == available(model.cfg)
    for score, values in near_scores.items():
        assert values.shape == (100,) and torch.isfinite(values).all(), score
        assert far_scores[score].median() > values.median(), score


def test_neg_elbo_is_the_library_s_negative_elbo_at_mean(trained, mnist_test) -> None:
    x = mnist_test.floats(slice(0, 20))
    model = load_checkpoint(trained["vae"]).model
    assert torch.equal(score_images(model, x, names=["neg_elbo"])["neg_elbo"], negative_elbo_at_mean(model, x))
    conditional = load_checkpoint(trained["conditional"]).model  # scored as the class it fits best
    per_class = torch.stack([negative_elbo_at_mean(conditional, x, torch.full((20,), c)) for c in range(10)])
    torch.testing.assert_close(score_images(conditional, x, names=["neg_elbo"])["neg_elbo"], per_class.min(0).values)


def test_complexity_is_nll_in_bits_minus_png_bits(trained, mnist_test) -> None:
    model = load_checkpoint(trained["vae"]).model
    x = mnist_test.floats(slice(0, 10))
    torch.manual_seed(0)
    nll = score_images(model, x, names=["nll"], k=4)["nll"]
    torch.manual_seed(0)
    complexity = score_images(model, x, names=["complexity"], k=4)["complexity"]
    torch.testing.assert_close(complexity, nll / np.log(2) - png_bits(x))


def test_missing_scores_are_refused_with_the_reason(trained, mnist_test) -> None:
    x = mnist_test.floats(slice(0, 4))
    ae = load_checkpoint(trained["ae"]).model
    with pytest.raises(ValueError, match=r"nll.*no posterior"):
        score_images(ae, x, names=["nll"])
    with pytest.raises(ValueError, match="unknown"):
        score_images(ae, x, names=["typo"])
    with pytest.raises(ValueError, match="reference"):
        score_images(ae, x, names=["knn"])
    assert list(score_images(ae, x)) == ["recon"]  # without a reference: only what needs none


def test_the_reference_round_trips_and_turns_stale(trained, train_images, mnist_test, tmp_path) -> None:
    ckpt = load_checkpoint(trained["vae"])
    folder = Path(save_checkpoint(tmp_path / "copy", ckpt.model, ckpt.meta))
    assert load_reference(folder, ckpt.model.cfg) is None
    reference = fit_reference(ckpt.model, train_images, codes=300)
    save_reference(folder, reference)
    loaded = load_reference(folder, ckpt.model.cfg)
    assert not loaded.stale and loaded.codes.shape == (300, 4) and loaded.meta["stats"] == reference.meta["stats"]
    x = mnist_test.floats(slice(0, 30))
    cheap = ["recon", "knn", "stats"]
    fitted, stored = score_images(ckpt.model, x, reference, cheap), score_images(ckpt.model, x, loaded, cheap)
    assert all(torch.equal(fitted[s], stored[s]) for s in cheap)
    kib = ((folder / REFERENCE_TENSORS).stat().st_size + (folder / REFERENCE_META).stat().st_size) / 1024
    assert kib < 30  # 300 float16 codes of 4 numbers, a 4 x 4 precision matrix
    torch.manual_seed(5)
    save_checkpoint(folder, VAE(ckpt.model.cfg), ckpt.meta)
    assert load_reference(folder, ckpt.model.cfg).stale
    with pytest.raises(ScoresError, match="does not fit"):
        load_reference(folder, ModelConfig(arch="conv", latent_dim=6, hidden=4))
    (folder / REFERENCE_TENSORS).write_bytes(b"garbage")
    with pytest.raises(ScoresError, match="unreadable"):
        load_reference(folder, ckpt.model.cfg)


def test_the_atlas_stores_scores_and_old_atlases_still_load(trained, train_images, tmp_path) -> None:
    ckpt = load_checkpoint(trained["ae"])
    folder = Path(save_checkpoint(tmp_path / "ae", ckpt.model, ckpt.meta))
    ckpt = load_checkpoint(folder)
    data = load_dataset("mnist", "test").subset(60)
    save_atlas(folder, build_atlas(ckpt, data, use_umap=False))
    assert load_atlas(folder).scores == {}  # an atlas built without scores
    reference = fit_reference(ckpt.model, train_images)
    atlas = build_atlas(ckpt, data, use_umap=False, scores=True, reference=reference)
    save_atlas(folder, atlas)
    loaded = load_atlas(folder)
    assert list(loaded.scores) == ["recon", "knn", "stats"] and all(v.shape == (60,) for v in loaded.scores.values())
    assert set(loaded.meta["scores"]) == set(loaded.scores) and "nll_k" not in loaded.meta
    assert loaded.meta["scores_left_out"] == unavailable(ckpt.model.cfg)  # each with why
    torch.testing.assert_close(loaded.scores["recon"], loaded.recon_error)  # unconditional: the same number
    assert torch.equal(loaded.scores["knn"], score_set(ckpt.model, data, reference, ["knn"])["knn"])


def test_the_atlas_command_fits_the_scores_and_stores_them(trained, tmp_path, capsys) -> None:
    ckpt = load_checkpoint(trained["vae"])
    folder = Path(save_checkpoint(tmp_path / "vae", ckpt.model, ckpt.meta))
    assert main(["atlas", str(folder), "--no-umap", "--subset", "40", "--k", "3"]) == 0
    atlas = load_atlas(folder)
    assert list(atlas.scores) == list(SCORES) and atlas.meta["nll_k"] == 3 and "scores_left_out" not in atlas.meta
    printed = capsys.readouterr().out
    assert all(SCORES[name].title in printed for name in atlas.scores)
    assert json.loads((folder / REFERENCE_META).read_text())["images"] == 10_000
    assert main(["atlas", str(folder), "--no-umap", "--subset", "40", "--no-scores"]) == 0
    assert load_atlas(folder).scores == {}
