"""Home: the chosen model's card, its training curves, samples and reconstructions, and every checkpoint found."""

import plotly.graph_objects as go
import streamlit as st
import torch

from ui import entry, metrics, models, show, state
from vae.models.ours import objective_of
from vae.networks.latent import decode, encode_dataset, sample_prior
from vae.store.checkpoint import Checkpoint, training_commands, training_epochs

entry.through_app()

SHOWN = 12  # test images, reconstructions and samples shown
KIND_HELP = {
    "vae": "A VAE: the encoder gives a distribution q(z|x), trained on the ELBO with β weighing its KL term.",
    "ae": "A plain autoencoder: each image gets one code, trained on reconstruction alone. Nothing makes its codes "
          "look like the prior, so samples from N(0, I) often land where the decoder saw no codes.",
    "wae": "A Wasserstein autoencoder (WAE-MMD): deterministic codes, trained on reconstruction plus λ times the MMD "
           "between a batch's codes and prior samples, so the codes as a whole match the prior.",
    "onnx": "A model exported to ONNX (from any framework) and run here with onnxruntime: what it is, its model.json "
            "says (docs/own-models.md).",
    "code": "A model from your own PyTorch code, imported because the app was started with --trust-code.",
}


def model_card(ckpt: Checkpoint) -> None:
    model, meta = ckpt.model, ckpt.meta
    history = meta.get("history") or []
    cols = st.columns([1, 1.1, 0.8, 0.8, 1.1, 1.5])  # room for a multi-stage "30 + 22 + 10 + 25"
    dataset, missing = models.dataset_of(ckpt), models.data_missing(ckpt)
    split = (meta.get("split") or {}).get("rule")
    levels = meta.get("levels") or {}
    stretched = (f" Images deeper than 8 bits are stretched from the folder's own range {levels['low']:g}.."
                 f"{levels['high']:g} (--normalise range), uploads too." if "high" in levels else "")
    cols[0].metric("Dataset", models.dataset_label(dataset),
                   help=dataset + (f". Test split: {split}." if split else "") + stretched,
                   delta="images missing" if missing else None, delta_color="red", delta_arrow="off")
    cols[1].metric("Architecture", model.architecture,
                   help=f"{model.code}, imported because the app was started with --trust-code"
                   if model.source == "code" else None)
    cols[2].metric("Latent size", models.latent_words(model),
                   help="A spatial latent: the pages see its codes flattened." if len(model.latent_shape) > 1 else None)
    cols[3].metric("Kind", model.kind, help=KIND_HELP.get(objective_of(model) or model.source))
    count = model.parameter_count
    cols[4].metric("Parameters", "–" if count is None else f"{count:,}")
    runs = training_epochs(meta) or [len(history)]
    if model.source == "checkpoint":
        cols[5].metric(
            "Epochs", " + ".join(map(str, runs)),
            help=f"Best epoch: {meta.get('best_epoch', '?')}"
            + (f". Fine-tuned from weights trained {sum(runs[:-1])} epochs before (--init)." if len(runs) > 1 else ""),
        )
    else:
        cols[5].metric("Epochs", "–", help="Trained elsewhere: the explorer has no record of its training.")
    if model.conditional:
        st.caption(f"Conditional on the class label ({model.num_classes} classes).")
    if ckpt.class_names:
        st.caption(class_order(ckpt.class_names), help="A folder's classes are its subfolders in natural order "
                   "(numbers by value), as recorded in config.json when the model was trained.")
    if meta.get("metrics"):
        for start in range(0, len(metrics.METRICS), 4):
            for col, metric in zip(st.columns(4), metrics.METRICS[start:start + 4], strict=False):
                missing = metrics.value(ckpt, metric.key) is None
                why = " " + metrics.missing_reason(ckpt, metric.key) if missing else ""
                col.metric(metric.label, metrics.formatted(ckpt, metric), help=metric.help + "." + why)
        k = meta["metrics"].get("nll_k")
        if k:
            st.caption(f"NLL by importance sampling with k = {k} samples per image.")
    else:
        st.caption(f"Not evaluated yet: `python -m vae evaluate {ckpt.folder}` adds NLL and active units here.")
    commands = training_commands(meta)
    if commands:
        with st.expander("How it was trained"):
            st.code("\n".join(commands), language="bash", wrap_lines=True)


def class_order(names: list[str], shown: int = 30) -> str:
    """The classes in label order, as config.json records them (a long list cut short)."""
    listed = ", ".join(names[:shown]) + (f", … ({len(names)} in all)" if len(names) > shown else "")
    return f"Classes in label order (0 to {len(names) - 1}): {listed}."


def _number(value: float | None, form: str) -> str:
    """A metric as `form` says, or a dash where it is missing or null (not measured, or not defined)."""
    return "–" if value is None else form.format(value)


