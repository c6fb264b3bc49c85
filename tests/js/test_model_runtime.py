"""The browser's model runtime against PyTorch: writes fixtures from real models, then runs `node --test tests/js`.

Fixtures, one JSON file each, in folders the node tests read (tests/js/*.test.mjs):
- decoders/: a decoder spec (its ONNX export, as the browser gets it), 100 random latent codes (and
  labels), PyTorch's output for them and the image in [0, 1] the runtime must make of it;
- encoders/: the encoder and decoder specs, 100 random images (and labels), PyTorch's posterior means
  and log-variances (or codes), vae.networks.objectives.negative_elbo_at_mean (for a VAE) and the reconstruction error;
- inputs/: RGBA pictures (random strokes, backgrounds, sizes, transparency) and what
  vae.datasets.uploads.prepare_upload makes of each, saved as an RGBA PNG, under several options;
- maps/: map specs of atlases in each projection, 100 codes, and vae.analysis.atlas.Atlas.project's places.
Covered: mlp and conv, conditional and not, greyscale and RGB, every checkpoint under checkpoints/ that
loads (with its stored atlas), and tests/js/foreign_decoders.py's conv decoders (BatchNorm, LeakyReLU, nearest
upsampling, a residual block; a spatial latent fed flat or shaped; outputs `probs` and a `mean` in [-1, 1]),
and issue 19's models nobody here wrote (examples/own_models: their ONNX decoders against their PyTorch code).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from torch import Tensor

from tests.js.foreign_decoders import FlatZ, as_image, onnx_bytes, rgb_mean, spatial_probs
from vae.analysis.atlas import Atlas as AtlasData
from vae.analysis.atlas import AtlasError, load_atlas, pca_2d
from vae.datasets.uploads import prepare_upload
from vae.models.model_json import DECODER, MODEL_JSON
from vae.models.sources import open_model
from vae.networks.config import PRESETS, ModelConfig
from vae.networks.model import VAE
from vae.networks.objectives import negative_elbo_at_mean, reconstruction_error_at_mean
from vae.store.checkpoint import Checkpoint, CheckpointError, find_checkpoints, load_checkpoint
from vae.store.export import atlas_map_spec, float32_base64, latent_plane_spec, network_specs
from vae.store.onnx_export import model_json, onnx_networks

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = 100


def random_models() -> dict[str, VAE]:
    """What the shipped checkpoints leave out (they cover conv, conditional, an AE): mlp, RGB, ReLU."""
    torch.manual_seed(0)
    mlp = PRESETS["mlp"]
    configs = {
        "mlp-conditional-relu": replace(mlp, num_classes=10, activation="relu", hidden=64),
        "conv-rgb": ModelConfig(arch="conv", latent_dim=8, hidden=8, channels=3, height=32, width=32),
    }
    return {name: VAE(cfg).eval() for name, cfg in configs.items()}


def shipped() -> dict[str, tuple[VAE, AtlasData | None]]:
    found = {}
    for folder in find_checkpoints(ROOT / "checkpoints"):
        try:
            model = load_checkpoint(folder).model
        except CheckpointError:
            continue  # a broken or half-written checkpoint is the checkpoint tests' business
        try:
            atlas = load_atlas(folder)
        except AtlasError:
            atlas = None
        found[f"checkpoint-{folder.name}"] = (model, atlas)
    return found


def write(path: Path, fixture: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fixture))


@torch.no_grad()
def decoder_fixture(spec: dict, decode: Callable[..., Tensor], latent: tuple[int, ...], classes: int,
                    gen: torch.Generator) -> dict:
    z = torch.randn(SAMPLES, *latent, generator=gen) * 1.5
    y = torch.randint(0, classes, (SAMPLES,), generator=gen) if classes else None
    out = decode(z) if y is None else decode(z, y)
    return {"spec": spec, "z": float32_base64(z), "labels": [] if y is None else y.tolist(),
            "output": float32_base64(out), "image": float32_base64(as_image(out, spec["output"], spec["input_range"]))}


@torch.no_grad()
def encoder_fixture(model: VAE, specs: dict, gen: torch.Generator) -> dict:
    cfg = model.cfg
    x = torch.rand(SAMPLES, *cfg.image_shape, generator=gen) ** 3  # mostly dark, like digits
    y = torch.randint(0, max(cfg.num_classes, 1), (SAMPLES,), generator=gen) if cfg.conditional else None
    mu, logvar = model.encode(x, y)
    return {
        "encoder": specs["encoder"], "decoder": specs["decoder"],
        "x": float32_base64(x), "labels": [] if y is None else y.tolist(),
        "mu": float32_base64(mu), "logvar": float32_base64(logvar) if cfg.stochastic else None,
        "neg_elbo": negative_elbo_at_mean(model, x, y).tolist() if cfg.stochastic else None,
        "recon_error": reconstruction_error_at_mean(model, x, y).tolist(),
    }


def foreign_fixtures(gen: torch.Generator) -> tuple[dict[str, dict], dict[str, dict]]:
    """Decoder and encoder fixtures of tests/js/foreign_decoders.py's models (exported here: no checkpoint)."""
    probs, encoder, grey = spatial_probs()
    tanh, rgb = rgb_mean()
    spatial = tuple(grey["latent_shape"])
    specs = network_specs(onnx_bytes(encoder, torch.rand(1, 1, 28, 28), "x", "z"),
                          onnx_bytes(probs, torch.randn(1, *spatial), "z", "x"), grey)
    rgb_specs = network_specs(None, onnx_bytes(tanh, torch.randn(1, 6), "z", "x"), rgb)
    flat, dim = FlatZ(probs, spatial).eval(), int(np.prod(spatial))
    flat_specs = network_specs(None, onnx_bytes(flat, torch.randn(1, dim), "z", "x"), grey)
    decoders = {"foreign-bn-residual-spatial-probs": decoder_fixture(specs["decoder"], probs, spatial, 0, gen),
                "foreign-spatial-probs-flat-z": decoder_fixture(flat_specs["decoder"], flat, (dim,), 0, gen),
                "foreign-bn-residual-rgb-mean": decoder_fixture(rgb_specs["decoder"], tanh, (6,), 0, gen)}
    with torch.no_grad():
        x = torch.rand(SAMPLES, 1, 28, 28, generator=gen)
        z = encoder(x).flatten(1)
    encoders = {"foreign-bn-residual-spatial-probs": {
        "encoder": specs["encoder"], "decoder": specs["decoder"], "x": float32_base64(x), "labels": [],
        "mu": float32_base64(z), "logvar": None, "neg_elbo": None, "recon_error": None}}
    return decoders, encoders


