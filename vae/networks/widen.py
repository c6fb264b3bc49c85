"""Widening a trained VAE without changing what it computes (in the spirit of Net2Net, Chen et al., 2016).

When a small model has stopped improving, more width may let it go on without starting over.
`widen` builds the same architecture with more hidden units or channels, copies the trained
weights into the leading slices and gives every new unit fresh weights in and zero weights out.
The wide model's outputs equal the narrow one's exactly, and training goes on from there.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from vae.networks.model import VAE, build

WEIGHTED_LAYERS = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def _input_dim(layer: nn.Module) -> int:
    """Which axis of the weight indexes the layer's inputs (ConvTranspose2d stores them first)."""
    return 0 if isinstance(layer, nn.ConvTranspose2d) else 1


def _copy_layer(old: nn.Module, new: nn.Module, label_inputs: int) -> None:
    """Old weights into new's leading slices; inputs from new units get zero weights.

    The last `label_inputs` inputs (a conditional model's one-hot label, appended after the
    features) keep their place at the end.
    """
    dim = _input_dim(new)
    old_in, new_in = old.weight.shape[dim], new.weight.shape[dim]
    new.weight.narrow(dim, old_in - label_inputs, new_in - old_in).zero_()
    features = old.weight.narrow(dim, 0, old_in - label_inputs)
    new.weight[tuple(slice(0, s) for s in features.shape)] = features
    if label_inputs:
        labels = old.weight.narrow(dim, old_in - label_inputs, label_inputs)
        new.weight.narrow(dim, new_in - label_inputs, label_inputs)[
            tuple(slice(0, s) for s in labels.shape)
        ] = labels
    new.bias[: old.bias.shape[0]] = old.bias


@torch.no_grad()
def widen(model: VAE, hidden: int) -> VAE:
    """A VAE with `hidden` units (mlp) or base channels (conv) that computes what `model` computes."""
    if hidden < model.cfg.hidden:
        raise ValueError(f"cannot widen from {model.cfg.hidden} to {hidden}: a model only grows")
    wide = build(replace(model.cfg, hidden=hidden)).to(next(model.parameters()).device)
    pairs = [(o, n) for o, n in zip(model.modules(), wide.modules(), strict=True) if isinstance(o, WEIGHTED_LAYERS)]
    head_input = next(m for m in model.head if isinstance(m, nn.Linear))
    for old, new in pairs:
        _copy_layer(old, new, model.cfg.num_classes if old is head_input else 0)
    return wide.train(model.training)
