"""Repair: corrupt a test image or an upload (noise, salt and pepper, a box the user places, a missing
half), then repair it with the model (its reconstruction, and an inpainting that fits the code to the
visible pixels only) and with a classical filter, side by side with their PSNR against the original."""

import math
import random

import streamlit as st
import torch
from torch import Tensor

from ui import box_picker, entry, models, pickers, show, state, uploads
from vae.analysis.repair import INPAINT_STEPS, KINDS, MODEL_METHODS, Corruption, mse, psnr, repairs

entry.through_app()

SOURCES = ("Test image", "Upload")
KIND_NAMES = {"noise": "Noise", "salt_pepper": "Salt & pepper", "box": "Box", "top": "No top half",
              "bottom": "No bottom half"}
TILE = 170  # pixels each image in the strip is drawn at (the five columns of a box fit it at 1400 px)
METHOD_NOTES = {
    "reconstruction": "The encoder's mean of the corrupted image, decoded.",
    "inpainting": f"The code fitted to the visible pixels ({INPAINT_STEPS} Adam steps on log p(x_visible | z) + "
                  "log p(z)); hidden pixels filled from its decoding, visible ones kept.",
    "median filter": "Each pixel replaced by the median of its 3×3 neighbourhood.",
    "nearest fill": "Each lost pixel copies the nearest pixel that was kept.",
}


def random_image(count: int) -> None:
    st.session_state["index"] = random.randrange(count)


def chosen_image(ckpt, data, names: list[str]) -> tuple[Tensor | None, int | None, str]:
    """The image to corrupt (C, H, W), its class (None for an upload) and its caption."""
    if pickers.image_source("Image", SOURCES, "source", data) == "Upload":
        with st.expander("Upload options", icon=":material/upload:"):
            uploads.options(ckpt, data)
        return uploads.upload(ckpt, data, "upload", "Your image"), None, "your upload"
    left, right = st.columns([1, 1], vertical_alignment="bottom")
    state.number_input("Test image", 0, len(data) - 1, "index", 0, left)
    right.button("Random", key="random", on_click=random_image, args=(len(data),), icon=":material/casino:",
                 width="stretch", help="A random test image.")
    i = st.session_state["index"]
    label = int(data.labels[i])
    return data.floats(slice(i, i + 1))[0], label, f"#{i} · {names[label] if label < len(names) else label}"


def default_box(height: int, width: int) -> tuple[int, int, int, int]:
    """A box over the middle third of the image: where a centred digit has most of its ink."""
    return height // 3, width // 3, max(1, height - 2 * (height // 3)), max(1, width - 2 * (width // 3))


def corruption_controls(height: int, width: int) -> Corruption:
    kind = state.segmented_control("Corruption", KINDS, "kind", "box", format_func=KIND_NAMES.get,
                                   help="Gaussian noise on every pixel; salt and pepper (some pixels turned black or "
                                   "white); a box you place; or a missing half. Lost pixels are shown to the model as "
                                   "grey.")
    if kind in ("noise", "salt_pepper"):
        left, right = st.columns([2, 1], vertical_alignment="bottom")
        if kind == "noise":
            level = state.slider("Noise σ", 0.05, 1.0, "sigma", 0.3, left, step=0.05,
                                 help="The noise's standard deviation; intensities span 0 to 1.")
        else:
            level = state.slider("Pixels hit", 1, 60, "rate", 10, left, format="%d%%",
                                 help="The share of pixels set to black or white, half each.") / 100
        right.button("New noise", key="new_noise", on_click=state.new_seed, args=("seed",), icon=":material/refresh:",
                     width="stretch", help="The same amount of noise, drawn afresh.")
        return Corruption(kind, level)
    if kind != "box":
        return Corruption(kind)
    top, left, rows, cols = box_state(height, width)
    return Corruption("box", box=(top, left, min(height, top + rows), min(width, left + cols)))


def box_state(height: int, width: int) -> tuple[int, int, int, int]:
    """The box's number inputs (the fallback to dragging on the picture), bound to the URL."""
    limits = ((0, height - 1), (0, width - 1), (1, height), (1, width))
    names = ("Top row", "Left column", "Height", "Width")
    for column, key, name, value, (lo, hi) in zip(st.columns(4), box_picker.KEYS, names, default_box(height, width),
                                                   limits, strict=True):
        state.number_input(name, lo, hi, key, value, column)
    st.caption("Drag a box on the original image to place it, or type its position.")
    return tuple(st.session_state[k] for k in box_picker.KEYS)


