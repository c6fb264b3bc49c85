"""Issue 10's page logic: buttons that move between pages keep the model, a code of another length never
reaches a page, and models of one's own folders (no classes, RGB, class-sorted, data gone) work and read right."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.app.app_helpers import assert_clean, image_urls, live_data
from vae.__main__ import main
from vae.analysis.atlas import load_atlas
from vae.datasets.data import load_dataset
from vae.networks.latent import encode_dataset
from vae.store.checkpoint import load_checkpoint, read_meta, update_meta

MAP, SLIDERS, INTERPOLATE = "pages/map.py", "pages/sliders.py", "pages/interpolate.py"


def map_spec(at) -> dict:
    """The points handed to the in-browser map (AppTest runs no JavaScript)."""
    return next(s for s in live_data(at, "live_map-runtime")["specs"] if s["format"] == "latent-explorer-map/1")


def test_open_in_sliders_keeps_the_model_picked(open_app, model_root: Path) -> None:
    """tiny-cond (latent 3) is not the default model (tiny, latent 4): the code must reach tiny-cond."""
    at = open_app(MAP, model="tiny-cond", selected="7")
    assert not at.warning  # a map of the first 400 test images describes the test set
    at.button(key="to_sliders").click().run()
    assert_clean(at)
    assert at.title[0].value == "Latent sliders" and at.session_state["model"] == "tiny-cond"
    assert at.query_params["model"] == "tiny-cond"
    ckpt = load_checkpoint(model_root / "tiny-cond")
    data = load_dataset("mnist", "test").subset(8)
    mu, _ = encode_dataset(ckpt.model, data)
    assert live_data(at, "live_sliders")["z"] == [round(v, 2) for v in mu[7].tolist()]


def test_interpolate_from_this_image_keeps_the_model_picked(open_app) -> None:
    at = open_app(MAP, model="tiny-cond", selected="7")
    at.button(key="to_interpolate").click().run()
    assert_clean(at)
    assert at.title[0].value == "Interpolate" and at.session_state["model"] == "tiny-cond"
    assert at.number_input(key="a").value == 7 and at.query_params["a"] == "7"


def test_the_pin_goes_to_the_sliders_of_the_same_model(open_app) -> None:
    at = open_app(MAP, model="tiny-cond", pin="0.5,-1", z="1,2,3")
    at.button(key="pin_to_sliders").click().run()
    assert_clean(at)
    assert at.title[0].value == "Latent sliders" and at.session_state["model"] == "tiny-cond"
    assert live_data(at, "live_sliders")["z"] == [1, 2, 3]


def test_a_code_of_another_length_never_reaches_a_page(open_app) -> None:
    for page in (SLIDERS, MAP):
        at = open_app(page)  # tiny: latent 4
        at.session_state["z"] = [0.5] * 7  # as another model's page would have left it
        at.session_state["pin"] = [0.1, 0.2]
        at.run()
        assert_clean(at)
        assert at.session_state["z"] == [0.0] * 4
        assert any("7 numbers" in t.value for t in at.toast)
    assert live_data(at, "live_map")["pinned"] is None  # the pin went with its code


def test_interpolate_works_for_a_folder_without_classes(open_app, own_root: Path) -> None:
    at = open_app(INTERPOLATE, root=own_root, model="digits")
    assert_clean(at)
    assert not [s for s in at.selectbox if s.key in ("a_class", "b_class")]
    picked = set()
    for _ in range(5):  # a random test image, any of them
        at.button(key="a_random").click().run()
        assert_clean(at)
        picked.add(at.number_input(key="a").value)
    assert len(picked) > 1
    captions = [c for element in at.image for c in element.captions]
    assert captions and not [c for c in captions if " · " in c and c.startswith("#")]


def test_an_unlabelled_map_makes_up_no_class(open_app, own_root: Path) -> None:
    at = open_app(MAP, root=own_root, model="digits")
    assert_clean(at)
    assert not at.warning
    assert map_spec(at)["class_names"] == []  # no legend, and no class named in the readout
    at = open_app(MAP, root=own_root, model="digits", selected="3")
    assert at.subheader[0].value == "Test image #3"
    captions = [c for element in at.image for c in element.captions]
    assert any(c.startswith("#") and " · d " in c for c in captions)
    assert not [c for c in captions if "· 0 ·" in c]
    at = open_app(MAP, root=own_root, model="digits", selected="1,2,3")
    assert_clean(at)
    assert at.subheader[0].value == "3 points selected"
    assert not [c for c in at.caption if "By class" in c.value]


def test_a_labelled_folder_map_keeps_its_classes(open_app, own_root: Path) -> None:
    at = open_app(MAP, root=own_root, model="tiles", selected="1,2,3,4,5,6")
    assert_clean(at)
    assert map_spec(at)["class_names"] == ["class0", "class1", "class2"]
    assert any("By class: class" in c.value for c in at.caption)


def test_interpolate_starts_from_two_classes_of_a_class_sorted_folder(open_app, own_root: Path) -> None:
    at = open_app(INTERPOLATE, root=own_root, model="tiles")
    assert_clean(at)
    data = load_dataset(read_meta(own_root / "tiles")["dataset"], "test", size=32, channels=3)
    a, b = at.number_input(key="a").value, at.number_input(key="b").value
    assert data.labels[a] != data.labels[b]


def with_dataset(root: Path, tmp_path: Path, dataset: str) -> Path:
    """A copy of the `digits` checkpoint whose config names this dataset."""
    folder = Path(shutil.copytree(root / "digits", tmp_path / "checkpoints" / "digits"))
    update_meta(folder, dataset=dataset)
    return folder.parent


def test_home_says_when_the_data_is_missing(open_app, own_root: Path, tmp_path: Path) -> None:
    root = with_dataset(own_root, tmp_path, f"folder:{tmp_path / 'moved-away'}")
    at = open_app(root=root, model="digits")
    assert_clean(at)
    [row] = at.dataframe[0].value.to_dict("records")
    assert row["Status"] == "data missing"
    assert any("moved-away does not exist" in w.value for w in at.warning)
    dataset = next(m for m in at.metric if m.label == "Dataset")
    assert dataset.proto.delta == "images missing"


def test_an_old_relative_folder_is_still_found(open_app, own_root: Path, tmp_path: Path) -> None:
    """A checkpoint made before paths were stored absolute, lying near its data: found, shown as ok."""
    data = Path(read_meta(own_root / "digits")["dataset"].removeprefix("folder:"))
    shutil.copytree(data, tmp_path / "my-data" / "digits")
    root = with_dataset(own_root, tmp_path, "folder:my-data/digits")
    at = open_app(root=root, model="digits")
    assert_clean(at)
    assert at.dataframe[0].value.to_dict("records")[0]["Status"] == "ok"
    assert not at.warning and len(image_urls(at)) >= 2


def test_the_model_card_and_picker_name_a_folder_by_its_name(open_app, own_root: Path) -> None:
    at = open_app(root=own_root, model="tiles")
    assert_clean(at)
    path = read_meta(own_root / "tiles")["dataset"].removeprefix("folder:")
    dataset = next(m for m in at.metric if m.label == "Dataset")
    assert dataset.value == "tiles" and path in dataset.proto.help
    labels = at.selectbox[0].options
    assert labels and not [o for o in labels if path in o]
    assert "tiles · mlp, z=3" in labels


def test_the_loss_chart_shows_its_only_epoch_inside_the_axes(open_app, own_root: Path) -> None:
    at = open_app(root=own_root, model="digits")
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    low, high = chart["layout"]["yaxis"]["range"]
    values = [v for trace in chart["data"] for v in trace["y"]]
    assert len(values) == 2 and all(low < v < high for v in values)


def test_a_map_of_a_folder_that_changed_since_shows_no_wrong_images(open_app, own_root: Path, tmp_path: Path) -> None:
    """Files added to (or removed from) the folder after the map was built: its points are other images now."""
    data = Path(read_meta(own_root / "digits")["dataset"].removeprefix("folder:"))
    folder = Path(shutil.copytree(data, tmp_path / "digits"))
    root = with_dataset(own_root, tmp_path, f"folder:{folder}")
    for path in sorted(folder.iterdir())[::2]:
        path.unlink()  # half the images gone: the map has more points than the test set has images
    last = str(len(load_atlas(root / "digits")) - 1)
    at = open_app(MAP, root=root, model="digits", selected=last)
    assert_clean(at)
    assert any("other test images" in w.value for w in at.warning)
    at.button(key="rebuild_changed_atlas").click().run()
    assert_clean(at)
    assert not [w for w in at.warning if "other test images" in w.value]


def test_every_page_draws_for_an_unlabelled_folder_with_scores(open_app, own_root: Path, tmp_path: Path) -> None:
    root = Path(shutil.copytree(own_root, tmp_path / "checkpoints"))
    assert main(["atlas", str(root / "digits"), "--no-umap", "--subset", "60", "--k", "2"]) == 0
    for page in ("pages/anomalies.py", "pages/draw.py", "pages/repair.py", "pages/sample.py", "pages/compare.py"):
        at = open_app(page, root=root, model="digits")
        assert_clean(at)
    at = open_app("pages/anomalies.py", root=root, model="digits")
    captions = [c for element in at.image for c in element.captions]
    assert captions and all(c.startswith("#") and c.count(" · ") == 1 for c in captions)  # index and score only
    at.switch_page("pages/draw.py").run()  # from a page whose upload has a "fit" radio
    assert_clean(at)


def test_the_model_card_shows_the_recorded_class_order(open_app, own_root: Path, tmp_path: Path) -> None:
    at = open_app(root=own_root, model="tiles")
    assert any(c.value == "Classes in label order (0 to 2): class0, class1, class2." for c in at.caption)
    folder = Path(shutil.copytree(own_root / "tiles", tmp_path / "checkpoints" / "tiles"))
    update_meta(folder, class_names=["1", "10", "2"])  # an older checkpoint's alphabetical order stays its own
    at = open_app(root=folder.parent, model="tiles")
    assert_clean(at)
    assert any(c.value == "Classes in label order (0 to 2): 1, 10, 2." for c in at.caption)


def test_compress_without_the_test_images_offers_an_upload(open_app, own_root: Path, tmp_path: Path) -> None:
    """The walk's data-gone model: the Compress page crashed taking a test image it did not have."""
    root = with_dataset(own_root, tmp_path, f"folder:{tmp_path / 'moved-away'}")
    at = open_app("pages/compress.py", root=root, model="digits")
    assert_clean(at)
    assert at.segmented_control(key="source").options == ["Upload"]
    assert any("Upload an image to compress." in i.value for i in at.info)
