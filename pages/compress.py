"""Compress: the model as a codec. One image (a test image, an upload, or the drawing from the Draw page)
coded by every codec: its size under each (bars, in bits and against PNG), ours lossless (bits-back) and
lossy at each precision with the decoded images, and the rate-distortion plot against JPEG and WebP.
Download the compressed file, or upload one to decompress it. Everything is computed for this one image
(and cached); the whole-test-set figures come from bench/compress.py."""


import random

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from torch import Tensor

from ui import drawing, entry, models, pickers, show, state, uploads
from vae.compression import codecs, compress
from vae.compression.codec_compare import Point, Row, baseline_lossless, lossy_curve
from vae.datasets.imageset import ImageSet
from vae.store.checkpoint import Checkpoint, weights_sha256

entry.through_app()

SOURCES = ("Test image", "Upload", "Drawing")  # a drawing comes from the Draw page, in the link

MAX_FILE = 64 << 20  # bytes of a compressed file we try to decompress
SHOWN = 100  # decompressed images drawn
COLOURS = {"ours": "#e4572e", "JPEG": "#4e79a7", "WebP": "#59a14f"}


@st.cache_data(max_entries=32, show_spinner=False)
def weights_of(folder: str, signature: tuple[int, ...]) -> str:
    return weights_sha256(folder)


def weights(ckpt: Checkpoint) -> str:
    return weights_of(str(ckpt.folder), models.signature(ckpt.folder))


@st.cache_data(max_entries=64, show_spinner="Coding the image with every lossless codec…")
def lossless(_ckpt: Checkpoint, sha: str, pixels: bytes, shape: tuple[int, ...], label: int | None
             ) -> tuple[list[Row], bytes | None]:
    """Every classical code of the binarized image, and our file of it (None for a model without posterior)."""
    x = torch.from_numpy(np.frombuffer(pixels, dtype=np.float32).copy()).reshape(1, *shape)
    rows = baseline_lossless(codecs.to_uint8(x), ("whole set", "per image"))
    if compress.no_bits_back(_ckpt.model):
        return rows, None
    y = None if label is None else torch.tensor([label])
    return rows, compress.compress_lossless(_ckpt.model, sha, x, y, chains=1)


@st.cache_data(max_entries=64, show_spinner="Coding the image lossily…")
def lossy(_ckpt: Checkpoint, sha: str, pixels: bytes, shape: tuple[int, ...], label: int | None) -> list[Point]:
    x = torch.from_numpy(np.frombuffer(pixels, dtype=np.float32).copy()).reshape(1, *shape)
    y = None if label is None else torch.tensor([label])
    return lossy_curve(_ckpt.model, sha, x, y, keep=True)


def random_image(count: int) -> None:
    st.session_state["index"] = random.randrange(count)


def chosen_image(ckpt: Checkpoint, data: ImageSet | None, names: list[str]) -> tuple[Tensor | None, int | None, str]:
    """The image to code (C, H, W), its class (None for an upload or a drawing) and its caption. "Drawing" is
    offered when the link holds one (as the Draw page's "Compress it" writes it)."""
    shape = ckpt.model.image_shape
    state.bind("drawing", None, drawing.parser(shape))
    drawn = st.session_state["drawing"]
    source = pickers.image_source("Image", [s for s in SOURCES if s != "Drawing" or drawn], "source", data)
    if source == "Upload" or data is None:  # without test images an upload is all there is
        with st.expander("Upload options", icon=":material/upload:"):
            uploads.options(ckpt, data)
        return uploads.upload(ckpt, data, "upload", "Your image"), None, "your upload"
    if source == "Drawing":
        st.caption("Drawn on the Draw page, as the model sees it.")
        return drawing.image(drawn, shape), None, "your drawing"
    left, right = st.columns([1, 1], vertical_alignment="bottom")
    i = state.number_input("Test image", 0, len(data) - 1, "index", 0, left)
    right.button("Random", key="random", on_click=random_image, args=(len(data),), icon=":material/casino:",
                 width="stretch", help="A random test image.")
    label = int(data.labels[i])
    return data.floats(slice(i, i + 1))[0], label, f"#{i}" + (f" · {names[label]}" if label < len(names) else "")


