"""Latent map: every test image's latent mean projected to 2-D. Two tabs: select points to look closer
(a plotly scatter), or hover to decode any place in the browser and click to pin its code, which the
Latent sliders page then starts from (st.session_state["z"], and the link)."""

import plotly.graph_objects as go
import streamlit as st
import torch

from ui import atlas as atlases
from ui import entry, maps, models, scores, show, state
from ui.live.map import Backdrop, MapResult, live_map
from ui.live.runtime import atlas_spec, decoder_of
from vae.atlas import Atlas
from vae.checkpoint import Checkpoint
from vae.imageset import ImageSet
from vae.latent import decode, nearest_neighbours
from vae.scores import percentile

entry.through_app()

MAX_IN_URL = 200  # selections larger than this are not written into the link
MAX_SHOWN = 64  # images shown for a large selection
NEIGHBOURS = 8


def remember_selection() -> None:
    """Chart callback: the points the user picked become the page's selection."""
    st.session_state["selected"] = maps.selected_indices(st.session_state["map_chart"].get("selection"))


def pin(done: MapResult) -> None:
    """Live map callback: the clicked place and its code become the page's pin and the explorer's code."""
    st.session_state["pin"] = [round(v, 3) for v in done.xy]
    st.session_state["z"] = [round(v, 2) for v in done.z]


def label_name(names: list[str], label: int, short: bool = False) -> str:
    """A class's name ("7 - seven"), or its short form ("7") where space is tight."""
    name = names[label] if label < len(names) else str(label)
    return name.split(" - ")[0] if short else name


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
    st.subheader(f"Test image #{i}{class_tag(names, int(atlas.labels[i]))}")
    cols = st.columns([1, 1, 3])
    with cols[0]:
        if data is not None:
            show.image(data.floats(slice(i, i + 1))[0], "original", width=150)
    with cols[1]:
        show.image(recon, f"reconstruction (MSE {atlas.recon_error[i]:.4f})", width=150)
    cols[2].plotly_chart(code_chart(mu, sigma), key="code_chart")
    if atlas.scores:
        st.caption("Anomaly scores (percentile in the test set): " + " · ".join(
            f"{scores.title(name)} {values[i]:.4g} ({percentile(values, float(values[i])):.0f})"
            for name, values in atlas.scores.items()))
    idx, dist = nearest_neighbours(mu, atlas.mu, k=NEIGHBOURS + 1)
    keep = [(int(j), float(d)) for j, d in zip(idx[0], dist[0], strict=True) if int(j) != i][:NEIGHBOURS]
    st.markdown("**Nearest neighbours in latent space**")
    neighbours = torch.tensor([j for j, _ in keep])
    show.images(
        atlases.point_images(ckpt, atlas, data, neighbours),
        [f"#{j}{class_tag(names, int(atlas.labels[j]), short=True)} · d {d:.2f}" for j, d in keep], width=104,
    )
    left, right = st.columns(2)
    left.button("Open this code in the sliders", key="to_sliders", on_click=open_in_sliders, args=(mu.tolist(),),
                icon=":material/tune:")
    right.button("Interpolate from this image", key="to_interpolate", on_click=open_in_interpolate, args=(i,),
                 icon=":material/linear_scale:")


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


def hover_to_decode(ckpt: Checkpoint, atlas: Atlas, projection: str, names: list[str]) -> None:
    hint = st.empty()  # above the map, though what it says depends on whether the map could be drawn
    plane = projection == "latent"  # a 2-D latent shown as it is: a place is a code, no inverse map needed
    backdrop = manifold_backdrop(ckpt, atlas) if plane and not ckpt.model.conditional else None
    live = live_map(decoder_of(ckpt), key="live_map", points=atlas_spec(atlas, projection, names),
                    pinned=st.session_state["pin"], backdrop=backdrop, on_commit=pin)
    if not live.available:
        hint.caption(f"{live.error} Hovering needs it; select points on the other tab instead.")
        return
    where = ("the code is the place itself (this latent space is a plane, drawn over its decoded manifold)"
             if plane else "the image is decoded from the code at that place, between points too")
    hint.caption(f"Move the pointer over the map: {where}, with how far the nearest test image is. Click to pin the "
                 "place; its code goes to the Latent sliders page and into the link.")
    if st.session_state["pin"] is not None:
        x, y = st.session_state["pin"]
        cols = st.columns([3, 1], vertical_alignment="center")
        cols[0].caption(f"Pinned at ({x:.2f}, {y:.2f}): z = {', '.join(f'{v:+.2f}' for v in st.session_state['z'])}")
        cols[1].button("Open the pin in the sliders", key="pin_to_sliders", icon=":material/tune:",
                       on_click=open_in_sliders, args=(st.session_state["z"],))


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
data = models.load_test_images(ckpt)
st.title("Latent map")
atlas = atlases.get(ckpt, data)
if atlas is None:
    st.stop()
