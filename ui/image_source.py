"""The image a page works on: a test image (by its index, or at random), an upload, or (where the page takes
one) the drawing handed over from the Draw page; its choices live in the URL. Repair and Compress share it."""

from __future__ import annotations

import random

import streamlit as st
from torch import Tensor

from ui import drawing, state, uploads
from vae.checkpoint import Checkpoint
from vae.data import ImageSet

SOURCES = ("Test image", "Upload", "Drawing")


def chosen(ckpt: Checkpoint, data: ImageSet | None, names: list[str], drawings: bool = False
           ) -> tuple[Tensor | None, int | None, str]:
    """The image (C, H, W), its class (None for an upload or a drawing) and its caption. "Drawing" is offered
    when `drawings` and the link holds one (`drawing`, as the Draw page's "Compress it" writes it)."""
    shape = ckpt.model.cfg.image_shape
    drawn = None
    if drawings:
        state.bind("drawing", None, drawing.parser(shape))
        drawn = st.session_state["drawing"]
    sources = [s for s in SOURCES if (s != "Test image" or data is not None) and (s != "Drawing" or drawn)]
    state.bind("source", sources[0], state.choice(sources))
    st.segmented_control("Image", sources, key="source", required=True)
    if st.session_state["source"] == "Upload":
        with st.expander("Upload options", icon=":material/upload:"):
            uploads.options(ckpt, data)
        return uploads.upload(ckpt, data, "upload", "Your image"), None, "your upload"
    if st.session_state["source"] == "Drawing":
        st.caption("Drawn on the Draw page, as the model sees it.")
        return drawing.image(drawn, shape), None, "your drawing"
    return pick(data, names)


def random_image(count: int) -> None:
    st.session_state["index"] = random.randrange(count)


def pick(data: ImageSet, names: list[str]) -> tuple[Tensor, int, str]:
    """The chosen test image (C, H, W), its label and its caption ("#index · class", or "#index" without classes)."""
    state.bind("index", 0, state.integer(0, len(data) - 1))
    left, right = st.columns([1, 1], vertical_alignment="bottom")
    left.number_input("Test image", 0, len(data) - 1, key="index")
    right.button("Random", key="random", on_click=random_image, args=(len(data),), icon=":material/casino:",
                 width="stretch", help="A random test image.")
    i = st.session_state["index"]
    label = int(data.labels[i])
    return data.floats(slice(i, i + 1))[0], label, f"#{i}" + (f" · {names[label]}" if label < len(names) else "")


def given_class(num_classes: int, names: list[str], help: str) -> int:
    """The class a conditional model is given for an image without one (an upload, a drawing); in the URL as `label`."""
    state.bind("label", 0, state.integer(0, num_classes - 1))
    st.selectbox("Class given to the model", range(num_classes), key="label", format_func=lambda c: names[c],
                 help=help)
    return st.session_state["label"]
