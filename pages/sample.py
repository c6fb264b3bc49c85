"""Sample: a grid of images decoded from codes drawn from the prior, one row per class for
conditional models. The same seed and temperature always give the same grid."""

import random

import streamlit as st
import torch

from ui import entry, models, show, state
from vae.generate import dataset_files, manifest, zip_bytes
from vae.images import grid, png_bytes
from vae.latent import decode, sample_prior

entry.through_app()

SIZES = (16, 36, 64, 100)
MAX_SEED = 2**31 - 1


def resample() -> None:
    st.session_state["seed"] = random.randrange(MAX_SEED)


def samples_zip(ckpt, images: torch.Tensor, y: torch.Tensor | None, seed: int, temperature: float) -> bytes:
    """The grid as a dataset (vae.generate's layout and manifest); `python -m vae generate` makes the same images."""
    names = models.class_names(ckpt) if y is not None else []
    counts = torch.bincount(y, minlength=len(names)).tolist() if y is not None else [len(images)]
    amount = f"--per-class {counts[0]}" if y is not None else f"--n {len(images)}"
    command = f"python -m vae generate {ckpt.folder} {amount} --temperature {temperature:g} --seed {seed} --out DIR"
    labels = y if y is not None else torch.zeros(len(images), dtype=torch.long)
    return zip_bytes(dataset_files(images, labels, names, manifest(ckpt, names, counts, temperature, seed, command)))


ckpt = models.require_model()
model = ckpt.model
cfg = model.cfg
names = models.class_names(ckpt)
st.title("Sample")
st.caption(
    "Codes drawn from the prior N(0, T²·I) and decoded. Temperature T below 1 trades variety for cleaner images; "
    "above 1, the codes wander where the decoder saw little training data."
)
state.bind("temperature", 1.0, state.number(0.05, 3.0))
state.bind("seed", 0, state.integer(0, MAX_SEED))
controls = st.columns([3, 2, 1.2, 2], vertical_alignment="bottom")
controls[0].slider("Temperature", 0.05, 3.0, step=0.05, key="temperature")
controls[1].number_input("Seed", 0, MAX_SEED, key="seed")
controls[2].button("Resample", key="resample", on_click=resample, icon=":material/casino:", width="stretch",
                   help="A new random seed.")
if cfg.conditional:
    state.bind("per_class", 8, state.integer(1, 16))
    controls[3].slider("Samples per class", 1, 16, key="per_class")
    per_class = st.session_state["per_class"]
    count, ncol = per_class * cfg.num_classes, per_class
    y = torch.arange(cfg.num_classes).repeat_interleave(per_class)
else:
    state.bind("n", 64, state.integer_choice(SIZES))
    controls[3].select_slider("Grid size", SIZES, key="n")
    count = st.session_state["n"]
    ncol, y = round(count**0.5), None

seed, temperature = st.session_state["seed"], st.session_state["temperature"]
codes = sample_prior(count, cfg.latent_dim, temperature, seed)
images = decode(model, codes, y)
if cfg.conditional:
    show.picture(show.labelled_rows(images.reshape(cfg.num_classes, per_class, *images.shape[1:]), names,
                                [str(i + 1) for i in range(per_class)], tile=min(64, 900 // per_class)))
else:
    show.image_grid(images, ncol=ncol, tile=min(72, 760 // ncol))
st.caption(f"{count} samples · seed {seed} · temperature {temperature:g}")
downloads = st.columns([1, 1, 3])
downloads[0].download_button("Download PNG", png_bytes(grid(images, ncol=ncol, scale=4)), f"samples-seed{seed}.png",
                             "image/png", key="download", icon=":material/download:", width="stretch")
downloads[1].download_button(
    "Download ZIP", lambda: samples_zip(ckpt, images, y, seed, temperature), f"samples-seed{seed}.zip",
    "application/zip", key="download_zip", icon=":material/folder_zip:", width="stretch",
    help="Each image as a PNG" + (", one folder per class" if cfg.conditional else "")
    + ", with a manifest: a dataset that training reads as folder:DIR.",
)
state.publish({
    "temperature": temperature, "seed": seed,
    "per_class": st.session_state.get("per_class") if cfg.conditional else None,
    "n": None if cfg.conditional else count,
})
