"""Folders as people bring them (issue 22): every image mode Pillow opens reads as its 8-bit original, 12-bit
data in 16-bit files is said and can be stretched (the same way for uploads), every unreadable file is skipped
and named, and class folders come in natural order, with a checkpoint's recorded order kept."""

from __future__ import annotations

import io
import json
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import torch
from PIL import Image

from vae.__main__ import main
from vae.analysis.atlas import load_test_set
from vae.datasets.data import ImageSet, MissingDataError, load_dataset
from vae.datasets.folder import natural_order
from vae.datasets.levels import Levels, to_8bit
from vae.datasets.uploads import prepare_upload
from vae.store.checkpoint import read_meta, update_meta
from vae.store.meta import MetaError, validate

SIZE = 16
RUN = ["--arch", "mlp", "--latent-dim", "2", "--hidden", "8", "--size", str(SIZE), "--epochs", "1", "--quiet"]
GREY = np.linspace(0, 255, SIZE * SIZE).round().astype(np.uint8).reshape(SIZE, SIZE)  # every level, nearly
COLOUR = np.stack([GREY, GREY.T, GREY[::-1]], axis=2)


def grey_modes() -> dict[str, Image.Image]:
    """The grey original in each mode it can be held in, as a file would give it back."""
    palette = Image.frombytes("P", (SIZE, SIZE), GREY.tobytes())
    palette.putpalette([v for level in range(256) for v in (level, level, level)])
    deep = GREY.astype(np.uint16) * 257  # 8 bits to 16: v * 65535 / 255
    return {
        "1": Image.fromarray(np.where(GREY > 127, 255, 0).astype(np.uint8)).convert("1"),
        "L": Image.fromarray(GREY),
        "LA": Image.merge("LA", [Image.fromarray(GREY), Image.new("L", (SIZE, SIZE), 255)]),
        "P": palette,
        "I;16": Image.fromarray(deep),
        "I;16B": Image.frombytes("I;16B", (SIZE, SIZE), deep.astype(">u2").tobytes()),
        "I": Image.fromarray(deep.astype(np.int32)),
        "F": Image.fromarray(GREY.astype(np.float32) / 255),
    }


def colour_modes() -> dict[str, Image.Image]:
    rgb = Image.fromarray(COLOUR)
    return {"RGB": rgb, "RGBA": rgb.convert("RGBA"), "CMYK": rgb.convert("CMYK"), "YCbCr": rgb.convert("YCbCr"),
            "PA": rgb.convert("RGBA").convert("PA")}


# name -> (mode, how the file is written, greatest difference allowed from the original, in levels of 255)
FILES = {
    "1.png": ("1", "PNG", 0), "1.tif": ("1", "TIFF", 0), "1.bmp": ("1", "BMP", 0),
    "L.png": ("L", "PNG", 0), "L.bmp": ("L", "BMP", 0), "L.gif": ("L", "GIF", 0), "L.tif": ("L", "TIFF", 0),
    "L.webp": ("L", "WEBP", 0), "L.jpg": ("L", "JPEG", 2),
    "LA.png": ("LA", "PNG", 0), "LA.tif": ("LA", "TIFF", 0), "P.png": ("P", "PNG", 0), "P.gif": ("P", "GIF", 0),
    "I16.png": ("I;16", "PNG", 0), "I16.tif": ("I;16", "TIFF", 0), "I16B.tif": ("I;16B", "TIFF", 0),
    "I32.tif": ("I", "TIFF", 0), "F.tif": ("F", "TIFF", 0),
    "RGB.png": ("RGB", "PNG", 0), "RGB.bmp": ("RGB", "BMP", 0), "RGB.webp": ("RGB", "WEBP", 0),
    "RGB.jpg": ("RGB", "JPEG", 4), "RGBA.png": ("RGBA", "PNG", 0), "RGBA.tif": ("RGBA", "TIFF", 0),
    "PA.tif": ("PA", "TIFF", 0), "CMYK.tif": ("CMYK", "TIFF", 0), "CMYK.jpg": ("CMYK", "JPEG", 2),
    "YCbCr.tif": ("YCbCr", "TIFF", 3),
}


