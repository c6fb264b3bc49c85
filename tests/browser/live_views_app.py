"""A bare page around each live view, for tests/browser/test_live_views.py.

A small random conv model and a synthetic atlas of three clusters, so the test needs no dataset
and no trained checkpoint. URL parameters: mode=sliders|map|plane|path|pad (plane: a 2-D latent's
own plane over a picture, its points spread over [-2, 2]; parity: sliders on `model`, mnist (the
shipped checkpoint) or foreign (tests/js/foreign_decoders.spatial_probs), for a parity check), broken=1
(a decoder file that is not ONNX, to reach the JavaScript failure path), decoder=server (the forced
fallback), ort=missing (onnxruntime-web's files are not where the page looks).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import streamlit as st
import torch
from PIL import Image

from tests.js.foreign_decoders import onnx_bytes, spatial_probs
from ui import show
from ui.live.map import Backdrop, live_map
from ui.live.pad import ModelInput, PadScore, draw_pad
from ui.live.path import live_path
from ui.live.runtime import checkpoint_specs, onnx_specs
from ui.live.sliders import Direction, live_sliders
from ui.scores import score_of
from vae.networks.config import ModelConfig
from vae.networks.model import VAE
from vae.store.checkpoint import Checkpoint, load_checkpoint
from vae.store.export import latent_plane_spec, map_spec

LATENT = 4
CONFIG = ModelConfig(arch="conv", latent_dim=LATENT, hidden=8)


def networks(model: VAE) -> dict[str, Any]:
    """The model's encoder and decoder specs, as a checkpoint's (exported to ONNX once, then cached)."""
    specs = checkpoint_specs(Checkpoint(Path(__file__).parent, model, {}))
    assert specs is not None
    return specs


@st.cache_resource
def specs() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = VAE(CONFIG).eval()
    with torch.no_grad():  # a random model's codes and images barely move; these make drawing visibly matter
        model.head[-1].weight.mul_(20)
        model.decoder[-1].weight.mul_(10)
    labels = torch.arange(300) % 3
    centres = torch.tensor([[0.0, 0.0], [6.0, 0.0], [3.0, 5.0]])
    xy = centres[labels] + 0.5 * torch.randn(300, 2, generator=gen)
    mu = 2.0 * torch.eye(3, LATENT)[labels] + 0.1 * torch.randn(300, LATENT, generator=gen)
    nets = networks(model)
    return nets["decoder"], nets["encoder"], map_spec(xy, mu, labels, ["ring", "bar", "dot"])


@st.cache_resource
def plane_decoder() -> dict[str, Any]:
    torch.manual_seed(0)
    return networks(VAE(ModelConfig(arch="mlp", latent_dim=2, hidden=16)).eval())["decoder"]


@st.cache_resource
def parity_decoder(name: str) -> dict[str, Any]:
    if name == "mnist":
        return checkpoint_specs(load_checkpoint(Path(__file__).parents[2] / "checkpoints" / "mnist"))["decoder"]
    module, _, model = spatial_probs()
    return onnx_specs(None, onnx_bytes(module, torch.randn(1, *model["latent_shape"]), "z", "x"), model)["decoder"]


decoder, encoder, atlas = specs()
if st.query_params.get("broken"):
    decoder = {**decoder, "id": "broken", "onnx": base64.b64encode(b"not an ONNX file").decode()}
if st.query_params.get("ort") == "missing":
    decoder = {**decoder, "id": "no-ort", "runtime": "/app/static/nothing-here/"}
mode = st.query_params.get("mode", "sliders")
if mode == "sliders":
    result = live_sliders(decoder, key=mode, z=[0.0] * LATENT, inactive={3},
                          directions=[Direction("first", [1.0, 0.0, 0.0, 0.0])])
elif mode == "map":
    result = live_map(decoder, key=mode, points=atlas)
elif mode == "parity":
    other = parity_decoder(st.query_params.get("model", "mnist"))
    result = live_sliders(other, key=mode, z=[0.0] * other["latent_dim"], dims=range(4))
elif mode == "plane":
    mu = torch.rand(200, 2, generator=torch.Generator().manual_seed(1)) * 4 - 2
    picture = show.inline_png(Image.new("L", (8, 8), 255))  # white: it shows through the dimming
    result = live_map(plane_decoder(), key=mode, points=latent_plane_spec(mu, torch.zeros(200, dtype=torch.long)),
                      backdrop=Backdrop(picture, (-3, 3, -3, 3)))
elif mode == "path":
    result = live_path(decoder, key=mode, path=[[-2.0] * LATENT, [2.0] * LATENT], t=0.25)
else:
    result = draw_pad(decoder, encoder, key=mode, model_input=ModelInput(1, 28, 28), score=PadScore(score_of(CONFIG)),
                      points=atlas)
if not result.available:
    st.caption(result.error)
if getattr(result, "z", None) is not None:
    st.session_state.committed = {"z": result.z, "xy": getattr(result, "xy", None), "t": getattr(result, "t", None),
                                  "directions": getattr(result, "directions", None)}
st.text("committed: " + json.dumps(st.session_state.get("committed")))
