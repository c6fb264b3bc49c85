"""Damaged checkpoint folders (issues 14 and 15), made beside good ones for the AppTest and Chromium tests.

`make_damaged(root, good)` copies the checkpoint folder `good` into `root` once per case, damages
each copy its own way and returns {folder name: what Home must say about it}. The folder that
cannot be read is made by `deny`, since the tests run as root: its config.json is unreadable only
to a process without CAP_DAC_OVERRIDE (`tests/browser/test_damaged.py` starts the app so), and the
AppTest stands in with `denied_paths`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from vae.store.checkpoint import CONFIG, WEIGHTS

UNREADABLE = "unreadable"
UNREADABLE_REASON = "cannot be read (Permission denied)"


def _edit_meta(**fields: object) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        meta = json.loads((folder / CONFIG).read_text())
        for key, value in fields.items():
            section, _, name = key.partition("__")
            if name:
                meta[section][name] = value
            else:
                meta[key] = value
        (folder / CONFIG).write_text(json.dumps(meta))

    return edit


def _poison_weights(value: float) -> Callable[[Path], None]:
    def poison(folder: Path) -> None:
        tensors = load_file(folder / WEIGHTS)
        name = sorted(tensors)[0]
        tensors[name] = tensors[name].clone()
        tensors[name].view(-1)[0] = value
        save_file(tensors, folder / WEIGHTS)

    return poison


# name -> (damage, the reason Home gives)
CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "train-list": (_edit_meta(train=[1, 2]), "field 'train': expected an object, got a list"),
    "metrics-string": (_edit_meta(metrics="good"), "field 'metrics': expected an object, got a string"),
    "history-string": (_edit_meta(history="long"), "field 'history': expected a list, got a string"),
    "class-names-number": (_edit_meta(class_names=7), "field 'class_names': expected a list, got a number"),
    "dataset-number": (_edit_meta(dataset=3), "field 'dataset': expected a string, got a number"),
    "metric-text": (_edit_meta(metrics={"nll_binarized": "85.9"}), "field 'metrics.nll_binarized': expected a number"),
    "nan-weights": (_poison_weights(float("nan")), "not finite (NaN or infinite values in"),
    "inf-weights": (_poison_weights(float("inf")), "not finite (NaN or infinite values in"),
    "absurd-size": (_edit_meta(model__hidden=10**9), "more than the 1,073,741,824 allowed"),
}


def make_damaged(root: Path, good: Path) -> dict[str, str]:
    """A copy of `good` in root for every case, damaged; returns {name: reason}."""
    for name, (damage, _) in CASES.items():
        folder = Path(shutil.copytree(good, root / name))
        damage(folder)
    return {name: reason for name, (_, reason) in CASES.items()}


def deny(root: Path, good: Path) -> Path:
    """A copy of `good` whose folder nobody but root (with CAP_DAC_OVERRIDE) may read."""
    folder = Path(shutil.copytree(good, root / UNREADABLE))
    folder.chmod(0)
    return folder


@contextmanager
def denied_paths(monkeypatch: pytest.MonkeyPatch, folder: Path, names: tuple[str, ...] = ()) -> Iterator[None]:
    """Within this process, what is inside `folder` (only `names` in it, if given) raises PermissionError,
    as for a user who may not read it."""
    import pathlib

    real_stat, real_open, real_iterdir = pathlib.Path.stat, pathlib.Path.open, pathlib.Path.iterdir

    def refuse(path: pathlib.Path) -> None:
        if path.parent == folder and (not names or path.name in names):
            raise PermissionError(13, os.strerror(13), str(path))

    def stat(self, *args, **kwargs):
        refuse(self)
        return real_stat(self, *args, **kwargs)

    def open_(self, *args, **kwargs):
        refuse(self)
        return real_open(self, *args, **kwargs)

    def iterdir(self):
        refuse(self / "x")
        return real_iterdir(self)

    with monkeypatch.context() as m:
        m.setattr(pathlib.Path, "stat", stat)
        m.setattr(pathlib.Path, "open", open_)
        m.setattr(pathlib.Path, "iterdir", iterdir)
        yield
