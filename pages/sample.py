"""Sample: a grid of images decoded from codes drawn from the prior, one row per class for
conditional models. The same seed and temperature always give the same grid. A conditional
model also shows "same style, every class": images encoded with their own label and decoded
with each label in turn."""

import streamlit as st
import torch

from ui import entry, models, pickers, show, state, uploads
from vae.datasets.generate import class_names, dataset_files, manifest, zip_bytes
from vae.datasets.images import grid, png_bytes
from vae.datasets.imageset import ImageSet
from vae.models.ours import objective_of
from vae.networks.latent import decode, every_class, sample_prior
from vae.store.checkpoint import Checkpoint

entry.through_app()

SIZES = (16, 36, 64, 100)
STYLE_ROWS = 5  # test images in "same style, every class"
STYLE_SOURCES = ("Test images", "Upload")


def style_inputs(ckpt: Checkpoint, data: ImageSet | None, names: list[str]) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The images (and labels) "same style, every class" starts from: random test images, or an upload."""
    state.bind("style_seed", 0, state.integer(0, state.MAX_SEED))
    state.bind("style_label", 0, state.integer(0, ckpt.model.num_classes - 1))
    cols = st.columns([2, 2, 3], vertical_alignment="bottom")
    if pickers.image_source("Start from", STYLE_SOURCES, "style_source", data, cols[0]) == "Upload":
        label = pickers.model_class(ckpt, "Encoded as", "The label the encoder is given with your image.", cols[1],
                                    key="style_label")
        x = uploads.upload(ckpt, data, "style_upload", "Your image")
        return None if x is None else (x[None], torch.tensor([label]))
    cols[1].button("Other images", key="style_resample", on_click=state.new_seed, args=("style_seed",),
                   icon=":material/casino:", width="stretch", help="Other random test images.")
    gen = torch.Generator().manual_seed(st.session_state["style_seed"])
    idx = torch.randperm(len(data), generator=gen)[:STYLE_ROWS]
    return data.floats(idx), data.labels[idx]


def same_style_every_class(ckpt: Checkpoint, data: ImageSet | None, names: list[str]) -> None:
    st.subheader("Same style, every class")
    st.caption("Each image is encoded with its own label; its code, which holds what the label does not (slant, "
               "stroke, width), is then decoded with every label in turn.")
    chosen = style_inputs(ckpt, data, names)
    if chosen is None:
        st.info("Upload an image, or start from test images.")
        return
    x, y = chosen
    rows = torch.cat([x[:, None], every_class(ckpt.model, x, y)], dim=1)
    short = [n.split(" - ")[0] for n in names]
    show.picture(show.labelled_rows(rows, [short[int(c)] for c in y], ["input", *short], tile=48))


def samples_zip(ckpt: Checkpoint, images: torch.Tensor, y: torch.Tensor | None, seed: int, temperature: float) -> bytes:
    """The grid as a dataset (vae.datasets.generate's layout and manifest); `python -m vae generate` makes the
    same images."""
    names = class_names(ckpt)  # [] for an unconditional model, as `generate` names them
    counts = torch.bincount(y, minlength=len(names)).tolist() if y is not None else [len(images)]
    amount = f"--per-class {counts[0]}" if y is not None else f"--n {len(images)}"
    command = f"python -m vae generate {ckpt.folder} {amount} --temperature {temperature:g} --seed {seed} --out DIR"
    labels = y if y is not None else torch.zeros(len(images), dtype=torch.long)
    return zip_bytes(dataset_files(images, labels, names, manifest(ckpt, names, counts, temperature, seed, command)))


ckpt = models.require_model()
model = ckpt.model
names = models.class_names(ckpt)
st.title("Sample")
st.caption(
    "Codes drawn from the prior N(0, T²·I) and decoded. Temperature T below 1 trades variety for cleaner images; "
    "above 1, the codes wander where the decoder saw little training data."
)
controls = st.columns([3, 2, 1.2, 2], vertical_alignment="bottom")
temperature = state.slider("Temperature", 0.05, 3.0, "temperature", 1.0, controls[0], step=0.05)
seed = state.number_input("Seed", 0, state.MAX_SEED, "seed", 0, controls[1])
controls[2].button("Resample", key="resample", on_click=state.new_seed, args=("seed",), icon=":material/casino:",
                   width="stretch", help="A new random seed.")
if model.conditional:
    per_class = state.slider("Samples per class", 1, 16, "per_class", 8, controls[3])
    count, ncol = per_class * model.num_classes, per_class
    y = torch.arange(model.num_classes).repeat_interleave(per_class)
else:
    count = state.select_slider("Grid size", SIZES, "n", 64, controls[3])
    ncol, y = round(count**0.5), None

if objective_of(model) == "ae":
    st.warning(
        "This is a plain autoencoder: nothing in its training makes its codes look like N(0, I), so codes drawn from "
        "that prior land where the decoder saw none. That is why its samples look wrong: a VAE is trained to fill "
        "the prior (the KL term), and a WAE to match its codes to it (the MMD term).", icon=":material/warning:")
elif objective_of(model) is None and not model.posterior:
    st.warning(
        "This model has no posterior q(z|x): unless its training matched its codes to N(0, I), codes drawn from "
        "that prior land where the decoder saw none, and its samples look wrong.", icon=":material/warning:")
codes = sample_prior(count, model.latent_dim, temperature, seed)
images = decode(model, codes, y)
if model.conditional:
    show.picture(show.labelled_rows(images.reshape(model.num_classes, per_class, *images.shape[1:]), names,
                                [str(i + 1) for i in range(per_class)], tile=min(64, 900 // per_class)))
else:
    show.image_grid(images, ncol=ncol, tile=min(72, 760 // ncol))
st.caption(f"{count} samples · seed {seed} · temperature {temperature:g}")
downloads = st.columns([1, 1, 3])
downloads[0].download_button("Download PNG", png_bytes(grid(images, ncol=ncol, scale=4)), f"samples-seed{seed}.png",
                             "image/png", key="download", icon=":material/download:", width="stretch")
downloads[1].download_button(
    "Download ZIP", samples_zip(ckpt, images, y, seed, temperature), f"samples-seed{seed}.zip",  # ~17 ms for 100:
    # made with the page, so a click that lands as the page reruns still finds its file (a deferred one may not)
    "application/zip", key="download_zip", icon=":material/folder_zip:", width="stretch",
    help="Each image as a PNG" + (", one folder per class" if model.conditional else "")
    + ", with a manifest: a dataset that training reads as folder:DIR.",
)
if model.conditional:
    same_style_every_class(ckpt, models.load_test_images(ckpt), names)
state.publish({k: st.session_state.get(k) for k in ("style_seed", "style_label") if model.conditional})
