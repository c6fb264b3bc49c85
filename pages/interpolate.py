"""Interpolate: the path through latent space between two images, as a strip, a scrubber,
a line on the latent map, and downloads (animated GIF, PNG strip).

The scrubber decodes in the browser as it moves (the live decoder, along a finely sampled path);
on release the nearest step comes back here and the map marks it. Where the browser cannot decode,
a server slider over the strip's steps and its image stand in."""

import streamlit as st
import torch
from torch import Tensor

from ui import atlas as atlases
from ui import drawing, entry, maps, models, pickers, show, state, uploads
from ui.live.path import live_path
from ui.live.runtime import decoder_of
from vae.analysis.atlas import Atlas, AtlasError
from vae.datasets.images import gif_bytes, grid, png_bytes
from vae.datasets.imageset import ImageSet
from vae.networks.latent import decode, interpolate
from vae.store.checkpoint import Checkpoint

entry.through_app()

SOURCES = ("Test image", "Upload", "Drawing")  # a drawing comes from the Draw page, in the link
METHODS = ("linear", "spherical")
MAX_STEPS = 24
STRIP_WIDTH = 1150  # pixels the strip may take
LIVE_CODES = 64  # codes along the path the browser scrubs through (a spherical path bends between steps)


def first_index(side: str, data: ImageSet, labelled: bool) -> int:
    """A's default is the first test image; B's the first of another class (a folder sorted by class would
    otherwise start with two images of one class), or the second image."""
    if side == "a" or len(data) < 2:
        return 0
    others = torch.nonzero(data.labels != data.labels[0]).flatten() if labelled else torch.tensor([], dtype=torch.long)
    return int(others[0]) if len(others) else 1


def endpoint(
    side: str, ckpt: Checkpoint, data: ImageSet | None, names: list[str]
) -> tuple[Tensor | None, str, int | None]:
    """One end of the path: a test image (by index or a random one of a class), an upload or a drawing;
    returns the image, its caption and its label (None for an upload or a drawing)."""
    shape = ckpt.model.image_shape
    state.bind(f"{side}_drawing", None, drawing.parser(shape))
    drawn = st.session_state[f"{side}_drawing"]
    sources = [s for s in SOURCES if s != "Drawing" or drawn]
    source = pickers.image_source(f"Source of {side.upper()}", sources, f"{side}_source", data,
                                  label_visibility="collapsed")
    if source == "Upload":
        return uploads.upload(ckpt, data, f"{side}_upload", f"Image {side.upper()}"), "your upload", None
    if source == "Drawing":
        st.caption("Drawn on the Draw page, as the model sees it.")
        return drawing.image(drawn, shape), "your drawing", None
    labelled = bool(names)
    index_col, class_col, button_col = st.columns([1.1, 1.3, 1.1], vertical_alignment="bottom")
    state.number_input(f"Test image {side.upper()}", 0, len(data) - 1, side, first_index(side, data, labelled),
                       index_col)
    pickers.random_class(f"{side}_class", data, names, class_col)
    button_col.button("Random", key=f"{side}_random", on_click=pickers.random_of_class,
                      args=(side, f"{side}_class", data), icon=":material/casino:", width="stretch",
                      help="A random test image of the class beside." if labelled else "A random test image.")
    i = st.session_state[side]
    label = int(data.labels[i])
    caption = f"#{i}" + (f" · {pickers.class_name(names, label)}" if labelled else "")
    return data.floats(slice(i, i + 1))[0], caption, label


def publish() -> None:
    """The drawn widgets' values, and those bound before they are drawn (a drawing, the step, the map)."""
    state.publish({k: st.session_state.get(k) for k in ("a_drawing", "b_drawing", "step", "projection")})


def scrubber(ckpt: Checkpoint, ends: Tensor, frames: Tensor, method: str, y: Tensor | None) -> int:
    """The step (from 0) the user scrubbed to: live in the browser, else a server slider and its image."""
    steps = len(frames)
    state.bind("step", 1, state.integer(1, MAX_STEPS))
    step = min(st.session_state["step"], steps)
    live = live_path(
        decoder_of(ckpt), key="live_path", path=interpolate(ends[0], ends[1], LIVE_CODES, method).tolist(),
        t=(step - 1) / (steps - 1), label=None if y is None else int(y[0]),
        on_commit=lambda done: st.session_state.update(step=round(done.t * (steps - 1)) + 1),
    )
    if live.available:
        st.caption(f"Drag along the path from A to B; on release the map marks the nearest of the {steps} steps.")
    else:
        st.caption(live.error)
        # One slider per path length: a slider cannot change its range and keep its value.
        step = st.slider("Step", 1, steps, value=step, key=f"scrub{steps}", help="Scrub along the path.")
        show.image(frames[step - 1], f"step {step} of {steps} · t = {(step - 1) / (steps - 1):.2f}", width=240)
    st.session_state["step"] = step
    return step - 1


