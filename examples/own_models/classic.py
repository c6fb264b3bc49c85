"""Our own version of the classic PyTorch example VAE (pytorch/examples, "vae"), from its description:
784 -> 400 -> (20, 20) and 20 -> 400 -> 784, ReLU, a sigmoid at the end.

As in a notebook: `encode` takes the flattened image, `decode` returns 784 probabilities per image
(the explorer folds them back into the image shape that model.json declares). model.json:

    {"code": "examples.own_models.classic:build", "latent_shape": [20], "image_shape": [1, 28, 28],
     "output": "probs", "dataset": "mnist"}
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ClassicVAE(nn.Module):
    def __init__(self, hidden: int = 400, latent: int = 20) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, hidden)
        self.fc21 = nn.Linear(hidden, latent)
        self.fc22 = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, 784)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = F.relu(self.fc1(x.reshape(-1, 784)))
        return self.fc21(h), self.fc22(h)

    def decode(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))


def build() -> ClassicVAE:
    return ClassicVAE()
