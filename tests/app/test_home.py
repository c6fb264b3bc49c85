"""Home and the model picker: discovery, broken checkpoints, extra folders, URL fallback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.app.app_helpers import assert_clean, make_checkpoint
from vae.datasets.imageset import MissingDataError
from vae.networks.config import ModelConfig
from vae.store.checkpoint import update_meta


def model_options(at) -> list[str]:
    return [o.split(" · ")[0] for o in at.selectbox(key="model").options]


def test_lists_working_models_and_broken_ones_with_reasons(open_app) -> None:
    at = open_app()
    assert_clean(at)
    assert at.title[0].value == "Latent Explorer"
    assert model_options(at) == ["tiny", "tiny-cond"]
    assert at.subheader[0].value == "Model card: tiny"
    errors = " ".join(e.value for e in at.error)
    assert "no-model" in errors and "has no 'model' section" in errors
    assert "wrong-shape" in errors and "does not match" in errors
    assert at.query_params["model"] == "tiny"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Latent size"] == "4" and metrics["Dataset"] == "mnist" and metrics["Epochs"] == "3"
    assert at.expander[0].label == "How it was trained" and at.code[0].value == "python -m vae train --tiny"


def test_picking_a_model_updates_the_card_and_the_link(open_app) -> None:
    at = open_app()
    at.selectbox(key="model").set_value("tiny-cond").run()
    assert_clean(at)
    assert at.subheader[0].value == "Model card: tiny-cond"
    assert any("Conditional" in c.value for c in at.caption)
    assert at.query_params["model"] == "tiny-cond"


def test_a_link_picks_the_model(open_app) -> None:
    at = open_app(model="tiny-cond")
    assert at.selectbox(key="model").value == "tiny-cond" and not at.toast


def test_hostile_model_names_fall_back_with_a_notice(open_app) -> None:
    for hostile in ("../../etc", "/etc/passwd", "tiny/../../x", "no-model"):
        at = open_app(model=hostile)
        assert_clean(at)
        assert at.selectbox(key="model").value == "tiny"
        assert "Ignored model=" in at.toast[0].value


def test_extra_folders_from_the_environment_and_the_command_line(open_app, tmp_path: Path, monkeypatch) -> None:
    make_checkpoint(tmp_path / "env-models" / "from-env", ModelConfig(arch="mlp", latent_dim=2, hidden=8))
    single = make_checkpoint(tmp_path / "from-cli", ModelConfig(arch="mlp", latent_dim=2, hidden=8))
    monkeypatch.setattr(sys, "argv", ["streamlit", "--checkpoints", str(single)])
    at = open_app()
    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(tmp_path / "env-models"))
    at.run()
    assert model_options(at) == ["tiny", "tiny-cond", "from-env", "from-cli"]


def test_a_missing_extra_folder_is_listed_as_broken(open_app, tmp_path: Path, monkeypatch) -> None:
    at = open_app()
    monkeypatch.setenv("LATENT_EXPLORER_CHECKPOINTS", str(tmp_path / "nowhere"))
    at.run()
    assert_clean(at)
    assert any("does not exist" in e.value for e in at.error)


def test_without_any_model_every_page_says_what_to_do(open_app, tmp_path: Path) -> None:
    at = open_app(root=tmp_path)
    assert_clean(at)
    assert any("python -m vae train" in i.value for i in at.info)
    for page in ("pages/map.py", "pages/sliders.py", "pages/interpolate.py", "pages/sample.py"):
        at.switch_page(page).run()
        assert_clean(at)
        assert any("No model to explore yet" in i.value for i in at.info)


def test_without_the_test_images_the_pages_still_work(open_app, monkeypatch, tmp_path: Path) -> None:
    import ui.models

    def missing(meta, root=None, near=None, split="test"):
        raise MissingDataError("mnist is not in the data root (a test stand-in)")

    monkeypatch.setattr(ui.models, "load_test_set", missing)
    monkeypatch.setenv("LATENT_EXPLORER_DATA", str(tmp_path))  # a new cache key: nothing cached applies
    at = open_app()
    assert_clean(at)
    assert any("not available" in w.value for w in at.warning)
    for page in ("pages/map.py", "pages/sliders.py", "pages/interpolate.py", "pages/sample.py", "pages/repair.py"):
        at.switch_page(page).run()
        assert_clean(at)
        assert at.title[0].value != "Latent Explorer"
    assert [i.value for i in at.info] == ["Upload an image to repair."]  # no test images to switch to
    at = open_app("pages/map.py", selected="2")
    assert_clean(at)
    assert at.subheader[0].value.startswith("Test image #2")  # shown by its reconstruction and neighbours'
    assert len(at.image) >= 2


def test_a_fine_tuned_iwae_model_shows_its_whole_recipe_and_both_losses(open_app, tmp_path: Path) -> None:
    folder = make_checkpoint(tmp_path / "iwae", ModelConfig(arch="mlp", latent_dim=2, hidden=8))
    elbo = {"checkpoint": "runs/elbo", "command": "python -m vae train --epochs 30", "train": {"epochs": 30}}
    init = {"checkpoint": "runs/iwae", "command": "python -m vae train --init runs/elbo", "train": {"epochs": 22},
            "init": elbo}
    meta = update_meta(folder, init=init, command="python -m vae train --init runs/iwae --iwae-k 5",
                       train={"iwae_k": 5, "epochs": 3})
    update_meta(folder, history=[{**h, "test_iwae_loss": h["test_loss"] - 2} for h in meta["history"]])
    at = open_app(root=tmp_path)
    assert_clean(at)
    epochs = next(m for m in at.metric if m.label == "Epochs")
    assert epochs.value == "30 + 22 + 3" and "trained 52 epochs before" in epochs.proto.help
    assert at.code[0].value.splitlines() == [
        "python -m vae train --epochs 30", "python -m vae train --init runs/elbo",
        "python -m vae train --init runs/iwae --iwae-k 5",
    ]
    loss_chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [t["name"] for t in loss_chart["data"]] == ["train -L_5", "test -L_5", "test ELBO"]


def test_the_checkpoint_table_has_one_type_per_column(open_app, dataframe_log) -> None:
    """Mixed types in a column made Streamlit log a pyarrow traceback on every run of Home."""
    at = open_app()
    assert_clean(at)
    table = at.dataframe[0].value
    assert list(table["Model"]) == ["no-model", "tiny", "tiny-cond", "wrong-shape"]
    assert table["Latent size"].tolist()[1:3] == [4, 3] and table["Latent size"].isna().tolist() == [
        True, False, False, True]
    for column in table.columns:
        assert len({type(v) for v in table[column] if v is not None and v == v}) <= 1, column
    assert "Serialization of dataframe to Arrow table was unsuccessful" not in dataframe_log.text


def test_metrics_that_are_null_show_as_a_dash(open_app, tmp_path: Path) -> None:
    """The schema lets a metric be null (not measured, or not defined for the kind of model): the card says so."""
    folder = make_checkpoint(tmp_path / "partial", ModelConfig(arch="mlp", latent_dim=2, hidden=8))
    update_meta(folder, metrics={"nll_binarized": None, "continuous_test_loss": None, "active_units": None,
                                 "recon_mse": 0.01})
    at = open_app(root=tmp_path)
    assert_clean(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["NLL (nats)"] == "–" and metrics["Test loss (nats)"] == "–"
    assert metrics["Active units"] == "–" and metrics["Recon. MSE"] == "0.0100"