def size_bars(rows: list[Row], ours: dict[str, int]) -> go.Figure:
    """The binarized image's size under each codec, in bits, with its ratio to PNG."""
    sizes = {(r.codec if r.layout == "per image" else f"{r.codec} (bytes)"): r.bits for r in rows}
    sizes |= ours
    png = sizes["PNG"]
    names = sorted(sizes, key=sizes.get, reverse=True)
    colours = [COLOURS["ours"] if n.startswith("ours") else "#9aa5b1" for n in names]
    fig = go.Figure(go.Bar(
        x=[sizes[n] for n in names], y=names, orientation="h", marker_color=colours,
        text=[f"{sizes[n]:,} bits · {sizes[n] / png:.2f}× PNG" for n in names], textposition="auto",
        hovertemplate="%{y}: %{x:,} bits<extra></extra>"))
    fig.update_layout(title="Lossless: this image's size under each codec", xaxis_title="bits",
                      height=60 + 32 * len(names), margin={"l": 10, "r": 10, "t": 40, "b": 40})
    return fig


def rd_plot(points: list[Point], chosen: int) -> go.Figure:
    """PSNR against bits for ours at each precision and JPEG and WebP at each quality."""
    fig = go.Figure()
    for codec in COLOURS:
        shown = [p for p in points if p.codec == codec and np.isfinite(p.psnr)]
        fig.add_trace(go.Scatter(x=[p.bits_per_image for p in shown], y=[p.psnr for p in shown], name=codec,
                                 mode="lines+markers", line_color=COLOURS[codec], text=[p.setting for p in shown],
                                 hovertemplate="%{text}: %{x:,.0f} bits, %{y:.1f} dB<extra>" + codec + "</extra>"))
    mine = next(p for p in points if p.codec == "ours" and p.setting.startswith(f"{chosen} "))
    fig.add_trace(go.Scatter(x=[mine.bits_per_image], y=[mine.psnr], name="chosen", mode="markers",
                             marker={"size": 16, "symbol": "circle-open", "color": COLOURS["ours"], "line_width": 3},
                             hoverinfo="skip"))
    fig.update_layout(title="Lossy: quality against size", xaxis_title="bits (log scale)", yaxis_title="PSNR (dB)",
                      xaxis_type="log", height=380, margin={"l": 10, "r": 10, "t": 40, "b": 40})
    return fig


def lossless_panel(ckpt: Checkpoint, x: Tensor, label: int | None, sha: str) -> None:
    xb = compress.binarized(x[None])
    rows, blob = lossless(ckpt, sha, xb.numpy().tobytes(), tuple(xb.shape[1:]), label)
    why = compress.no_bits_back(ckpt.model)
    ours = {}
    if blob is not None:
        initial = compress.initial_bits(ckpt.model, blob)
        ours = {"ours, this file": 8 * len(blob), "ours, in a chain": compress.payload_bits(blob) - initial}
    left, right = st.columns([1, 2], gap="large")  # room for the download button's label at 1200 px
    with left:
        show.image(xb[0], "binarized: what is coded losslessly", width=160)
        if blob is None:
            st.info(f"No bits-back code: {why}.", icon=":material/info:")
        else:
            st.download_button("Download the lossless file", blob, "image.lxvc", "application/octet-stream",
                               key="download_lossless", icon=":material/download:", width="stretch")
            st.caption(f"This file: {8 * len(blob):,} bits, of which {8 * compress.HEADER.size} are its header "
                       f"(the model's SHA-256 and the image's shape) and {initial} the initial bits the latent is "
                       f"taken from, which a chain of images pays once. In a chain this image costs about "
                       f"{ours['ours, in a chain']:,} bits.")
    right.plotly_chart(size_bars(rows, ours), key="sizes", config={"displaylogo": False})
    right.caption("Byte compressors (gzip, bz2, lzma) code the packed bits; the image codecs a file of this one "
                  "image, mostly header at this size. Over the whole test set see docs/compression.md.")


