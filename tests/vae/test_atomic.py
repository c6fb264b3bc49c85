"""vae.store.atomic: a committed save is rolled forward, and only our own leftovers of dead processes are removed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from vae.store.atomic import STAGED, current, save_files, settle


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def text(value: str):
    return lambda path: Path(path).write_text(value)


def test_settle_removes_only_our_leftovers_of_dead_processes(tmp_path: Path) -> None:
    dead, alive = dead_pid(), os.getpid()
    leftovers = [f".staging.{dead}", f".staging.{alive}", f".a.json.{dead}-x1y2.tmp", ".a.json.k3j4h5g6.tmp"]
    kept = [f".a.json.{alive}-z9z9.tmp", f".other.txt.{dead}-x1y2.tmp", ".staging", "a.json", "notes.tmp"]
    for name in leftovers + kept:
        (tmp_path / name).mkdir() if name.startswith(".staging") else (tmp_path / name).write_text("x")
    (tmp_path / f".staging.{dead}" / "a.json").write_text("half")
    settle(tmp_path, ["a.json"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)


def test_a_committed_save_is_found_by_readers_and_finished_by_the_next_settle(tmp_path: Path) -> None:
    save_files(tmp_path, {"a.json": text("old a"), "b.json": text("old b")})
    (tmp_path / STAGED).mkdir()  # as if killed after the commit and the move of a.json
    (tmp_path / STAGED / "b.json").write_text("new b")
    (tmp_path / "a.json").write_text("new a")
    assert [current(tmp_path, n).read_text() for n in ("a.json", "b.json")] == ["new a", "new b"]
    settle(tmp_path, ["a.json", "b.json"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]
    assert (tmp_path / "b.json").read_text() == "new b"
