"""Evaluation metrics, their storage in config.json with a samples PNG, and the evaluate command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from vae.__main__ import main
from vae.datasets.imageset import ImageSet
from vae.networks.classifier import Classifier, Instrument
from vae.networks.objectives import kl_per_dim, reconstruction_nll
from vae.store.checkpoint import WEIGHTS, load_checkpoint, read_meta
from vae.training.evaluate import (
    SAMPLES_PNG,
    binarized_nll,
    continuous_test_loss,
    evaluate,
    format_metrics,
    latent_statistics,
)


def test_continuous_test_loss_is_the_classic_convention(tiny_model, mnist_test: ImageSet) -> None:
    model, data = tiny_model("mlp"), mnist_test.subset(100)
    result = continuous_test_loss(model, data, batch_size=100, seed=4)  # one batch: the same noise draws
    torch.manual_seed(4)
    with torch.no_grad():
        x = data.floats()
        logits, mu, logvar = model(x)
        expected = (reconstruction_nll(logits, x) + kl_per_dim(mu, logvar).sum(1)).mean().item()
    assert result["loss"] == pytest.approx(expected, rel=1e-5)
    assert result["loss"] == pytest.approx(result["recon"] + result["kl"])


def test_metrics_are_reproducible_and_leave_the_callers_random_stream_alone(tiny_model, mnist_test) -> None:
    model, data = tiny_model("conv"), mnist_test.subset(20)
    torch.manual_seed(11)
    expected_next = torch.rand(3)
    torch.manual_seed(11)
    first = continuous_test_loss(model, data), binarized_nll(model, data, k=5)
    assert torch.equal(torch.rand(3), expected_next)
    assert (continuous_test_loss(model, data), binarized_nll(model, data, k=5)) == first


def test_binarized_nll_is_at_most_the_one_sample_bound(tiny_model, mnist_test) -> None:
    model, data = tiny_model("mlp"), mnist_test.subset(32)
    nll_1, nll_200 = binarized_nll(model, data, k=1), binarized_nll(model, data, k=200)
    assert 0 < nll_200 < nll_1


def test_latent_statistics(tiny_model, mnist_test) -> None:
    stats = latent_statistics(tiny_model("conv", num_classes=10), mnist_test.subset(64), batch_size=20)
    assert len(stats["kl_per_dim"]) == len(stats["latent_variance"]) == 4
    assert 0 <= stats["active_units"] <= 4
    assert 0 < stats["recon_mse"] < 1


def test_empty_test_set_is_refused(tiny_model, mnist_test) -> None:
    with pytest.raises(ValueError, match="no test images"):
        continuous_test_loss(tiny_model("mlp"), mnist_test.subset(0))


def test_evaluate_stores_metrics_and_a_samples_png(tiny_checkpoint, mnist_test) -> None:
    folder = tiny_checkpoint(arch="conv", num_classes=10)
    metrics = evaluate(load_checkpoint(folder), mnist_test.subset(40), k=4)
    assert read_meta(folder)["metrics"] == json.loads(json.dumps(metrics))
    for key in ("continuous_test_loss", "nll_binarized", "active_units", "kl_per_dim", "recon_mse"):
        assert key in metrics
    assert metrics["nll_k"] == 4 and metrics["test_images"] == 40
    with Image.open(folder / SAMPLES_PNG) as png:
        assert png.size == (2 * (8 * 30 + 2), 2 * (3 * 30 + 2))  # 3 rows of 8, scale 2
    table = format_metrics(metrics)
    assert "binarized NLL, k=4" in table and "active units" in table


def test_evaluate_command_prints_a_table_or_json(tiny_checkpoint, capsys) -> None:
    folder = tiny_checkpoint()
    assert main(["evaluate", str(folder), "--k", "3", "--subset", "30"]) == 0
    out = capsys.readouterr().out
    assert "continuous test loss" in out and "nats" in out
    assert read_meta(folder)["metrics"]["test_images"] == 30
    assert main(["evaluate", str(folder), "--k", "3", "--subset", "30", "--json", "--no-save"]) == 0
    assert json.loads(capsys.readouterr().out)["nll_k"] == 3


def test_evaluate_command_refuses_a_corrupt_checkpoint(tiny_checkpoint, capsys) -> None:
    folder = tiny_checkpoint()
    data = (folder / WEIGHTS).read_bytes()
    (folder / WEIGHTS).write_bytes(data[:100])
    assert main(["evaluate", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {folder / WEIGHTS}: corrupt or truncated") and "Traceback" not in err


def test_evaluate_command_refuses_bad_numbers(tiny_checkpoint, capsys, tmp_path: Path) -> None:
    assert main(["evaluate", str(tiny_checkpoint()), "--k", "0"]) == 2
    assert "--k must be >= 1, got 0" in capsys.readouterr().err
    assert main(["evaluate", str(tiny_checkpoint()), "--subset", "-5"]) == 2
    assert "--subset must be >= 1, got -5" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err


def test_a_deterministic_model_gets_only_the_numbers_that_exist(tiny_model, tiny_checkpoint, mnist_test) -> None:
    folder = tiny_checkpoint("ae", "conv", objective="ae")
    metrics = evaluate(load_checkpoint(folder), mnist_test.subset(40), k=5)
    for absent in ("nll_binarized", "continuous_test_loss", "rate", "kl_per_dim"):
        assert absent not in metrics and "no distribution q(z|x)" in metrics["not_defined"][absent]
    assert metrics["distortion"] > 0 and len(metrics["latent_variance"]) == 4
    text = format_metrics(metrics)
    assert "not defined" in text and "binarized NLL" not in text
    assert read_meta(folder)["metrics"]["not_defined"] == metrics["not_defined"]


def test_rate_and_distortion_make_up_the_test_loss(tiny_checkpoint, mnist_test) -> None:
    metrics = evaluate(load_checkpoint(tiny_checkpoint("v", "conv")), mnist_test.subset(40), k=5, save=False)
    assert metrics["not_defined"] == {}
    assert metrics["continuous_test_loss"] == pytest.approx(metrics["rate"] + metrics["distortion"])


def test_a_classifier_measures_the_samples(tiny_checkpoint, mnist_test, tmp_path: Path) -> None:
    torch.manual_seed(0)
    instrument = Instrument(tmp_path, Classifier().eval(), {})
    metrics = evaluate(load_checkpoint(tiny_checkpoint("v", "conv")), mnist_test.subset(40), k=5, save=False,
                       instrument=instrument)
    assert metrics["fid"] > 0 and 0.1 <= metrics["confidence"] <= 1 and metrics["quality_samples"] == 40
    assert "sample FID" in format_metrics(metrics)


def test_no_nll_keeps_the_stored_likelihood_of_the_same_test_set(tiny_checkpoint, mnist_test) -> None:
    ckpt = load_checkpoint(tiny_checkpoint("v", "conv"))
    first = evaluate(ckpt, mnist_test.subset(20), k=5)
    again = evaluate(load_checkpoint(ckpt.folder), mnist_test.subset(20), k=None)
    assert again["nll_binarized"] == first["nll_binarized"] and again["nll_k"] == 5
    other = evaluate(load_checkpoint(ckpt.folder), mnist_test.subset(30), k=None)
    assert "nll_binarized" not in other  # measured on other images: not carried over
