"""The page fixture of the browser tests whose module-scoped `app` yields (url, browser) and that name a
SHOTS folder: a watched page (screenshot, no exception box, no page error), one per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.helpers import watched_page


@pytest.fixture
def page(app: tuple[str, Browser], request: pytest.FixtureRequest) -> Iterator[Page]:
    url, browser = app
    with watched_page(browser, url, request.module.SHOTS / f"{request.node.name}.png") as page:
        yield page
