"""Latent sliders: one slider per latent dimension, the most informative (highest KL) first.

The code lives in st.session_state["z"] (and the URL). The sliders run the decoder in the browser, so
the image follows a drag; on release the code comes back here and the traversal grid follows. Where
the browser cannot decode, one st.slider `z{d}` per entry and a server-decoded image stand in.
For a labelled dataset, "Add a direction" adds the difference of two classes' mean codes
(vae.networks.latent.attribute_vector), times a slider of its own, to the code: the image shown is z + s·d.
"""

import random

import streamlit as st
import torch

from ui import atlas as atlases
from ui import entry, models, pickers, show, state
from ui.live.runtime import decoder_of
from ui.live.sliders import Direction, SlidersResult, live_sliders
from vae.networks.latent import attribute_vector, decode, sample_prior, traverse
from vae.networks.model import VAE
from vae.store.checkpoint import Checkpoint

entry.through_app()

LIMIT = 4.0  # slider range: ±4 prior standard deviations
STEP = 0.05
TRAVERSAL = torch.linspace(-3.0, 3.0, 7)
MAX_TRAVERSED = 16  # rows of the traversal grid (the dimensions with most KL)
DIRECTION_BOUNDS = (-2.0, 2.0)  # 1 moves the code by the whole difference between the two class means


def set_code(values: list[float]) -> None:
    """Callback: move the code, and so every slider, to these values."""
    st.session_state["z"] = [round(min(LIMIT, max(-LIMIT, float(v))), 2) for v in values]
    for d in range(len(values)):
        st.session_state.pop(f"z{d}", None)  # the server sliders, if drawn, start again from the code


def from_test_image(ckpt, data) -> None:
    """Callback: start from the latent mean of the chosen test image."""
    i = st.session_state["image"]
    y = data.labels[i:i + 1] if ckpt.model.conditional else None
    with torch.no_grad():
        mu, _ = ckpt.model.encode(data.floats(slice(i, i + 1)), y)
    set_code(mu[0].tolist())
    if y is not None:
        st.session_state["label"] = int(y[0])


def committed(done: SlidersResult) -> None:
    """Live sliders callback: a released slider's code, and the direction's amount."""
    set_code(done.z)
    if done.directions:
        st.session_state["dir_amount"] = round(done.directions[0], 2)


def direction_picker(ckpt: Checkpoint, data, names: list[str]) -> Direction | None:
    """"Add a direction": the difference of two classes' mean codes; None when off, or without two classes."""
    codes = atlases.class_codes(ckpt, data) if names else None
    present = [] if codes is None else sorted(set(codes[1].tolist()))
    if len(present) < 2:
        return None
    mu, labels, source = codes
    state.bind("direction", False, state.flag)
    state.bind("dir_from", present[0], state.integer_choice(present))
    state.bind("dir_to", present[1], state.integer_choice(present))
    state.bind("dir_amount", 0.0, state.number(*DIRECTION_BOUNDS))
    cols = st.columns([1.3, 1.2, 1.2, 3.3], vertical_alignment="bottom")
    cols[0].toggle("Add a direction", key="direction",
                   help="Add the difference between two classes' mean codes to the code, scaled by a slider.")
    if not st.session_state["direction"]:
        return None
    short = {c: names[c].split(" - ")[0] if c < len(names) else str(c) for c in present}
    cols[1].selectbox("From class", present, key="dir_from", format_func=short.get)
    cols[2].selectbox("To class", present, key="dir_to", format_func=short.get)
    source_class, target = st.session_state["dir_from"], st.session_state["dir_to"]
    if source_class == target:
        cols[3].caption("Pick two different classes.")
        return None
    cols[3].caption(f"mean code of {short[target]} − mean code of {short[source_class]} (over {source}), times the "
                    "Direction slider, is added to the code: at 1 a code moves as far as the two means are apart.")
    vector = attribute_vector(mu, labels, source_class, target)
    return Direction(f"{short[source_class]} → {short[target]}", vector.tolist(), st.session_state["dir_amount"],
                     DIRECTION_BOUNDS)


def slider_label(d: int, kl: torch.Tensor | None, variance: torch.Tensor | None) -> str:
    if kl is not None:
        return f"z{d} · KL {kl[d]:.2f}"
    return f"z{d}" + (f" · var {variance[d]:.2f}" if variance is not None else "")


def server_code(dim: int) -> list[float]:
    """The fallback's code: one st.slider `z{d}` per entry, started from st.session_state["z"]."""
    for d in range(dim):
        if f"z{d}" not in st.session_state:
            st.session_state[f"z{d}"] = round(min(LIMIT, max(-LIMIT, float(st.session_state["z"][d]))), 2)
    st.session_state["z"] = [round(st.session_state[f"z{d}"], 2) for d in range(dim)]
    return st.session_state["z"]


def server_sliders(order: list[int], labels: list[str], active: torch.Tensor) -> None:
    """The fallback's st.sliders, in two columns read top to bottom."""
    halves = st.columns(2)
    for position, (d, label) in enumerate(zip(order, labels, strict=True)):
        column = halves[0] if position < (len(order) + 1) // 2 else halves[1]
        column.slider(label if active[d] else f":gray[{label} · inactive]", -LIMIT, LIMIT, step=STEP, key=f"z{d}")


