"""Folder datasets: `folder:PATH`, a folder of images with one subfolder per class, or none.

The test split is decided per file, by a hash of its path relative to the folder (SPLIT_RULE), so
adding or removing files never moves another file between train and test: a model retrained or
fine-tuned on a grown folder is still tested on images it never trained on. Both splits are in
hash order, which mixes the classes of a folder sorted by class (the first images show variety,
and `--subset` takes a bit of every class). Classes come in natural order (`2` before `10`), unless a
checkpoint recorded another. Files that cannot be read (empty, truncated, not an image) are skipped
and each one is named; images deeper than 8 bits are scaled by vae.datasets.levels. What was found and what
was skipped is said in `notes`.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from vae.datasets.imageset import IMAGE_SUFFIXES, ImageSet, MissingDataError
from vae.datasets.levels import PART_OF_RANGE, Levels, bits, is_deep, to_8bit, type_range, values

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
    unreadable: list[str] = field(default_factory=list)  # "path (why)" of the image files that cannot be read
    split: str = ""  # the split whose files were read (and found unreadable)

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
            notes.append(f"skipped {_count(len(self.beside), 'image')} lying directly in {self.root} beside the class "
                         f"subfolders (only images inside a class subfolder are used), e.g. {self.beside[0]}")
        if self.deeper:
            notes.append(f"skipped {_count(len(self.deeper), 'image')} more than one folder down (a class's images "
                         f"must lie directly in its subfolder), e.g. {self.deeper[0]}")
        empty = [name for i, name in enumerate(self.classes) if not counts[i]]
        if empty:
            notes.append(f"class subfolders without images: {', '.join(empty)}")
        if self.not_images:
            kinds = sorted({Path(p).suffix.lower() or "no suffix" for p in self.not_images})
            verb = "is" if len(self.not_images) == 1 else "are"
            notes.append(f"ignored {_count(len(self.not_images), 'file')} that {verb} not an image "
                         f"({', '.join(kinds)})")
        if self.unreadable:
            notes.append(f"skipped {_count(len(self.unreadable), 'image file')} of the {self.split} split that "
                         f"cannot be read: {'; '.join(self.unreadable)}")
        return notes


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def _visible(entries: list[os.DirEntry]) -> list[os.DirEntry]:
    return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)


def natural_key(name: str) -> tuple[tuple[int, str], ...]:
    """A name's text without case, and its numbers by value: `class2` sorts before `class10`."""
    parts = re.split(r"([0-9]+)", name)
    return tuple((int(part), "") if i % 2 else (0, part.casefold()) for i, part in enumerate(parts))


def natural_order(names: list[str]) -> list[str]:
    """Class folder names in natural order; when every name holds a number, by that number first, so that
    `un 1`, `deux 2`, ..., `dix 10` keep their numbers' order."""
    numbers = [re.search(r"[0-9]+", name) for name in names]
    if names and all(numbers):
        first = {name: int(m.group()) for name, m in zip(names, numbers, strict=True)}
        return sorted(names, key=lambda n: (first[n], natural_key(n), n))
    return sorted(names, key=lambda n: (natural_key(n), n))


