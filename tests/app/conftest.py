"""Fixtures for the explorer's tests: tiny checkpoints made once per session, and an AppTest opener.

The app is pointed at a temporary checkpoint folder (never at the shipped checkpoints),
builds PCA-only atlases (no umap import, seconds), and every test gets fresh copies when it
needs to write.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1 import app_test as app_test_module

from tests.app.app_helpers import APP, ATLAS_SUBSET, digit_folder, make_checkpoint, train_folder_model
from vae.analysis.atlas import build_atlas, save_atlas
from vae.datasets.data import load_dataset
from vae.networks.config import ModelConfig
from vae.store.checkpoint import load_checkpoint


@pytest.fixture(scope="session")
def model_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoints folder: two working tiny models (one conditional) with PCA atlases, and two broken ones."""
    root = tmp_path_factory.mktemp("checkpoints")
    make_checkpoint(root / "tiny", ModelConfig(arch="conv", latent_dim=4, hidden=4), train_steps=150)
    cond = ModelConfig(arch="mlp", latent_dim=3, hidden=32, num_classes=10)
    make_checkpoint(root / "tiny-cond", cond, seed=1, train_steps=150)
    data = load_dataset("mnist", "test").subset(ATLAS_SUBSET)
    for name in ("tiny", "tiny-cond"):
        ckpt = load_checkpoint(root / name)
        save_atlas(ckpt.folder, build_atlas(ckpt, data, use_umap=False))
    (root / "no-model").mkdir()
    (root / "no-model" / "config.json").write_text(json.dumps({"dataset": "mnist"}))
    make_checkpoint(root / "wrong-shape", ModelConfig(arch="mlp", latent_dim=2, hidden=8))
    meta = json.loads((root / "wrong-shape" / "config.json").read_text())
    meta["model"]["latent_dim"] = 5
    (root / "wrong-shape" / "config.json").write_text(json.dumps(meta))
    return root


@pytest.fixture
def fresh_root(model_root: Path, tmp_path: Path) -> Path:
    """A writable copy of the model root, for tests that change files."""
    return Path(shutil.copytree(model_root, tmp_path / "checkpoints"))


@pytest.fixture
def use_root(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """use_root(folder): the app's project checkpoint folder becomes `folder` (extra roots cleared)."""

    import ui.models

    def use(folder: Path) -> None:
        monkeypatch.setattr(ui.models, "PROJECT_CHECKPOINTS", folder)

    monkeypatch.delenv(ui.models.ENV, raising=False)
    monkeypatch.setenv("LATENT_EXPLORER_ATLAS_UMAP", "0")
    return use


@pytest.fixture
def open_app(model_root: Path, use_root: Callable[[Path], None]) -> Iterator[Callable[..., AppTest]]:
    """open_app(page=None, root=None, **query) -> AppTest after its first run on that page."""

    def open_(page: str | None = None, root: Path | None = None, **query: str) -> AppTest:
        use_root(root or model_root)
        at = AppTest.from_file(APP, default_timeout=60)
        at.query_params.update(query)
        at.run()
        if page:
            at.query_params = dict(query, **({"model": at.query_params["model"]} if "model" not in query else {}))
            at.switch_page(page).run()
        return at

    yield open_


@pytest.fixture
def download(monkeypatch: pytest.MonkeyPatch) -> Callable[[AppTest, str], bytes]:
    """download(at, label): the bytes a person gets from the download button with that label in the latest
    run, the deferred ones (data given as a callable, made on click) included. AppTest keeps its media files
    in a manager of each run; this fixture keeps hold of them."""
    made: list[tuple[MediaFileManager, MemoryMediaFileStorage]] = []

    def keep(storage: MemoryMediaFileStorage) -> MediaFileManager:
        made.append((MediaFileManager(storage), storage))
        return made[-1][0]

    monkeypatch.setattr(app_test_module, "MediaFileManager", keep)

    def fetch(at: AppTest, label: str) -> bytes:
        [button] = [b.proto for b in at.get("download_button") if b.proto.label == label]
        manager, storage = made[-1]
        url = manager.execute_deferred(button.deferred_file_id) if button.deferred_file_id else button.url
        return storage.get_file(url.rsplit("/", 1)[-1]).content

    return fetch


@pytest.fixture
def dataframe_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog, also fed by Streamlit's dataframe logger (Streamlit's loggers do not propagate), which tells
    at INFO level when a table could not be serialized to Arrow as it was."""
    logger = logging.getLogger("streamlit.dataframe_util")
    level = logger.level
    logger.addHandler(caplog.handler)
    logger.setLevel(logging.INFO)
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)
        logger.setLevel(level)
@pytest.fixture(scope="session")
def own_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoints folder of models trained on folders of one's own: `digits` (no class subfolders,
    latent 2) and `tiles` (RGB at 32 px, three classes sorted into subfolders, latent 3)."""
    data = tmp_path_factory.mktemp("own-data")
    root = tmp_path_factory.mktemp("own-checkpoints")
    train_folder_model(root / "digits", digit_folder(data / "digits", 120), "--latent-dim", "2")
    tiles = digit_folder(data / "tiles", 120, classes=3, size=32, rgb=True)
    train_folder_model(root / "tiles", tiles, "--latent-dim", "3", "--size", "32", "--channels", "3")
    return root
