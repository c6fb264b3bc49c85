"""vae.datasets.uploads: every kind of bad or awkward upload is converted or refused with a clear message."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from vae.datasets.uploads import MAX_PIXELS, UploadError, prepare_upload


def encode(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def stroke(mode: str = "L", size: tuple[int, int] = (120, 120), ink=0, paper=255) -> Image.Image:
    """A thick vertical bar (a "1") on a plain background."""
    image = Image.new(mode, size, paper)
    ImageDraw.Draw(image).rectangle([size[0] // 2 - 8, 15, size[0] // 2 + 8, size[1] - 15], fill=ink)
    return image


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with no usable pixel data behind it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def prepare(data: bytes, channels: int = 1, **kwargs):
    return prepare_upload(data, channels, 28, 28, **kwargs)


def test_a_dark_on_light_drawing_becomes_light_on_dark_like_mnist() -> None:
    out = prepare(encode(stroke()))
    assert out.tensor.shape == (1, 28, 28) and out.tensor.dtype == torch.float32
    assert out.tensor[0, 0, 0] < 0.05 and out.tensor[0, 14, 14] > 0.9  # dark border, bright stroke
    assert any("Inverted" in note for note in out.notes)


def test_light_on_dark_is_left_alone_and_invert_can_be_forced() -> None:
    data = encode(stroke(ink=255, paper=0))
    kept = prepare(data)
    assert kept.tensor[0, 14, 14] > 0.9 and not any("Inverted" in n for n in kept.notes)
    flipped = prepare(data, invert="always")
    assert flipped.tensor[0, 14, 14] < 0.1
    assert prepare(encode(stroke()), invert="never").tensor[0, 14, 14] < 0.1


def test_light_background_models_invert_the_other_way() -> None:
    out = prepare(encode(stroke(ink=255, paper=0)), dark_background=False)
    assert out.tensor[0, 0, 0] > 0.95


@pytest.mark.parametrize("data", [b"", b"hello, not an image", b"GIF89a" + b"\0" * 5, b"%PDF-1.4 ..."])
def test_files_that_are_not_images_are_refused(data: bytes) -> None:
    with pytest.raises(UploadError, match=r"empty|not an image|truncated"):
        prepare(data)


def test_truncated_files_are_refused() -> None:
    data = encode(Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 300), dtype=np.uint8)))
    with pytest.raises(UploadError, match="truncated or corrupt"):
        prepare(data[: len(data) // 2])
    jpeg = encode(stroke().convert("RGB"), "JPEG")
    with pytest.raises(UploadError, match="truncated"):
        prepare(jpeg[: len(jpeg) // 3])


def test_huge_images_are_refused_from_the_header_before_decoding(monkeypatch) -> None:
    def no_decoding(self, *args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(Image.Image, "load", no_decoding)
    with pytest.raises(UploadError, match="megapixels"):
        prepare(png_header_only(5000, 5000))  # 25 MP: over our limit, under Pillow's own
    with pytest.raises(UploadError, match=r"too many pixels|megapixels"):
        prepare(png_header_only(30000, 30000))  # a decompression bomb: Pillow's guard, turned into a refusal
    assert MAX_PIXELS < 5000 * 5000


def test_animated_images_give_their_first_frame_and_say_so() -> None:
    frames = [stroke(ink=255, paper=0).convert("P"), Image.new("L", (120, 120), 0).convert("P")]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    out = prepare(data)
    assert out.tensor[0, 14, 14] > 0.9  # the bar of the first frame, not the blank second frame
    assert any("first frame" in note for note in out.notes)
    apng = encode(frames[0].convert("L"), "PNG", save_all=True, append_images=[frames[1].convert("L")])
    assert any("first frame" in note for note in prepare(apng).notes)


def test_transparent_backgrounds_are_filled_against_the_ink() -> None:
    dark_ink = stroke("RGBA", ink=(0, 0, 0, 255), paper=(0, 0, 0, 0))  # black pen on transparent
    out = prepare(encode(dark_ink))
    assert out.tensor[0, 0, 0] < 0.05 and out.tensor[0, 14, 14] > 0.9
    assert any("filled with white" in note for note in out.notes)
    light_ink = stroke("RGBA", ink=(255, 255, 255, 255), paper=(255, 255, 255, 0))  # white chalk on transparent
    out = prepare(encode(light_ink))
    assert out.tensor[0, 0, 0] < 0.05 and out.tensor[0, 14, 14] > 0.9
    assert any("filled with black" in note for note in out.notes)


def test_palette_16_bit_and_cmyk_images_are_converted() -> None:
    palette = prepare(encode(stroke().convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE)))
    assert palette.tensor[0, 14, 14] > 0.9 and any("Palette" in n for n in palette.notes)
    deep = np.full((60, 60), 65535, dtype=np.uint16)
    deep[10:50, 25:35] = 0
    sixteen = prepare(encode(Image.fromarray(deep)))
    assert sixteen.tensor[0, 14, 14] > 0.9 and sixteen.tensor[0, 0, 0] < 0.05
    assert any("16-bit" in n for n in sixteen.notes)
    cmyk = prepare(encode(stroke().convert("CMYK"), "JPEG"))
    assert cmyk.tensor[0, 14, 14] > 0.8


def test_exif_orientation_is_applied() -> None:
    wide = Image.new("L", (200, 100), 255)
    ImageDraw.Draw(wide).rectangle([0, 0, 60, 99], fill=0)  # dark band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    out = prepare(encode(wide.convert("RGB"), "JPEG", exif=exif), fit="pad", invert="never")
    assert any("orientation" in note for note in out.notes)
    column = out.tensor[0, :, 14]
    assert column[:7].max() < 0.2 and column[10:].min() > 0.8  # after turning, the dark band lies across the top


def test_colour_models_get_three_channels_and_sizes_follow_the_model() -> None:
    out = prepare_upload(encode(stroke()), 3, 32, 32)
    assert out.tensor.shape == (3, 32, 32)
    assert torch.allclose(out.tensor[0], out.tensor[1])


def test_digit_framing_centres_the_ink_by_mass() -> None:
    off_centre = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(off_centre).rectangle([10, 10, 50, 90], fill=0)  # ink in the top-left corner
    out = prepare(encode(off_centre), fit="digit").tensor[0]
    rows, cols = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    centre = ((rows * out).sum() / out.sum(), (cols * out).sum() / out.sum())
    assert abs(centre[0] - 14) < 1.5 and abs(centre[1] - 14) < 1.5
    assert out.max() > 0.9 and out[:4].sum() == 0  # scaled into the 20-pixel box: the top rows stay empty
