"""Compare: two to six models side by side on the same inputs. Their measured figures with the best of
each marked, rate against distortion (what β trades), KL per dimension (posterior collapse), then
reconstructions of the same test images, prior samples from the same codes, one interpolation, and
each model's map."""

import random
from collections.abc import Callable
from itertools import islice

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch
from PIL import Image
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from ui import atlas as atlases
from ui import entry, maps, metrics, models, show, state
from vae.analysis.atlas import AtlasError
from vae.datasets.imageset import ImageSet
from vae.networks.latent import decode, interpolate, sample_prior
from vae.store.checkpoint import Checkpoint

entry.through_app()

FAMILY = ("mnist-vae", "mnist-ae", "mnist-beta4", "mnist-cvae", "mnist-wae", "mnist-2d")
MAX_MODELS = 6
SHOWN = 10  # test images reconstructed, samples drawn and steps on the path
TILE = 44
SIDES = ("top", "bottom")
BEST_STYLE = "font-weight: 700; background-color: rgba(79, 70, 229, 0.14)"


def starting_models(working: list[models.Entry]) -> list[str]:
    """The model picked in the sidebar, then the family members whose images have its shape: five at most,
    so that a slot is left for a model of one's own. Without the family at hand, two other models that fit."""
    by_id = {e.id: e for e in working}
    first = st.session_state.get(state.MODEL_KEY)
    first = first if first in by_id else next(iter(by_id), None)
    if first is None:
        return []
    chosen = models.load(by_id[first])
    if isinstance(chosen, str):
        return [first]
    shape = chosen.model.image_shape

    def fits(i: str) -> bool:
        ckpt = models.load(by_id[i])
        return i != first and not isinstance(ckpt, str) and ckpt.model.image_shape == shape

    family = [i for i in FAMILY if i in by_id and fits(i)]
    others = family or list(islice((i for i in by_id if fits(i)), 2))
    return [first, *others][:MAX_MODELS - 1]


def pick_models() -> list[tuple[str, Checkpoint]]:
    """The models chosen in the multiselect (see starting_models for the first choice), loaded."""
    working = [e for e in st.session_state.get("_entries", []) if e.error is None]
    ids = [e.id for e in working]
    state.bind("models", starting_models(working), state.choices(ids, MAX_MODELS))
    st.multiselect("Models", ids, key="models", max_selections=MAX_MODELS,
                   help="Two to six models, compared on the same inputs. The first one's test set supplies the "
                   "images; models whose images have another shape are left out.")
    by_id = {e.id: e for e in working}
    return [(i, models.load(by_id[i])) for i in st.session_state["models"] if i in by_id]


def same_shape(chosen: list[tuple[str, Checkpoint]]) -> list[tuple[str, Checkpoint]]:
    shape = chosen[0][1].model.image_shape
    kept = [(i, c) for i, c in chosen if c.model.image_shape == shape]
    left_out = [i for i, c in chosen if c.model.image_shape != shape]
    if left_out:
        st.warning(f"Left out {', '.join(left_out)}: their images are not {shape[1]}×{shape[2]}×{shape[0]} like "
                   f"{chosen[0][0]}'s, so they cannot take the same inputs.", icon=":material/filter_alt:")
    return kept


def metrics_table(chosen: list[tuple[str, Checkpoint]]) -> None:
    rows = [{"Model": i, "Kind": c.model.kind, "Latent": c.model.latent_dim, **metrics.row(c)}
            for i, c in chosen]
    frame = pd.DataFrame(rows).set_index("Model")
    labels = [m.label for m in metrics.METRICS]
    frame[labels] = frame[labels].astype(float)  # one type per column: a missing figure is NaN
    styler = frame.style.format({m.label: f"{{:,.{m.digits}f}}" for m in metrics.METRICS}, na_rep="—")
    conditional = pd.Series([c.model.conditional for _, c in chosen], index=frame.index)
    mixed = conditional.any() and not conditional.all()
    for m in metrics.METRICS:
        column = frame[m.label][~conditional] if m.given_label and mixed else frame[m.label]
        if m.better and column.notna().sum() >= 2:
            best = column.min() if m.better == "lower" else column.max()
            styler = styler.map(lambda v, best=best: BEST_STYLE if v == best else "", subset=(column.index, m.label))
    st.dataframe(styler, placeholder="—")
    missing = [(i, m.label, metrics.missing_reason(c, m.key)) for i, c in chosen for m in metrics.METRICS
               if metrics.value(c, m.key) is None]
    if mixed:
        missing += [(i, m.label, "given its label: -log p(x|y), not comparable with the others' -log p(x), so not "
                     "marked as the best") for i, c in chosen if c.model.conditional
                    for m in metrics.METRICS if m.given_label]
    st.caption("The best of each column is marked (rate is a trade-off, so none there). Numbers come from "
               "`python -m vae evaluate` (NLL with the k in each model card); a dash is a number that does not exist "
               "for that kind of model, or was not measured.")
    with st.expander("What the columns mean" + (", and why some cells have no number" if missing else "")):
        st.markdown("\n".join(f"- **{m.label}**: {m.help}." for m in metrics.METRICS))
        if missing:
            st.markdown("\n".join(f"- **{i}**, {label}: {why}" for i, label, why in missing))


