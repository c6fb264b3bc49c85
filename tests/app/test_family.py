"""The VAE family in the app: every member on every page, the Compare page, the 2-D latent plane, the anomaly
scores each kind has, the Sample page's ZIP and the Repair page with each member."""

from __future__ import annotations

import base64
import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.app.app_helpers import ATLAS_SUBSET, assert_clean, live_data, make_checkpoint
from ui import metrics
from vae.analysis.atlas import build_atlas, save_atlas
from vae.analysis.scores import fit_reference, save_reference, unavailable
from vae.datasets.data import load_dataset
from vae.datasets.generate import MANIFEST
from vae.networks.classifier import Classifier, Instrument
from vae.networks.config import ModelConfig
from vae.store.checkpoint import load_checkpoint
from vae.training.evaluate import evaluate

COMPARE = "pages/compare.py"
ANOMALIES = "pages/anomalies.py"
REPAIR = "pages/repair.py"
FAMILY = {
    "tiny-vae": ModelConfig(arch="conv", latent_dim=4, hidden=4),
    "tiny-ae": ModelConfig(arch="conv", latent_dim=4, hidden=4, objective="ae"),
    "tiny-wae": ModelConfig(arch="conv", latent_dim=4, hidden=4, objective="wae", mmd_weight=10.0),
    "tiny-beta4": ModelConfig(arch="conv", latent_dim=4, hidden=4, beta=4.0),
    "tiny-cvae": ModelConfig(arch="mlp", latent_dim=3, hidden=32, num_classes=10),
    "tiny-2d": ModelConfig(arch="mlp", latent_dim=2, hidden=32),
}
PAGES = ["pages/home.py", "pages/map.py", "pages/sliders.py", "pages/interpolate.py", "pages/sample.py", COMPARE,
         ANOMALIES, "pages/draw.py", REPAIR]


