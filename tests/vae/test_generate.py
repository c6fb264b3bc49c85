"""python -m vae generate: a folder dataset that `folder:` reads back with the asked counts, its manifest,
and the refusals (occupied folders, absurd counts, non-finite temperatures)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vae.__main__ import main
from vae.datasets.data import load_dataset
from vae.datasets.generate import MAX_IMAGES, class_counts, class_folders, dataset_files, generate, manifest, zip_bytes
from vae.store.checkpoint import load_checkpoint


def read_back(folder: Path) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """Class names, labels and images of both splits of folder:DIR together."""
    train, test = (load_dataset(f"folder:{folder}", split) for split in ("train", "test"))
    assert train.class_names == test.class_names
    return train.class_names, torch.cat([train.labels, test.labels]), torch.cat([train.images, test.images])


def test_a_conditional_model_gives_one_folder_per_class_in_order(tiny_checkpoint, tmp_path: Path, capsys) -> None:
    ckpt = tiny_checkpoint("cond", "mlp", num_classes=10)
    out = tmp_path / "made"
    assert main(["generate", str(ckpt), "--per-class", "3", "--seed", "7", "--temperature", "0.8",
                 "--out", str(out)]) == 0
    assert "wrote 30 images" in capsys.readouterr().out
    names, labels, images = read_back(out)
    assert names == class_folders([str(i) for i in range(10)]) and names[0] == "0-0"
    assert torch.bincount(labels, minlength=10).tolist() == [3] * 10
    assert images.shape == (30, 1, 28, 28)
    meta = json.loads((out / "manifest.json").read_text())
    assert meta["seed"] == 7 and meta["temperature"] == 0.8 and meta["total"] == 30
    assert meta["counts"] == dict.fromkeys(names, 3)
    assert meta["command"].startswith("python -m vae generate ") and "--per-class 3" in meta["command"]
    assert meta["weights_sha256"] == hashlib.sha256((ckpt / "model.safetensors").read_bytes()).hexdigest()


def test_the_images_are_the_decoded_prior_samples(tiny_checkpoint, tmp_path: Path) -> None:
    folder = tiny_checkpoint("plain", "conv")
    out = tmp_path / "plain-out"
    assert main(["generate", str(folder), "--n", "12", "--seed", "3", "--out", str(out)]) == 0
    names, labels, _ = read_back(out)
    assert names == [] and len(labels) == 12 and not [p for p in out.iterdir() if p.is_dir()]
    expected, _ = generate(load_checkpoint(folder), [12], 1.0, 3)
    stored = sorted(out.glob("*.png"))
    assert len(stored) == 12
    for path, image in zip(stored, expected, strict=True):
        pixels = torch.from_numpy(np.asarray(Image.open(path), dtype=np.float32) / 255)
        assert (pixels - image[0]).abs().max() <= 0.5 / 255 + 1e-6  # 8-bit rounding only


def test_n_is_spread_evenly_over_the_classes() -> None:
    assert class_counts(10, n=23) == [3, 3, 3, 2, 2, 2, 2, 2, 2, 2]
    assert class_counts(0, n=5) == [5] and class_counts(4, per_class=2) == [2, 2, 2, 2]


@pytest.mark.parametrize("args, message", [
    (["--n", "0"], "asks for 0 images"),
    (["--n", str(MAX_IMAGES + 1)], "asks for"),
    (["--n", "5"], "at least one per class"),  # 10 classes
    (["--per-class", "-2"], "asks for"),
    (["--n", "10", "--per-class", "2"], "not both"),
    (["--per-class", "2", "--temperature", "nan"], "temperature"),
    (["--per-class", "2", "--temperature", "inf"], "temperature"),
    (["--per-class", "2", "--temperature", "0"], "temperature"),
])
def test_absurd_requests_get_one_error_line_and_exit_code_2(tiny_checkpoint, tmp_path, capsys, args, message) -> None:
    ckpt = tiny_checkpoint("cond", "mlp", num_classes=10)
    out = tmp_path / "never"
    assert main(["generate", str(ckpt), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert not out.exists()


def test_an_occupied_folder_is_refused_and_only_an_earlier_output_replaced(tiny_checkpoint, tmp_path, capsys) -> None:
    ckpt = str(tiny_checkpoint("plain", "mlp"))
    out = tmp_path / "out"
    assert main(["generate", ckpt, "--n", "4", "--out", str(out)]) == 0
    assert main(["generate", ckpt, "--n", "6", "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err and len(list(out.glob("*.png"))) == 4
    assert main(["generate", ckpt, "--n", "6", "--out", str(out), "--overwrite"]) == 0
    assert len(list(out.glob("*.png"))) == 6  # none of the earlier files is left
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert main(["generate", ckpt, "--n", "3", "--out", str(mine), "--overwrite"]) == 2
    assert "left alone" in capsys.readouterr().err and (mine / "notes.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("x")
    assert main(["generate", ckpt, "--n", "3", "--out", str(tmp_path / "file")]) == 2


def test_the_zip_holds_the_same_files_as_the_folder(tiny_checkpoint, tmp_path: Path) -> None:
    ckpt = load_checkpoint(tiny_checkpoint("cond", "mlp", num_classes=10))
    counts = class_counts(10, per_class=2)
    images, labels = generate(ckpt, counts, 1.0, 0)
    names = [str(i) for i in range(10)]
    files = dataset_files(images, labels, names, manifest(ckpt, names, counts, 1.0, 0, "test"))
    with zipfile.ZipFile(io.BytesIO(zip_bytes(files))) as archive:
        assert sorted(archive.namelist()) == sorted(path for path, _ in files)
        assert archive.read("1-1/02.png") == dict(files)["1-1/02.png"]
        archive.extractall(tmp_path / "unzipped")
    names_back, labels_back, _ = read_back(tmp_path / "unzipped")
    assert len(names_back) == 10 and torch.bincount(labels_back).tolist() == [2] * 10


def test_class_folders_sort_like_the_classes() -> None:
    names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
             "???", "eleven"]
    folders = class_folders(names)
    assert folders == sorted(folders) and folders[0] == "00-T-shirt-top" and folders[10] == "10"
    assert all("/" not in f for f in folders)
