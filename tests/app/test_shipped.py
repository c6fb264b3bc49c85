"""A smoke test of every page against the shipped checkpoints, when they are there (read-only:
the map page is opened only where an atlas exists, so nothing is built into checkpoints/)."""

from __future__ import annotations

import json

import pytest

from tests.app.app_helpers import ROOT, assert_clean, image_urls
from vae.analysis.atlas import ATLAS_META
from vae.analysis.scores import available, unavailable
from vae.store.checkpoint import CheckpointError, load_checkpoint, weights_sha256

SHIPPED = ROOT / "checkpoints"


def shipped() -> list[str]:
    names = []
    for folder in sorted(SHIPPED.glob("*/")):
        try:
            load_checkpoint(folder)
        except CheckpointError:
            continue
        names.append(folder.name)
    return names


@pytest.mark.skipif(not shipped(), reason="no shipped checkpoint yet")
@pytest.mark.parametrize("name", shipped())
def test_every_page_opens_on_a_shipped_checkpoint(open_app, name: str) -> None:
    at = open_app(root=SHIPPED, model=name)
    assert_clean(at)
    assert at.subheader[0].value == f"Model card: {name}"
    pages = ["pages/sliders.py", "pages/interpolate.py", "pages/sample.py", "pages/compare.py", "pages/repair.py"]
    if (SHIPPED / name / ATLAS_META).is_file():  # pages that would otherwise build an atlas into checkpoints/
        pages += ["pages/map.py", "pages/anomalies.py", "pages/draw.py"]
    for page in pages:
        at.switch_page(page).run()
        assert_clean(at)
        drawn_in_browser = page in ("pages/map.py", "pages/draw.py")
        assert image_urls(at) or drawn_in_browser or any("no anomaly scores" in i.value for i in at.info)


@pytest.mark.parametrize("name", [n for n in shipped() if (SHIPPED / n / ATLAS_META).is_file()])
def test_every_shipped_atlas_has_its_images_hash_and_the_scores_its_kind_has(name: str) -> None:
    meta = json.loads((SHIPPED / name / ATLAS_META).read_text())
    cfg = load_checkpoint(SHIPPED / name).model.cfg
    assert len(meta["images_sha256"]) == 64 and meta["weights_sha256"] == weights_sha256(SHIPPED / name)
    assert list(meta["scores"]) == available(cfg) and meta.get("scores_left_out", {}) == unavailable(cfg)
    assert meta["projections"][0] == ("latent" if cfg.latent_dim == 2 else "umap")


def test_the_shipped_checkpoints_stay_under_50_mb() -> None:
    assert sum(f.stat().st_size for f in SHIPPED.rglob("*") if f.is_file()) < 50_000_000


@pytest.mark.skipif(not {"mnist-vae", "mnist-2d", "fashion-mnist"} <= set(shipped()), reason="needs the shipped family")
@pytest.mark.parametrize("name", ["mnist-2d", "fashion-mnist"])
def test_compare_starts_with_the_sidebar_model_and_leaves_a_slot_free(open_app, name: str) -> None:
    """Issue 22: the family filled all six slots, so one's own model could not be added without removing one."""
    at = open_app("pages/compare.py", root=SHIPPED, model=name)
    assert_clean(at)
    chosen = at.multiselect(key="models").value
    family = [m for m in ("mnist-vae", "mnist-ae", "mnist-beta4", "mnist-cvae", "mnist-wae", "mnist-2d") if m != name]
    assert chosen == [name, *family][:5]
    assert len(chosen) < at.multiselect(key="models").proto.max_selections
