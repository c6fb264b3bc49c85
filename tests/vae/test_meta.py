"""The config.json schema: wrongly typed fields are refused with the field and what was expected; others pass."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from vae.store.checkpoint import CONFIG, CheckpointError, load_checkpoint, read_meta
from vae.store.meta import MetaError, validate

GOOD = {
    "dataset": "mnist",
    "class_names": ["0", "1"],
    "binarize": "dynamic",
    "train": {"epochs": 3, "iwae_k": 1, "size": None, "lr": 1e-3, "conditional": False, "out": "runs/x"},
    "command": "python -m vae train --epochs 3",
    "resumed_with": ["python -m vae train --resume"],
    "init": {"checkpoint": "runs/a", "command": "python -m vae train", "train": {"epochs": 2},
             "init": {"checkpoint": "runs/b", "resumed_with": ["x"]}},
    "history": [{"epoch": 1, "step": 8, "train_loss": 120.5, "test_kl": None}],
    "metrics": {"continuous_test_loss": 99.1, "nll_binarized": None, "nll_k": 1000, "kl_per_dim": [0.5, 1.0],
                "dataset": "mnist", "fid": 12.0, "not_defined": {"nll_binarized": "an ae has no likelihood"}},
    "best_epoch": 1,
    "train_state": {"epoch": 1, "step": 8},
    "model": {"arch": "mlp", "latent_dim": 2, "hidden": 8},
    "ood": {"anything": ["goes", 1]},  # fields this module does not know pass untouched
    "split": {"rule": "sha1 of the path"},
}


def test_good_metadata_passes_untouched() -> None:
    meta = copy.deepcopy(GOOD)
    assert validate(meta) is meta and meta == GOOD


def test_the_shipped_checkpoints_pass(repo_root: Path) -> None:
    for config in sorted((repo_root / "checkpoints").glob(f"*/{CONFIG}")):
        validate(json.loads(config.read_text()))


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["train"], [1, 2], "field 'train': expected an object, got a list ([1, 2])"),
        (["metrics"], "good", "field 'metrics': expected an object, got a string ('good')"),
        (["history"], "long", "field 'history': expected a list, got a string ('long')"),
        (["class_names"], 7, "field 'class_names': expected a list, got a number (7)"),
        (["class_names"], ["a", 2], "field 'class_names[1]': expected a string, got a number (2)"),
        (["dataset"], 3, "field 'dataset': expected a string, got a number (3)"),
        (["command"], ["a"], "field 'command': expected a string"),
        (["resumed_with"], "again", "field 'resumed_with': expected a list"),
        (["resumed_with"], [None], "field 'resumed_with[0]': expected a string, got null"),
        (["best_epoch"], 1.5, "field 'best_epoch': expected an integer, got a number (1.5)"),
        (["best_epoch"], True, "field 'best_epoch': expected an integer, got true/false (True)"),
        (["train_state"], {"epoch": "1", "step": 8}, "field 'train_state.epoch': expected an integer"),
        (["train_state"], {"epoch": 1}, "field 'train_state.step': missing"),
        (["train", "iwae_k"], "5", "field 'train.iwae_k': expected an integer or null, got a string ('5')"),
        (["train", "lr"], "fast", "field 'train.lr': expected a number or null"),
        (["train", "dataset"], 1, "field 'train.dataset': expected a string or null"),
        (["train", "conditional"], "yes", "field 'train.conditional': expected true/false"),
        (["history", 0], [1], "field 'history[0]': expected an object"),
        (["history", 0, "test_loss"], "low", "field 'history[0].test_loss': expected a number or null"),
        (["history", 0, "epoch"], None, "field 'history[0].epoch': expected an integer"),
        (["metrics", "nll_binarized"], "85", "field 'metrics.nll_binarized': expected a number or null"),
        (["metrics", "fid"], [1], "field 'metrics.fid': expected a number or null"),
        (["metrics", "kl_per_dim"], [0.1, "x"], "field 'metrics.kl_per_dim[1]': expected a number"),
        (["metrics", "not_defined"], {"fid": 3}, "field 'metrics.not_defined.fid': expected a string"),
        (["init"], "junk", "field 'init': expected an object"),
        (["init", "init", "resumed_with"], 5, "field 'init.init.resumed_with': expected a list"),
        (["init", "train"], [], "field 'init.train': expected an object"),
        (["model", "latent_dim"], "16", "field 'model.latent_dim': expected an integer, got a string ('16')"),
        (["model", "beta"], None, "field 'model.beta': expected a number, got null"),
        (["model", "arch"], "rnn", "field 'model': invalid model config (arch must be one of"),
        (["model", "colour"], "red", "field 'model': invalid model config (unknown model config keys: ['colour'])"),
        (["model"], [], "field 'model': expected an object"),
    ],
)
def test_a_wrongly_typed_field_is_named_with_what_was_expected(path: list, value: object, message: str) -> None:
    meta = copy.deepcopy(GOOD)
    target = meta
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(MetaError) as info:
        validate(meta)
    assert message in str(info.value)


def test_missing_model_and_non_objects_are_refused() -> None:
    with pytest.raises(MetaError, match="no 'model' section"):
        validate({"dataset": "mnist"})
    with pytest.raises(MetaError, match="expected an object, got a list"):
        validate([1, 2])


def test_long_values_are_shortened_in_the_message() -> None:
    with pytest.raises(MetaError) as info:
        validate({**GOOD, "dataset": list(range(1000))})
    assert len(str(info.value)) < 200


def test_read_meta_and_load_refuse_a_wrong_type_naming_the_file(tiny_checkpoint) -> None:
    folder = tiny_checkpoint()
    meta = json.loads((folder / CONFIG).read_text())
    (folder / CONFIG).write_text(json.dumps({**meta, "metrics": "good"}))
    for read in (read_meta, load_checkpoint):
        with pytest.raises(CheckpointError) as info:
            read(folder)
        assert str(folder / CONFIG) in str(info.value) and "field 'metrics': expected an object" in str(info.value)


def test_the_train_record_is_derived_from_train_settings() -> None:
    """A training flag is a TrainSettings field and a train argument; config.json's schema and the
    command line's defaults follow from the field."""
    import argparse
    from dataclasses import fields

    from vae.__main__ import add_train
    from vae.networks.config import TrainSettings
    from vae.store.meta import TRAIN

    recorded = {f.name for f in fields(TrainSettings) if f.metadata.get("recorded", True)}
    assert set(TRAIN.fields) == recorded
    parser = argparse.ArgumentParser()
    add_train(parser.add_subparsers())
    parsed = vars(parser.parse_args(["train", "--out", "run"]))
    assert {f.name for f in fields(TrainSettings)} <= parsed.keys()
    assert TrainSettings.from_values(parsed) == TrainSettings(out="run")


def test_every_shipped_checkpoints_settings_load_back_unchanged() -> None:
    from vae.networks.config import TrainSettings
    from vae.store.checkpoint import find_checkpoints, read_meta

    folders = find_checkpoints(Path(__file__).resolve().parents[2] / "checkpoints")
    assert folders
    for folder in folders:
        saved = read_meta(folder)["train"]
        settings = TrainSettings.from_values(saved)
        settings.check()
        recorded = settings.recorded()  # older runs recorded fewer flags: those get their defaults
        assert {k: recorded[k] for k in saved} == saved, folder
