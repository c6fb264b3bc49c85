"""Wall-clock to reach the classic PyTorch VAE example's test loss on MNIST (105.6, its figure after 10 epochs).

Three contestants, trained one after another in this process on the same data, each stopped when it reaches
the target or after --max-epochs:

  mlp      our `mlp` preset (784-400-20), trained by vae.training.train.train_epoch with the train command's defaults
           (batch 128, Adam 1e-3 constant, no binarization);
  shipped  the shipped conv model: its architecture and training settings (batch size, learning-rate
           schedule, binarization, seed) from checkpoints/mnist/config.json (those of its first run, when
           it was fine-tuned from --init weights), else the conv preset, latent 16;
  classic  a self-contained reimplementation of the classic example: a 784-400-20 MLP with separate mean and
           log-variance heads, ReLU, sigmoid outputs, Adam 1e-3, batch 128, BCE summed over pixels + KL,
           summed over the batch, on [0, 1] intensities without binarization.

After each epoch the test loss is measured by the classic convention: BCE against the intensities + KL, one
sample, summed over the test set and divided by its size. Seconds count training only, not these evaluations.

    python bench/train_speed.py                 # full run: 60k training images, up to 20 epochs each
    python bench/train_speed.py --quick         # smoke test: 2000 training images, 500 test images, 1 epoch
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vae.datasets.data import batches, load_dataset  # noqa: E402
from vae.datasets.imageset import ImageSet  # noqa: E402
from vae.networks.config import PRESETS, ModelConfig, TrainSettings  # noqa: E402
from vae.networks.model import VAE  # noqa: E402
from vae.store.checkpoint import CheckpointError, read_meta  # noqa: E402
from vae.training.evaluate import continuous_test_loss  # noqa: E402
from vae.training.train import model_config, train_epoch  # noqa: E402

TARGET = 105.6


@dataclass
class Result:
    contestant: str
    epochs: int
    seconds: float
    test_loss: float
    reached: bool


class ClassicVAE(nn.Module):
    """The classic example's model: fc1 784->400, heads fc21/fc22 400->20, fc3 20->400, fc4 400->784."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        h = F.relu(self.fc1(x.view(-1, 784)))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