names = models.class_names(ckpt)
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

projections = atlas.projections
state.bind("projection", projections[0], state.choice(projections))
state.bind("selected", [], state.integers(0, len(atlas) - 1, MAX_IN_URL))
state.bind("pin", None, state.numbers(2, -1e6, 1e6))
if state.bind_code("z", ckpt.model.latent_dim, 1e3):
    st.session_state["pin"] = None  # the pin's code was another model's
colourings = ["class", *atlas.scores]
state.bind("colour", "class", state.choice(colourings))
st.segmented_control(
    "Projection", projections, key="projection", format_func=maps.PROJECTION_NAMES.get, required=True,
    on_change=lambda: st.session_state.update(pin=None),  # a pin is a place in one projection
    help="UMAP keeps neighbourhoods; PCA is linear, so distances along its axes mean the same everywhere.",
)
select_tab, hover_tab = st.tabs(["Select points", "Hover to decode"])
with select_tab:
    caption, control = st.columns([3, 1], vertical_alignment="bottom")
    control.selectbox(
        "Colour by", colourings, key="colour", format_func=lambda c: "Class" if c == "class" else scores.title(c),
        help="The class, or an anomaly score stored with the map (brighter is more unusual; see the Anomalies page)."
        + ("" if atlas.scores else " This map has no scores yet: " + scores.add_scores_hint(ckpt)),
    )
    colour = st.session_state["colour"]
    caption.caption(
        f"{len(atlas):,} test images, each placed by its latent mean. Click a point, or pick the box or lasso tool "
        "in the chart's toolbar to select many."
        + (" Click a class in the legend to hide it (double-click to isolate it)." * bool(names) if colour == "class"
           else f" Coloured by {scores.title(colour)}; the scale spans the middle 98 % of the scores.")
    )
    fig = maps.figure(maps.cache_key(ckpt, atlas), atlas, st.session_state["projection"], tuple(names),
                      score=None if colour == "class" else colour, score_title=scores.title(colour))
    if st.session_state["projection"] == "latent" and not ckpt.model.conditional:
        fig = maps.with_manifold(fig, maps.manifold(maps.cache_key(ckpt, atlas), ckpt, atlas))
        st.caption("This model's latent space is a plane, shown as it is (no projection), over the images its "
                   "decoder makes at each place: the learned manifold.")
    st.plotly_chart(fig, key="map_chart", on_select=remember_selection, selection_mode=("points", "box", "lasso"),
                    config={"scrollZoom": True, "displaylogo": False})
    chosen = [i for i in st.session_state["selected"] if 0 <= i < len(atlas)]
    if len(chosen) == 1:
        one_point(ckpt, atlas, data, chosen[0], names)
    elif chosen:
        many_points(ckpt, atlas, data, chosen, names)
    else:
        st.caption("Nothing selected yet.")
with hover_tab:
    hover_to_decode(ckpt, atlas, st.session_state["projection"], names)
pinned = st.session_state["pin"]
state.publish({
    "projection": st.session_state["projection"],
    "colour": st.session_state["colour"],
    "selected": chosen if len(chosen) <= MAX_IN_URL else None,
    "pin": pinned,
    "z": st.session_state["z"] if pinned is not None else None,
})
if "_switch_to" in st.session_state:
    state.switch_page(*st.session_state.pop("_switch_to"))
