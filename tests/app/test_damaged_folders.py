"""Issue 14 in AppTest: damaged checkpoint folders beside a good one are listed on Home with their
reasons, and the good model still works on every page."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.app.app_helpers import assert_clean, image_urls
from tests.damaged import UNREADABLE_REASON, denied_paths, make_damaged
from vae.analysis.atlas import ATLAS_META, ATLAS_TENSORS

PAGES = ("pages/map.py", "pages/sliders.py", "pages/interpolate.py", "pages/sample.py")


@pytest.fixture(scope="module")
def damaged_root(model_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("damaged")
    good = Path(shutil.copytree(model_root / "tiny", root / "tiny"))
    reasons = make_damaged(root, good)
    shutil.copytree(good, root / "unreadable")
    return root, reasons


def errors_by_model(at) -> dict[str, str]:
    return {e.value.split("**")[1]: e.value for e in at.error if e.value.startswith("**")}


def test_damaged_folders_are_listed_with_their_reasons_and_the_good_model_works(
    open_app, damaged_root, monkeypatch, dataframe_log
) -> None:
    root, reasons = damaged_root
    with denied_paths(monkeypatch, root / "unreadable"):
        at = open_app(root=root)
        assert_clean(at)
        assert [o.split(" · ")[0] for o in at.selectbox(key="model").options] == ["tiny"]
        shown = errors_by_model(at)
        assert set(shown) == {*reasons, "unreadable"}
        for name, reason in {**reasons, "unreadable": UNREADABLE_REASON}.items():
            assert reason in shown[name], (name, shown[name])
        assert at.subheader[0].value == "Model card: tiny"
        for page in PAGES:
            at.switch_page(page).run()
            assert_clean(at)
            assert image_urls(at) or page == "pages/map.py", page
    assert "Serialization of dataframe to Arrow table was unsuccessful" not in dataframe_log.text


@pytest.mark.parametrize("name", ["train-list", "metrics-string", "class-names-number", "nan-weights"])
def test_a_link_to_a_damaged_model_falls_back_to_the_good_one(open_app, damaged_root, name: str) -> None:
    root, _ = damaged_root
    at = open_app(root=root, model=name)
    assert_clean(at)
    assert at.selectbox(key="model").value == "tiny"
    assert f"Ignored model='{name}'" in at.toast[0].value


def test_an_atlas_that_cannot_be_read_is_a_message_not_a_crash(open_app, model_root, tmp_path, monkeypatch) -> None:
    good = Path(shutil.copytree(model_root / "tiny", tmp_path / "tiny"))
    with denied_paths(monkeypatch, good, names=(ATLAS_META, ATLAS_TENSORS)):
        at = open_app("pages/map.py", root=tmp_path)
        assert_clean(at)
        assert any("cannot be read (Permission denied)" in e.value for e in at.error), [e.value for e in at.error]
