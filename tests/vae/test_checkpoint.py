"""Checkpoints: bit-exact round trips, refusal of bad files with the file named, and atomic saves."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import vae.store.checkpoint as checkpoint
from tests.vae.kills import Killed, kill_at
from vae.store.checkpoint import (
    CONFIG,
    WEIGHTS,
    CheckpointError,
    find_checkpoints,
    load_checkpoint,
    read_meta,
    read_tensors,
    save_checkpoint,
    training_commands,
    training_epochs,
    update_meta,
)


@pytest.mark.parametrize(("arch", "num_classes"), [("mlp", 0), ("conv", 10)])
def test_round_trip_is_bit_exact(tmp_path: Path, tiny_model, arch: str, num_classes: int) -> None:
    model = tiny_model(arch, num_classes=num_classes)
    save_checkpoint(tmp_path / "m", model, {"dataset": "mnist", "class_names": list("abcdefghij")})
    ckpt = load_checkpoint(tmp_path / "m")
    assert not ckpt.model.training
    assert ckpt.model.cfg == model.cfg
    saved, loaded = model.state_dict(), ckpt.model.state_dict()
    assert saved.keys() == loaded.keys()
    assert all(torch.equal(saved[k], loaded[k]) for k in saved)
    z, y = torch.randn(3, 4), (torch.tensor([1, 2, 3]) if num_classes else None)
    with torch.no_grad():
        assert torch.equal(model.decode(z, y), ckpt.model.decode(z, y))
    assert ckpt.meta["format"] == checkpoint.FORMAT and ckpt.meta["model"] == model.cfg.to_dict()
    assert ckpt.class_names == list("abcdefghij") and ckpt.name == "m"


def test_find_and_update(tmp_path: Path, tiny_checkpoint) -> None:
    b, a = tiny_checkpoint("b"), tiny_checkpoint("a")
    (tmp_path / "not-a-checkpoint").mkdir()
    assert find_checkpoints(tmp_path) == [a, b]
    assert find_checkpoints(tmp_path / "nowhere") == []
    meta = update_meta(a, metrics={"nll": 90.0})
    assert read_meta(a)["metrics"] == {"nll": 90.0} == meta["metrics"]
    assert read_meta(a)["dataset"] == "mnist"


def test_training_commands_follow_the_init_chain_first() -> None:
    stage_one = {"command": "train A", "resumed_with": ["train A --resume"]}
    meta = {"command": "train B --init a", "init": {"checkpoint": "a", **stage_one}, "resumed_with": ["train B -r"]}
    assert training_commands(meta) == ["train A", "train A --resume", "train B --init a", "train B -r"]
    assert training_commands({}) == [] and training_commands({"command": 3, "init": "junk"}) == []


def test_training_epochs_follow_the_init_chain_first() -> None:
    first = {"checkpoint": "a", "train": {"epochs": 30}}
    second = {"checkpoint": "b", "init": first, "train": {"epochs": 22}}
    meta = {"init": second, "train": {"epochs": 12}, "history": [{"epoch": 1}] * 10}  # a run stopped at 10
    assert training_epochs(meta) == [30, 22, 10]
    assert training_epochs({}) == [] and training_epochs({"init": "junk", "train": {"epochs": 5}}) == [5]


def _refusal(folder: Path) -> str:
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(folder)
    return str(info.value)


def test_corrupt_weights_are_refused(tiny_checkpoint) -> None:
    folder = tiny_checkpoint()
    (folder / WEIGHTS).write_bytes(os.urandom(4096))
    message = _refusal(folder)
    assert str(folder / WEIGHTS) in message and "corrupt" in message


def test_truncated_weights_are_refused(tiny_checkpoint) -> None:
    folder = tiny_checkpoint()
    data = (folder / WEIGHTS).read_bytes()
    (folder / WEIGHTS).write_bytes(data[: len(data) // 2])
    message = _refusal(folder)
    assert str(folder / WEIGHTS) in message and "truncated" in message


@pytest.mark.parametrize("zipped", [True, False])
def test_pickles_are_refused_unopened(tiny_checkpoint, monkeypatch, zipped: bool) -> None:
    folder = tiny_checkpoint()
    model = load_checkpoint(folder).model
    torch.save(model.state_dict(), folder / WEIGHTS, _use_new_zipfile_serialization=zipped)

    def no_unpickling(*args, **kwargs):
        raise AssertionError("tried to unpickle")

    monkeypatch.setattr(torch, "load", no_unpickling)
    message = _refusal(folder)
    assert str(folder / WEIGHTS) in message and "pickle" in message


def test_safetensors_whose_header_looks_like_a_pickle_still_load(tmp_path: Path) -> None:
    """Regression: a header length of 128 starts the file with 0x80, pickle's first byte."""
    path = tmp_path / "t.safetensors"
    for n in range(1, 200):
        save_file({"w" * n: torch.arange(3.0)}, path)
        if path.read_bytes()[0] == 0x80:
            break
    assert path.read_bytes()[0] == 0x80
    assert torch.equal(next(iter(read_tensors(path).values())), torch.arange(3.0))


def test_weights_that_do_not_match_the_config_are_refused(tiny_checkpoint) -> None:
    folder = tiny_checkpoint()
    meta = json.loads((folder / CONFIG).read_text())
    meta["model"]["latent_dim"] = 5
    (folder / CONFIG).write_text(json.dumps(meta))
    message = _refusal(folder)
    assert str(folder / WEIGHTS) in message and "does not match" in message and "shape" in message


