"""Draw: a drawing pad whose drawing the model encodes in the browser while it is drawn.

On every stroke update the browser makes the drawing the model's input (as an upload of it would be),
encodes it to its latent mean, decodes that, scores it and places it on the latent map (ui/live/pad.py).
When a stroke ends, the code and the input come here: the nearest test images, and buttons that open
the drawing in the sliders or as A or B of an interpolation. The strokes live in the link. Where the
browser cannot run the model, an uploaded drawing is encoded here instead.
"""

import streamlit as st
import torch

from ui import atlas as atlases
from ui import drawing, entry, maps, models, pickers, show, state, uploads
from ui.live.pad import MAX_STROKE_TEXT, ModelInput, PadResult, PadScore, draw_pad, parse_strokes
from ui.live.runtime import atlas_spec, decoder_of, encoder_of, values_of
from ui.scores import score_images, score_of, scores_of_test_set
from vae.analysis.atlas import Atlas
from vae.analysis.scores import percentile
from vae.datasets.imageset import ImageSet
from vae.networks.latent import decode, nearest_neighbours
from vae.store.checkpoint import Checkpoint

entry.through_app()

NEAREST = 8
SCORED = 2000  # test images the drawing's score is ranked among
CODE_LIMIT = 1e3


def strokes(raw: str) -> str:
    """ui.state parser of the pad's strokes."""
    try:
        return parse_strokes(raw)
    except ValueError as err:
        raise ValueError(f"{err} (at most {MAX_STROKE_TEXT:,} characters of pad strokes)") from None


def remember(done: PadResult) -> None:
    """Pad callback: the drawing's strokes, and what they encode to (nothing for an empty pad)."""
    if done.committed:
        st.session_state["strokes"] = done.strokes
        st.session_state["drawn"] = done if done.z is not None else None


def open_in_sliders(z: list[float], label: int | None) -> None:
    values = {"z": [round(v, 2) for v in z]} | ({"label": label} if label is not None else {})
    st.session_state["_switch_to"] = ("pages/sliders.py", values)


def open_in_interpolate(side: str, image: torch.Tensor, label: int | None) -> None:
    for key in (f"{side}_source", f"{side}_drawing"):
        st.session_state.pop(key, None)
    values = {f"{side}_source": "Drawing", f"{side}_drawing": drawing.to_text(image)}
    st.session_state["_switch_to"] = ("pages/interpolate.py", values | ({"label": label} if label is not None else {}))


def open_in_compress(image: torch.Tensor, label: int | None) -> None:
    for key in ("source", "drawing"):
        st.session_state.pop(key, None)
    values = {"source": "Drawing", "drawing": drawing.to_text(image)}
    st.session_state["_switch_to"] = ("pages/compress.py", values | ({"label": label} if label is not None else {}))


def reference_scores(ckpt: Checkpoint, data: ImageSet | None, atlas: Atlas | None) -> torch.Tensor | None:
    """The first SCORED test images' scores, sorted, to rank a drawing among (None without them)."""
    if data is None:
        return None
    stored = atlas if atlas is not None and atlases.describes(ckpt, atlas, data) else None
    scores = scores_of_test_set(ckpt, data.subset(min(SCORED, len(data))), stored)
    return None if scores is None else scores.sort().values


def pad(ckpt: Checkpoint, data: ImageSet | None, atlas: Atlas | None, names: list[str], label: int | None,
        reference: torch.Tensor | None) -> PadResult:
    model_input = ModelInput(*ckpt.model.image_shape, dark_background=uploads.dark_background(data),
                             invert="never", fit=st.session_state["framing"])
    stored = None if reference is None else values_of(reference, "draw-scores", ckpt.model)
    score = PadScore(score_of(ckpt.model), stored)
    points, caption = None, ""
    if atlas is not None:
        projection = st.session_state["projection"]
        points = atlas_spec(atlas, projection, names)
        how = "exact" if projection in ("pca", "latent") else "placed by the nearest test images' codes"
        caption = f"The drawing's code on the {maps.PROJECTION_NAMES[projection]} map ({how})."
    drawn: PadResult | None = st.session_state.get("drawn")
    wanted = bool(st.session_state["strokes"]) and (
        drawn is None or drawn.strokes != st.session_state["strokes"] or drawn.fit != model_input.fit
        or drawn.label != label)
    return draw_pad(decoder_of(ckpt), encoder_of(ckpt), key="pad", model_input=model_input, score=score,
                    strokes=st.session_state["strokes"], label=label, points=points, map_caption=caption,
                    commit_wanted=wanted, on_commit=remember)