def curve(history: list[dict], keys: dict[str, str], title: str) -> go.Figure:
    fig = go.Figure()
    epochs = [h.get("epoch") for h in history]
    values = []
    for key, name in keys.items():
        if any(key in h for h in history):
            fig.add_scatter(x=epochs, y=[h.get(key) for h in history], name=name, mode="lines+markers")
            values += [h[key] for h in history if isinstance(h.get(key), int | float)]
    if values:  # a range of our own: plotly's cut the markers of a one-epoch history in half
        low, high = min(values), max(values)
        pad = (high - low) * 0.1 or max(abs(high) * 0.02, 0.5)
        fig.update_yaxes(range=[low - pad, high + pad])
    fig.update_layout(
        title=title, height=280, margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"title": "epoch", "tickformat": "d", "dtick": max(1, len(history) // 10)}, yaxis_title="nats per image",
        legend={"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"},
    )
    return fig


def training_curves(ckpt: Checkpoint) -> None:
    history = ckpt.meta.get("history") or []
    if not history:
        st.caption("No training history recorded.")
        return
    left, right = st.columns(2)
    k = ckpt.meta.get("train", {}).get("iwae_k", 1)
    losses = {"train_loss": "train", "test_loss": "test"}
    title = {"vae": "Loss (negative ELBO)", "ae": "Loss (reconstruction)", "wae": "Loss (reconstruction + λ·MMD)"}[
        objective_of(ckpt.model)]
    if k > 1:  # trained on the IWAE bound: the training loss is -L_k, and the test set has both
        losses = {"train_loss": f"train -L_{k}", "test_iwae_loss": f"test -L_{k}", "test_loss": "test ELBO"}
        title = "Loss"
    left.plotly_chart(curve(history, losses, title), key="curve_loss")
    regularizer = {"vae": ("kl", "KL divergence"), "wae": ("mmd", "MMD to the prior")}.get(objective_of(ckpt.model))
    if regularizer:
        term, name = regularizer
        right.plotly_chart(curve(history, {f"train_{term}": "train", f"test_{term}": "test"}, name), key="curve_kl")
    else:
        right.caption("A plain autoencoder's loss is its reconstruction term alone: no KL or MMD to plot.")


def samples_and_reconstructions(ckpt: Checkpoint) -> None:
    model = ckpt.model
    data = models.load_test_images(ckpt)
    left, right = st.columns(2, gap="large")
    if data is not None:
        first = data.subset(SHOWN)
        mu, _ = encode_dataset(model, first)
        recon = decode(model, mu, first.labels)
        with left:
            st.markdown("**Test images** (top) **and their reconstructions**")
            show.image_grid(torch.cat([first.floats(), recon]), ncol=SHOWN, tile=44)
    codes = sample_prior(2 * SHOWN, model.latent_dim, seed=0)
    with right:
        st.markdown("**Samples from the prior**" + (" (classes in turn)" if model.conditional else ""))
        show.image_grid(decode(model, codes, models.class_input(ckpt, 2 * SHOWN)), ncol=SHOWN, tile=44)
        if objective_of(model) == "ae":
            st.caption("Drawn from N(0, I), which a plain autoencoder was never trained to fill: see the Sample page.")


def table_row(entry: models.Entry) -> dict[str, object]:
    """One row of the table; each column holds one type (text or integers), None where a broken folder has none,
    so that Streamlit serializes it as it is."""
    ckpt = None if entry.error else models.load(entry)
    row: dict[str, object] = {"Model": entry.id, "Status": "broken" if entry.error else "ok"}
    if isinstance(ckpt, Checkpoint):
        model = ckpt.model
        row["Status"] = "data missing" if models.data_missing(ckpt) else "ok"
        row |= {
            "Kind": model.kind, "Dataset": ckpt.meta.get("dataset", "?"), "Architecture": model.architecture,
            "Latent size": model.latent_dim,
            "Epochs": len(ckpt.meta.get("history") or []) if model.source == "checkpoint" else None,
            "Evaluated": "yes" if "metrics" in ckpt.meta else "no",
        }
    else:
        row |= dict.fromkeys(("Kind", "Dataset", "Architecture", "Latent size", "Epochs", "Evaluated"))
    return row | {"Folder": str(entry.folder)}


def checkpoint_table() -> None:
    entries = st.session_state.get("_entries", [])
    if not entries:
        st.info(
            "No checkpoints found. Train one with `python -m vae train --dataset mnist --out checkpoints/mnist`, "
            f"or point ${models.ENV} (or `streamlit run app.py -- --checkpoints DIR`) at a folder of checkpoints."
        )
        return
    st.dataframe([table_row(e) for e in entries], hide_index=True, placeholder="–")
    for e in entries:
        if e.error:
            st.error(f"**{e.id}** is broken: {e.error}", icon=":material/broken_image:")


st.title("Latent Explorer")
st.caption("See what a variational autoencoder has learned: its latent map, one slider per latent dimension, "
           "paths between images, and fresh samples. Pick a model in the sidebar; every page follows it.")
ckpt = models.current()
if ckpt is not None:
    st.subheader(f"Model card: {ckpt.name}")
    model_card(ckpt)
    training_curves(ckpt)
    samples_and_reconstructions(ckpt)
st.subheader("Checkpoints found")
checkpoint_table()
state.publish({})
