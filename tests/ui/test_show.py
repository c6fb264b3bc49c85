"""Labelled image grids (the traversal, the per-class samples): labels in proportion to the images."""

from __future__ import annotations

import torch

from ui.show import grid_image, labelled_rows


def label_band(size: int) -> int:
    """Height of the band of column labels over a 2 x 7 grid of size x size images."""
    rows = torch.rand(2, 7, 1, size, size)
    canvas = labelled_rows(rows, ["z0", "z10 (off)"], [str(v) for v in range(-3, 4)], tile=40)
    return canvas.height - grid_image(rows.reshape(14, 1, size, size), ncol=7, tile=40).height


def test_labels_grow_with_large_images() -> None:
    """A 64 px model's traversal is drawn at 64 px a tile and shown smaller: 11 px labels became unreadable."""
    assert label_band(28) >= 19  # MNIST's, as before
    assert label_band(64) >= 0.4 * 64
