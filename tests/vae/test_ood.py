"""vae.analysis.ood and `python -m vae ood`: the metrics wiring, the built-in shifts and sets, and the stored
results."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.app.app_helpers import make_checkpoint
from vae.__main__ import main
from vae.analysis.ood import FPR_GRID, ROC_JSON, ROC_PNG, SHIFTS, against_set, load_curves, separation, shifted
from vae.analysis.scores import REFERENCE_TENSORS
from vae.networks.config import ModelConfig
from vae.store.checkpoint import read_meta


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ood")
    return {
        "vae": make_checkpoint(root / "vae", ModelConfig(arch="conv", latent_dim=4, hidden=4), train_steps=150),
        "ae": make_checkpoint(root / "ae", ModelConfig(arch="mlp", latent_dim=3, hidden=32, objective="ae"),
                              train_steps=150),
    }


def test_a_perfect_separator_gives_auroc_1_and_no_false_positives() -> None:
    metrics, curve = separation(torch.arange(100.0), torch.arange(100.0) + 1000)
    assert metrics == {"auroc": 1.0, "auprc": 1.0, "fpr95": 0.0}
    assert curve["fpr"] == [round(f, 6) for f in FPR_GRID] and curve["tpr"][0] == 1.0 and curve["tpr"][-1] == 1.0
    backwards, _ = separation(torch.arange(100.0) + 1000, torch.arange(100.0))
    assert backwards["auroc"] == 0.0 and backwards["fpr95"] == 1.0


def test_chance_gives_auroc_near_half_and_nan_counts_as_unusual() -> None:
    gen = torch.Generator().manual_seed(0)
    chance, curve = separation(torch.rand(5000, generator=gen), torch.rand(5000, generator=gen))
    assert abs(chance["auroc"] - 0.5) < 0.03 and abs(chance["fpr95"] - 0.95) < 0.03
    assert np.all(np.diff(curve["tpr"]) >= 0)
    flagged, _ = separation(torch.zeros(10), torch.full((10,), float("nan")))
    assert flagged["auroc"] == 1.0


def test_shifts_are_what_they_say(mnist_test) -> None:
    test = mnist_test.subset(20)
    assert torch.equal(shifted(test, "hflip").images, test.images.flip(-1))
    assert torch.equal(shifted(test, "vflip").images, test.images.flip(-2))
    assert torch.equal(shifted(test, "invert").images, 255 - test.images)
    noisy = shifted(test, "noise")
    assert noisy.images.dtype == torch.uint8 and torch.equal(noisy.images, shifted(test, "noise").images)  # seeded
    change = float((noisy.images.float() - test.images.float()).abs().mean())
    assert 15 < change < 45  # sigma 0.2 of 255 is a mean change of 41, less where black pixels clip at 0
    flat = shifted(test, "constant").images.float()
    assert (flat.amax(dim=(1, 2, 3)) == flat.amin(dim=(1, 2, 3))).all() and flat.std() > 20
    assert set(SHIFTS) == {"hflip", "vflip", "invert", "noise", "constant"}


def test_other_sets_are_checked(mnist_test, tmp_path: Path) -> None:
    meta = {"dataset": "mnist"}
    with pytest.raises(ValueError, match="own dataset"):
        against_set("mnist", mnist_test, meta)
    with pytest.raises(ValueError, match="unknown set"):
        against_set("cifar10", mnist_test, meta)
    assert against_set("fashion-mnist", mnist_test, meta).name == "fashion-mnist"
    for i in range(5):
        Image.new("RGB", (40, 30), (50 * i, 0, 0)).save(tmp_path / f"{i}.png")
    folder = against_set(f"folder:{tmp_path}", mnist_test, meta)
    assert len(folder) == 5 and folder.image_shape == (1, 28, 28)  # every image, at the model's shape


def test_the_command_prints_and_stores_its_results(trained, capsys) -> None:
    folder = trained["vae"]
    assert main(["ood", str(folder), "--against", "invert", "hflip", "--subset", "50", "--k", "2"]) == 0
    out = capsys.readouterr().out
    assert "against invert (50: inverted intensities), nll k = 2" in out and "AUROC" in out and "−ELBO" in out
    ood = read_meta(folder)["ood"]
    assert set(ood) == {"invert", "hflip"}
    entry = ood["invert"]
    assert entry["test_images"] == entry["images"] == 50 and entry["nll_k"] == 2
    assert entry["command"] == f"python -m vae ood {folder} --against invert hflip --subset 50 --k 2"
    assert list(entry["scores"]) == ["neg_elbo", "nll", "recon", "complexity", "knn", "stats"]
    for metrics in entry["scores"].values():
        assert set(metrics) == {"auroc", "auprc", "fpr95"} and all(0 <= v <= 1 for v in metrics.values())
    assert entry["scores"]["neg_elbo"]["auroc"] > 0.9  # inverted digits are nothing like the training images
    json.dumps(ood, allow_nan=False)  # plain JSON numbers and strings
    assert (folder / REFERENCE_TENSORS).is_file()
    curves = load_curves(folder)
    assert set(curves) == {"invert", "hflip"} and len(curves["invert"]["stats"]["tpr"]) == len(FPR_GRID)
    with Image.open(folder / ROC_PNG) as png:
        assert png.width > 600 and png.height > 300
    assert main(["ood", str(folder), "--against", "noise", "--subset", "30", "--k", "2"]) == 0
    assert set(read_meta(folder)["ood"]) == {"invert", "hflip", "noise"}  # earlier sets are kept
    assert read_meta(folder)["ood"]["invert"] == entry and set(load_curves(folder)) == {"invert", "hflip", "noise"}


def test_a_deterministic_model_is_benchmarked_on_its_own_scores(trained, tmp_path: Path, capsys) -> None:
    folder = trained["ae"]
    config_before = (folder / "config.json").read_text()
    assert main(["ood", str(folder), "--against", "constant", "--subset", "40", "--no-save", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert list(printed["constant"]["scores"]) == ["recon", "knn", "stats"]
    assert (folder / "config.json").read_text() == config_before
    assert not (folder / ROC_JSON).exists() and not (folder / REFERENCE_TENSORS).exists()


def test_bad_sets_give_a_message_not_a_traceback(trained, capsys) -> None:
    assert main(["ood", str(trained["ae"]), "--against", "mnist"]) == 2
    assert "own dataset" in capsys.readouterr().err
    assert main(["ood", str(trained["ae"]), "--against", "hflip", "--k", "0"]) == 2