def write_every_mode(root: Path) -> dict[str, int]:
    """One class folder per file of FILES, plus 16-bit colour PNG and TIFF (made with imagecodecs, which writes
    what Pillow cannot); returns each class's allowed difference."""
    images = grey_modes() | colour_modes()
    allowed = {}
    for name, (mode, fmt, tolerance) in FILES.items():
        (root / name).mkdir(parents=True)
        options = {"lossless": True} if fmt == "WEBP" else {"quality": 100, "subsampling": 0} if fmt == "JPEG" else {}
        images[mode].save(root / name / f"image.{name.split('.')[1]}", fmt, **options)
        allowed[name] = tolerance
    for name, encode in {"RGB48.png": imagecodecs.png_encode, "RGB48.tif": imagecodecs.tiff_encode}.items():
        (root / name).mkdir()
        (root / name / f"image.{name.split('.')[1]}").write_bytes(encode(COLOUR.astype(np.uint16) * 257))
        allowed[name] = 0
    return allowed


def both_splits(folder: Path, **options) -> ImageSet:
    parts = [load_dataset(f"folder:{folder}", split, size=SIZE, **options) for split in ("train", "test")]
    return ImageSet(parts[0].name, torch.cat([p.images for p in parts]), torch.cat([p.labels for p in parts]),
                    parts[0].class_names, notes=parts[0].notes + parts[1].notes)


def test_every_mode_pillow_opens_reads_as_its_8bit_original(tmp_path: Path) -> None:
    allowed = write_every_mode(tmp_path)
    data = both_splits(tmp_path, channels=3)
    assert sorted(data.class_names) == sorted(allowed)
    worst = {}
    for image, label in zip(data.images, data.labels, strict=True):
        name = data.class_names[label]
        mode = FILES.get(name, ("RGB",))[0]
        grey = np.asarray(grey_modes()["1"].convert("L")) if mode == "1" else GREY
        original = COLOUR if mode in colour_modes() else np.repeat(grey[..., None], 3, axis=2)
        worst[name] = int(np.abs(image.permute(1, 2, 0).numpy().astype(int) - original.astype(int)).max())
    assert {name: worst[name] for name in worst if worst[name] > allowed[name]} == {}, worst
    assert any("16-bit" in note and "to 8 bits" in note for note in data.notes)


@pytest.mark.parametrize("mode", ["La", "RGBa", "RGBX", "HSV", "I;16L", "I;16N", "LAB"])
def test_modes_that_only_live_in_memory_come_out_8bit(mode: str) -> None:
    rgb = Image.fromarray(COLOUR)
    if mode.startswith("I;16"):
        image = Image.frombytes(mode, (SIZE, SIZE), (GREY.astype(np.uint16) * 257).astype("<u2" if mode == "I;16L"
                                                                                           else "=u2").tobytes())
    elif mode in ("La", "RGBa"):
        image = rgb.convert("LA" if mode == "La" else "RGBA").convert(mode)
    else:
        image = rgb.convert(mode)
    result = to_8bit(image, Levels(), [])
    assert result.mode in ("L", "LA", "RGB", "RGBA")
    if mode.startswith("I;16") or mode == "RGBX":
        expected = GREY if mode.startswith("I;16") else COLOUR
        assert np.abs(np.asarray(result).astype(int) - expected.astype(int)).max() <= 1


def write_12bit(folder: Path, n: int = 12) -> list[np.ndarray]:
    """16-bit PNGs holding 12-bit data (0..4080): each a shifted copy of GREY, times 16."""
    originals = []
    folder.mkdir(parents=True)
    for i in range(n):
        grey = np.roll(GREY, i, axis=1)
        Image.fromarray(grey.astype(np.uint16) * 16).save(folder / f"sensor{i:02d}.png")
        originals.append(grey)
    return originals


