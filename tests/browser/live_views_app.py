"""A bare page around each live view, for tests/browser/test_live_views.py.

A small random conv model and a synthetic atlas of three clusters, so the test needs no dataset
and no trained checkpoint. URL parameters: mode=sliders|map|plane|path|pad (plane: a 2-D latent's
own plane over a picture, its points spread over [-2, 2]), broken=1 (a layer the browser
lacks, to reach the JavaScript failure path), decoder=server (the forced fallback).
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st
import torch
from PIL import Image

from ui import show
from ui.live.map import Backdrop, live_map
from ui.live.pad import ModelInput, PadScore, draw_pad
from ui.live.path import live_path
from ui.live.sliders import Direction, live_sliders
from ui.scores import score_of
from vae.config import ModelConfig
from vae.export import decoder_spec, encoder_spec, latent_plane_spec, map_spec
from vae.model import VAE

LATENT = 4
CONFIG = ModelConfig(arch="conv", latent_dim=LATENT, hidden=8)


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
    return decoder_spec(model), encoder_spec(model), map_spec(xy, mu, labels, ["ring", "bar", "dot"])


decoder, encoder, atlas = specs()
if st.query_params.get("broken"):
    decoder = {**decoder, "id": "broken", "layers": [*decoder["layers"], {"type": "tanh"}]}
mode = st.query_params.get("mode", "sliders")
if mode == "sliders":
    result = live_sliders(decoder, key=mode, z=[0.0] * LATENT, inactive={3},
                          directions=[Direction("first", [1.0, 0.0, 0.0, 0.0])])
elif mode == "map":
    result = live_map(decoder, key=mode, points=atlas)
elif mode == "plane":
    plane = VAE(ModelConfig(arch="mlp", latent_dim=2, hidden=16)).eval()
    mu = torch.rand(200, 2, generator=torch.Generator().manual_seed(1)) * 4 - 2
    picture = show.inline_png(Image.new("L", (8, 8), 255))  # white: it shows through the dimming
    result = live_map(decoder_spec(plane), key=mode, points=latent_plane_spec(mu, torch.zeros(200, dtype=torch.long)),
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
