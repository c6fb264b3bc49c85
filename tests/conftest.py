"""Shared fixtures: the data root, small slices of MNIST, and tiny models and checkpoints made in tmp_path."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from vae.datasets.data import DATA_ROOT_ENV, load_dataset
from vae.datasets.imageset import ImageSet
from vae.networks.config import ModelConfig
from vae.networks.model import VAE
from vae.store.checkpoint import save_checkpoint

ROOT = Path(__file__).resolve().parents[1]
# `make test` and CI set the data root; a bare `pytest` in the repository finds the team's offline copy.
os.environ.setdefault(DATA_ROOT_ENV, str(ROOT.parent / "shared" / "data"))
# Small models run fastest on one thread, and the machine is shared: never oversubscribe its cores.
torch.set_num_threads(1)

TINY = {
    "mlp": ModelConfig(arch="mlp", latent_dim=4, hidden=32, activation="relu"),
    "conv": ModelConfig(arch="conv", latent_dim=4, hidden=4),
}


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def child_env() -> dict[str, str]:
    """Environment for child processes: the data root, one thread each, and this repository importable."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="session")
def mnist_test() -> ImageSet:
    """The first 256 MNIST test images."""
    return load_dataset("mnist", "test").subset(256)


@pytest.fixture
def tiny_model() -> Callable[..., VAE]:
    """tiny_model("mlp"|"conv", **config overrides) -> an untrained VAE with seeded weights."""

    def make(arch: str = "mlp", seed: int = 0, **overrides) -> VAE:
        torch.manual_seed(seed)
        cfg = ModelConfig(**{**TINY[arch].to_dict(), **overrides})
        return VAE(cfg).eval()

    return make


@pytest.fixture
def tiny_checkpoint(tmp_path: Path, tiny_model: Callable[..., VAE]) -> Callable[..., Path]:
    """tiny_checkpoint(name, arch, **overrides) -> a checkpoint folder under tmp_path holding an untrained VAE."""

    def make(name: str = "tiny", arch: str = "mlp", **overrides) -> Path:
        model = tiny_model(arch, **overrides)
        meta = {"dataset": "mnist", "class_names": [str(i) for i in range(10)], "binarize": "none", "history": []}
        return save_checkpoint(tmp_path / name, model, meta)

    return make


@pytest.fixture(scope="session")
def own_models(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """The models nobody here wrote (examples/own_models), trained for seconds: {name: (code folder, ONNX folder)}.
    About 30 s on this shared machine, once per session."""
    from tests.own_models import make_own_models

    return make_own_models(tmp_path_factory.mktemp("own-models"))
def missing_tools() -> list[str]:
    """The tools whose tests are skipped on this machine, each with the tests that need it."""
    from tests.browser.helpers import CHROMIUM

    tools = {f"Chromium at {CHROMIUM} (the browser tests, tests/browser)": Path(CHROMIUM).exists(),
             "node (the JavaScript runtime tests, tests/js/test_model_runtime.py)": shutil.which("node") is not None}
    return [tool for tool, found in tools.items() if not found]


def pytest_report_header() -> list[str]:
    return [f"not installed, so skipped: {tool}" for tool in missing_tools()]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for tool in missing_tools():
        terminalreporter.write_line(f"SKIPPED, not installed: {tool}", yellow=True, bold=True)
