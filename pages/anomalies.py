"""Anomalies: what the model finds unusual. The test images ranked by an anomaly score (the most unusual
and the most typical, with their reconstructions), the score's histogram with a threshold, your own image
scored against the test set, and the ROC curves of the stored out-of-distribution benchmarks.

Every test image's scores come precomputed with the atlas (`python -m vae atlas`); only an upload is scored here.
"""

import plotly.graph_objects as go
import streamlit as st
import torch
from torch import Tensor

from ui import atlas as atlases
from ui import entry, maps, models, scores, show, state, uploads
from vae.analysis.atlas import Atlas
from vae.analysis.ood import SHIFTS
from vae.analysis.scores import NLL_K, available, best_fit, percentile, score_images, unavailable
from vae.datasets.imageset import ImageSet
from vae.networks.latent import decode
from vae.store.checkpoint import Checkpoint

entry.through_app()

SHOWN = (6, 12, 24, 48)
DEFAULT_FLAGGED = 0.99  # the threshold starts where 1 % of the test images lie above it
SLIDER_STEPS = 1000
HIST_RANGE = (0.001, 0.999)  # quantiles the histogram spans, widened to take in the threshold
SET_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "hflip": "flipped left–right",
             "vflip": "flipped upside down", "invert": "inverted", "noise": "plus noise", "constant": "flat images"}


def set_name(name: str) -> str:
    return SET_NAMES.get(name, name)


def new_score() -> None:
    """Callback: another score has another range, so the threshold starts again from its default."""
    st.session_state.pop("threshold", None)
    st.session_state.get(state.MEMORY, {}).pop("threshold", None)
    st.query_params.pop("threshold", None)  # the link's value would be bound again otherwise


def side_by_side(left: Tensor, right: Tensor) -> Tensor:
    """Pairs of (N, C, H, W) images joined left to right with a thin grey line between them."""
    line = torch.full((*left.shape[:3], 2), 0.5)
    return torch.cat([left, line, right], dim=3)


def gallery(ckpt: Checkpoint, atlas: Atlas, data: ImageSet | None, idx: Tensor, values: Tensor,
            names: list[str]) -> None:
    """Test images beside their reconstructions, each captioned with its index, class and score."""
    y = atlas.labels[idx]
    recon = decode(ckpt.model, atlas.mu[idx], y)
    pairs = side_by_side(data.floats(idx), recon) if data is not None else recon
    captions = [f"#{int(i)}" + (f" · {names[int(atlas.labels[i])].split(' - ')[0]}" if names else "")
                + f" · {float(values[i]):.4g}"
                for i in idx]
    show.images(pairs, captions, width=164 if data is not None else 80)


def histogram(values: Tensor, threshold: float, title: str) -> go.Figure:
    lo, hi = torch.quantile(values, torch.tensor(HIST_RANGE)).tolist()
    lo, hi = min(lo, threshold), max(hi, threshold)
    shown = values[(values >= lo) & (values <= hi)].numpy()
    fig = go.Figure(go.Histogram(x=shown, nbinsx=80, marker_color="#4f46e5", hovertemplate="%{x}: %{y} images"
                                 "<extra></extra>"))
    fig.add_vline(x=threshold, line={"color": "#dc2626", "width": 2}, annotation_text="threshold",
                  annotation_position="top right")
    fig.update_layout(height=260, margin={"l": 10, "r": 10, "t": 24, "b": 10}, bargap=0.02,
                      xaxis={"title": title}, yaxis={"title": "test images"})
    return fig


def within(lo: float, hi: float) -> state.Parser:
    """A number from the link, moved into [lo, hi] (the link holds it rounded, which may step just outside)."""
    parse = state.number(float("-inf"), float("inf"))
    return lambda raw: min(hi, max(lo, parse(raw)))


