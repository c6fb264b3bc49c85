"""Latent map: every test image's latent mean projected to 2-D (the training images' too, with a switch, once
`python -m vae atlas CHECKPOINT --split all` has mapped them), on one map that runs in the browser. Pan and
zoom; hover a point to see its image beside its reconstruction, or between points to decode the place; click
to pin its code, which the Latent sliders page then starts from (st.session_state["z"], and the link); Box and
Lasso fill the selection panel below. Zoomed in, thumbnails replace the dots."""

from pathlib import Path

import plotly.graph_objects as go
import streamlit as st
import torch

from ui import atlas as atlases
from ui import entry, maps, models, scores, show, state
from ui.live.map import Backdrop, Colouring, MapResult, Sprite, by_value, live_map, sprite_sheet
from ui.live.runtime import atlas_spec, decoder_of
from vae.analysis import quality
from vae.analysis.atlas import Atlas
from vae.analysis.scores import percentile
from vae.datasets.imageset import ImageSet
from vae.networks.latent import decode, nearest_neighbours
from vae.store.checkpoint import Checkpoint

entry.through_app()

MAX_IN_URL = 200  # selections larger than this are not written into the link
MAX_SHOWN = 64  # images shown for a large selection
MAX_RINGED = 5000  # a larger selection is not sent back to the map, which rings the one it made itself
NEIGHBOURS = 8
KEPT = "kept"  # the colouring by latent neighbours kept on the map
SPLIT_NAMES = {"test": "Test images", "train": "Training images", "all": "Both"}
SHOWN_CODE = 32  # numbers of a pinned code written out (a spatial latent has hundreds)
POINT_NAMES = {"test": "Test image", "train": "Training image"}  # a point of each split, as the map names it


def on_map(done: MapResult) -> None:
    """Map callback: a clicked place and its code become the page's pin and the explorer's code; selected
    points become the page's selection."""
    if done.z is not None:
        st.session_state["pin"] = [round(v, 3) for v in done.xy]
        st.session_state["z"] = [round(v, 2) for v in done.z]
    if done.selected is not None:
        st.session_state["selected"] = done.selected


def label_name(names: list[str], label: int, short: bool = False) -> str:
    """A class's name ("7 - seven"), or its short form ("7") where space is tight."""
    name = names[label] if label < len(names) else str(label)
    return name.split(" - ")[0] if short else name


def point_name(atlas: Atlas, i: int, short: bool = False) -> str:
    """Point i by its split and its number there, as the map view names it: "Test image #3", "Training image
    #12"; short, "training #12" (just "#12" on an atlas of one split)."""
    split, index = atlas.source(i)
    if short:
        return f"{POINT_NAMES[split].split()[0].lower()} #{index}" if len(atlas.splits) > 1 else f"#{index}"
    return f"{POINT_NAMES[split]} #{index}"


def class_tag(names: list[str], label: int, short: bool = False) -> str:
    """" · " and the class's name for a caption; nothing for a dataset without classes (its images all
    carry label 0, which names no class)."""
    return f" · {label_name(names, label, short)}" if names else ""


def code_chart(mu: torch.Tensor, sigma: torch.Tensor | None) -> go.Figure:
    """The code as bars; a VAE's posterior spread as error bars (the deterministic members have none)."""
    dims = [f"z{d}" for d in range(len(mu))]
    if sigma is None:
        bar = go.Bar(x=dims, y=mu.tolist(), marker_color="#4f46e5", hovertemplate="%{x}: %{y:.2f}<extra></extra>")
    else:
        bar = go.Bar(
            x=dims, y=mu.tolist(), error_y={"type": "data", "array": sigma.tolist(), "thickness": 1.2},
            marker_color="#4f46e5", hovertemplate="%{x}: μ %{y:.2f} ± σ %{error_y.array:.2f}<extra></extra>",
        )
    fig = go.Figure(bar)
    title = "Latent mean μ ± σ" if sigma is not None else "Code (deterministic: no σ)"
    fig.update_layout(height=240, margin={"l": 10, "r": 10, "t": 30, "b": 10}, title=title, yaxis={"zeroline": True})
    return fig


