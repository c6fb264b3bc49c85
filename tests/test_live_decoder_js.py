"""The browser decoder against PyTorch: writes fixtures from real decoders, then runs `node --test tests/js`.

Each fixture holds a decoder spec, 100 random latent codes (and labels for conditional models) and
PyTorch's logits for them; tests/js/decoder.test.mjs decodes the same codes in JavaScript and
checks the largest absolute difference. Covered: both presets' shapes, conditional and not, both
activations, and every checkpoint under checkpoints/ that loads.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from vae.checkpoint import CheckpointError, find_checkpoints, load_checkpoint
from vae.config import PRESETS
from vae.export import decoder_spec, float32_base64
from vae.model import VAE

ROOT = Path(__file__).resolve().parent.parent
CODES = 100


def random_models() -> dict[str, VAE]:
    torch.manual_seed(0)
    mlp, conv = PRESETS["mlp"], PRESETS["conv"]
    configs = {
        "mlp": mlp,
        "mlp-conditional-silu": replace(mlp, num_classes=10, activation="silu"),
        "conv": conv,
        "conv-conditional-relu": replace(conv, num_classes=10, activation="relu"),
    }
    return {name: VAE(cfg).eval() for name, cfg in configs.items()}


def shipped_models() -> dict[str, VAE]:
    models = {}
    for folder in find_checkpoints(ROOT / "checkpoints"):
        try:
            models[f"checkpoint-{folder.name}"] = load_checkpoint(folder).model
        except CheckpointError:
            continue  # a broken or half-written checkpoint is the checkpoint tests' business
    return models


@torch.no_grad()
def write_fixture(path: Path, model: VAE, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    cfg = model.cfg
    z = torch.randn(CODES, cfg.latent_dim, generator=gen) * 1.5
    y = torch.randint(0, max(cfg.num_classes, 1), (CODES,), generator=gen) if cfg.conditional else None
    logits = model.decode(z, y)
    fixture = {
        "spec": decoder_spec(model),
        "z": float32_base64(z),
        "labels": [] if y is None else y.tolist(),
        "logits": float32_base64(logits),
    }
    path.write_text(json.dumps(fixture))


def test_browser_decoder_matches_pytorch(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed, so the JavaScript decoder cannot be checked")
    models = {**random_models(), **shipped_models()}
    for seed, (name, model) in enumerate(models.items()):
        write_fixture(tmp_path / f"{name}.json", model, seed)
    run = subprocess.run(
        [node, "--test", "tests/js"], cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "LATENT_EXPLORER_JS_FIXTURES": str(tmp_path)},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    for name in models:
        assert f"decodes {name}" in run.stdout, f"node did not check {name}:\n{run.stdout}"