def classic_loss(recon: Tensor, x: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """BCE summed over pixels and images, plus the analytic KL summed the same way."""
    bce = F.binary_cross_entropy(recon, x.view(-1, 784), reduction="sum")
    return bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


def race(name: str, train_one_epoch: Callable[[int], None], test_loss: Callable[[], float],
         target: float, max_epochs: int) -> Result:
    """Train epoch by epoch until the test loss reaches the target; time the training only."""
    seconds, loss = 0.0, float("inf")
    for epoch in range(max_epochs):
        started = time.perf_counter()
        train_one_epoch(epoch)
        seconds += time.perf_counter() - started
        loss = test_loss()
        print(f"{name}: epoch {epoch + 1}, test loss {loss:.2f}, {seconds:.1f} s training", file=sys.stderr)
        if loss <= target:
            return Result(name, epoch + 1, seconds, loss, True)
    return Result(name, max_epochs, seconds, loss, False)


def ours(name: str, cfg: ModelConfig, settings: TrainSettings, train_set: ImageSet, test_set: ImageSet,
         device: torch.device, target: float, max_epochs: int) -> Result:
    """A vae.networks.model.VAE trained exactly as `python -m vae train` trains it."""
    torch.manual_seed(settings.seed)
    model = VAE(cfg).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    step = 0

    def train_one_epoch(epoch: int) -> None:
        nonlocal step
        step, _ = train_epoch(model, opt, train_set, settings, epoch, step, device)

    def test_loss() -> float:
        model.eval()
        loss = continuous_test_loss(model, test_set)["loss"]
        model.train()
        return loss

    return race(name, train_one_epoch, test_loss, target, max_epochs)


def classic(train_set: ImageSet, test_set: ImageSet, device: torch.device, seed: int, target: float,
            max_epochs: int) -> Result:
    torch.manual_seed(seed)
    model = ClassicVAE().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def train_one_epoch(epoch: int) -> None:
        model.train()
        order = torch.Generator().manual_seed(seed * 100_003 + epoch)  # the same batches as ours get
        for x, _ in batches(train_set, 128, shuffle=True, generator=order):
            x = x.to(device)
            recon, mu, logvar = model(x)
            loss = classic_loss(recon, x, mu, logvar)
            opt.zero_grad()
            loss.backward()
            opt.step()

    def test_loss() -> float:
        model.eval()
        total = 0.0
        with torch.no_grad(), torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(0)
            for x, _ in batches(test_set, 1000):
                x = x.to(device)
                recon, mu, logvar = model(x)
                total += classic_loss(recon, x, mu, logvar).item()
        return total / len(test_set)

    return race("classic (reimplemented)", train_one_epoch, test_loss, target, max_epochs)


def shipped_setup(folder: Path, max_epochs: int, data: ImageSet) -> tuple[ModelConfig, TrainSettings, str]:
    """The shipped model's first run: its architecture and training settings, or the conv preset with latent 16.

    A model fine-tuned from --init weights races the run that made those; its architecture is that run's
    (a later run may have widened it).
    """
    try:
        meta = read_meta(folder)
    except CheckpointError:
        cfg = replace(PRESETS["conv"], latent_dim=16)
        return cfg, settings_from({"epochs": max_epochs}), "conv preset, latent 16 (no shipped config found)"
    first = meta
    while isinstance(first.get("init"), dict):
        first = first["init"]
    settings = settings_from(first.get("train", {}))
    cfg = ModelConfig.from_dict(meta["model"]) if first is meta else model_config(settings, data)
    return cfg, settings, f"from {folder / 'config.json'}"


def settings_from(saved: dict) -> TrainSettings:
    """The train command's defaults, overridden by the saved settings; what vae.training.train.train_epoch reads."""
    return TrainSettings.from_values({**{k: v for k, v in saved.items() if v is not None}, "quiet": True})


def markdown_table(results: list[Result], target: float) -> str:
    lines = [f"| contestant | epochs | seconds | final test loss | reached {target}? |", "|---|---:|---:|---:|---|"]
    lines += [
        f"| {r.contestant} | {r.epochs} | {r.seconds:.1f} | {r.test_loss:.2f} | {'yes' if r.reached else 'no'} |"
        for r in results
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", type=float, default=TARGET, help="test loss to reach (default %(default)s)")
    parser.add_argument("--max-epochs", type=int, default=20, help="cap per contestant (default %(default)s)")
    parser.add_argument("--shipped", type=Path, default=ROOT / "checkpoints" / "mnist",
                        help="checkpoint folder whose config.json describes the shipped conv model")
    parser.add_argument("--only", nargs="+", choices=("mlp", "shipped", "classic"), help="run only these")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--data-root", help="where MNIST lives (default: $LATENT_EXPLORER_DATA or ./data)")
    parser.add_argument("--quick", action="store_true", help="smoke test: 2000 training images, 1 epoch")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    train_set, test_set = load_dataset("mnist", "train", args.data_root), load_dataset("mnist", "test", args.data_root)
    max_epochs = args.max_epochs
    if args.quick:
        train_set, test_set, max_epochs = train_set.subset(2000), test_set.subset(500), 1
    shipped_cfg, shipped_settings, source = shipped_setup(args.shipped, max_epochs, train_set)
    mlp_settings = settings_from({"epochs": max_epochs})
    print(f"# time to a continuous test loss of {args.target} on MNIST ({len(train_set)} training, "
          f"{len(test_set)} test images; {device}, {torch.get_num_threads()} threads; training seconds only)")
    shown = ("batch_size", "lr", "lr_min", "epochs", "binarize", "warmup_epochs", "free_bits", "seed")
    print(f"# shipped configuration {source}: {shipped_cfg.to_dict()}; "
          f"training settings {({k: getattr(shipped_settings, k) for k in shown})} (lr schedule over 'epochs')")
    contestants = {
        "mlp": lambda: ours("mlp preset", PRESETS["mlp"], mlp_settings, train_set, test_set, device,
                            args.target, max_epochs),
        "shipped": lambda: ours("shipped conv", shipped_cfg, shipped_settings, train_set, test_set, device,
                                args.target, max_epochs),
        "classic": lambda: classic(train_set, test_set, device, 1, args.target, max_epochs),
    }
    results = [run() for name, run in contestants.items() if not args.only or name in args.only]
    print(markdown_table(results, args.target))
    return results


if __name__ == "__main__":
    main()