def model_colours(chosen: list[tuple[str, Checkpoint]]) -> dict[str, str]:
    """One colour per model, the same in every chart of the page."""
    return {i: qualitative.Plotly[n % len(qualitative.Plotly)] for n, (i, _) in enumerate(chosen)}


RD_TITLE, KL_TITLE = "Rate against distortion", "KL per latent dimension, largest first"
RD_NOTE = ("Rate against distortion: lower left is better. Along a dotted line the ELBO (rate + distortion) is "
           "the same; a larger β buys a smaller rate with more distortion. Deterministic models have no rate: their "
           "distortion is a line.")
KL_NOTE = ("KL per dimension: dimensions with almost no KL carry no information about the image: the posterior has "
           "collapsed onto the prior there.")
NO_RD_NOTE = "No rate or distortion measured yet for these models (`python -m vae evaluate`)."


def rate_distortion(fig: go.Figure, col: int, points: list[tuple[str, float | None, float]],
                    colours: dict[str, str]) -> None:
    """Rate (KL) against distortion, a point per VAE; deterministic models (no rate) as lines at their
    distortion. `points` are (model, rate, distortion)."""
    with_rate = [(i, r, d) for i, r, d in points if r is not None]
    for n, (i, r, d) in enumerate(sorted(with_rate, key=lambda p: p[1])):  # neighbours' labels on opposite sides
        fig.add_scatter(x=[r], y=[d], mode="markers+text", text=[i], textposition=SIDES[n % 2] + " center", name=i,
                        marker={"size": 13, "color": colours[i]}, showlegend=False, row=1, col=col,
                        hovertemplate=f"{i}<br>rate %{{x:.2f}} nats<br>distortion %{{y:.2f}} nats<extra></extra>")
    if with_rate:  # lines of equal ELBO (rate + distortion) through the best point
        total = min(r + d for _, r, d in with_rate)
        xs = [0, max(r for _, r, _ in with_rate) * 1.3 + 1]
        for offset in (0, 10, 20):
            fig.add_scatter(x=xs, y=[total + offset - x for x in xs], mode="lines", showlegend=False, hoverinfo="skip",
                            line={"dash": "dot", "width": 1, "color": "#9ca3af"}, row=1, col=col)
    lines = sorted((d, i) for i, r, d in points if r is None)
    for n, (d, i) in enumerate(lines):  # from the lowest up: below, above, below, ...
        fig.add_hline(y=d, line={"dash": "dash", "width": 1.5, "color": colours[i]}, annotation_text=f"{i} (no rate)",
                      annotation_position=SIDES[1 - n % 2] + " left", row=1, col=col)  # the points lie to the right
    ys = [d for _, _, d in points]
    pad = max(4.0, 0.1 * (max(ys) - min(ys)))
    fig.update_xaxes(title="rate: KL(q(z|x) || p(z)), nats", rangemode="tozero", row=1, col=col)
    fig.update_yaxes(title="distortion: reconstruction, nats", range=[min(ys) - pad, max(ys) + 2 * pad], row=1, col=col)


