"""Fault injection for saves (issue 15): a kill at the i-th step that saves take inside a folder.

The steps counted are those that change what a reader would find: the end of each file's write
(`vae.store.atomic.fsync_file`, where a kill first cuts the file in half, as a kill mid-write would), each
rename and each folder removal. `Killed` stands in for SIGKILL: nothing catches it, and the save path
runs no cleanup on the way out, so what it leaves on disk is what a kill would leave.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import vae.store.atomic

RENAMES = ("rename", "replace", "rmdir")


class Killed(BaseException):
    """The process died here."""


@contextmanager
def kill_at(monkeypatch: pytest.MonkeyPatch, root: Path, step: int | None) -> Iterator[list[str]]:
    """Raise Killed at the `step`-th save step under root (1-based; None: never); yields the steps seen."""
    steps: list[str] = []
    real = {name: getattr(os, name) for name in RENAMES}
    real_fsync_file = vae.store.atomic.fsync_file

    def reached(kind: str, path: object) -> bool:
        if not str(path).startswith(str(root)):
            return False
        steps.append(f"{kind} {Path(path).relative_to(root)}")
        return len(steps) == step

    def counted(name: str):
        def call(path, *args, **kwargs):
            if reached(name, path):
                raise Killed(steps[-1])
            return real[name](path, *args, **kwargs)

        return call

    def fsync_file(path) -> None:
        if reached("write", path):
            data = Path(path).read_bytes()
            Path(path).write_bytes(data[: len(data) // 2])
            raise Killed(steps[-1])
        real_fsync_file(path)

    with monkeypatch.context() as m:
        for name in RENAMES:
            m.setattr(os, name, counted(name))
        m.setattr(vae.store.atomic, "fsync_file", fsync_file)
        yield steps