def lossy_panel(ckpt: Checkpoint, x: Tensor, label: int | None, sha: str) -> None:
    points = lossy(ckpt, sha, x.numpy().astype(np.float32).tobytes(), tuple(x.shape), label)
    ours = [p for p in points if p.codec == "ours"]
    state.bind("precision", 4, state.integer_choice(compress.LOSSY_PRECISIONS))
    st.segmented_control("Bits per latent dimension", compress.LOSSY_PRECISIONS, key="precision", required=True,
                         help="Each latent mean is replaced by the middle of its bucket, one of 2^bits of equal "
                         "prior mass, and coded in exactly that many bits.")
    chosen = st.session_state["precision"]
    left, right = st.columns([2, 3], gap="large")
    with left:
        decoded = torch.from_numpy(np.concatenate([p.decoded for p in ours])).float() / 255
        show.images(torch.cat([x[None], decoded]), ["original"] + [
            f"{p.setting.split()[0]} b/dim · {p.bits_per_image:.0f} bits · {p.psnr:.1f} dB" for p in ours], width=96)
        y = None if label is None else torch.tensor([label])
        blob = compress.compress_lossy(ckpt.model, sha, x[None], y, chosen)
        st.download_button(f"Download the lossy file ({chosen} bits per dimension)", blob, f"image-{chosen}bit.lxvc",
                           "application/octet-stream", key="download_lossy", icon=":material/download:",
                           width="stretch")
    with right:
        st.plotly_chart(rd_plot(points, chosen), key="rd", config={"displaylogo": False})
        st.caption("Ours reaches rates no image codec can (a 28×28 JPEG or WebP file is mostly header), but its "
                   "quality stops where the model's reconstructions do: at high rates JPEG and WebP win.")


def decompress_panel(ckpt: Checkpoint, sha: str) -> None:
    file = st.file_uploader("Decompress a file made with this model", key="compressed",
                            help="A .lxvc file from this page or from `python -m vae compress`.")
    if file is None:
        return
    if file.size > MAX_FILE:
        st.error(f"{file.name}: {file.size:,} bytes, more than the {MAX_FILE >> 20} MB this page decodes.")
        return
    try:
        decoded = compress.decompress(ckpt.model, sha, file.getvalue())
    except compress.CodecError as err:
        st.error(f"{file.name}: {err}", icon=":material/error:")
        return
    n = len(decoded.images)
    st.success(f"{file.name}: {decoded.header.describe}, decoded" + (f"; the first {SHOWN} shown" if n > SHOWN else ""))
    show.image_grid(decoded.images[:SHOWN], ncol=min(n, 10), tile=56)


def publish() -> None:
    source = st.session_state.get("source")
    keys = ["source", "precision", *{"Upload": ("invert", "fit", "label"), "Drawing": ("drawing", "label"),
                                     "Test image": ("index",)}.get(source, ())]
    state.publish({k: st.session_state.get(k) for k in keys})


ckpt, data, names = models.open_page(
    "Compress",
    "The model as a codec. Losslessly, bits-back coding (BB-ANS) codes a binarized image in about its "
    "−ELBO; lossily, the latent mean is rounded to a few bits per dimension and decoded. Both beside the "
    "usual codecs.",
)
model = ckpt.model
source_col, info_col = st.columns([1, 2], gap="large")
with source_col:
    x, label, caption = chosen_image(ckpt, data, names)
    if model.conditional and label is None:
        label = pickers.model_class(ckpt, "Class given to the model",
                                    "A conditional model codes an image with its class; the class is coded too.")
sha = weights(ckpt)
if x is None:
    st.info("Upload an image to compress" + (", or switch to a test image." if data is not None else "."))
else:
    with info_col:
        show.image(x, caption, width=140)
    label = label if model.conditional else None
    st.subheader("Lossless")
    lossless_panel(ckpt, x, label, sha)
    st.subheader("Lossy")
    lossy_panel(ckpt, x, label, sha)
st.subheader("Decompress")
decompress_panel(ckpt, sha)
publish()