def traversal(model: VAE, code: torch.Tensor, order: list[int], active: torch.Tensor, y: torch.Tensor | None) -> None:
    """The traversal grid: a row per dimension (the first MAX_TRAVERSED of `order`), the rest of `code` kept."""
    rows = order[:MAX_TRAVERSED]
    codes = torch.cat([traverse(code, d, TRAVERSAL) for d in rows])
    frames = decode(model, codes, None if y is None else y.repeat(len(codes)))
    grid = frames.reshape(len(rows), len(TRAVERSAL), *frames.shape[1:])
    row_labels = [f"z{d}" + ("" if active[d] else " (off)") for d in rows]
    values = [f"{v:+g}" if v else "0" for v in TRAVERSAL.tolist()]
    show.picture(show.labelled_rows(grid, row_labels, values, tile=40),
                 caption="Traversal: each row sets one dimension from -3 to +3, the others as on the left.")


@st.fragment
def sliders_and_images(ckpt: Checkpoint, order: list[int], kl: torch.Tensor | None, variance: torch.Tensor | None,
                       active: torch.Tensor, y: torch.Tensor | None, direction: Direction | None) -> None:
    """The sliders, the decoded image and the traversal: moving a slider reruns only this part.

    The sliders and the image are the live decoder's (the image follows a drag; the code comes back
    on release); when the browser cannot decode, they are st.sliders and an image decoded here on
    each release. Those sliders are written last: the browser draws the new images first, instead of
    redrawing sixteen unchanged sliders before it gets to them.
    """
    model = ckpt.model
    labels = [slider_label(d, kl, variance) for d in order]
    main, right = st.columns([8, 4], gap="medium")
    with main:
        live = live_sliders(decoder_of(ckpt), key="live_sliders", z=st.session_state["z"], dims=order,
                            labels=labels, inactive={d for d in order if not active[d]}, bounds=(-LIMIT, LIMIT),
                            step=STEP, label=None if y is None else int(y[0]), on_commit=committed,
                            directions=[] if direction is None else [direction])
        if not live.available:
            st.caption(live.error)
            slider_column, image_column = st.columns([5, 3], gap="medium")
            code = torch.tensor(server_code(model.latent_dim))
            if direction is not None:
                amount = slider_column.slider(f"Direction {direction.label}", *DIRECTION_BOUNDS, key="dir_amount")
                code = code + amount * torch.tensor(direction.vector)
            with image_column:
                show.image(decode(model, code[None], y)[0], "decoded from the code on the left", width="stretch")
    with right:
        code = torch.tensor(st.session_state["z"])
        if direction is not None:
            code = code + st.session_state["dir_amount"] * torch.tensor(direction.vector)
        traversal(model, code, order, active, y)
    if not live.available:
        with slider_column:
            server_sliders(order, labels, active)
    state.publish({
        "z": st.session_state["z"],
        "image": st.session_state.get("image"),
        "label": st.session_state.get("label") if model.conditional else None,
        "direction": st.session_state.get("direction") or None,
        **({k: st.session_state[k] for k in ("dir_from", "dir_to", "dir_amount")} if direction is not None else {}),
    })


ckpt = models.require_model()
model, dim = ckpt.model, ckpt.model.latent_dim
data = models.load_test_images(ckpt)
st.title("Latent sliders")
stats = atlases.latent_stats(ckpt, data)
if stats is not None:
    kl, variance, source = stats
    order = torch.argsort(kl if kl is not None else variance, descending=True).tolist()
    active = atlases.active(variance)
    by = ("KL divergence from the prior" if kl is not None
          else f"how much the code varies across images (this {model.kind} has no posterior, so no KL)")
    st.caption(
        f"One slider per latent dimension, ordered by {by}, measured on {source}; "
        f"{int(active.sum())} of {dim} are active. Faded ones are inactive: the encoder ignores them, so moving "
        "them changes little."
    )
else:
    kl, variance, order, active = None, None, list(range(dim)), torch.ones(dim, dtype=torch.bool)
    st.caption("One slider per latent dimension (their KL is unknown: no metrics, map or test images).")

state.bind_code("z", dim, LIMIT)

names = models.class_names(ckpt)
buttons = st.columns([1, 1, 1.3, 1.4, 2] if data is not None else [1.25, 1.5, 5], vertical_alignment="bottom")
buttons[0].button("Reset", key="reset", icon=":material/restart_alt:", on_click=set_code, args=([0.0] * dim,),
                  help="Every dimension back to 0, the prior's mean.", width="stretch")
buttons[1].button("Randomize", key="randomize", icon=":material/casino:", width="stretch",
                  help="A fresh code from the prior N(0, I).",
                  on_click=lambda: set_code(sample_prior(1, dim, seed=random.randrange(state.MAX_SEED))[0].tolist()))
if data is not None:
    state.bind("image", 0, state.integer(0, len(data) - 1))
    buttons[2].number_input("Test image", 0, len(data) - 1, key="image",
                            help=f"Index of a test image, 0 to {len(data) - 1:,}, to start from.")
    buttons[3].button("Start from test image", key="from_image", icon=":material/input:", width="stretch",
                      on_click=from_test_image, args=(ckpt, data))
label = pickers.model_class(ckpt, "Class", "The class the decoder is given (a test image you start from sets it "
                            "to that image's class).", buttons[-1])
y = None if label is None else torch.tensor([label])
direction = direction_picker(ckpt, data, names)

sliders_and_images(ckpt, order, kl, variance, active, y, direction)