def one_point(ckpt: Checkpoint, atlas: Atlas, data: ImageSet | None, i: int, names: list[str]) -> None:
    model = ckpt.model
    mu = atlas.mu[i]
    sigma = torch.exp(0.5 * atlas.logvar[i]) if model.posterior else None
    y = atlas.labels[i:i + 1]
    recon = decode(model, mu[None], y)[0]
    st.subheader(f"{point_name(atlas, i)}{class_tag(names, int(atlas.labels[i]))}")
    cols = st.columns([1, 1, 3])
    with cols[0]:
        if data is not None:
            show.image(data.floats(slice(i, i + 1))[0], "original", width=150)
    with cols[1]:
        show.image(recon, f"reconstruction (MSE {atlas.recon_error[i]:.4f})", width=150)
    cols[2].plotly_chart(code_chart(mu, sigma), key="code_chart")
    scored = {name: values for name, values in atlas.scores.items() if i < len(values)}  # the test images only
    if scored:
        st.caption("Anomaly scores (percentile in the test set): " + " · ".join(
            f"{scores.title(name)} {values[i]:.4g} ({percentile(values, float(values[i])):.0f})"
            for name, values in scored.items()))
    elif atlas.scores:
        st.caption("Anomaly scores are kept for the test images only.")
    idx, dist = nearest_neighbours(mu, atlas.mu, k=NEIGHBOURS + 1)
    keep = [(int(j), float(d)) for j, d in zip(idx[0], dist[0], strict=True) if int(j) != i][:NEIGHBOURS]
    st.markdown("**Nearest neighbours in latent space**")
    neighbours = torch.tensor([j for j, _ in keep])
    show.images(
        atlases.point_images(ckpt, atlas, data, neighbours),
        [f"{point_name(atlas, j, short=True)}{class_tag(names, int(atlas.labels[j]), short=True)} · d {d:.2f}"
         for j, d in keep], width=104,
    )
    left, right = st.columns(2)
    left.button("Open this code in the sliders", key="to_sliders", on_click=open_in_sliders, args=(mu.tolist(),),
                icon=":material/tune:")
    split, index = atlas.source(i)
    if split == "test":  # the Interpolate page picks test images
        right.button("Interpolate from this image", key="to_interpolate", on_click=open_in_interpolate,
                     args=(index,), icon=":material/linear_scale:")


def open_in_sliders(code: list[float]) -> None:
    st.session_state["z"] = [round(v, 2) for v in code]
    st.session_state["_switch_to"] = ("pages/sliders.py", {"z": st.session_state["z"]})


def open_in_interpolate(index: int) -> None:
    st.session_state.pop("a", None)
    st.session_state.pop("a_source", None)
    st.session_state["_switch_to"] = ("pages/interpolate.py", {"a_source": "Test image", "a": index})


def manifold_backdrop(ckpt: Checkpoint, atlas: Atlas) -> Backdrop:
    """The decoded manifold of a 2-D latent (ui.maps.manifold) as the live map's backdrop."""
    image = maps.manifold(maps.cache_key(ckpt, atlas), ckpt, atlas)
    x0, y1 = image["x"], image["y"]
    return Backdrop(image["source"], (x0, x0 + image["sizex"], y1 - image["sizey"], y1))


@st.cache_resource(max_entries=4, show_spinner="Cutting the thumbnails…")
def thumbnails(key: str, _data: ImageSet, n: int) -> Sprite | None:
    """The first n test images as one sprite sheet, made once per atlas (key) and test set."""
    return sprite_sheet(_data.images[:n])


def colouring_of(atlas: Atlas, projection: str, colour: str) -> Colouring | None:
    """The map's colouring: None for the classes, a score on the shared scale, or the neighbours kept."""
    if colour == "class":
        return None
    if colour == KEPT:
        title = f"Latent neighbours kept on the {maps.PROJECTION_NAMES[projection]} map (of {quality.K})"
        return by_value(atlas.kept[projection].float(), atlas, title, maps.SCORE_SCALE, (0, quality.K))
    values = atlas.scores[colour]  # on Both, the test images' (they come first): the training images are grey
    missing = "training images: no score" if len(values) < len(atlas) else None
    return by_value(values, atlas, scores.title(colour), maps.SCORE_SCALE, missing=missing)


def scores_note(ckpt: Checkpoint, atlas: Atlas) -> str:
    """What the Colour-by list says of the scores on this part of the map."""
    if "train" not in atlas.splits:
        return "" if atlas.scores else "This map has no scores yet: " + scores.add_scores_hint(ckpt)
    if atlas.scores:  # Both: the test part's
        return "Scores are stored for the test images only: on Both, the training images stay grey."
    return "Scores are stored for the test images only: pick Test images or Both to colour by them."