def db(value: float) -> str:
    return "identical (∞ dB)" if math.isinf(value) else f"{value:.1f} dB"


def score_lines(image: Tensor, original: Tensor, best: bool) -> None:
    """PSNR (starred for the best repair) and MSE against the original."""
    score = f"PSNR **{db(psnr(image[None], original[None]).item())}**"
    st.markdown(f":green[{score} :material/star:]" if best else score)
    st.caption(f"MSE {mse(image[None], original[None]).item():.4f}")


def strip(x: Tensor, caption: str, shown: list[tuple[str, str, str, Tensor]], best: str, box: bool) -> None:
    """The original, then (role, title, note, image) of each shown image, side by side. Drawn row by row
    (headings, images, scores) so that a heading that wraps in a narrow column leaves the images level."""
    panels = [("reference", "Original", "What the repairs are scored against.", x), *shown]
    heads, pictures, scores = (st.columns(len(panels)) for _ in range(3))
    for column, (role, title, note, _) in zip(heads, panels, strict=True):
        column.caption(role)
        column.markdown(f"**{title}**", help=note)
    with pictures[0]:
        if box:
            box_picker.picker(x, tuple(st.session_state[k] for k in box_picker.KEYS), "box_pick", TILE)
        else:
            show.image(x, width=TILE)
    for column, (_, _, _, image) in zip(pictures[1:], panels[1:], strict=True):
        with column:
            show.image(image, width=TILE)
    scores[0].markdown(caption)
    if box:
        scores[0].caption("drag on it to place the box")
    for column, (_, title, _, image) in zip(scores[1:], panels[1:], strict=True):
        with column:
            score_lines(image, x, best=title == best.capitalize())


def publish() -> None:
    """The link holds what this view depends on: the drawn widgets (the image's source and its choice, the
    corruption and its parameters), and the seed of a noise."""
    noisy = st.session_state.get("kind") in ("noise", "salt_pepper")
    state.publish({"seed": st.session_state.get("seed") if noisy else None})


ckpt, data, names = models.open_page(
    "Repair",
    "Damage an image, then let the model repair it: its plain reconstruction, and an inpainting that "
    "fits the latent code to the pixels that survived. A classical filter stands beside them; PSNR is "
    "measured against the original (higher is better).",
)
model = ckpt.model
state.bind("seed", 0, state.integer(0, state.MAX_SEED))
source_col, corruption_col = st.columns([1, 2], gap="medium")  # five corruption names fit at 1200 px
with source_col:
    x, label, caption = chosen_image(ckpt, data, names)
    if label is None:
        label = pickers.model_class(ckpt, "Class given to the model", "A conditional model encodes and decodes "
                                    "with a class: say which one your image shows.")
with corruption_col:
    corruption = corruption_controls(*model.image_shape[1:])
if x is None:
    st.info("Upload an image to repair" + (", or switch to a test image." if data is not None else "."))
    publish()
    st.stop()

y = None if label is None else torch.tensor([label])
broken = corruption.apply(x[None], st.session_state["seed"])
repaired = {name: image[0] for name, image in repairs(model, broken, corruption.kind, y).items()}
scores = {name: psnr(image[None], x[None]).item() for name, image in repaired.items()}
best = max(scores, key=scores.get)

st.divider()
lost = ", lost pixels painted grey" if broken.has_holes else ""
shown = [("input", "Corrupted", f"{corruption.describe()}{lost}.", broken.image[0])]
shown += [("the model" if name in MODEL_METHODS else "classical", name.capitalize(), METHOD_NOTES[name], image)
          for name, image in repaired.items()]
strip(x, caption, shown, best, corruption.kind == "box")
st.caption(f"{corruption.describe().capitalize()}. "
           + ("The inpainting knows which pixels were lost; the reconstruction does not."
              if broken.has_holes else "Every pixel is noisy, so there is nothing to inpaint: the model can only "
              "reconstruct the noisy image.") + " :material/star: marks the best repair of this image.")
publish()
