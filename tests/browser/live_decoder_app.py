"""A bare page around the live decoder, for tests/browser/test_live_decoder.py.

A small random conv decoder and a synthetic atlas of three clusters, so the test needs no dataset
and no trained checkpoint. URL parameters: mode=sliders|map|path, broken=1 (a layer the browser
lacks, to reach the JavaScript failure path), decoder=server (the forced fallback).
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st
import torch

from ui.live_decoder import live_decoder
from vae.config import ModelConfig
from vae.export import decoder_spec, map_spec
from vae.model import VAE

LATENT = 4


@st.cache_resource
def specs() -> tuple[dict[str, Any], dict[str, Any]]:
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = VAE(ModelConfig(arch="conv", latent_dim=LATENT, hidden=8)).eval()
    labels = torch.arange(300) % 3
    centres = torch.tensor([[0.0, 0.0], [6.0, 0.0], [3.0, 5.0]])
    xy = centres[labels] + 0.5 * torch.randn(300, 2, generator=gen)
    mu = 2.0 * torch.eye(3, LATENT)[labels] + 0.1 * torch.randn(300, LATENT, generator=gen)
    return decoder_spec(model), map_spec(xy, mu, labels, ["ring", "bar", "dot"])


spec, atlas = specs()
if st.query_params.get("broken"):
    spec = {**spec, "id": "broken", "layers": [*spec["layers"], {"type": "tanh"}]}
mode = st.query_params.get("mode", "sliders")
result = live_decoder(mode, spec, key=mode, z=[0.0] * LATENT, inactive={3}, atlas=atlas,
                      path=[[-2.0] * LATENT, [2.0] * LATENT], t=0.25)
if not result.available:
    st.caption(result.error)
if result.z is not None:
    st.session_state.committed = {"z": result.z, "xy": result.xy, "t": result.t}
st.text("committed: " + json.dumps(st.session_state.get("committed")))
