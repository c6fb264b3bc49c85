"""vae.analysis.atlas: build, store, load, detect staleness, project codes; and `python -m vae atlas`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from vae.__main__ import main
from vae.analysis.atlas import (
    ATLAS_META,
    ATLAS_TENSORS,
    AtlasError,
    AtlasMissing,
    build_atlas,
    load_atlas,
    save_atlas,
)
from vae.datasets.data import load_dataset
from vae.networks.model import VAE
from vae.store.checkpoint import WEIGHTS, load_checkpoint, save_checkpoint


@pytest.fixture
def tiny(model_root: Path, tmp_path: Path) -> Path:
    """A copy of the tiny conv checkpoint without its atlas."""
    folder = Path(shutil.copytree(model_root / "tiny", tmp_path / "tiny"))
    (folder / ATLAS_TENSORS).unlink()
    (folder / ATLAS_META).unlink()
    return folder


@pytest.fixture(scope="module")
def small_test_set():
    return load_dataset("mnist", "test").subset(150)


def test_build_save_load_round_trip(tiny: Path, small_test_set) -> None:
    ckpt = load_checkpoint(tiny)
    seen = []
    atlas = build_atlas(ckpt, small_test_set, progress=lambda f, m: seen.append((f, m)), use_umap=False)
    assert atlas.projections == ["pca"] and len(atlas) == 150
    assert atlas.mu.shape == atlas.logvar.shape == (150, 4)
    assert atlas.recon_error.shape == (150,) and (atlas.recon_error >= 0).all()
    assert torch.equal(atlas.labels, small_test_set.labels)
    assert seen[-1][0] == 1.0 and all(0 <= f <= 1 for f, _ in seen)
    save_atlas(tiny, atlas)
    meta = json.loads((tiny / ATLAS_META).read_text())
    assert meta["n"] == 150 and meta["split"] == "test" and len(meta["weights_sha256"]) == 64
    loaded = load_atlas(tiny)
    assert not loaded.stale
    assert torch.equal(loaded.coords["pca"], atlas.coords["pca"]) and torch.equal(loaded.mu, atlas.mu)


def test_pca_projection_of_atlas_codes_is_exact(tiny: Path, small_test_set) -> None:
    atlas = build_atlas(load_checkpoint(tiny), small_test_set, use_umap=False)
    assert torch.allclose(atlas.project(atlas.mu[:10], "pca"), atlas.coords["pca"][:10], atol=1e-5)


def test_neighbour_placement_puts_a_known_code_on_its_point(tiny: Path, small_test_set) -> None:
    atlas = build_atlas(load_checkpoint(tiny), small_test_set, use_umap=False)
    atlas.coords["umap"] = torch.randn(len(atlas), 2)
    placed = atlas.project(atlas.mu[:5], "umap")
    assert torch.allclose(placed, atlas.coords["umap"][:5], atol=1e-3)
    midway = atlas.project((atlas.mu[0] + atlas.mu[1]) / 2, "umap")
    lo, hi = atlas.coords["umap"].min(0).values, atlas.coords["umap"].max(0).values
    assert ((midway >= lo) & (midway <= hi)).all()


def test_new_weights_make_the_atlas_stale(tiny: Path, small_test_set) -> None:
    ckpt = load_checkpoint(tiny)
    save_atlas(tiny, build_atlas(ckpt, small_test_set, use_umap=False))
    torch.manual_seed(123)
    save_checkpoint(tiny, VAE(ckpt.model.cfg), ckpt.meta)
    assert load_atlas(tiny).stale


def test_missing_and_damaged_atlases_raise(tiny: Path, small_test_set) -> None:
    with pytest.raises(AtlasMissing):
        load_atlas(tiny)
    save_atlas(tiny, build_atlas(load_checkpoint(tiny), small_test_set, use_umap=False))
    (tiny / ATLAS_TENSORS).write_bytes((tiny / ATLAS_TENSORS).read_bytes()[:100])
    with pytest.raises(AtlasError, match="unreadable"):
        load_atlas(tiny)
    (tiny / ATLAS_TENSORS).write_bytes(b"\x80\x04pickle")
    with pytest.raises(AtlasError, match="pickle"):
        load_atlas(tiny)


def test_umap_projection_of_a_small_set(tiny: Path, small_test_set) -> None:
    """The real thing, on 150 points (most of the time goes into importing umap)."""
    atlas = build_atlas(load_checkpoint(tiny), small_test_set, umap_params={"n_neighbors": 10})
    assert atlas.projections == ["umap", "pca"]
    assert atlas.coords["umap"].shape == (150, 2) and torch.isfinite(atlas.coords["umap"]).all()
    assert atlas.meta["umap"]["n_neighbors"] == 10


def test_command_line(tiny: Path, capsys) -> None:
    assert main(["atlas", str(tiny), "--no-umap", "--subset", "120"]) == 0
    assert capsys.readouterr().out.startswith("Atlas of 120 test images")
    assert load_atlas(tiny).coords["pca"].shape == (120, 2)


def test_command_line_reports_a_broken_checkpoint(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["atlas", str(tmp_path / "empty"), "--no-umap"]) == 2
    assert "missing" in capsys.readouterr().err


def test_weights_file_is_hashed_not_trusted(tiny: Path, small_test_set) -> None:
    save_atlas(tiny, build_atlas(load_checkpoint(tiny), small_test_set, use_umap=False))
    (tiny / WEIGHTS).write_bytes((tiny / WEIGHTS).read_bytes() + b"")  # same bytes: still fresh
    assert not load_atlas(tiny).stale


def test_an_atlas_of_both_splits_is_stored_beside_the_test_one_and_parts_of_it_are_atlases(tiny: Path,
                                                                                             small_test_set) -> None:
    ckpt = load_checkpoint(tiny)
    save_atlas(tiny, build_atlas(ckpt, small_test_set, use_umap=False))
    train = load_dataset("mnist", "train").subset(40)
    both = build_atlas(ckpt, small_test_set.subset(30), use_umap=False, train=train, scores=True, nll_k=2)
    assert len(both) == 70 and both.splits == {"test": 30, "train": 40} and both.meta["split"] == "all"
    assert torch.equal(both.labels, torch.cat([small_test_set.labels[:30], train.labels]))
    assert both.scores and all(len(v) == 30 for v in both.scores.values())  # scores of the test images only
    save_atlas(tiny, both)
    assert (tiny / "atlas-all.safetensors").is_file() and load_atlas(tiny).splits == {"test": 150}  # untouched
    loaded = load_atlas(tiny, "all")
    assert torch.equal(loaded.coords["pca"], both.coords["pca"]) and loaded.scores.keys() == both.scores.keys()
    assert [loaded.source(i) for i in (29, 30, 69)] == [("test", 29), ("train", 0), ("train", 39)]
    test, training = loaded.part("test"), loaded.part("train")
    assert len(test) == 30 and test.scores.keys() == both.scores.keys() and test.describes(small_test_set)
    assert len(training) == 40 and not training.scores and training.describes(train)
    assert training.source(3) == ("train", 3)
    assert torch.equal(training.mu, loaded.mu[30:]) and torch.equal(training.kept["pca"], loaded.kept["pca"][30:])
    assert not training.describes(small_test_set) and loaded.part("all") is loaded
    assert loaded.describes(small_test_set.subset(30)) is False  # the whole atlas is of both sets, one after the other
    with pytest.raises(AtlasError, match="no train images"):
        load_atlas(tiny).part("train")


def test_command_line_with_both_splits(tiny: Path, capsys) -> None:
    assert main(["atlas", str(tiny), "--no-umap", "--no-scores", "--subset", "20", "--split", "all"]) == 0
    assert capsys.readouterr().out.startswith("Atlas of 20 test and 20 train images")
    assert load_atlas(tiny, "all").splits == {"test": 20, "train": 20}
    with pytest.raises(AtlasMissing, match="--split all"):
        load_atlas(tiny.parent, "all")


def test_progress_of_an_atlas_of_both_splits_only_goes_forward(tiny: Path, small_test_set) -> None:
    seen = []
    build_atlas(load_checkpoint(tiny), small_test_set.subset(20), progress=lambda f, m: seen.append((f, m)),
                use_umap=False, train=load_dataset("mnist", "train").subset(30))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    test = [f for f, m in seen if "test images" in m]
    train = [f for f, m in seen if "train images" in m]
    assert test and train and max(test) < min(train)  # the training images' encoding follows the test images'