def _is_image(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_SUFFIXES


def scan(root: Path, recorded: Sequence[str] | None = None) -> Scan:
    """List the images of a dataset folder: its subfolders are the classes (in natural order, or in the
    `recorded` order when that names the same classes); without any, its own images."""
    root = root.resolve()
    if not root.is_dir():
        raise MissingDataError(f"image folder {root} does not exist")
    entries = _visible(list(os.scandir(root)))
    classes = natural_order([e.name for e in entries if e.is_dir()])
    if recorded and sorted(recorded) == sorted(classes):
        classes = list(recorded)
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


class Unreadable(Exception):
    """An image file that cannot be decoded; the message says why, in a few words."""


def open_image(path: Path) -> Image.Image:
    """The image at path, fully decoded (a truncated file fails here, not later), or Unreadable."""
    if path.stat().st_size == 0:
        raise Unreadable("empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's warnings about odd metadata; the pixels are what matter
            image = Image.open(path)
            image.load()
    except UnidentifiedImageError as err:
        raise Unreadable("not an image Pillow can read") from err
    except Image.DecompressionBombError as err:
        raise Unreadable("far too many pixels") from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise Unreadable(f"truncated or damaged: {err}") from err
    return image


def folder_range(found: Scan) -> Levels:
    """`range` levels over every readable image deeper than 8 bits in the folder (both splits alike)."""
    lows, highs = [], []
    for rel, _ in found.files:
        try:
            image = open_image(found.root / rel)
        except Unreadable:
            continue  # named when its split is read
        if is_deep(image.mode):
            pixels = values(image)
            lows.append(pixels.min())
            highs.append(pixels.max())
    return Levels("range", float(min(lows)), float(max(highs))) if lows else Levels("range")


@dataclass
class Depth:
    """What the images deeper than 8 bits of one split held, for the notes."""

    kinds: set[str] = field(default_factory=set)
    top: float = 0.0  # the highest share of its type's range any deep image reached
    peak_bits: int = 0  # the bits the highest integer value needs
    clipped: int = 0

    def add(self, image: Image.Image, levels: Levels) -> None:
        pixels = values(image)
        low, high = levels.span(image.mode)
        self.kinds.add(bits(image.mode))
        self.top = max(self.top, float(pixels.max()) / type_range(image.mode)[1])
        if image.mode != "F":
            self.peak_bits = max(self.peak_bits, int(max(pixels.max(), 0)).bit_length())
        self.clipped += bool(pixels.size) and (pixels.min() < low or pixels.max() > high)

    def notes(self, levels: Levels) -> list[str]:
        """The same sentences for both splits of a folder (no counts), so that a summary says each once."""
        if not self.kinds:
            return []
        kinds = " and ".join(sorted(self.kinds))
        how = ("scaled from their type's full range (integers 0..65535, floating-point 0..1)" if levels.high is None
               else f"stretched from the folder's own range {levels.low:g}..{levels.high:g}")
        notes = [f"{kinds} images are {how} to 8 bits"]
        if levels.normalise == "full" and self.top < PART_OF_RANGE:
            used = (f"their values fit in {self.peak_bits} bits, as 12-bit sensor data in 16-bit files does"
                    if self.peak_bits else f"their values stay below {PART_OF_RANGE:.0%} of it")
            notes.append(f"the {kinds} images use only part of their range ({used}), so they come out dark: "
                         "--normalise range stretches the folder's own range to 0..255")
        if self.clipped:
            notes.append(f"{_count(self.clipped, 'image')} had values outside the range read, clipped")
        return notes


def unreadable_elsewhere(found: Scan, chosen: list[tuple[str, int]]) -> list[str]:
    """The other split's unreadable files, so that a refusal names every one at once."""
    named = []
    for rel, _ in set(found.files) - set(chosen):
        try:
            open_image(found.root / rel)
        except Unreadable as err:
            named.append(f"{rel} ({err})")
    return sorted(named)


def read_image(path: Path, size: int, channels: int, levels: Levels, depth: Depth) -> np.ndarray:
    """One image file as uint8 (channels, size, size), or Unreadable."""
    image = open_image(path)
    if is_deep(image.mode):
        depth.add(image, levels)
    image = to_8bit(image, levels, [])
    resized = image.convert("L" if channels == 1 else "RGB").resize((size, size), Image.BILINEAR)
    return np.asarray(resized, dtype=np.uint8).reshape(size, size, channels).transpose(2, 0, 1)


def load_folder(path: Path, split: str, size: int, channels: int, levels: Levels | None = None,
                classes: Sequence[str] | None = None) -> ImageSet:
    """One split of a folder dataset, images resized to size x size with 1 or 3 channels, in hash order.

    `levels` say how images deeper than 8 bits are read (a `range` without numbers takes the folder's own);
    `classes` is a checkpoint's recorded class order, kept when it names the folder's classes.
    """
    if size < 1 or channels not in (1, 3):
        raise ValueError(f"folder datasets need size >= 1 and 1 or 3 channels, got size {size}, channels {channels}")
    found = scan(path, classes)
    test = in_test_split(found.files)
    chosen = sorted((f for f in found.files if (f[0] in test) == (split == "test")), key=lambda f: file_hash(f[0]))
    if len(found.files) < 2 or not chosen:
        raise MissingDataError(_too_few(found))
    levels = levels or Levels()
    if levels.normalise == "range" and levels.low is None:
        levels = folder_range(found)
    arrays, labels, depth = [], [], Depth()
    found.split = split
    for rel, label in chosen:
        try:
            arrays.append(read_image(found.root / rel, size, channels, levels, depth))
        except Unreadable as err:
            found.unreadable.append(f"{rel} ({err})")
            continue
        labels.append(label)
    if not arrays:
        raise MissingDataError(f"none of the {len(chosen)} {split} images in {found.root} can be read: "
                               + "; ".join(found.unreadable + unreadable_elsewhere(found, chosen)))
    record = {"rule": SPLIT_RULE, "test_fraction": TEST_FRACTION,
              "train_images": len(found.files) - len(test), "test_images": len(test)}
    images, labels = torch.from_numpy(np.stack(arrays)), torch.tensor(labels, dtype=torch.long)
    return ImageSet(PREFIX + str(found.root), images, labels, found.classes, split=record,
                    notes=found.notes() + depth.notes(levels), levels=levels)


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

