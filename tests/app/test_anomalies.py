"""The Anomalies page with an unconditional, a conditional and a deterministic (ae) tiny model: the ranked
galleries, the threshold, an upload's score and percentile, the stored ROC curves, state in the link, and an
atlas without scores; and the latent map coloured by a stored score."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from tests.app.app_helpers import ATLAS_SUBSET, assert_clean, image_urls, live_data, make_checkpoint
from tests.app.test_interpolate import drawing
from ui.maps import PALETTE
from ui.scores import title
from vae.__main__ import main
from vae.analysis.atlas import build_atlas, load_atlas, save_atlas
from vae.analysis.scores import fit_reference, save_reference
from vae.datasets.data import load_dataset
from vae.networks.config import ModelConfig
from vae.store.checkpoint import load_checkpoint

ANOMALIES = "pages/anomalies.py"
MAP = "pages/map.py"
MODELS = {
    "tiny": ModelConfig(arch="conv", latent_dim=4, hidden=4),
    "tiny-cond": ModelConfig(arch="mlp", latent_dim=3, hidden=32, num_classes=10),
    "tiny-ae": ModelConfig(arch="mlp", latent_dim=3, hidden=32, objective="ae"),
}


@pytest.fixture(scope="module")
def scored_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three tiny models with scored PCA atlases (the first with stored benchmarks), and one without scores."""
    root = tmp_path_factory.mktemp("scored")
    test = load_dataset("mnist", "test").subset(ATLAS_SUBSET)
    train = load_dataset("mnist", "train").subset(1000)
    for name, cfg in {**MODELS, "unscored": MODELS["tiny"]}.items():
        ckpt = load_checkpoint(make_checkpoint(root / name, cfg, train_steps=150))
        if name == "unscored":
            save_atlas(ckpt.folder, build_atlas(ckpt, test, use_umap=False))
            continue
        reference = fit_reference(ckpt.model, train)
        save_reference(ckpt.folder, reference)
        save_atlas(ckpt.folder, build_atlas(ckpt, test, use_umap=False, scores=True, reference=reference, nll_k=4))
    assert main(["ood", str(root / "tiny"), "--against", "invert", "hflip", "--subset", "60", "--k", "2"]) == 0
    return root


def display_titles(folder: Path) -> list[str]:
    """The titles of the scores stored in a checkpoint's atlas, as the page shows them."""
    return [title(n) for n in load_atlas(folder).scores]


def table_with(at, column: str, not_: str | None = None):
    """The first table on the page with this column (and without `not_`), as a pandas DataFrame."""
    return next(t.value for t in at.dataframe if column in t.value.columns and not_ not in t.value.columns)


def gallery_captions(at) -> list[str]:
    return [c for element in at.image for c in element.captions if c.startswith("#")]


@pytest.mark.parametrize("model", list(MODELS))
def test_the_page_ranks_the_test_set_by_each_score_the_model_has(open_app, scored_root: Path, model: str) -> None:
    at = open_app(ANOMALIES, root=scored_root, model=model)
    assert_clean(at)
    assert at.title[0].value == "Anomalies"
    control = at.segmented_control(key="score")
    atlas = load_atlas(scored_root / model)
    assert control.options == display_titles(scored_root / model) and control.value == "stats"
    captions = gallery_captions(at)
    assert len(captions) == 2 * 12  # the most unusual and the most typical
    values = atlas.scores["stats"]
    top = int(torch.argmax(values))
    assert captions[0].startswith(f"#{top} ")  # the most unusual first
    assert any("Higher is more unusual" in c.value for c in at.caption)
    if model == "tiny-ae":
        assert any("No −ELBO, −log p(x), Complexity-corrected likelihood here" in c.value and "no posterior" in c.value
                   for c in at.caption)
    if model == "tiny-cond":
        assert any("conditional" in c.value and "fits best" in c.value for c in at.caption)
    for score in atlas.scores:
        at.segmented_control(key="score").set_value(score).run()
        assert_clean(at)
        assert gallery_captions(at)[0].startswith(f"#{int(torch.argmax(atlas.scores[score]))} ")


def test_moving_the_threshold_changes_the_count(open_app, scored_root: Path) -> None:
    at = open_app(ANOMALIES, root=scored_root, model="tiny", score="recon")
    assert_clean(at)
    values = load_atlas(scored_root / "tiny").scores["recon"]
    flagged = next(m for m in at.metric if m.label == "Flagged")
    assert flagged.value == f"{int((values > torch.quantile(values, 0.99)).sum()):,}"  # about 1 % to start with
    threshold = float(torch.quantile(values, 0.5))
    at.slider(key="threshold").set_value(threshold).run()
    assert_clean(at)
    flagged = next(m for m in at.metric if m.label == "Flagged")
    assert flagged.value == f"{int((values > threshold).sum()):,}"
    share = next(m for m in at.metric if m.label == "Share of the test set")
    assert share.value == f"{100 * int((values > threshold).sum()) / len(values):.2f} %"
    assert at.query_params["threshold"] == f"{threshold:.4g}" and at.query_params["score"] == "recon"
    at.segmented_control(key="score").set_value("knn").run()  # another score: the threshold starts afresh
    assert_clean(at)
    knn = load_atlas(scored_root / "tiny").scores["knn"]
    assert at.slider(key="threshold").value == pytest.approx(float(torch.quantile(knn, 0.99)), rel=1e-5)