def test_12bit_data_is_said_and_the_folders_own_range_stretches_it(tmp_path: Path) -> None:
    originals = {o.tobytes() for o in write_12bit(tmp_path / "sensor")}
    full = both_splits(tmp_path / "sensor")
    assert full.images.max() <= 16  # by the full range 12-bit data is nearly black ...
    assert any("use only part of their range" in note and "--normalise range" in note for note in full.notes)
    stretched = both_splits(tmp_path / "sensor", levels=Levels("range"))
    assert {image[0].numpy().tobytes() for image in stretched.images} == originals  # ... by its own, as it was
    assert not any("part of their range" in note for note in stretched.notes)


def test_the_range_is_recorded_and_read_again_for_the_test_set_and_uploads(tmp_path: Path, capsys) -> None:
    write_12bit(tmp_path / "sensor", 20)
    run = tmp_path / "run"
    assert main(["train", "--dataset", f"folder:{tmp_path / 'sensor'}", "--normalise", "range", *RUN,
                 "--out", str(run)]) == 0
    meta = read_meta(run)
    assert meta["levels"] == {"normalise": "range", "low": 0.0, "high": 4080.0}
    assert meta["train"]["normalise"] == "range"
    Image.fromarray(np.full((SIZE, SIZE), 4095, dtype=np.uint16)).save(tmp_path / "sensor" / "brighter.png")
    test = load_test_set(meta)  # the recorded range, not the folder's new one
    assert test.levels == Levels("range", 0.0, 4080.0)
    upload = io.BytesIO()
    Image.fromarray(GREY.astype(np.uint16) * 16).save(upload, "PNG")
    prepared = prepare_upload(upload.getvalue(), 1, SIZE, SIZE, invert="never", levels=Levels.of(meta))
    assert torch.equal((prepared.tensor[0] * 255).round().byte(), torch.from_numpy(GREY))
    assert "range" in " ".join(prepared.notes)
    assert "use only part of their range" not in capsys.readouterr().err


def test_checkpoints_without_levels_read_as_full_and_a_wrong_one_is_refused() -> None:
    assert Levels.of({}) == Levels("full")
    meta = {"model": {"arch": "mlp", "latent_dim": 2, "hidden": 8}}
    validate({**meta, "levels": {"normalise": "range", "low": 0, "high": 4095}})
    for bad in ({"normalise": "stretch"}, {"low": 0}, {"normalise": "range", "high": "4095"}):
        with pytest.raises(MetaError, match="levels"):
            validate({**meta, "levels": bad})


BAD_FILES = {
    "empty.png": b"",
    "truncated.jpg": None,  # a real JPEG cut in half
    "random.png": bytes(range(256)) * 8,
    "text.gif": b"<html>not an image</html>",
    "cut.png": None,  # a real PNG cut short
    "wrong.webp": b"RIFF\x00\x00\x00\x00WEBPVP8 ",
}