def stored_atlas(ckpt: Checkpoint) -> Atlas | None:
    """The model's latent map if it has one (this page never builds it)."""
    try:
        return atlases.stored(ckpt)
    except AtlasError:
        return None


def path_on_map(ckpt: Checkpoint, atlas: Atlas | None, path: Tensor, current: int) -> None:
    """The path drawn over the latent map, placed by the atlas (exactly for PCA)."""
    if atlas is None:
        st.caption("The latent map of this model is not built yet; open the Latent map page once to see the path here.")
        return
    st.segmented_control("Map", atlas.projections, key="projection", format_func=maps.PROJECTION_NAMES.get,
                         required=True, label_visibility="collapsed")
    projection = st.session_state["projection"]
    base = maps.backdrop(maps.cache_key(ckpt, atlas), atlas, projection)
    st.plotly_chart(maps.with_path(base, atlas.project(path, projection), current), key="path_map",
                    config={"displaylogo": False, "scrollZoom": True})
    note = "exact (PCA is linear)" if projection == "pca" else "placed by the nearest test images' positions"
    st.caption(f"Each step's code on the {maps.PROJECTION_NAMES[projection]} map: {note}.")


ckpt = models.require_model()
model = ckpt.model
data = models.load_test_images(ckpt)
names = models.class_names(ckpt)
atlas = stored_atlas(ckpt)
st.title("Interpolate")
st.caption("Pick two images; their latent means are joined by a path, and every step along it is decoded.")
# Bound now, though drawn further down, so that a link's values survive a run that stops early.
state.bind("step", 1, state.integer(1, MAX_STEPS))
if atlas is not None:
    state.bind("projection", atlas.projections[0], state.choice(atlas.projections))
with st.expander("Upload options", icon=":material/upload:"):
    uploads.options(ckpt, data)
ends = st.columns(2, gap="large")
inputs, captions, labels = [], [], []
for column, side in zip(ends, ("a", "b"), strict=True):
    with column:
        x, caption, label = endpoint(side, ckpt, data, names)
        inputs.append(x)
        captions.append(caption)
        labels.append(label)

# the code is interpolated; the class the decoder is given stays fixed
label = pickers.model_class(ckpt, "Class the path is decoded as", "Uploads are also encoded as this class.",
                            default=labels[0] or 0)
y = None if label is None else torch.tensor([label])
labels = [label if end is None else end for end in labels]

settings = st.columns([2, 1, 2])
state.slider("Steps", 2, MAX_STEPS, "steps", 10, settings[0], help="Images on the path, both ends included.")
state.segmented_control("Path", METHODS, "method", where=settings[1], format_func=str.capitalize,
                        help="Spherical (slerp) keeps the codes at a typical distance from the origin, "
                        "where the prior puts its mass.")

codes = []  # each end's latent mean, encoded as its own class, shown beside its reconstruction
for column, x, caption, label in zip(ends, inputs, captions, labels, strict=True):
    if x is None:
        continue
    own = None if y is None else torch.tensor([label])
    with torch.no_grad():
        mu, _ = model.encode(x[None], own)
    codes.append(mu[0])
    with column:
        show.images(torch.stack([x, decode(model, mu, own)[0]]), [caption, "reconstruction"], width=120)
if len(codes) < 2:
    st.info("Choose both images to see the path (upload one, or switch its source to a test image).")
    publish()
    st.stop()

steps, method = st.session_state["steps"], st.session_state["method"]
path = interpolate(codes[0], codes[1], steps, method)
frames = decode(model, path, None if y is None else y.repeat(steps))

st.markdown(f"**{steps} steps, {method}**")
show.image_grid(frames, ncol=steps, tile=min(84, STRIP_WIDTH // steps))
left, right = st.columns([2, 3], gap="large")
with left:
    k = scrubber(ckpt, torch.stack(codes), frames, method, y)
    downloads = st.columns(2)
    downloads[0].download_button("Animated GIF", gif_bytes(frames, scale=6), "interpolation.gif", "image/gif",
                                 key="download_gif", icon=":material/download:", width="stretch")
    downloads[1].download_button("PNG strip", png_bytes(grid(frames, ncol=steps, scale=4)), "interpolation.png",
                                 "image/png", key="download_png", icon=":material/download:", width="stretch")
with right:
    path_on_map(ckpt, atlas, path, k)

publish()