def example_fixtures(own_models: dict[str, tuple[Path, Path]], gen: torch.Generator) -> dict[str, dict]:
    """Decoder fixtures of examples/own_models: each ONNX folder's decoder as it is, against the model's own
    PyTorch code (tests/own_models.py trains and exports them)."""
    found = {}
    for name, (code, onnx) in own_models.items():
        model = open_model(code, trust_code=True).model
        specs = network_specs(None, (onnx / DECODER).read_bytes(), json.loads((onnx / MODEL_JSON).read_text()))
        found[f"example-{name}"] = decoder_fixture(specs["decoder"], model.decode, (model.latent_dim,), 0, gen)
    return found


def picture(gen: np.random.Generator, size: tuple[int, int], light: bool, alpha: str) -> Image.Image:
    """Random strokes of random widths on a plain background, opaque or with transparency."""
    paper, ink = ((255, 255, 255), (0, 0, 0)) if light else ((0, 0, 0), (255, 255, 255))
    image = Image.new("RGBA", size, (*paper, 0 if alpha == "clear" else 255))
    draw = ImageDraw.Draw(image)
    w, h = size
    for _ in range(int(gen.integers(1, 5))):
        points = [(float(gen.uniform(0.1, 0.9) * w), float(gen.uniform(0.1, 0.9) * h)) for _ in range(4)]
        colour = tuple(int(c) for c in gen.integers(0, 256, 3)) if gen.random() < 0.3 else ink
        draw.line(points, fill=(*colour, 255), width=max(1, int(gen.integers(1, max(2, w // 6)))), joint="curve")
    pixels = np.asarray(image).copy()
    if alpha == "partial":
        pixels[..., 3] = np.clip(pixels[..., 3].astype(int) - gen.integers(0, 200, pixels.shape[:2]), 0, 255)
    return Image.fromarray(pixels, "RGBA")


def input_fixtures() -> dict[str, dict]:
    """Pictures and prepare_upload's result for each, across sizes, backgrounds, options and model shapes."""
    gen, cases = np.random.default_rng(0), {}
    sizes = [(224, 224), (224, 224), (150, 90), (40, 200), (28, 28), (9, 6), (1, 1)]
    for i in range(42):
        channels, side = (3, 32) if i % 7 == 3 else (1, 28)
        size = (256, 256) if channels == 3 and i % 2 else sizes[i % len(sizes)]
        light, alpha = bool(gen.random() < 0.5), ["opaque", "opaque", "partial", "clear"][i % 4]
        options = {"dark_background": i % 5 != 2, "invert": ["auto", "auto", "always", "never"][i % 4],
                   "fit": "digit" if i % 3 else "pad"}
        image = picture(gen, size, light, alpha)
        png = io.BytesIO()
        image.save(png, format="PNG")
        expected = prepare_upload(png.getvalue(), channels, side, side, **options).tensor
        cases[f"picture-{i:02d}"] = {
            "rgba": base64.b64encode(np.asarray(image).tobytes()).decode(), "width": size[0], "height": size[1],
            "options": {"channels": channels, "size": [side, side], "darkBackground": options["dark_background"],
                        "invert": options["invert"], "fit": options["fit"]},
            "expected": float32_base64(expected.permute(1, 2, 0)),  # channels-last, as the runtime gives it
        }
    return cases


def map_fixture(atlas: AtlasData, projection: str, gen: torch.Generator) -> dict:
    d = atlas.mu.shape[1]
    codes = torch.cat([atlas.mu[:10], torch.randn(SAMPLES - 10, d, generator=gen) * atlas.mu.std(0)])
    spec = atlas_map_spec(atlas, projection) if projection != "plane" else latent_plane_spec(atlas.mu, atlas.labels)
    places = atlas.project(codes, projection) if projection != "plane" else codes
    return {"spec": spec, "codes": float32_base64(codes), "places": float32_base64(places)}


def synthetic_atlas(n: int, d: int, gen: torch.Generator) -> AtlasData:
    mu = torch.randn(n, d, generator=gen)
    mean, basis = pca_2d(mu)
    coords = {"pca": (mu - mean) @ basis.T, "umap": torch.randn(n, 2, generator=gen) * 5}
    return AtlasData(coords, mu, torch.zeros(n, d), torch.zeros(n), torch.arange(n) % 10, mean, basis)


def test_the_browser_runtime_matches_pytorch(tmp_path: Path, own_models: dict[str, tuple[Path, Path]]) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed, so the JavaScript runtime cannot be checked")
    gen = torch.Generator().manual_seed(0)
    models = {**random_models(), **{name: model for name, (model, _) in shipped().items()}}
    atlases = {"synthetic": synthetic_atlas(500, 6, gen), "synthetic-plane": synthetic_atlas(300, 2, gen)}
    atlases |= {name: atlas for name, (_, atlas) in shipped().items() if atlas is not None}
    for name, model in models.items():
        nets, cfg = onnx_networks(model), model.cfg
        meta = {"class_names": [str(c) for c in range(cfg.num_classes)]}
        specs = network_specs(nets.encoder, nets.decoder, model_json(Checkpoint(ROOT, model, meta)))
        write(tmp_path / "decoders" / f"{name}.json",
              decoder_fixture(specs["decoder"], model.decode, (cfg.latent_dim,), cfg.num_classes, gen))
        write(tmp_path / "encoders" / f"{name}.json", encoder_fixture(model, specs, gen))
    decoders, encoders = foreign_fixtures(gen)
    decoders |= example_fixtures(own_models, gen)
    for kind, found in (("decoders", decoders), ("encoders", encoders)):
        for name, fixture in found.items():
            write(tmp_path / kind / f"{name}.json", fixture)
    for name, fixture in input_fixtures().items():
        write(tmp_path / "inputs" / f"{name}.json", fixture)
    for name, atlas in atlases.items():
        for projection in [*atlas.projections, *(["plane"] if atlas.mu.shape[1] == 2 else [])]:
            write(tmp_path / "maps" / f"{name}-{projection}.json", map_fixture(atlas, projection, gen))
    run = subprocess.run(
        [node, "--test", "tests/js"], cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "LATENT_EXPLORER_JS_FIXTURES": str(tmp_path)},
    )
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr
    named = None
    for line in run.stdout.splitlines():  # each parity test's largest difference (shown with pytest -s)
        named = line.strip().removeprefix("ok ").split(" - ", 1)[-1] if line.lstrip().startswith("ok ") else named
        if "# max abs difference" in line:
            print(f"{named}: {line.split('# ', 1)[1]}")
    for name in [*models, *encoders]:
        assert f"decodes {name} like PyTorch" in run.stdout and f"encodes {name} like PyTorch" in run.stdout, name
    for name in decoders:
        assert f"decodes {name} like PyTorch" in run.stdout, name
    assert len(re.findall(r"^ok \d+ - prepares picture-", run.stdout, re.MULTILINE)) == 42
    assert "places checkpoint-mnist-umap codes" in run.stdout or "checkpoint-mnist" not in models