def threshold_section(atlas: Atlas, score: str) -> float:
    values = atlas.scores[score]
    lo, hi = float(values.min()), float(values.max())
    step = max((hi - lo) / SLIDER_STEPS, 1e-9)
    state.bind("threshold", float(torch.quantile(values, DEFAULT_FLAGGED)), within(lo, hi))
    threshold = st.session_state["threshold"]
    chart, numbers = st.columns([3, 1], vertical_alignment="center")
    with numbers:
        flagged = int((values > threshold).sum())
        st.metric("Flagged", f"{flagged:,}", help="Test images scoring above the threshold")
        st.metric("Share of the test set", f"{100 * flagged / len(values):.2f} %")
    chart.plotly_chart(histogram(values, threshold, scores.title(score)), key="histogram",
                       config={"displaylogo": False})
    st.slider("Threshold", lo, hi, step=step, key="threshold", format="%.4g",
              help="Images scoring above it are flagged as unusual.")
    return threshold


def own_image(ckpt: Checkpoint, atlas: Atlas, data: ImageSet | None, score: str, threshold: float) -> None:
    """Score an upload with every score the model has, against the test set's stored scores."""
    with st.expander("Upload options", icon=":material/upload:"):
        uploads.options(ckpt, data)
    x = uploads.upload(ckpt, data, "anomaly_upload", "Your image")
    if x is None:
        st.caption("Upload an image to see how unusual the model finds it, compared with its test images.")
        return
    reference, why = scores.reference(ckpt)
    names = [n for n in atlas.scores if reference is not None or n not in ("knn", "stats")]
    if why:
        st.caption(f"{why} {scores.add_scores_hint(ckpt)}")
    k = atlas.meta.get("nll_k", NLL_K)
    own = {n: float(v[0]) for n, v in score_images(ckpt.model, x[None], reference, names, k=k).items()}
    mu, y = best_fit(ckpt.model, x[None])
    left, right = st.columns(2, gap="large")
    with left:
        picture, numbers = st.columns([3, 2])
        with picture:
            show.image(side_by_side(x[None], decode(ckpt.model, mu, y))[0], "your image · its reconstruction",
                       width="stretch")
            if y is not None:
                st.caption(f"Scored as the class it fits best: {models.class_names(ckpt)[int(y[0])]}.")
        if score in own:
            value = own[score]
            numbers.metric(scores.title(score), f"{value:.4g}",
                           help="Its score; the percentile is the share of test images scoring the same or less.")
            numbers.metric("Percentile in the test set", f"{percentile(atlas.scores[score], value):.1f}")
            numbers.markdown(":red[**Flagged**]: above the threshold." if value > threshold else
                             ":green[**Not flagged**]: at or below the threshold.")
        st.dataframe(
            {"score": [scores.title(n) for n in own], "value": [f"{v:.4g}" for v in own.values()],
             "percentile in the test set": [round(percentile(atlas.scores[n], v), 1) for n, v in own.items()]},
            hide_index=True, key="own_scores",
            column_config={"percentile in the test set": st.column_config.NumberColumn(format="%.1f")},
        )
    with right:
        projection = atlas.projections[0]
        base = maps.backdrop(maps.cache_key(ckpt, atlas), atlas, projection)
        (px, py), = atlas.project(mu, projection).tolist()
        st.plotly_chart(maps.with_marker(base, px, py, "your image"), key="own_map",
                        config={"displaylogo": False, "scrollZoom": True})
        st.caption(f"Where its latent mean lands on the {maps.PROJECTION_NAMES[projection]} map of the test set.")