@pytest.mark.parametrize(
    ("text", "problem"),
    [("{not json", "not valid JSON"), ('{"dataset": "mnist"}', "no 'model' section"),
     ('{"model": {"arch": "rnn"}}', "invalid model config")],
)
def test_bad_config_is_refused(tiny_checkpoint, text: str, problem: str) -> None:
    folder = tiny_checkpoint()
    (folder / CONFIG).write_text(text)
    message = _refusal(folder)
    assert str(folder / CONFIG) in message and problem in message


def test_missing_files_are_named(tmp_path: Path, tiny_checkpoint) -> None:
    assert "missing" in _refusal(tmp_path / "nothing-here")
    folder = tiny_checkpoint()
    (folder / WEIGHTS).unlink()
    assert str(folder / WEIGHTS) in _refusal(folder)


class Crash(Exception):
    pass


def _assert_unchanged(folder: Path, before: dict[str, torch.Tensor]) -> None:
    after = load_checkpoint(folder).model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")], "temporary files left behind"


def test_crash_while_writing_weights_keeps_the_old_checkpoint(tiny_checkpoint, tiny_model, monkeypatch) -> None:
    folder = tiny_checkpoint()
    before = load_checkpoint(folder).model.state_dict()
    real_save = checkpoint.save_file

    def save_half_then_crash(tensors, path, *args, **kwargs):
        real_save(tensors, path, *args, **kwargs)
        data = Path(path).read_bytes()
        Path(path).write_bytes(data[: len(data) // 2])
        raise Crash

    monkeypatch.setattr(checkpoint, "save_file", save_half_then_crash)
    with pytest.raises(Crash):
        save_checkpoint(folder, tiny_model("mlp", seed=1), {"dataset": "mnist"})
    _assert_unchanged(folder, before)


def _same(model: torch.nn.Module, folder: Path) -> bool:
    loaded = load_checkpoint(folder).model.state_dict()
    return all(torch.equal(v, loaded[k]) for k, v in model.state_dict().items())


def test_a_kill_at_any_step_of_a_save_leaves_the_old_or_the_new_checkpoint(
    tiny_checkpoint, tiny_model, tmp_path: Path, monkeypatch
) -> None:
    original = tiny_checkpoint("original")
    old, new, third = (tiny_model("mlp", seed=s) for s in (0, 1, 2))
    count = Path(shutil.copytree(original, tmp_path / "count"))
    with kill_at(monkeypatch, count, None) as steps:
        save_checkpoint(count, new, {"note": "new"})
    assert len(steps) == 6, steps  # two files written, the commit rename, two moves, .staged removed
    found = []
    for step in range(1, len(steps) + 1):
        folder = Path(shutil.copytree(original, tmp_path / f"killed-{step}"))
        with kill_at(monkeypatch, folder, step), pytest.raises(Killed):
            save_checkpoint(folder, new, {"note": "new"})
        note = read_meta(folder).get("note")
        assert _same(new if note else old, folder), f"a mixed pair after a kill at {steps[step - 1]}"
        found.append(note or "old")
        save_checkpoint(folder, third, {"note": "third"})  # the next save finishes or clears what the kill left
        assert _same(third, folder) and sorted(p.name for p in folder.iterdir()) == [CONFIG, WEIGHTS]
    assert found == ["old"] * 3 + ["new"] * 3  # a kill comes before its step: new once the commit rename is done


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_weights_are_refused_at_load(tiny_checkpoint, value: float) -> None:
    folder = tiny_checkpoint()
    tensors = read_tensors(folder / WEIGHTS)
    tensors["decoder.0.bias"][3] = value
    save_file(tensors, folder / WEIGHTS)
    message = _refusal(folder)
    assert str(folder / WEIGHTS) in message and "not finite" in message and "decoder.0.bias" in message


def test_absurd_sizes_are_refused_before_anything_is_allocated(tiny_checkpoint, monkeypatch) -> None:
    folder = tiny_checkpoint()
    meta = json.loads((folder / CONFIG).read_text())
    meta["model"]["hidden"] = 10**9
    (folder / CONFIG).write_text(json.dumps(meta))
    real_empty = torch.empty

    def small_allocations_only(*size, **kwargs):
        tensor = real_empty(*size, **kwargs)
        assert tensor.device.type == "meta" or tensor.numel() < 10**8, "allocated a huge tensor"
        return tensor

    monkeypatch.setattr(torch, "empty", small_allocations_only)
    message = _refusal(folder)
    assert str(folder / CONFIG) in message and "more than the 1,073,741,824 allowed" in message


def test_a_folder_that_cannot_be_read_is_refused_with_the_reason(tiny_checkpoint, monkeypatch) -> None:
    from tests.damaged import denied_paths

    folder = tiny_checkpoint()
    with denied_paths(monkeypatch, folder):
        message = _refusal(folder)
    assert str(folder / CONFIG) in message and "cannot be read (Permission denied)" in message


def test_weights_that_cannot_be_read_are_refused_with_the_reason(tiny_checkpoint, monkeypatch) -> None:
    from tests.damaged import denied_paths

    folder = tiny_checkpoint()
    with denied_paths(monkeypatch, folder, names=(WEIGHTS,)):
        message = _refusal(folder)
    assert str(folder / WEIGHTS) in message and "cannot be read (Permission denied)" in message
