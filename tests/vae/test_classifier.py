"""The measuring classifier: it learns, its Fréchet distance behaves, it is stored and loaded safely."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from vae.datasets.data import load_dataset
from vae.networks.classifier import (
    accuracy,
    frechet_distance,
    instrument_for,
    load_instrument,
    sample_quality,
    save_instrument,
    train_classifier,
)
from vae.store.checkpoint import CheckpointError, write_json


@pytest.fixture(scope="module")
def trained():
    train = load_dataset("mnist", "train").subset(4000)
    test = load_dataset("mnist", "test").subset(500)
    model, history = train_classifier(train, test, epochs=1, seed=0)
    return model, history, test


def test_a_short_training_beats_chance_by_far(trained) -> None:
    model, history, test = trained
    assert history[0]["test_accuracy"] == pytest.approx(accuracy(model, test))
    assert history[0]["test_accuracy"] > 0.7


def test_frechet_distance_is_zero_for_the_same_set_and_grows_with_a_shift() -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(500, 6, generator=gen)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # two Gaussians whose means differ by 2 in each of 6 dimensions: distance about 6 * 4
    assert frechet_distance(a, torch.randn(500, 6, generator=gen) + 2.0) == pytest.approx(24.0, rel=0.15)


def test_real_images_score_better_than_noise(trained, tmp_path: Path) -> None:
    model, _, test = trained
    folder = save_instrument(tmp_path / "mnist", model, {"dataset": "mnist"})
    instrument = instrument_for("mnist", tmp_path)
    assert instrument is not None and instrument.folder == folder
    real = test.floats(slice(0, 250))
    same = sample_quality(instrument, real, test.floats(slice(250, 500)))
    noise = sample_quality(instrument, real, torch.rand(250, 1, 28, 28))
    assert same["fid"] < noise["fid"] and same["confidence"] > noise["confidence"]
    assert instrument_for("fashion-mnist", tmp_path) is None


def test_a_folder_that_is_not_a_classifier_is_refused(tmp_path: Path, trained) -> None:
    write_json(tmp_path / "x" / "config.json", {"model": {}})
    with pytest.raises(CheckpointError, match="not a classifier"):
        load_instrument(tmp_path / "x")
    folder = save_instrument(tmp_path / "nan", trained[0], {"dataset": "mnist"})
    tensors = load_file(str(folder / "model.safetensors"))
    tensors["readout.bias"][0] = float("nan")
    save_file(tensors, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        load_instrument(folder)