def the_map(ckpt: Checkpoint, atlas: Atlas, data: ImageSet | None, projection: str, names: list[str]) -> None:
    plane = projection == "latent"  # a 2-D latent shown as it is: a place is a code, no inverse map needed
    backdrop = manifold_backdrop(ckpt, atlas) if plane and not ckpt.model.conditional else None
    key = f"{maps.cache_key(ckpt, atlas)}:{atlas.meta['split']}:{len(atlas)}"
    sprite = thumbnails(key, data, len(atlas)) if data is not None else None
    chosen = st.session_state["selected"]
    live = live_map(decoder_of(ckpt), key="live_map", points=atlas_spec(atlas, projection, names),
                    colouring=colouring_of(atlas, projection, st.session_state["colour"]),
                    pinned=st.session_state["pin"], backdrop=backdrop, sprite=sprite,
                    selected=chosen if len(chosen) <= MAX_RINGED else None, on_commit=on_map,
                    parts=None if set(atlas.splits) == {"test"} else
                    [(POINT_NAMES[s], n) for s, n in atlas.splits.items()])
    if not live.available:
        st.caption(f"{live.error} Pick an image by its number to look at it:")
        st.number_input("Image #", 0, len(atlas) - 1, value=None, key="find_index", on_change=find_by_number)
    elif live.error:
        st.caption(live.error)
    if plane:
        st.caption("This model's latent space is a plane, shown as it is (no projection), over the images its "
                   "decoder makes at each place: the learned manifold.")
    if st.session_state["pin"] is not None:
        x, y = st.session_state["pin"]
        cols = st.columns([3, 1], vertical_alignment="center")
        z = st.session_state["z"]
        more = f", … ({len(z)} in all)" if len(z) > SHOWN_CODE else ""
        shown = ", ".join(f"{v:+.2f}" for v in z[:SHOWN_CODE]) + more
        cols[0].caption(f"Pinned at ({x:.2f}, {y:.2f}): z = {shown}")
        cols[1].button("Open the pin in the sliders", key="pin_to_sliders", icon=":material/tune:",
                       on_click=open_in_sliders, args=(st.session_state["z"],))


def find_by_number() -> None:
    found = st.session_state["find_index"]
    st.session_state["selected"] = [] if found is None else [found]


def trust_caption(atlas: Atlas, projection: str) -> str:
    """How far to trust this projection, from the atlas's stored trustworthiness (vae.analysis.quality)."""
    trust = (atlas.meta.get("trustworthiness") or {}).get(projection)
    if trust is None:
        return ("How far to trust this map is not measured for this atlas yet: `python -m vae atlas CHECKPOINT "
                "--quality-only` adds it.")
    others = " · ".join(f"{maps.PROJECTION_NAMES[p]} {t:.3f}" for p, t in atlas.meta["trustworthiness"].items()
                        if p != projection)
    return (f"Trustworthiness {trust:.3f} (1 = every map neighbour is a latent neighbour too; scikit-learn's, "
            f"k = {quality.K}, on {min(len(atlas), quality.SAMPLE):,} images){f'; {others}' if others else ''}. "
            f"Colour by *neighbours kept* to see where the map tears the latent space.")


def test_map(ckpt: Checkpoint, data: ImageSet | None) -> tuple[Atlas | None, ImageSet | None]:
    """The test images' map (built once when missing; None when it cannot be) and its images, None where they
    are not its points; says when it is stale or of other images, with a button to rebuild it."""
    atlas = atlases.get(ckpt, data)
    if atlas is None:
        return None, data
    if atlas.stale:
        cols = st.columns([4, 1])
        cols[0].warning("This map was built from earlier weights of this model (it has been retrained since).",
                        icon=":material/history:")
        if data is not None and cols[1].button("Rebuild the map", key="rebuild_atlas"):
            atlas = atlases.rebuild(ckpt, data)
    if data is not None and not atlases.describes(ckpt, atlas, data):
        cols = st.columns([4, 1])
        note = cols[0].empty()
        note.warning("This map was built from other test images (the dataset has changed since), so the images "
                     "shown are reconstructions of its points.", icon=":material/history:")
        if cols[1].button("Rebuild the map", key="rebuild_changed_atlas"):
            atlas = atlases.rebuild(ckpt, data)
            note.empty()
        else:
            data = None  # its images are not the map's points
    return atlas, data


def choose_split(ckpt: Checkpoint, data: ImageSet | None) -> tuple[Atlas | None, ImageSet | None]:
    """The test map as it is, or, when the checkpoint has an atlas of both splits, the part of it picked in the
    Images control (kept in the URL) with its images."""
    whole = atlases.whole(ckpt)
    folder = ckpt.folder.resolve()
    shown = folder.relative_to(Path.cwd()) if folder.is_relative_to(Path.cwd()) else folder
    build = f"`python -m vae atlas {shown} --split all`"
    if not isinstance(whole, Atlas):
        atlas, data = test_map(ckpt, data)
        if atlas is not None:
            st.caption((f"{whole} " if whole else "") + f"Only the {len(atlas):,} test images are on this map. "
                       f"{build} adds the training images (one UMAP of them all, minutes of work; see docs/map.md).")
        return atlas, data
    split = state.segmented_control(
        "Images", list(SPLIT_NAMES), key="split", format_func=SPLIT_NAMES.get,
        on_change=lambda: st.session_state.update(selected=[]),  # a point's number means another image
        help="The test images, the images the model was trained on, or both, all placed by one UMAP fit.")
    return atlases.part(ckpt, whole, split), split_images(ckpt, whole, split, build)


