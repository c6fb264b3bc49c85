"""Issue 14 in real Chromium: with damaged checkpoint folders beside the good ones, every page opens
without an exception and Home lists each damaged folder with its reason.

The app runs as root without CAP_DAC_OVERRIDE (setpriv), so that the folder made unreadable by
chmod is unreadable to it, as it would be to any user who is not root. Screenshots:
test-artifacts/damaged/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.browser.helpers import (
    ROOT,
    browser_marks,
    chromium,
    screenshot_all,
    streamlit_server,
    wait_for_app,
)
from tests.damaged import UNREADABLE, UNREADABLE_REASON, deny, make_damaged
from vae.analysis.atlas import ATLAS_META

SHIPPED = ROOT / "checkpoints" / "mnist"
CAN_DROP_PRIVILEGES = os.geteuid() == 0 and shutil.which("setpriv") is not None
pytestmark = browser_marks(SHIPPED / ATLAS_META)
PAGES = ["", "map", "sliders", "interpolate", "sample"]
SHOTS = ROOT / "test-artifacts" / "damaged"
WAIT = 120_000


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Page, dict[str, str]]]:
    root = tmp_path_factory.mktemp("damaged")
    good = Path(shutil.copytree(ROOT / "checkpoints" / "fashion-mnist", root / "fashion-copy"))
    reasons = make_damaged(root, good)
    prefix: tuple[str, ...] = ()
    if CAN_DROP_PRIVILEGES:
        deny(root, good)
        reasons[UNREADABLE] = UNREADABLE_REASON
        prefix = ("setpriv", "--bounding-set=-dac_override,-dac_read_search")
    env = {"LATENT_EXPLORER_CHECKPOINTS": str(root), "LATENT_EXPLORER_ATLAS_UMAP": "0",
           "LATENT_EXPLORER_NO_BROWSER_DECODER": "1"}
    try:
        with streamlit_server("app.py", env=env, timeout=120, prefix=prefix) as url, chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(WAIT)
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            yield url, page, reasons
            assert not errors, errors
    finally:
        (root / UNREADABLE).chmod(0o755) if (root / UNREADABLE).exists() else None  # so pytest can remove it


def open_page(page: Page, url: str, path: str) -> None:
    page.goto(f"{url}/{path}?model=mnist")
    page.locator("h1").first.wait_for(timeout=WAIT)
    wait_for_app(page, timeout=WAIT)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_opens_beside_damaged_folders(damaged, path: str) -> None:
    url, page, reasons = damaged
    open_page(page, url, path)
    SHOTS.mkdir(parents=True, exist_ok=True)
    screenshot_all(page, SHOTS / f"{path or 'home'}.png")
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "Something went wrong" not in page.inner_text("body")
    sidebar = page.inner_text('[data-testid="stSidebar"]')
    assert f"{len(reasons)} broken checkpoint folders" in sidebar
    if not path:  # Home lists each damaged folder with its reason, and the good models' card
        alerts = [a.inner_text() for a in page.locator('[data-testid="stAlert"]').all()]
        for name, reason in reasons.items():
            assert any(f"{name} is broken" in a and reason in a for a in alerts), (name, alerts)
        assert page.locator("h3", has_text="Model card: mnist").count() == 1
