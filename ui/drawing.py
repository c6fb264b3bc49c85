"""A drawing as the model sees it (its input image), written as short link text, so a page can hand it on.

The Draw page opens a drawing as A or B of an interpolation with the image in the link: one byte per
value (0..255, as the canvas it was drawn on has), base64url. `parser(shape)` checks such text for
ui.state.bind; `image(text, shape)` reads it back as a (C, H, W) tensor in [0, 1].
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor


def to_text(image: Tensor) -> str:
    """An image (C, H, W) in [0, 1] as link text."""
    values = image.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).flatten().numpy()
    return base64.urlsafe_b64encode(values.tobytes()).decode().rstrip("=")


def image(text: str, shape: Sequence[int]) -> Tensor:
    """to_text read back; raises ValueError for text that is not an image of this shape."""
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not a drawing") from None
    if len(data) != math.prod(shape):
        raise ValueError(f"not a drawing of this model's size ({'×'.join(map(str, shape))})")
    return torch.from_numpy(np.frombuffer(data, dtype=np.uint8).astype(np.float32) / 255).reshape(*shape)


def parser(shape: Sequence[int]) -> Callable[[str], str]:
    """A ui.state parser: the text itself, if it is a drawing of this shape."""

    def parse(raw: str) -> str:
        image(raw, shape)
        return raw

    return parse
