"""Pickers several pages share: the class a conditional model is given, the class the Random button
draws a test image of, and where an image comes from (a test image, an upload, a drawing)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import streamlit as st
import torch

from ui import models, state
from vae.datasets.imageset import ImageSet
from vae.store.checkpoint import Checkpoint

TEST_SOURCES = ("Test image", "Test images")  # offered only when the model's test images are at hand


def model_class(ckpt: Checkpoint, label: str, help: str, where: Any = st, key: str = "label",
                default: int = 0) -> int | None:
    """The class a conditional model encodes and decodes with, kept in the link; None for an unconditional one."""
    if not ckpt.model.conditional:
        return None
    names = models.class_names(ckpt)
    return state.selectbox(label, range(ckpt.model.num_classes), key, default, where, format_func=lambda c: names[c],
                           help=help)


def class_name(names: list[str], label: int) -> str:
    return names[label] if label < len(names) else str(label)


def random_class(key: str, data: ImageSet, names: list[str], where: Any = st) -> None:
    """The class the Random button beside it draws from, labelled as that: it is not the picked image's class
    (which the image's caption gives). Drawn only for a labelled test set."""
    if names:
        where.selectbox("Class for Random", sorted(set(data.labels.tolist())), key=key,
                        format_func=lambda c: class_name(names, c),
                        help="The class of the test image the Random button picks; the image's own class is in "
                        "its caption.")


def random_of_class(index_key: str, class_key: str, data: ImageSet) -> None:
    """Callback: a random test image of the class picked for the Random button (of any, without classes)."""
    chosen = st.session_state.get(class_key)
    matches = torch.nonzero(data.labels == chosen).flatten().tolist() if chosen is not None else range(len(data))
    if matches:
        st.session_state[index_key] = random.choice(matches)


def image_source(label: str, sources: Sequence[str], key: str, data: ImageSet | None, where: Any = st,
                 **kwargs: Any) -> str:
    """Where an image comes from, kept in the link; test images are offered only when there are some."""
    offered = [s for s in sources if data is not None or s not in TEST_SOURCES]
    return state.segmented_control(label, offered, key, where=where, **kwargs)