def write_bad_files(folder: Path) -> None:
    for name, content in BAD_FILES.items():
        if content is None:
            whole = io.BytesIO()
            Image.fromarray(COLOUR).save(whole, "JPEG" if name.endswith("jpg") else "PNG")
            content = whole.getvalue()[: len(whole.getvalue()) // 2]
        (folder / name).write_bytes(content)


def write_labelled(root: Path, classes: list[str], n: int = 6) -> None:
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(np.roll(GREY, 7 * c + i, axis=0)).save(root / name / f"{i}.png")


def test_every_unreadable_file_is_skipped_and_named_in_one_summary(tmp_path: Path, capsys) -> None:
    write_labelled(tmp_path / "data", ["a", "b"], n=20)
    write_bad_files(tmp_path / "data" / "a")
    data = both_splits(tmp_path / "data")
    assert len(data) == 40
    summary = [note for note in data.notes if "cannot be read" in note]
    named = " ".join(summary)
    assert all(str(Path("a", name)) in named for name in BAD_FILES), summary
    assert "of the train split" in named and "of the test split" in named  # (text.gif falls in the test split)
    assert "empty file" in named and "truncated or damaged" in named
    assert main(["train", "--dataset", f"folder:{tmp_path / 'data'}", *RUN, "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert all(name in err for name in BAD_FILES), err
    counts = [int(line.split("skipped ")[1].split()[0]) for line in err.splitlines() if "cannot be read" in line]
    assert sum(counts) == len(BAD_FILES)
    for command in (["evaluate", str(tmp_path / "run"), "--k", "2", "--no-save"],
                    ["atlas", str(tmp_path / "run"), "--no-umap", "--no-scores"]):
        assert main(command) == 0, capsys.readouterr().err  # read the same way: nothing stops ...
        assert "of the test split that cannot be read: a/text.gif (not an image" in capsys.readouterr().err  # named


def test_a_folder_with_nothing_readable_is_refused_with_every_file_named(tmp_path: Path) -> None:
    (tmp_path / "bad").mkdir()
    write_bad_files(tmp_path / "bad")
    with pytest.raises(MissingDataError) as info:
        both_splits(tmp_path / "bad")
    message = str(info.value)
    assert "can be read" in message and all(name in message for name in BAD_FILES), message


@pytest.mark.parametrize(("names", "expected"), [
    (["10", "2", "1"], ["1", "2", "10"]),
    (["cinq 5", "un 1", "dix 10", "deux 2"], ["un 1", "deux 2", "cinq 5", "dix 10"]),
    (["c10", "b", "A", "c9"], ["A", "b", "c9", "c10"]),
    (["élan", "zèbre", "abeille"], ["abeille", "zèbre", "élan"]),
])
def test_class_folders_come_in_natural_order(names: list[str], expected: list[str]) -> None:
    assert natural_order(names) == expected


def test_new_models_record_the_natural_order_and_old_ones_keep_theirs(tmp_path: Path) -> None:
    write_labelled(tmp_path / "data", ["1", "2", "10"])
    assert main(["train", "--dataset", f"folder:{tmp_path / 'data'}", *RUN, "--out", str(tmp_path / "run")]) == 0
    meta = read_meta(tmp_path / "run")
    assert meta["class_names"] == ["1", "2", "10"]
    old = load_test_set({**meta, "class_names": ["1", "10", "2"]})  # recorded alphabetically before
    new = load_test_set(meta)
    assert old.class_names == ["1", "10", "2"]
    by_image = {img.numpy().tobytes(): new.class_names[label] for img, label in zip(new.images, new.labels,
                                                                                      strict=True)}
    assert all(by_image[img.numpy().tobytes()] == old.class_names[label]
               for img, label in zip(old.images, old.labels, strict=True))
    update_meta(tmp_path / "run" / "last", class_names=["1", "10", "2"])
    assert main(["train", "--dataset", f"folder:{tmp_path / 'data'}", *RUN, "--out", str(tmp_path / "run"),
                 "--resume", "--epochs", "2"]) == 0
    assert read_meta(tmp_path / "run")["class_names"] == ["1", "10", "2"]  # resumed in the order it began with


def test_the_classifier_reads_a_folder_with_the_same_normalisation(tmp_path: Path) -> None:
    for name in ("a", "b"):
        write_12bit(tmp_path / "data" / name)
    out = tmp_path / "classifier"
    assert main(["classifier", "--dataset", f"folder:{tmp_path / 'data'}", "--normalise", "range", "--epochs", "1",
                 "--out", str(out)]) == 0
    assert json.loads((out / "config.json").read_text())["levels"] == {"normalise": "range", "low": 0.0,
                                                                      "high": 4080.0}