@pytest.fixture(scope="module")
def family_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny model of each kind, briefly trained on its own objective, evaluated, with a scored PCA atlas."""
    root = tmp_path_factory.mktemp("family")
    data = load_dataset("mnist", "test").subset(ATLAS_SUBSET)
    train = load_dataset("mnist", "train").subset(500)
    instrument = Instrument(root, Classifier().eval(), {})
    for seed, (name, cfg) in enumerate(FAMILY.items()):
        make_checkpoint(root / name, cfg, seed=seed, train_steps=60)
        ckpt = load_checkpoint(root / name)
        evaluate(ckpt, data.subset(100), k=5, instrument=instrument)
        reference = fit_reference(ckpt.model, train)
        save_reference(ckpt.folder, reference)
        save_atlas(ckpt.folder, build_atlas(load_checkpoint(root / name), data, use_umap=False, scores=True,
                                            reference=reference, nll_k=2))
    return root


def opened(open_app, family_root: Path, page: str, **query: str) -> AppTest:
    at = open_app(page, root=family_root, **query)
    assert_clean(at)
    return at


@pytest.mark.parametrize("name", list(FAMILY))
@pytest.mark.parametrize("page", PAGES)
def test_every_member_opens_every_page(open_app, family_root: Path, name: str, page: str) -> None:
    opened(open_app, family_root, page, model=name)


def test_the_model_card_says_what_an_autoencoder_does_not_have(open_app, family_root: Path) -> None:
    at = opened(open_app, family_root, "pages/home.py", model="tiny-ae")
    shown = {m.label: m.value for m in at.metric}
    assert shown["Kind"] == "AE" and shown["NLL (nats)"] == "not defined"
    assert shown["Rate, KL (nats)"] == "not defined" and shown["Distortion (nats)"] != "–"
    nll = next(m for m in at.metric if m.label == "NLL (nats)")
    assert "no distribution q(z|x)" in nll.proto.help
    assert any("no KL or MMD to plot" in c.value for c in at.caption)


@pytest.mark.parametrize("name", ["tiny-ae", "tiny-wae"])
def test_a_deterministic_model_has_only_the_scores_that_need_no_posterior(open_app, family_root: Path,
                                                                          name: str) -> None:
    at = opened(open_app, family_root, ANOMALIES, model=name)
    assert at.segmented_control(key="score").options == ["Reconstruction error", "Distance to training codes",
                                                          "Unusual statistics"]
    assert any(c.value.startswith("No −ELBO, −log p(x), Complexity-corrected likelihood here")
               and "no posterior q(z|x)" in c.value for c in at.caption)
    atlas_meta = json.loads((family_root / name / "atlas.json").read_text())
    assert atlas_meta["scores_left_out"] == unavailable(load_checkpoint(family_root / name).model.cfg)


def test_a_wae_plots_its_mmd(open_app, family_root: Path) -> None:
    at = opened(open_app, family_root, "pages/home.py", model="tiny-wae")
    assert next(m for m in at.metric if m.label == "Kind").value == "WAE (λ = 10)"


def test_sampling_an_autoencoder_says_why_it_fails(open_app, family_root: Path) -> None:
    at = opened(open_app, family_root, "pages/sample.py", model="tiny-ae")
    assert any("nothing in its training makes its codes look like N(0, I)" in w.value for w in at.warning)
    assert not opened(open_app, family_root, "pages/sample.py", model="tiny-vae").warning


def test_a_conditional_model_shows_the_same_style_in_every_class(open_app, family_root: Path) -> None:
    at = opened(open_app, family_root, "pages/sample.py", model="tiny-cvae")
    assert any(h.value == "Same style, every class" for h in at.subheader)
    before = [i.value for i in at.image]
    at.button(key="style_resample").click().run()
    assert_clean(at)
    assert [i.value for i in at.image] != before and "style_seed" in at.query_params


def test_compare_shows_the_chosen_models_side_by_side(open_app, family_root: Path) -> None:
    at = opened(open_app, family_root, COMPARE, models="tiny-vae,tiny-ae,tiny-beta4")
    assert at.multiselect(key="models").value == ["tiny-vae", "tiny-ae", "tiny-beta4"]
    [table] = at.dataframe
    assert list(table.value.index) == ["tiny-vae", "tiny-ae", "tiny-beta4"]
    assert table.value.loc["tiny-ae", "NLL (nats)"] != table.value.loc["tiny-ae", "NLL (nats)"]  # NaN: not defined
    [chart] = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]  # both panels in one chart
    titles = [a["text"] for a in chart["layout"]["annotations"]]
    assert titles[:2] == ["Rate against distortion", "KL per latent dimension, largest first"]
    assert len(at.image) == 4  # reconstructions, samples, interpolation, and the three maps in one picture
    maps = Image.open(io.BytesIO(base64.b64decode(at.image[3].value[0].split(",", 1)[1])))
    assert maps.width == 3 * 360 + 2 * 15 and maps.height > 360  # three maps in a row, titled below
    assert at.query_params["models"] == "tiny-vae,tiny-ae,tiny-beta4"


def test_compare_names_the_models_without_a_map(open_app, family_root: Path, tmp_path: Path) -> None:
    shutil.copytree(family_root, tmp_path / "root")
    for name in ("atlas.json", "atlas.safetensors"):
        (tmp_path / "root" / "tiny-ae" / name).unlink()
    at = opened(open_app, tmp_path / "root", COMPARE, models="tiny-vae,tiny-ae")
    assert any("No latent map yet for tiny-ae" in c.value for c in at.caption)
    assert len(at.image) == 4  # the one map there is still shown


def test_compare_starts_with_the_sidebar_model_and_two_that_fit(open_app, family_root: Path) -> None:
    """Without the shipped family at hand: the sidebar's model and two others of its shape, slots left free."""
    at = opened(open_app, family_root, COMPARE, model="tiny-cvae")
    chosen = at.multiselect(key="models").value
    assert chosen[0] == "tiny-cvae" and len(chosen) == 3 and set(chosen) <= set(FAMILY)


def test_compare_keeps_its_inputs_in_the_link(open_app, family_root: Path) -> None:
    at = opened(open_app, family_root, COMPARE, models="tiny-vae,tiny-cvae", seed="7", a="3", b="9")
    assert at.number_input(key="seed").value == 7 and at.number_input(key="a").value == 3
    first = [i.value for i in at.image]
    at.button(key="other_inputs").click().run()
    assert_clean(at)
    assert at.image[0].value != first[0] and at.query_params["inputs"] != "0"


def test_compare_needs_two_models_and_ignores_unknown_ones(open_app, family_root: Path) -> None:
    at = opened(open_app, family_root, COMPARE, models="tiny-vae,../../etc/passwd")
    assert any("Ignored models=" in t.value for t in at.toast)
    at.multiselect(key="models").set_value(["tiny-vae"]).run()
    assert_clean(at)
    assert any("at least two" in i.value for i in at.info)


