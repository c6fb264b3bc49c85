"""The codec: exact lossless round trips, lossy coding, the file's header checks, and the command."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.vae.test_cli import one_error_line
from vae.__main__ import main
from vae.compression import compress
from vae.compression.compress import CodecError, compress_lossless, compress_lossy, decompress, read_header
from vae.store.checkpoint import weights_sha256

SHA = "ab" * 32


def random_binary(n: int, seed: int, shape=(1, 28, 28)) -> torch.Tensor:
    return torch.bernoulli(torch.full((n, *shape), 0.3), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("arch", "seed", "precision", "k", "chains", "n"), [
    ("mlp", 0, 4, 1, 4, 9),
    ("mlp", 1, 10, 1, 64, 3),
    ("conv", 2, 12, 1, 5, 11),
    ("mlp", 3, 8, 3, 2, 9),  # 3 plain steps, then weighted ones (compress.schedule)
    ("conv", 4, 10, 2, 3, 11),
])
def test_lossless_round_trip_is_exact(tiny_model, arch, seed, precision, k, chains, n) -> None:
    model = tiny_model(arch, seed=seed)
    x = random_binary(n, seed)
    blob = compress_lossless(model, SHA, x, precision=precision, k=k, chains=chains)
    decoded = decompress(model, SHA, blob)
    assert torch.equal(decoded.images, x)
    header, _ = read_header(blob)
    assert (header.precision, header.k, header.chains, header.count) == (precision, k, chains, n)


def test_a_weighted_code_starts_with_plain_steps() -> None:
    assert [(p.start, p.stop, k) for p, k in compress.schedule(7, 2, 2)] == [(0, 2, 1), (2, 4, 1), (4, 6, 2),
                                                                            (6, 7, 2)]
    assert {k for _, k in compress.schedule(100, 8, 1)} == {1}


def test_a_conditional_model_codes_the_labels_too(tiny_model) -> None:
    model = tiny_model("mlp", num_classes=10)
    x, y = random_binary(7, 5), torch.arange(7) % 10
    decoded = decompress(model, SHA, compress_lossless(model, SHA, x, y, chains=2, k=2))
    assert torch.equal(decoded.images, x) and torch.equal(decoded.labels, y)
    with pytest.raises(CodecError, match="class label"):
        compress_lossless(model, SHA, x)


def test_the_decoder_sees_the_encoders_distributions_whatever_the_callers_threads(tiny_model) -> None:
    """Encoded with two threads, decoded with one: every network pass runs on compress.THREADS threads and
    a batch of exactly `chains` rows, so the probabilities agree bit for bit."""
    model = tiny_model("conv", seed=7)
    x = random_binary(10, 7)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        blob = compress_lossless(model, SHA, x, k=2, chains=4)
        assert torch.get_num_threads() == 2  # left as the caller had it
    finally:
        torch.set_num_threads(before)
    assert torch.equal(decompress(model, SHA, blob).images, x)


def test_more_images_cost_about_the_same_bits_each(tiny_model) -> None:
    """Chaining pays the initial bits once: 40 images cost far less than 40 files of one."""
    model = tiny_model("mlp")
    x = random_binary(40, 1)
    chained = compress.payload_bits(compress_lossless(model, SHA, x, chains=4))
    alone = sum(compress.payload_bits(compress_lossless(model, SHA, x[i:i + 1], chains=1)) for i in range(40))
    assert chained < alone


def test_lossless_needs_binary_images_and_a_posterior(tiny_model) -> None:
    with pytest.raises(CodecError, match="binarized"):
        compress_lossless(tiny_model("mlp"), SHA, torch.full((2, 1, 28, 28), 0.5))
    with pytest.raises(CodecError, match="no lossless code"):
        compress_lossless(tiny_model("mlp", objective="ae"), SHA, random_binary(2, 0))


@pytest.mark.parametrize("precision", [1, 3, 8])
def test_lossy_costs_precision_bits_per_dimension_and_decodes_the_bucketed_mean(tiny_model, precision) -> None:
    model = tiny_model("conv", objective="wae", mmd_weight=10.0)
    x = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    blob = compress_lossy(model, SHA, x, precision=precision)
    decoded = decompress(model, SHA, blob)
    buckets = compress.Buckets(precision, decoded.header.scale / compress.SCALE_STEP)
    codes = buckets.index(compress.latent_means(model, x, None))
    assert torch.equal(decoded.images, compress.reconstruct(model, codes, buckets, None))
    assert compress.payload_bits(blob) <= 5 * 4 * precision + 64  # the ANS state rounds up to whole words


def test_an_autoencoders_wide_codes_get_wider_buckets(tiny_model) -> None:
    model = tiny_model("mlp", objective="ae")
    assert compress.lossy_scale(model, torch.full((2, 4), 3.0)) == 3 * compress.SCALE_STEP
    assert compress.lossy_scale(model, torch.full((2, 4), 0.1)) == compress.SCALE_STEP
    assert compress.lossy_scale(tiny_model("mlp"), torch.full((2, 4), 3.0)) == compress.SCALE_STEP


def test_buckets_have_equal_prior_mass() -> None:
    b = compress.Buckets(6)
    mass = torch.special.ndtr(b.edges()).diff()
    assert torch.allclose(mass, torch.full((64,), 1 / 64, dtype=torch.float64))
    assert torch.equal(b.index(b.centres()), torch.arange(64))


@pytest.fixture
def coded(tiny_model) -> tuple:
    model = tiny_model("mlp")
    return model, compress_lossless(model, SHA, random_binary(6, 2), chains=2)


def test_a_file_of_another_model_is_refused(coded) -> None:
    model, blob = coded
    with pytest.raises(CodecError, match="another model"):
        decompress(model, "cd" * 32, blob)


@pytest.mark.parametrize(("damage", "message"), [
    (lambda b: b[:-7], "truncated"),
    (lambda b: b[:20], "truncated"),
    (lambda b: b + b"\0", "damaged"),
    (lambda b: b[:-5] + bytes([b[-5] ^ 1]) + b[-4:], "damaged"),
    (lambda b: b"\x89PNG\r\n" + b[6:], "not a Latent Explorer"),
    (lambda b: bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8)), "not a Latent Explorer"),
    (lambda b: b"", "not a Latent Explorer"),
])
def test_damaged_truncated_and_foreign_files_are_refused(coded, damage, message) -> None:
    model, blob = coded
    with pytest.raises(CodecError, match=message):
        decompress(model, SHA, damage(blob))


def test_a_damaged_payload_with_a_matching_checksum_is_refused(coded) -> None:
    """Damage the checksum cannot see (the payload rewritten with its checksum) still fails to decode."""
    model, blob = coded
    header, payload = read_header(blob)
    bad = payload.copy()
    bad[len(bad) // 2] ^= 0x5A5A5A5A
    forged = compress.Header(**{**header.__dict__, "crc": zlib.crc32(bad.tobytes())})
    with pytest.raises(CodecError, match="damaged"):
        decompress(model, SHA, forged.pack() + bad.astype("<u4").tobytes())


# --- the command --------------------------------------------------------------------------------------------

def test_compress_and_decompress_commands_round_trip(tiny_checkpoint, tmp_path: Path, capsys) -> None:
    folder = tiny_checkpoint("tiny")
    out = tmp_path / "test.lxvc"
    assert main(["compress", str(folder), "--subset", "20", "--chains", "8", "--out", str(out)]) == 0
    assert "round trip checked" in capsys.readouterr().out
    assert main(["decompress", str(folder), str(out), "--out", str(tmp_path / "png")]) == 0
    pngs = sorted((tmp_path / "png").iterdir())
    assert [p.name for p in pngs[:2]] == ["00000.png", "00001.png"] and len(pngs) == 20
    blob = out.read_bytes()
    decoded = decompress(compress_model(folder), weights_sha256(folder), blob)
    assert np.array_equal(np.asarray(Image.open(pngs[3])) / 255, decoded.images[3, 0].numpy())


def compress_model(folder: Path):
    from vae.store.checkpoint import load_checkpoint

    return load_checkpoint(folder).model


def test_lossy_command(tiny_checkpoint, tmp_path: Path, capsys) -> None:
    folder = tiny_checkpoint("tiny", objective="ae")
    out = tmp_path / "lossy.lxvc"
    assert main(["compress", str(folder), "--subset", "5", "--lossy", "3", "--out", str(out)]) == 0
    assert main(["decompress", str(folder), str(out), "--out", str(tmp_path / "png")]) == 0
    assert len(list((tmp_path / "png").iterdir())) == 5


@pytest.mark.parametrize(("case", "message"), [
    ("foreign", "another model"),
    ("truncated", "truncated"),
    ("damaged", "damaged"),
    ("random", "not a Latent Explorer"),
])
def test_decompress_refuses_with_one_error_line_and_writes_nothing(tiny_checkpoint, tmp_path, capsys, case,
                                                                    message) -> None:
    folder, other = tiny_checkpoint("tiny"), tiny_checkpoint("other", seed=1)
    good = tmp_path / "good.lxvc"
    assert main(["compress", str(folder), "--subset", "4", "--chains", "2", "--out", str(good)]) == 0
    capsys.readouterr()
    blob = good.read_bytes()
    bad = tmp_path / "bad.lxvc"
    bad.write_bytes({"foreign": blob, "truncated": blob[:-3], "damaged": blob[:-4] + b"\0\0\0\0",
                     "random": bytes(range(256))}[case])
    model = other if case == "foreign" else folder
    assert main(["decompress", str(model), str(bad), "--out", str(tmp_path / "png")]) == 2
    assert message in one_error_line(capsys)
    assert not (tmp_path / "png").exists()


def test_compress_refuses_a_model_without_posterior_losslessly(tiny_checkpoint, tmp_path, capsys) -> None:
    folder = tiny_checkpoint("ae", objective="ae")
    assert main(["compress", str(folder), "--subset", "2", "--out", str(tmp_path / "x.lxvc")]) == 2
    assert "no lossless code" in one_error_line(capsys)
    assert not (tmp_path / "x.lxvc").exists()