def kl_bars(fig: go.Figure, col: int, kls: dict[str, torch.Tensor], colours: dict[str, str]) -> None:
    """Each VAE's KL per dimension, largest first: near-zero bars are collapsed dimensions."""
    for i, kl in kls.items():
        fig.add_bar(x=list(range(1, len(kl) + 1)), y=kl.tolist(), name=i, marker_color=colours[i], row=1, col=col,
                    hovertemplate=f"{i}: dimension %{{x}} by KL, %{{y:.2f}} nats<extra></extra>")
    fig.update_xaxes(title="dimension, by KL", dtick=1, row=1, col=col)
    fig.update_yaxes(title="nats", row=1, col=col)


def measured_charts(chosen: list[tuple[str, Checkpoint]], data: ImageSet | None,
                    colours: dict[str, str]) -> tuple[go.Figure | None, str]:
    """Rate against distortion and KL per dimension, the ones there are figures for, side by side in one chart
    (a chart costs the browser ~55 ms of each visit to draw), and a note on them."""
    points = [(i, metrics.value(c, "rate"), metrics.value(c, "distortion")) for i, c in chosen]
    points = [(i, r, d) for i, r, d in points if d is not None]
    kls = {}
    for i, c in chosen:
        stats = atlases.latent_stats(c, data)
        if stats is not None and stats[0] is not None:
            kls[i] = torch.sort(stats[0], descending=True).values
    panels = [(title, note, draw) for title, note, draw, shown in (
        (RD_TITLE, RD_NOTE, lambda fig, col: rate_distortion(fig, col, points, colours), bool(points)),
        (KL_TITLE, KL_NOTE, lambda fig, col: kl_bars(fig, col, kls, colours), bool(kls))) if shown]
    notes = [note for _, note, _ in panels] + ([] if points else [NO_RD_NOTE])
    if not panels:
        return None, " ".join(notes)
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[title for title, _, _ in panels],
                        horizontal_spacing=0.08)
    for col, (_, _, draw) in enumerate(panels, start=1):
        draw(fig, col)
    fig.update_layout(height=400, barmode="group", margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend={"orientation": "h", "y": -0.2, "x": 1, "xanchor": "right"})
    return fig, " ".join(notes)


def reconstructions(chosen: list[tuple[str, Checkpoint]], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    rows = [x]
    for _, c in chosen:
        with torch.no_grad():
            mu, _ = c.model.encode(x, y)
        rows.append(decode(c.model, mu, y))
    return torch.stack(rows)


def samples(chosen: list[tuple[str, Checkpoint]], seed: int, temperature: float) -> torch.Tensor:
    """Prior samples: the same codes for every model of a latent size; conditional models cycle the classes."""
    rows = []
    for _, c in chosen:
        codes = sample_prior(SHOWN, c.model.latent_dim, temperature, seed)
        rows.append(decode(c.model, codes, models.class_input(c, SHOWN)))
    return torch.stack(rows)


def paths(chosen: list[tuple[str, Checkpoint]], ends: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Each model's linear path between the same two images (a conditional model decodes it as A's class)."""
    rows = []
    for _, c in chosen:
        with torch.no_grad():
            mu, _ = c.model.encode(ends, labels)
        y = labels[:1].repeat(SHOWN)
        rows.append(decode(c.model, interpolate(mu[0], mu[1], SHOWN), y))
    return torch.stack(rows)


@st.cache_resource(max_entries=64, show_spinner=False)
def _picture(what: str, models_key: tuple, args: tuple, _make: Callable[[], Image.Image]) -> str:
    return show.inline_png(_make())


def cached_picture(chosen: list[tuple[str, Checkpoint]], what: str, args: tuple,
                   make: Callable[[], Image.Image], width: int | str = "content") -> None:
    """Show `make`'s picture, made once per models (their folders and files' signatures), `what` and `args`:
    a second visit decodes and draws nothing again (the page's decoding took ~70 ms of each visit)."""
    key = tuple((i, str(c.folder.resolve()), models.signature(c.folder)) for i, c in chosen)
    st.image(_picture(what, key, args, make), width=width)


def small_maps(chosen: list[tuple[str, Checkpoint]]) -> None:
    """Each model's map (its first projection), all in one picture; a caption for models that have none."""
    shown, missing = [], []
    for i, c in chosen:
        try:
            atlas = atlases.stored(c)
        except AtlasError:  # a broken atlas is the Latent map page's to explain
            atlas = None
        if atlas is None:
            missing.append(i)
        else:
            shown.append((i, maps.cache_key(c, atlas), atlas, atlas.projections[0]))
    if shown:
        cached_picture(chosen, "maps", tuple((key, projection) for _, key, _, projection in shown),
                       lambda: maps.snapshots([(f"{i} · {maps.PROJECTION_NAMES[projection]}", atlas, projection)
                                               for i, _, atlas, projection in shown]), width="stretch")
    if missing:
        st.caption(f"No latent map yet for {', '.join(missing)} (open each on the Latent map page once).")


def random_pair(size: int) -> None:
    st.session_state.update(a=random.randrange(size), b=random.randrange(size))


st.title("Compare")
st.caption("Why a VAE and not a plain autoencoder, what β trades, what a conditional model or a WAE changes: "
           "the same inputs through several models, side by side.")
chosen = pick_models()
if len(chosen) < 2:
    st.info("Pick at least two models to compare.")
    state.publish({"models": st.session_state["models"]})
    st.stop()
chosen = same_shape(chosen)
first = chosen[0][1]
data = models.load_test_images(first)

st.subheader("Measured")
metrics_table(chosen)
chart, note = measured_charts(chosen, data, model_colours(chosen))
if chart is not None:
    st.plotly_chart(chart, key="measured")
st.caption(note)

if data is None:
    st.info("The test images are not available, so the side-by-side images are off.")
    state.publish({"models": st.session_state["models"]})
    st.stop()
state.bind("inputs", 0, state.integer(0, state.MAX_SEED))
state.bind("seed", 0, state.integer(0, state.MAX_SEED))
state.bind("temperature", 1.0, state.number(0.05, 3.0))
state.bind("a", 0, state.integer(0, len(data) - 1))
state.bind("b", 1, state.integer(0, len(data) - 1))
names = [i for i, _ in chosen]

st.subheader("Reconstructions of the same test images")
st.button("Other images", key="other_inputs", on_click=state.new_seed, args=("inputs",), icon=":material/casino:")
idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(st.session_state["inputs"]))[:SHOWN]
x, y = data.floats(idx), data.labels[idx]
cached_picture(chosen, "reconstructions", tuple(idx.tolist()), lambda: show.labelled_rows(
    reconstructions(chosen, x, y), ["input", *names], [f"#{i}" for i in idx.tolist()], tile=TILE))