def split_images(ckpt: Checkpoint, whole: Atlas, split: str, build: str) -> ImageSet | None:
    """The images of the chosen part of an atlas of both splits, test images first; None (and why) when they
    are not available or not the map's."""
    parts = []
    for name in whole.splits if split == "all" else [split]:
        images = models.load_test_images(ckpt, name)
        if images is None:
            return None
        if not atlases.describes(ckpt, atlases.part(ckpt, whole, name), images):
            st.warning(f"The map of all images was built from other {name} images (the dataset has changed since): "
                       f"{build} builds it again. The images shown are reconstructions of its points.",
                       icon=":material/history:")
            return None
        parts.append((images, whole.splits[name]))
    return parts[0][0] if len(parts) == 1 else models.joined(parts)


def many_points(ckpt: Checkpoint, atlas: Atlas, data: ImageSet | None, chosen: list[int], names: list[str]) -> None:
    counts = torch.bincount(atlas.labels[chosen], minlength=len(names) or 1)
    summary = ", ".join(f"{label_name(names, c)}: {int(n)}" for c, n in enumerate(counts) if n)
    st.subheader(f"{len(chosen):,} points selected")
    by_class = f"By class: {summary}. " if names else ""
    st.caption(f"{by_class}Mean reconstruction MSE {atlas.recon_error[chosen].mean():.4f}.")
    shown = torch.tensor(chosen[:MAX_SHOWN])
    if len(chosen) > MAX_SHOWN:
        st.caption(f"Showing the first {MAX_SHOWN}.")
    show.image_grid(atlases.point_images(ckpt, atlas, data, shown), ncol=16, tile=56)


ckpt = models.require_model()
st.title("Latent map")
atlas, data = choose_split(ckpt, models.load_test_images(ckpt))
if atlas is None:
    st.stop()
names = models.class_names(ckpt)
projections = atlas.projections
state.bind("projection", projections[0], state.choice(projections))
state.bind("selected", [], state.integers(0, len(atlas) - 1, MAX_IN_URL))
state.bind("pin", None, state.numbers(2, -1e6, 1e6))
if state.bind_code("z", ckpt.model.latent_dim, 1e3):
    st.session_state["pin"] = None  # the pin's code was another model's
colourings = ["class", *atlas.scores, *([KEPT] if atlas.kept else [])]
state.bind("colour", "class", state.choice(colourings))
controls = st.columns([2, 2], vertical_alignment="bottom")
controls[0].segmented_control(
    "Projection", projections, key="projection", format_func=maps.PROJECTION_NAMES.get, required=True,
    on_change=lambda: st.session_state.update(pin=None),  # a pin is a place in one projection
    help="UMAP keeps neighbourhoods; PCA is linear, so distances along its axes mean the same everywhere.",
)
projection = st.session_state["projection"]
colour = st.session_state["colour"]
if colour not in colourings or (colour == KEPT and projection not in atlas.kept):  # another split's, projection's
    st.session_state["colour"] = "class"
controls[1].selectbox(
    "Colour by", colourings, key="colour",
    format_func=lambda c: "Class" if c == "class" else "Neighbours kept" if c == KEPT else scores.title(c),
    help="The class, an anomaly score stored with the map (brighter is more unusual; see the Anomalies page), "
    "or how many of each image's 10 nearest latent neighbours stay its neighbours on the map (dark: torn apart). "
    + scores_note(ckpt, atlas),
)
counted = " and ".join(f"{n:,} {'test' if s == 'test' else 'training'}" for s, n in atlas.splits.items())
st.caption(f"{counted} images, each placed by its latent mean. " + trust_caption(atlas, projection))
the_map(ckpt, atlas, data, projection, names)
chosen = [i for i in st.session_state["selected"] if 0 <= i < len(atlas)]
if len(chosen) == 1:
    one_point(ckpt, atlas, data, chosen[0], names)
elif chosen:
    many_points(ckpt, atlas, data, chosen, names)
else:
    st.caption("Nothing selected yet: click a point, or pick Box or Lasso above the map and drag.")
pinned = st.session_state["pin"]
state.publish({
    "projection": projection,
    "colour": st.session_state["colour"],
    "selected": chosen if len(chosen) <= MAX_IN_URL else None,
    "pin": pinned,
    "z": st.session_state["z"] if pinned is not None else None,
})
if "_switch_to" in st.session_state:
    state.switch_page(*st.session_state.pop("_switch_to"))
