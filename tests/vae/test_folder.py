"""Folder datasets as a person brings them: a split that stays put when files are added, balanced by
class and recorded; a mixed order; what was found and skipped; absolute paths; and missing data named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vae.__main__ import main
from vae.analysis.atlas import load_test_set
from vae.datasets.data import dataset_missing, load_dataset
from vae.datasets.folder import TEST_FRACTION, absolute_name
from vae.datasets.imageset import MissingDataError
from vae.store.checkpoint import read_meta

RUN = ["--arch", "mlp", "--latent-dim", "2", "--hidden", "8", "--size", "8", "--epochs", "1", "--quiet"]


def write_images(folder: Path, start: int, n: int, size: int = 8) -> None:
    """n images whose two first pixels spell their number (start, start + 1, ...), so each is unique."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        arr = np.full((size, size), 128, dtype=np.uint8)
        arr[0, 0], arr[0, 1] = i % 256, i // 256
        Image.fromarray(arr).save(folder / f"img{i:04d}.png")


def numbers(folder: Path, split: str) -> set[int]:
    data = load_dataset(f"folder:{folder}", split, size=8)
    return {int(a) + 256 * int(b) for a, b in data.images[:, 0, 0, :2].tolist()}


def test_adding_a_file_moves_no_test_image_into_training(tmp_path: Path) -> None:
    write_images(tmp_path / "a", 0, 90)
    write_images(tmp_path / "b", 90, 89)
    test, train = numbers(tmp_path, "test"), numbers(tmp_path, "train")
    assert test.isdisjoint(train) and len(test | train) == 179
    write_images(tmp_path / "b", 179, 1)  # one more file
    assert numbers(tmp_path, "test") - {179} == test
    assert numbers(tmp_path, "train") - {179} == train


def test_every_class_gets_test_images_in_proportion(tmp_path: Path) -> None:
    sizes = {"big": 400, "mid": 120, "small": 3}
    start = 0
    for name, n in sizes.items():
        write_images(tmp_path / name, start, n)
        start += n
    test = load_dataset(f"folder:{tmp_path}", "test", size=8)
    counts = dict(zip(test.class_names, torch.bincount(test.labels, minlength=3).tolist(), strict=True))
    assert counts["small"] >= 1  # too small for 10 % by chance: it still gives one
    for name in ("big", "mid"):
        assert abs(counts[name] / sizes[name] - TEST_FRACTION) < 0.06, counts
    assert test.split["test_images"] == len(test) and test.split["train_images"] == sum(sizes.values()) - len(test)
    assert "sha256" in test.split["rule"]


def test_a_folder_sorted_by_class_comes_out_mixed(tmp_path: Path) -> None:
    for c in range(4):
        write_images(tmp_path / f"class{c}", 100 * c, 100)
    for split in ("train", "test"):
        first = load_dataset(f"folder:{tmp_path}", split, size=8).labels[:12]
        assert len(set(first.tolist())) >= 3, first  # not a run of one class


def test_images_beside_class_folders_are_reported(tmp_path: Path) -> None:
    write_images(tmp_path / "cats", 0, 10)
    write_images(tmp_path / "dogs", 10, 10)
    write_images(tmp_path, 20, 3)  # lying next to the class folders
    write_images(tmp_path / "dogs" / "old", 30, 2)  # one level too deep
    (tmp_path / "README.txt").write_text("not an image")
    data = load_dataset(f"folder:{tmp_path}", "train", size=8)
    notes = "\n".join(data.notes)
    assert f"found 20 images in {tmp_path.resolve()}" in notes and "2 classes" in notes
    assert "skipped 3 images" in notes and "beside the class subfolders" in notes and "img0020.png" in notes
    assert "skipped 2 images" in notes and str(Path("dogs", "old", "img0030.png")) in notes
    assert "1 file that is not an image" in notes


def test_images_two_levels_down_say_where_they_were_looked_for(tmp_path: Path) -> None:
    write_images(tmp_path / "export" / "digits", 0, 12)
    with pytest.raises(MissingDataError) as info:
        load_dataset(f"folder:{tmp_path}", "train", size=8)
    message = str(info.value)
    assert f"found 0 images in {tmp_path.resolve()}" in message and "export" in message
    assert "12 images lie deeper" in message and str(tmp_path.resolve() / "export") in message


def test_training_stores_the_absolute_folder_and_the_split(tmp_path: Path, monkeypatch, capsys) -> None:
    write_images(tmp_path / "data" / "mine", 0, 40)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--dataset", "folder:data/mine", *RUN, "--out", "run"]) == 0
    meta = read_meta(tmp_path / "run")
    assert meta["dataset"] == f"folder:{tmp_path.resolve() / 'data' / 'mine'}"
    assert meta["split"]["test_fraction"] == TEST_FRACTION and "sha256" in meta["split"]["rule"]
    assert meta["split"]["train_images"] + meta["split"]["test_images"] == 40
    assert "found 40 images" in capsys.readouterr().err
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["evaluate", str(tmp_path / "run"), "--k", "2", "--no-save"]) == 0  # found from another folder


def test_an_old_relative_folder_is_found_beside_the_checkpoint(tmp_path: Path, monkeypatch) -> None:
    """Checkpoints saved before paths were made absolute: looked for from the checkpoint folder and above it."""
    write_images(tmp_path / "project" / "data" / "mine", 0, 30)
    folder = tmp_path / "project" / "checkpoints" / "old"
    folder.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    data = load_test_set({"dataset": "folder:data/mine", "train": {"size": 8}}, near=folder)
    assert data.name == f"folder:{tmp_path.resolve() / 'project' / 'data' / 'mine'}"
    assert absolute_name("mnist") == "mnist"


def test_missing_data_is_named_without_loading_it(tmp_path: Path) -> None:
    assert dataset_missing("mnist") is None
    assert "not downloaded" in dataset_missing("mnist", root=tmp_path)
    assert f"{tmp_path / 'gone'} does not exist" in dataset_missing(f"folder:{tmp_path / 'gone'}")
    write_images(tmp_path / "here", 0, 3)
    assert dataset_missing(f"folder:{tmp_path / 'here'}") is None


def test_train_help_says_how_the_split_is_made(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "sha256" in help_text and "10%" in help_text


def test_the_split_rule_is_in_the_docs(repo_root: Path) -> None:
    training = " ".join((repo_root / "docs" / "training.md").read_text().split())
    assert "sha256 of its path relative to the folder" in training