st.subheader("Samples from the prior, the same codes")
controls = st.columns([2, 1, 1], vertical_alignment="bottom")
controls[0].slider("Temperature", 0.05, 3.0, step=0.05, key="temperature")
controls[1].number_input("Seed", 0, state.MAX_SEED, key="seed")
controls[2].button("Resample", key="resample", on_click=state.new_seed, args=("seed",), icon=":material/casino:",
                   width="stretch")
seed, temperature = st.session_state["seed"], st.session_state["temperature"]
cached_picture(chosen, "samples", (seed, temperature), lambda: show.labelled_rows(
    samples(chosen, seed, temperature), names, [str(i + 1) for i in range(SHOWN)], tile=TILE))
st.caption("Models of the same latent size decode the very same codes; conditional ones are given the classes in "
           "turn. An autoencoder was never asked to make its codes look like N(0, I), which shows here.")

st.subheader("One interpolation, every model")
ends_cols = st.columns([1, 1, 1, 3], vertical_alignment="bottom")
ends_cols[0].number_input("Image A", 0, len(data) - 1, key="a")
ends_cols[1].number_input("Image B", 0, len(data) - 1, key="b")
ends_cols[2].button("Random pair", key="random_pair", icon=":material/casino:", on_click=random_pair, args=(len(data),))
ends = torch.tensor([st.session_state["a"], st.session_state["b"]])
cached_picture(chosen, "paths", tuple(ends.tolist()), lambda: show.labelled_rows(
    paths(chosen, data.floats(ends), data.labels[ends]), names, ["A", *[""] * (SHOWN - 2), "B"], tile=TILE))
if any(c.model.conditional for _, c in chosen):
    st.caption("A conditional model decodes the whole path as A's class: its code holds the style, the label the "
               "digit, so it morphs A's style into B's and keeps A's class.")

st.subheader("Latent maps")
small_maps(chosen)

state.publish({k: st.session_state.get(k) for k in ("models", "inputs", "seed", "temperature", "a", "b")})