def uploaded(ckpt: Checkpoint, data: ImageSet | None, label: int | None,
             reference: torch.Tensor | None) -> tuple[torch.Tensor, list[float]] | None:
    """The fallback: a drawing uploaded and encoded here, shown with its reconstruction and score."""
    x = uploads.upload(ckpt, data, "draw_upload", "Upload a drawing")
    if x is None:
        return None
    y = None if label is None else torch.tensor([label])
    with torch.no_grad():
        mu, _ = ckpt.model.encode(x[None], y)
    score, kind = float(score_images(ckpt.model, x[None], y)[0]), score_of(ckpt.model)
    show.images(torch.stack([x, decode(ckpt.model, mu, y)[0]]), ["your drawing", "its reconstruction"], width=140)
    rank = "" if reference is None else f", more unusual than {percentile(reference, score):.0f}% of the test images"
    st.markdown(f"**{kind.title}: {score:.{kind.digits}f} {kind.unit}**{rank}")
    st.caption(kind.note)
    return x, mu[0].tolist()


def nearest(ckpt: Checkpoint, atlas: Atlas | None, data: ImageSet | None, z: list[float], names: list[str]) -> None:
    st.markdown("**Nearest test images** (by the distance of their latent means to the drawing's)")
    if atlas is None:
        st.caption("They come from the latent map, which this model does not have yet.")
        return
    idx, dist = nearest_neighbours(torch.tensor([z]), atlas.mu, k=NEAREST)
    shown = data if data is not None and atlases.describes(ckpt, atlas, data) else None
    captions = [f"#{i}" + (f" · {names[int(atlas.labels[i])].split(' - ')[0]}" if names else "") + f" · d {d:.2f}"
                for i, d in zip(idx[0].tolist(), dist[0].tolist(), strict=True)]
    show.images(atlases.point_images(ckpt, atlas, shown, idx[0]), captions, width=108)
    if ckpt.model.conditional:
        st.caption("A conditional model's code holds what the class does not say (the style), so these share the "
                   "drawing's style, whatever their class.")
    if shown is None:
        st.caption("The test images are not available (or have changed), so these are their reconstructions.")


def hand_on(x: torch.Tensor, z: list[float], label: int | None) -> None:
    """Buttons that open the drawing on other pages; the model goes along (ui.state.switch_page)."""
    cols = st.columns(4)
    cols[0].button("Open in the sliders", key="to_sliders", icon=":material/tune:", on_click=open_in_sliders,
                   args=(z, label), width="stretch", help="The Latent sliders page, starting from this drawing's code.")
    for col, side in zip(cols[1:3], ("a", "b"), strict=True):
        col.button(f"Interpolate: drawing as {side.upper()}", key=f"to_interpolate_{side}", width="stretch",
                   icon=":material/linear_scale:", on_click=open_in_interpolate, args=(side, x, label),
                   help=f"The Interpolate page, with this drawing as its {side.upper()} end.")
    cols[3].button("Compress it", key="to_compress", icon=":material/compress:", on_click=open_in_compress,
                   args=(x, label), width="stretch", help="The Compress page, with this drawing as its image.")


ckpt, data, names = models.open_page(
    "Draw",
    "Draw on the pad: the model encodes your drawing as you draw, in your browser, and shows what it "
    "makes of it, how unusual it finds it and where it lands on the latent map.",
)
atlas = atlases.get(ckpt, data)

state.bind("strokes", "", strokes)
# its own key: "fit" is the uploads' radio elsewhere, and a key shared by two kinds of widget loses its value
state.bind("framing", "digit" if ckpt.meta.get("dataset") == "mnist" else "pad", state.choice(uploads.FIT_NAMES))
controls = st.columns([2, 1.3, 1.3], vertical_alignment="bottom")
controls[0].segmented_control("Framing", list(uploads.FIT_NAMES), key="framing", format_func=uploads.FIT_NAMES.get,
                              required=True, help="How the drawing is fitted into the model's frame, as for uploads.")
label = pickers.model_class(ckpt, "Class", "A conditional model encodes and decodes the drawing as this class.",
                            controls[1])
if atlas is not None:
    state.bind("projection", atlas.projections[0], state.choice(atlas.projections))
    controls[2].segmented_control("Map", atlas.projections, key="projection", format_func=maps.PROJECTION_NAMES.get,
                                  required=True)

reference = reference_scores(ckpt, data, atlas)
live = pad(ckpt, data, atlas, names, label, reference)
if live.available:
    done: PadResult | None = st.session_state.get("drawn") if st.session_state["strokes"] else None
    current = None if done is None or done.z is None else (done.image, done.z)
else:
    st.caption(live.error)
    current = uploaded(ckpt, data, label, reference)

if current is None:
    st.caption("When you lift the pen, the nearest test images show here, with buttons to take the drawing to the "
               "sliders or an interpolation.")
else:
    image, z = current
    nearest(ckpt, atlas, data, z, names)
    hand_on(image, z, label)

state.publish({
    "strokes": st.session_state["strokes"] or None,
    "framing": st.session_state["framing"],
    "label": label,
    "projection": st.session_state.get("projection") if atlas is not None else None,
})
if "_switch_to" in st.session_state:
    state.switch_page(*st.session_state.pop("_switch_to"))
