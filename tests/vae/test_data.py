"""Datasets by name, folder datasets, the missing-data message, batching and binarization."""

from __future__ import annotations

import socket
import time
import urllib.request
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
from PIL import Image

from vae.datasets.data import RAW_FILES, batches, binarize, load_dataset
from vae.datasets.imageset import ImageSet, MissingDataError


@pytest.mark.parametrize(("name", "first_class"), [("mnist", "0 - zero"), ("fashion-mnist", "T-shirt/top")])
def test_torchvision_test_sets(name: str, first_class: str) -> None:
    data = load_dataset(name, "test")
    assert len(data) == 10_000
    assert data.images.dtype == torch.uint8 and data.images.shape == (10_000, 1, 28, 28)
    assert data.labels.dtype == torch.long and set(data.labels.tolist()) == set(range(10))
    assert data.class_names[0] == first_class and len(data.class_names) == 10
    x = data.floats(slice(0, 100))
    assert x.dtype == torch.float32 and x.min() >= 0.0 and x.max() <= 1.0
    assert len(data.subset(7)) == 7


def test_present_files_never_touch_the_network(monkeypatch) -> None:
    def no_network(*args, **kwargs):
        raise AssertionError("tried the network although the files are there")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    assert len(load_dataset("mnist", "test")) == 10_000


def test_missing_data_message(monkeypatch, tmp_path: Path) -> None:
    """An empty data root: one quick, failed download attempt, then a message saying what to do."""
    calls = []

    def offline(*args, **kwargs):
        calls.append(args)
        raise URLError("no network in this test")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    started = time.perf_counter()
    with pytest.raises(MissingDataError) as info:
        load_dataset("mnist", "test", root=tmp_path)
    assert time.perf_counter() - started < 10
    assert calls, "expected a download attempt"
    message = str(info.value)
    assert "mnist" in message and str(tmp_path.resolve()) in message
    assert all(f in message for f in RAW_FILES)
    assert str(tmp_path.resolve() / "MNIST" / "raw") in message
    assert "--data-root" in message and "LATENT_EXPLORER_DATA" in message
    assert socket.getdefaulttimeout() is None  # the download's timeout does not leak out


def test_unknown_dataset_and_wrong_size() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        load_dataset("cifar")
    with pytest.raises(ValueError, match="folder: datasets only"):
        load_dataset("mnist", "test", size=32)
    with pytest.raises(ValueError, match="split"):
        load_dataset("mnist", "validation")


def _write_images(folder: Path, n: int, color: tuple[int, int, int], size: int = 20) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        arr = np.zeros((size, size + 4, 3), dtype=np.uint8)  # not square: resized to size x size
        arr[..., :] = color
        arr[0, 0] = (i * 20) % 256
        Image.fromarray(arr).save(folder / f"img{i:02d}.png")


def test_folder_without_classes_greyscale(tmp_path: Path) -> None:
    _write_images(tmp_path, 20, (255, 255, 255))
    (tmp_path / "notes.txt").write_text("not an image")
    train = load_dataset(f"folder:{tmp_path}", "train", size=8)
    test = load_dataset(f"folder:{tmp_path}", "test", size=8)
    assert len(train) + len(test) == 20 and len(test) >= 1  # the split itself: tests/vae/test_folder.py
    assert train.images.shape == (len(train), 1, 8, 8) and train.images.dtype == torch.uint8
    assert train.class_names == [] and set(train.labels.tolist()) == {0}
    assert int(train.images[:, :, 4, 4].min()) == 255  # white stays white
    assert train.name == f"folder:{tmp_path}"


def test_folder_with_classes_rgb(tmp_path: Path) -> None:
    _write_images(tmp_path / "red", 10, (255, 0, 0))
    _write_images(tmp_path / "blue", 10, (0, 0, 255))
    (tmp_path / ".cache").mkdir()  # hidden folders are not classes
    train, test = (load_dataset(f"folder:{tmp_path}", split, size=12, channels=3) for split in ("train", "test"))
    assert len(train) + len(test) == 20 and torch.bincount(test.labels, minlength=2).min() >= 1
    assert train.images.shape == (len(train), 3, 12, 12) and train.class_names == ["blue", "red"]  # sorted by name
    images, labels = torch.cat([train.images, test.images]), torch.cat([train.labels, test.labels])
    assert torch.bincount(labels).tolist() == [10, 10]
    centre = images[:, :, 6, 6]
    assert centre[labels == 1].tolist() == [[255, 0, 0]] * 10
    assert centre[labels == 0].tolist() == [[0, 0, 255]] * 10


def test_folder_problems_are_named(tmp_path: Path) -> None:
    with pytest.raises(MissingDataError, match="does not exist"):
        load_dataset(f"folder:{tmp_path / 'nowhere'}")
    _write_images(tmp_path, 1, (0, 0, 0))
    with pytest.raises(MissingDataError, match="found 1 images"):
        load_dataset(f"folder:{tmp_path}")
    _write_images(tmp_path / "more", 30, (0, 0, 0))
    (tmp_path / "more" / "broken.png").write_bytes(b"not a png")
    both = [load_dataset(f"folder:{tmp_path}", split) for split in ("train", "test")]  # skipped, and named
    assert sum(len(s) for s in both) == 30  # the image beside the class folder is skipped too
    assert any("broken.png" in note for s in both for note in s.notes)


def test_batches_cover_every_image_once(mnist_test: ImageSet) -> None:
    data = mnist_test.subset(100)
    seen = []
    for x, y in batches(data, 32, shuffle=True, generator=torch.Generator().manual_seed(0)):
        assert x.dtype == torch.float32 and len(x) == len(y) <= 32
        seen += y.tolist()
    assert sorted(seen) == sorted(data.labels.tolist())
    assert [len(x) for x, _ in batches(data, 32)] == [32, 32, 32, 4]


def test_batches_shard_equally_across_ranks() -> None:
    data = ImageSet("ids", torch.arange(101, dtype=torch.uint8).view(101, 1, 1, 1), torch.arange(101), [])
    shards = [
        torch.cat([y for _, y in batches(data, 8, shuffle=True, generator=torch.Generator().manual_seed(4),
                                         rank=r, world_size=2)])
        for r in range(2)
    ]
    assert len(shards[0]) == len(shards[1]) == 50
    assert not set(shards[0].tolist()) & set(shards[1].tolist())


def test_binarize() -> None:
    x = torch.rand(1000)
    assert binarize(x, "none") is x
    b = binarize(x, "dynamic", torch.Generator().manual_seed(0))
    assert set(b.unique().tolist()) <= {0.0, 1.0}
    assert b.mean().item() == pytest.approx(x.mean().item(), abs=0.05)
    with pytest.raises(ValueError, match="binarization"):
        binarize(x, "static")
