"""Writes that a kill cannot tear: one file (`atomic_write`), or a set of files in a folder (`save_files`).

A checkpoint is several files that only make sense together: weights and config.json, and for
`train --resume` the optimizer state too. Each file renamed into place on its own would leave a
mixed set after a kill between two renames. `save_files` makes the set one step:

1. `settle(folder)`: finish an earlier save that was committed but not applied, and remove what
   killed saves left behind (`.staging.PID` folders and `.NAME.PID-XXXX.tmp` files of processes that
   are gone; only these names of ours are touched);
2. write every file into a new folder `FOLDER/.staging.PID`, each fsync'd, then the folder;
3. rename `.staging.PID` to `FOLDER/.staged`: the commit point, one rename;
4. move each file from `.staged` over its namesake in FOLDER (a rename each), then remove `.staged`.

A kill before 3 leaves the previous set untouched (and a `.staging.PID` that the next save or
`--resume` removes). From 3 on, the new set is the checkpoint: while some of its files still wait
in `.staged`, readers take them from there (`current`), and the next `settle` finishes the moves.
So at any kill point a reader finds either the previous complete set or the new complete set.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

STAGED = ".staged"
STAGING = ".staging"
_STAGING_NAME = re.compile(r"\.staging\.(\d+)")


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call write(tmp_path), then rename the temporary file over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        fsync_file(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; checkpoints are ordinary files
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_files(folder: Path, writers: dict[str, Callable[[str], None]]) -> None:
    """Replace the files named by `writers` in folder as one step (see the module docstring).

    writers[name](path) writes the new `name` to path.
    """
    folder.mkdir(parents=True, exist_ok=True)
    settle(folder, writers)
    staging = folder / f"{STAGING}.{os.getpid()}"
    staging.mkdir()
    for name, write in writers.items():
        write(str(staging / name))
        fsync_file(staging / name)
    fsync_dir(staging)
    os.rename(staging, folder / STAGED)
    fsync_dir(folder)
    _apply(folder)


def current(folder: Path, name: str) -> Path:
    """Where the checkpoint's file `name` is now: in `.staged` while a committed save is being applied."""
    staged = folder / STAGED / name
    return staged if staged.is_file() else folder / name


def settle(folder: Path, names: Iterable[str]) -> None:
    """Finish a committed save (roll it forward) and remove leftovers of killed saves of the files `names`."""
    if not folder.is_dir():
        return
    if (folder / STAGED).is_dir():
        _apply(folder)
    names = tuple(names)
    for path in folder.iterdir():
        if _stale(path, names):
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


def _apply(folder: Path) -> None:
    staged = folder / STAGED
    for name in sorted(os.listdir(staged)):
        os.replace(staged / name, folder / name)
    fsync_dir(folder)
    os.rmdir(staged)
    fsync_dir(folder)


def _stale(path: Path, names: tuple[str, ...]) -> bool:
    """A leftover of a killed save: a `.staging.PID` folder, or a `.NAME.PID-XXXX.tmp` file of one of `names`
    (or `.NAME.XXXX.tmp`, as older versions named them), whose process is gone."""
    staging = _STAGING_NAME.fullmatch(path.name)
    if staging:  # this process is not saving while it settles, so its own pid's folder is a leftover too
        return int(staging[1]) == os.getpid() or not _running(int(staging[1]))
    for name in names:
        prefix = f".{name}."
        if path.name.startswith(prefix) and path.name.endswith(".tmp"):
            pid = path.name[len(prefix):-len(".tmp")].split("-")[0]
            return not (pid.isdigit() and _running(int(pid)))
    return False


def _running(pid: int) -> bool:
    if os.name != "posix":
        return True  # no cheap check elsewhere: leave the file
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # a process of another user
    return True


def fsync_file(path: str | os.PathLike) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def fsync_dir(folder: Path) -> None:
    """Make a rename durable too (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
