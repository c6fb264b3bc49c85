"""Folder datasets: `folder:PATH`, a folder of images with one subfolder per class, or none.

The test split is decided per file, by a hash of its path relative to the folder (SPLIT_RULE), so
adding or removing files never moves another file between train and test: a model retrained or
fine-tuned on a grown folder is still tested on images it never trained on. Both splits are in
hash order, which mixes the classes of a folder sorted by class (the first images show variety,
and `--subset` takes a bit of every class). What was found and what was skipped is said in `notes`.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vae.imageset import IMAGE_SUFFIXES, DataError, ImageSet, MissingDataError

PREFIX = "folder:"
TEST_FRACTION = 0.1
SPLIT_RULE = (
    "a file is a test image when the sha256 of its path relative to the folder, read as a fraction, is below "
    "test_fraction; a class left without a test image gives its file of lowest hash"
)
HASH_RANGE = 2**64  # the first 8 bytes of the digest are plenty to order files


@dataclass
class Scan:
    """What a dataset folder holds: `files` are (path relative to root, label) of the usable images."""

    root: Path
    classes: list[str]
    files: list[tuple[str, int]]
    beside: list[str] = field(default_factory=list)  # images next to class subfolders (not used)
    deeper: list[str] = field(default_factory=list)  # images below a class subfolder's own subfolders
    not_images: list[str] = field(default_factory=list)

    def notes(self) -> list[str]:
        """What was found and what was skipped, one sentence each, with the paths looked in."""
        counts = Counter(label for _, label in self.files)
        if self.classes:
            per_class = ", ".join(f"{name}: {counts[i]}" for i, name in enumerate(self.classes))
            found = f"found {len(self.files)} images in {self.root}, {len(self.classes)} classes ({per_class})"
        else:
            found = f"found {len(self.files)} images in {self.root} (no class subfolders, so no labels)"
        notes = [found]
        if self.beside:
            notes.append(f"skipped {_count(self.beside, 'image')} lying directly in {self.root} beside the class "
                         f"subfolders (only images inside a class subfolder are used), e.g. {self.beside[0]}")
        if self.deeper:
            notes.append(f"skipped {_count(self.deeper, 'image')} more than one folder down (a class's images must "
                         f"lie directly in its subfolder), e.g. {self.deeper[0]}")
        empty = [name for i, name in enumerate(self.classes) if not counts[i]]
        if empty:
            notes.append(f"class subfolders without images: {', '.join(empty)}")
        if self.not_images:
            kinds = sorted({Path(p).suffix.lower() or "no suffix" for p in self.not_images})
            verb = "is" if len(self.not_images) == 1 else "are"
            notes.append(f"ignored {_count(self.not_images, 'file')} that {verb} not an image ({', '.join(kinds)})")
        return notes


def _count(items: list[str], noun: str) -> str:
    return f"{len(items)} {noun}{'s' * (len(items) != 1)}"


def _visible(entries: list[os.DirEntry]) -> list[os.DirEntry]:
    return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)


def _is_image(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_SUFFIXES


def scan(root: Path) -> Scan:
    """List the images of a dataset folder: its subfolders are the classes; without any, its own images."""
    root = root.resolve()
    if not root.is_dir():
        raise MissingDataError(f"image folder {root} does not exist")
    entries = _visible(list(os.scandir(root)))
    classes = [e.name for e in entries if e.is_dir()]
    loose = [e.name for e in entries if e.is_file()]
    result = Scan(root, classes, [] if classes else [(n, 0) for n in loose if _is_image(n)],
                  beside=[n for n in loose if _is_image(n)] if classes else [],
                  not_images=[n for n in loose if not _is_image(n)])
    for label, name in enumerate(classes):
        for e in _visible(list(os.scandir(root / name))):
            rel = os.path.join(name, e.name)
            if e.is_dir():
                result.deeper += [os.path.relpath(os.path.join(d, f), root) for d, _, fs in sorted(os.walk(e.path))
                                  for f in sorted(fs) if _is_image(f) and not f.startswith(".")]
            elif _is_image(e.name):
                result.files.append((rel, label))
            else:
                result.not_images.append(rel)
    return result


def file_hash(relative: str) -> int:
    """The first 8 bytes of the sha256 of a path relative to the dataset folder (with / between parts)."""
    return int.from_bytes(hashlib.sha256(Path(relative).as_posix().encode()).digest()[:8], "big")


def in_test_split(files: list[tuple[str, int]]) -> set[str]:
    """The relative paths in the test split, by SPLIT_RULE."""
    hashes = {rel: file_hash(rel) for rel, _ in files}
    test = {rel for rel, h in hashes.items() if h < TEST_FRACTION * HASH_RANGE}
    by_class: dict[int, list[str]] = {}
    for rel, label in files:
        by_class.setdefault(label, []).append(rel)
    for members in by_class.values():
        if len(members) >= 2 and test.isdisjoint(members):
            test.add(min(members, key=hashes.__getitem__))
    return test


def _too_few(found: Scan) -> str:
    where = (f"in its class subfolders ({', '.join(found.classes)})" if found.classes
             else "directly in it (it has no subfolders)")
    message = (f"found {len(found.files)} images in {found.root}, looking {where} for "
               f"{', '.join(sorted(IMAGE_SUFFIXES))}; need at least 2, and 2 in one class, for a test split")
    if found.deeper:
        message += (f". {len(found.deeper)} images lie deeper, e.g. {found.deeper[0]}: point folder: at "
                    f"{found.root / Path(found.deeper[0]).parts[0]} if that is the folder whose subfolders are "
                    "the classes (or that holds the images)")
    return message + "".join(f". {note}" for note in found.notes()[1:] if "deeper" not in note and "down" not in note)


def load_folder(path: Path, split: str, size: int, channels: int) -> ImageSet:
    """One split of a folder dataset, images resized to size x size with 1 or 3 channels, in hash order."""
    if size < 1 or channels not in (1, 3):
        raise ValueError(f"folder datasets need size >= 1 and 1 or 3 channels, got size {size}, channels {channels}")
    found = scan(path)
    test = in_test_split(found.files)
    chosen = sorted((f for f in found.files if (f[0] in test) == (split == "test")), key=lambda f: file_hash(f[0]))
    if len(found.files) < 2 or not chosen:
        raise MissingDataError(_too_few(found))
    mode = "L" if channels == 1 else "RGB"
    arrays = []
    for rel, _ in chosen:
        try:
            with Image.open(found.root / rel) as im:
                arr = np.asarray(im.convert(mode).resize((size, size), Image.BILINEAR), dtype=np.uint8)
        except (OSError, ValueError) as err:  # PIL's UnidentifiedImageError is an OSError
            raise DataError(f"{found.root / rel}: not a readable image ({err})") from err
        arrays.append(arr.reshape(size, size, channels).transpose(2, 0, 1))
    record = {"rule": SPLIT_RULE, "test_fraction": TEST_FRACTION,
              "train_images": len(found.files) - len(test), "test_images": len(test)}
    labels = torch.tensor([label for _, label in chosen], dtype=torch.long)
    return ImageSet(PREFIX + str(found.root), torch.from_numpy(np.stack(arrays)), labels, found.classes,
                    split=record, notes=found.notes())


def absolute_name(name: str) -> str:
    """`folder:PATH` with PATH made absolute (from the working directory); other names as they are."""
    if not name.startswith(PREFIX):
        return name
    return PREFIX + str(Path(name[len(PREFIX):]).expanduser().resolve())


def locate(name: str, near: Path | None = None) -> str:
    """A dataset name whose folder can be found: a relative PATH (checkpoints made before paths were
    stored absolute kept it as typed) is looked for from the working directory, then from the checkpoint
    folder `near` and each folder above it; the first place that holds it wins."""
    relative = Path(name[len(PREFIX):]).expanduser() if name.startswith(PREFIX) else None
    if relative is None or relative.is_absolute() or near is None:
        return absolute_name(name)
    near = near.resolve()
    for base in (Path.cwd(), near, *near.parents):
        if (base / relative).is_dir():
            return PREFIX + str((base / relative).resolve())
    return absolute_name(name)


def missing(name: str) -> str | None:
    """Why a folder dataset cannot be read (its folder is gone), or None; no image is opened."""
    path = Path(absolute_name(name)[len(PREFIX):])
    return None if path.is_dir() else f"image folder {path} does not exist"

