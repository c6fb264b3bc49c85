"""A test image chosen by its index (kept in the URL as `index`) or at random: the picker Repair and Compress share."""

from __future__ import annotations

import random

import streamlit as st
from torch import Tensor

from ui import state
from vae.data import ImageSet


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