def test_a_link_restores_score_threshold_and_gallery_size(open_app, scored_root: Path) -> None:
    at = open_app(ANOMALIES, root=scored_root, model="tiny", score="neg_elbo", threshold="1e9", shown="6")
    assert_clean(at)
    assert at.segmented_control(key="score").value == "neg_elbo"
    assert len(gallery_captions(at)) == 12
    assert next(m for m in at.metric if m.label == "Flagged").value == "0"  # beyond every score: moved to the top
    at = open_app(ANOMALIES, root=scored_root, model="tiny-ae", score="nll", shown="7")  # no nll for an ae
    assert_clean(at)
    notices = " ".join(t.value for t in at.toast)
    assert "score" in notices and "shown" in notices
    assert at.segmented_control(key="score").value == "stats"


def test_a_threshold_that_is_not_a_number_says_so(open_app, scored_root: Path) -> None:
    at = open_app(ANOMALIES, root=scored_root, model="tiny", score="recon", threshold="NaN")
    assert_clean(at)
    notice = next(t.value for t in at.toast if "threshold" in t.value)
    assert "not a number" in notice and "inf" not in notice


@pytest.mark.parametrize("model", list(MODELS))
def test_an_upload_gets_its_scores_percentile_and_place(open_app, scored_root: Path, model: str) -> None:
    at = open_app(ANOMALIES, root=scored_root, model=model)
    at.file_uploader(key="anomaly_upload").set_value(("bar.png", drawing("bar"), "image/png")).run()
    assert_clean(at)
    percentile = next(m for m in at.metric if m.label == "Percentile in the test set")
    assert 0 <= float(percentile.value) <= 100
    assert any(c == "your image · its reconstruction" for element in at.image for c in element.captions)
    table = table_with(at, "percentile in the test set")
    assert list(table["score"]) == display_titles(scored_root / model)
    own_map = [c for c in at.get("plotly_chart") if "your image" in c.proto.spec]
    assert len(own_map) == 1
    assert any(m.value in (":red[**Flagged**]: above the threshold.", ":green[**Not flagged**]: at or below the "
                           "threshold.") for m in at.markdown)


def test_an_upload_without_a_score_fit_is_scored_on_what_needs_none(open_app, scored_root: Path, tmp_path) -> None:
    root = tmp_path / "root"
    shutil.copytree(scored_root / "tiny", root / "tiny")
    (root / "tiny" / "scores.safetensors").unlink()
    at = open_app(ANOMALIES, root=root, model="tiny", score="knn")
    at.file_uploader(key="anomaly_upload").set_value(("ring.png", drawing("ring"), "image/png")).run()
    assert_clean(at)
    assert any("no score fit" in c.value and "python -m vae atlas" in c.value for c in at.caption)
    assert "knn" not in " ".join(table_with(at, "percentile in the test set")["score"]).lower()
    assert not any(m.label == "Percentile in the test set" for m in at.metric)  # knn needs the fit


def test_stored_benchmarks_draw_roc_curves_for_the_chosen_score(open_app, scored_root: Path) -> None:
    at = open_app(ANOMALIES, root=scored_root, model="tiny", score="neg_elbo")
    assert_clean(at)
    roc = next(c for c in at.get("plotly_chart") if "chance" in c.proto.spec)
    names = [t["name"] for t in json.loads(roc.proto.spec)["data"]]
    ood = load_checkpoint(scored_root / "tiny").meta["ood"]
    assert names == ["chance", f"inverted · AUROC {ood['invert']['scores']['neg_elbo']['auroc']:.4f}",
                     f"flipped left–right · AUROC {ood['hflip']['scores']['neg_elbo']['auroc']:.4f}"]
    table = table_with(at, "score", not_="percentile in the test set")
    assert list(table.columns) == ["score", "inverted", "flipped left–right"] and len(table) == 6
    assert any(c.value.startswith(f"Measured by `{ood['invert']['command']}` ({ood['invert']['date']})")
               for c in at.caption)
    at = open_app(ANOMALIES, root=scored_root, model="tiny-ae")
    assert any("No benchmarks stored yet" in c.value and "python -m vae ood" in c.value for c in at.caption)


def test_an_atlas_without_scores_says_how_to_add_them(open_app, scored_root: Path) -> None:
    at = open_app(ANOMALIES, root=scored_root, model="unscored")
    assert_clean(at)
    assert any("no anomaly scores yet" in i.value and "python -m vae atlas" in i.value for i in at.info)
    assert not image_urls(at)
    at = open_app(MAP, root=scored_root, model="unscored")
    assert_clean(at)
    assert at.selectbox(key="colour").options == ["Class", "Neighbours kept"]  # no scores; the map's own measure


def test_the_map_colours_points_by_a_stored_score(open_app, scored_root: Path) -> None:
    at = open_app(MAP, root=scored_root, model="tiny", colour="knn", selected="3")
    assert_clean(at)
    colouring = live_data(at, "live_map")["colouring"]  # on a colour scale, titled by the score
    assert colouring["kind"] == "scale" and colouring["stops"]
    assert colouring["title"].startswith("Distance to training codes")
    assert at.query_params["colour"] == "knn"
    assert any("Anomaly scores (percentile in the test set)" in c.value for c in at.caption)
    at.selectbox(key="colour").set_value("class").run()
    assert_clean(at)
    colouring = live_data(at, "live_map")["colouring"]
    assert colouring["kind"] == "classes" and colouring["palette"] == PALETTE  # one palette, by class
