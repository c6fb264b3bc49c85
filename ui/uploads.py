"""Upload widgets: the file picker, its options, and clear messages for files that cannot be used."""

from __future__ import annotations

import logging

import streamlit as st
from torch import Tensor

from ui import state
from vae.datasets.imageset import ImageSet
from vae.datasets.levels import Levels
from vae.datasets.uploads import FIT_CHOICES, INVERT_CHOICES, UploadError, border_level, prepare_upload
from vae.store.checkpoint import Checkpoint

TYPES = ["png", "jpg", "jpeg", "gif", "webp", "bmp"]
INVERT_NAMES = {"auto": "Auto", "always": "Always", "never": "Never"}
FIT_NAMES = {"pad": "Fit the whole picture", "digit": "Crop and centre, like MNIST digits"}


def dark_background(data: ImageSet | None) -> bool:
    """Whether the training images are light on dark (MNIST, Fashion-MNIST), judged by their borders."""
    if data is None:
        return True
    mean_image = data.floats(slice(0, 500)).mean(dim=(0, 1)).numpy()
    return border_level(mean_image) < 0.5


def options(ckpt: Checkpoint, data: ImageSet | None) -> None:
    """The upload options (invert, fit), kept in the URL like every other choice."""
    dark = dark_background(data)
    left, right = st.columns(2)
    state.radio(
        "Invert colours", INVERT_CHOICES, "invert", "auto", left, format_func=INVERT_NAMES.get, horizontal=True,
        help=f"The model was trained on {'light shapes on a dark' if dark else 'dark shapes on a light'} background. "
        "Auto inverts uploads whose background is the other way round (a pen drawing on white paper, "
        "for MNIST).",
    )
    state.radio("Framing", FIT_CHOICES, "fit", "digit" if ckpt.meta.get("dataset") == "mnist" else "pad", right,
                format_func=FIT_NAMES.get, horizontal=True,
                help="MNIST digits are cropped to their ink, scaled into 20×20 and centred by mass in 28×28.")


def upload(ckpt: Checkpoint, data: ImageSet | None, key: str, label: str) -> Tensor | None:
    """A file picker; returns the upload as a model input, or None (with a message saying why)."""
    file = st.file_uploader(label, type=TYPES, key=key, help="PNG or JPEG (also GIF, WebP, BMP), up to 20 megapixels.")
    if file is None:
        return None
    channels, height, width = ckpt.model.image_shape
    try:
        prepared = prepare_upload(
            file.getvalue(), channels, height, width, dark_background=dark_background(data),
            invert=st.session_state.get("invert", "auto"), fit=st.session_state.get("fit", "pad"),
            levels=Levels.of(ckpt.meta),
        )
    except UploadError as err:
        st.error(f"{file.name}: {err}", icon=":material/image_not_supported:")
        return None
    except Exception as err:  # a decoder bug in an image library must not take the page down
        logging.getLogger("latent_explorer").exception("upload %s failed", file.name)
        st.error(f"{file.name}: this image could not be read ({type(err).__name__}).",
                 icon=":material/image_not_supported:")
        return None
    if prepared.notes:
        st.caption(" ".join(prepared.notes))
    return prepared.tensor