def test_compare_never_marks_a_conditional_likelihood_best_against_unconditional_ones(open_app, family_root) -> None:
    at = opened(open_app, family_root, COMPARE, models="tiny-vae,tiny-beta4,tiny-cvae")
    said = " ".join(m.value for m in at.markdown)
    assert "**tiny-cvae**, NLL (nats): given its label" in said
    styles = at.dataframe[0].proto.arrow_data.styler.styles
    nll = 1 + [m.label for m in metrics.METRICS].index("NLL (nats)") + 1  # after Kind and Latent, 0-based
    assert f"row2_col{nll}" not in styles and ("row0_col" + str(nll) in styles or f"row1_col{nll}" in styles)


@pytest.mark.parametrize("name", list(FAMILY))
def test_every_member_downloads_its_samples_as_a_dataset(open_app, download, family_root: Path, tmp_path: Path,
                                                         name: str) -> None:
    at = opened(open_app, family_root, "pages/sample.py", model=name, n="16", per_class="2")
    zipfile.ZipFile(io.BytesIO(download(at, "Download ZIP"))).extractall(tmp_path)
    back = [load_dataset(f"folder:{tmp_path}", split) for split in ("train", "test")]
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    if FAMILY[name].conditional:
        assert len(back[0].class_names) == 10 and manifest["total"] == 20
        assert sorted(torch.cat([b.labels for b in back]).bincount().tolist()) == [2] * 10
    else:
        assert back[0].class_names == [] and manifest["total"] == 16
    assert sum(len(b) for b in back) == manifest["total"]


@pytest.mark.parametrize("name", list(FAMILY))
@pytest.mark.parametrize("kind", ["box", "noise", "salt_pepper"])
def test_every_member_repairs(open_app, family_root: Path, name: str, kind: str) -> None:
    at = opened(open_app, family_root, REPAIR, model=name, kind=kind, index="7")
    titles = [m.value.strip("*") for m in at.markdown if m.value.startswith("**")]
    assert titles[:3] == ["Original", "Corrupted", "Reconstruction"] and ("Inpainting" in titles) == (kind != "noise")
    assert sum(":green[" in m.value for m in at.markdown if "PSNR" in m.value) == 1
    if FAMILY[name].conditional:  # the test image's label goes to the model; an upload asks for one
        at.segmented_control(key="source").set_value("Upload").run()
        assert_clean(at)
        assert at.selectbox(key="label").value == 0


SCORES = [("tiny-vae", "neg_elbo"), ("tiny-cvae", "neg_elbo"), ("tiny-ae", "recon_error"), ("tiny-wae", "recon_error")]


@pytest.mark.parametrize(("name", "kind"), SCORES)
def test_the_pad_scores_by_the_elbo_only_where_the_model_has_one(open_app, family_root: Path, name: str,
                                                                  kind: str) -> None:
    at = opened(open_app, family_root, "pages/draw.py", model=name)
    score = live_data(at, "pad")["score"]
    assert score["kind"] == kind
    if kind == "recon_error":
        assert "no ELBO" in score["note"] and "ELBO" not in score["title"]


def test_the_live_map_of_a_2d_latent_is_the_plane_over_its_manifold(open_app, family_root: Path) -> None:
    at = opened(open_app, family_root, "pages/map.py", model="tiny-2d")
    assert at.segmented_control(key="projection").value == "latent"
    data = live_data(at, "live_map")
    assert set(data["resources"]) == {"decoder", "map", "picture", "sprite"}
    x0, x1, y0, y1 = data["extent"]
    assert x0 < x1 and y0 < y1 and x1 - x0 >= 6  # at least ±3, as the plotly map's backdrop
    specs = {spec["format"]: spec for spec in live_data(at, "live_map-runtime")["specs"]}
    assert specs["latent-explorer-map/1"]["kind"] == "latent_plane"
    assert specs["latent-explorer-map/1"]["placement"] == {"rule": "identity"}
    assert specs["latent-explorer-picture/1"]["url"].startswith("data:image/png;base64,")
    assert any("latent space is a plane" in c.value for c in at.caption)
    at.segmented_control(key="projection").set_value("pca").run()
    assert set(live_data(at, "live_map")["resources"]) == {"decoder", "map", "sprite"}  # a projection: no backdrop