def roc_section(ckpt: Checkpoint, atlas: Atlas, score: str) -> None:
    entries, curves = scores.benchmarks(ckpt)
    if not entries:
        others = [s for s in ("mnist", "fashion-mnist") if s != ckpt.meta.get("dataset")]
        st.caption(f"No benchmarks stored yet. `python -m vae ood {scores.command_path(ckpt)} --against "
                   f"{' '.join(others)} {' '.join(SHIFTS)}` measures them (or `folder:PATH` for a folder of your "
                   "own images).")
        return
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"color": "#9ca3af", "dash": "dot"},
                               name="chance", hoverinfo="skip"))
    for name, entry_ in entries.items():
        curve = curves.get(name, {}).get(score)
        metrics = entry_.get("scores", {}).get(score)
        if curve and metrics:
            fig.add_scatter(x=curve["fpr"], y=curve["tpr"], mode="lines", name=f"{set_name(name)} · AUROC "
                            f"{metrics['auroc']:.4f}", hovertemplate="FPR %{x:.3g}, TPR %{y:.3g}<extra></extra>")
    fig.update_layout(height=380, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      xaxis={"title": "false positive rate (test images flagged)", "range": [0, 1]},
                      yaxis={"title": "true positive rate (other images flagged)", "range": [0, 1.01]},
                      legend={"y": 0.5, "yanchor": "middle", "x": 1.02, "xanchor": "left"})
    st.plotly_chart(fig, key="roc", config={"displaylogo": False})
    titles = {n: scores.title(n) for n in dict.fromkeys(s for e in entries.values() for s in e.get("scores", {}))}
    table = {"score": list(titles.values())}
    for name, entry_ in entries.items():
        table[set_name(name)] = [entry_.get("scores", {}).get(s, {}).get("auroc") for s in titles]
    st.markdown("**AUROC of every score against every set**")
    st.dataframe(table, hide_index=True, key="auroc_table",
                 column_config={set_name(n): st.column_config.NumberColumn(format="%.4f") for n in entries})
    runs = dict.fromkeys(f"`{e.get('command', '?')}` ({e.get('date', '?')})" for e in entries.values())
    st.caption(f"Measured by {', '.join(runs)}. 1 means every other image scores above every test image; 0.5 is "
               "chance; below 0.5 the score ranks them the wrong way round.")
    if any(e.get("weights_sha256") not in (None, atlas.meta.get("weights_sha256")) for e in entries.values()):
        st.caption(":orange[Some benchmarks were measured on earlier weights of this model.]")


ckpt, data, names = models.open_page(
    "Anomalies",
    "What the model finds unusual. Every test image has a few anomaly scores, higher meaning more unusual; "
    "pick one to rank the test set by it, set a threshold, score your own image, and see how well it tells "
    "other images from the test set.",
)
atlas = atlases.get(ckpt, data)
if atlas is None:
    st.stop()
missing = unavailable(ckpt.model)
if missing:
    st.caption(f"No {', '.join(scores.title(n) for n in missing)} here: {next(iter(missing.values()))}.")
if ckpt.model.conditional:
    st.caption("This model is conditional: images are scored without their labels, each as the class it fits best, "
               "so that test images and other images are treated alike.")
if not atlas.scores:
    has = ", ".join(map(scores.title, available(ckpt.model)))
    st.info(f"This model's latent map has no anomaly scores yet ({has}). "
            + scores.add_scores_hint(ckpt), icon=":material/query_stats:")
    state.publish({})
    st.stop()
if atlas.stale:
    st.warning("These scores were computed with earlier weights of this model; rebuild the map to refresh them.",
               icon=":material/history:")

options = list(atlas.scores)
state.bind("score", "stats" if "stats" in options else options[0], state.choice(options))
st.segmented_control("Score", options, key="score", format_func=scores.title, required=True, on_change=new_score)
score = st.session_state["score"]
st.caption(scores.describe(score, atlas.meta))
values = atlas.scores[score]

state.bind("shown", 12, state.integer_choice(SHOWN))
unusual_tab, typical_tab = st.tabs(["Most unusual", "Most typical"])
order = torch.argsort(values, descending=True, stable=True)
with unusual_tab:
    gallery(ckpt, atlas, data, order[:st.session_state["shown"]], values, names)
with typical_tab:
    gallery(ckpt, atlas, data, order.flip(0)[:st.session_state["shown"]], values, names)
count, note = st.columns([1, 3], vertical_alignment="bottom")
count.select_slider("Images shown", SHOWN, key="shown")
note.caption("Each test image beside its reconstruction, with its index, class and score."
             if data is not None else "The reconstructions (the test images themselves are not available).")

st.subheader("Threshold")
threshold = threshold_section(atlas, score)

st.subheader("Your own image")
own_image(ckpt, atlas, data, score, threshold)

st.subheader("Telling other images apart")
roc_section(ckpt, atlas, score)

state.publish({k: st.session_state.get(k) for k in ("score", "shown", "threshold", "invert", "fit")})
