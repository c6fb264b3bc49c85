"""Training: `python -m vae train ...`, alone or under `torchrun --nproc-per-node N` (data-parallel).

Writes the best model (lowest continuous test loss) to OUT/ and the last one, with the
optimizer state for --resume, to OUT/last/. Each epoch is seeded from (seed, epoch), so
a resumed run draws the same batches and noise as an uninterrupted one.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from vae.checkpoint import WEIGHTS, load_checkpoint, read_tensors, save_checkpoint, update_meta, write_tensors
from vae.config import PRESETS, ModelConfig
from vae.data import ImageSet, batches, binarize, load_dataset
from vae.evaluate import continuous_test_loss
from vae.model import VAE
from vae.objectives import kl_warmup, negative_elbo

LAST = "last"
OPTIMIZER = "optimizer.safetensors"


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass
class Distributed:
    rank: int = 0
    world_size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: torch.device) -> Distributed:
    """Join the torchrun process group when launched by torchrun (gloo on CPU, nccl on GPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Distributed()
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Distributed(dist.get_rank(), dist.get_world_size())


def model_config(args: argparse.Namespace, data: ImageSet) -> ModelConfig:
    """The preset named by --arch, overridden by any explicit flags and the data's shape."""
    c, h, w = data.image_shape
    names = ("latent_dim", "hidden", "hidden_layers", "beta")
    overrides = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    if args.activation:
        overrides["activation"] = args.activation
    num_classes = len(data.class_names) if args.conditional else 0
    return replace(PRESETS[args.arch], channels=c, height=h, width=w, num_classes=num_classes, **overrides)


def learning_rate(args: argparse.Namespace, step: int, total_steps: int) -> float:
    """Cosine decay from --lr to --lr-min over the run (constant when they are equal)."""
    progress = min(1.0, step / max(1, total_steps))
    return args.lr_min + 0.5 * (args.lr - args.lr_min) * (1 + math.cos(math.pi * progress))


def optimizer_tensors(opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """Adam's per-parameter state flattened into named tensors, for safetensors."""
    out = {}
    for idx, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            out[f"{idx}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return out


def load_optimizer_tensors(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    opt.load_state_dict({"state": state, "param_groups": opt.state_dict()["param_groups"]})


def command_line(argv: list[str]) -> str:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    launcher = f"torchrun --nproc-per-node {world} -m vae" if world > 1 else "python -m vae"
    return f"{launcher} train {shlex.join(argv)}"


def train(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """Run the training described by the parsed CLI arguments; returns the final metadata."""
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    ddp = setup_distributed(device)
    if device.type == "cuda" and ddp.world_size > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    out = Path(args.out)
    train_set = load_dataset(args.dataset, "train", args.data_root, args.size, args.channels)
    test_set = load_dataset(args.dataset, "test", args.data_root, args.size, args.channels)
    if args.subset:
        train_set, test_set = train_set.subset(args.subset), test_set.subset(max(1, args.subset // 6))

    torch.manual_seed(args.seed)
    history: list[dict[str, Any]] = []
    start_epoch, step = 0, 0
    if args.resume and (out / LAST / WEIGHTS).is_file():
        last = load_checkpoint(out / LAST)
        model = last.model
        history = list(last.meta.get("history", []))
        start_epoch, step = last.meta["train_state"]["epoch"], last.meta["train_state"]["step"]
    else:
        model = VAE(model_config(args, train_set))
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    if start_epoch:
        load_optimizer_tensors(opt, read_tensors(out / LAST / OPTIMIZER))
        if ddp.main:
            print(f"resuming from epoch {start_epoch}, step {step}", file=sys.stderr)
    net = DistributedDataParallel(model) if ddp.world_size > 1 else model
    steps_per_epoch = math.ceil(len(train_set) // ddp.world_size / args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    warmup_steps = args.warmup_epochs * steps_per_epoch
    best = min((h["test_loss"] for h in history), default=math.inf)
    meta: dict[str, Any] = {
        "dataset": args.dataset,
        "class_names": train_set.class_names,
        "binarize": args.binarize,
        "train": {k: v for k, v in vars(args).items() if k not in ("command", "func")},
        "command": command_line(argv),
    }

    for epoch in range(start_epoch, args.epochs):
        started = time.perf_counter()
        torch.manual_seed(args.seed * 100_003 + epoch * ddp.world_size + ddp.rank)
        order = torch.Generator().manual_seed(args.seed * 100_003 + epoch)
        sums = torch.zeros(3, dtype=torch.float64)
        shard = batches(
            train_set, args.batch_size, shuffle=True, generator=order, rank=ddp.rank, world_size=ddp.world_size
        )
        bar = tqdm(
            shard, total=steps_per_epoch, desc=f"epoch {epoch + 1}/{args.epochs}", disable=not ddp.main or args.quiet,
            file=sys.stderr,
        )
        for x, y in bar:
            x = binarize(x, args.binarize).to(device)
            y = y.to(device) if model.cfg.conditional else None
            for group in opt.param_groups:
                group["lr"] = learning_rate(args, step, total_steps)
            beta = kl_warmup(step, warmup_steps, model.cfg.beta)
            loss = negative_elbo(net, x, y, beta=beta, free_bits=args.free_bits)  # type: ignore[arg-type]
            if not torch.isfinite(loss.loss):
                raise TrainingDiverged(
                    f"loss became {loss.loss.item()} at epoch {epoch + 1}, step {step}; stopped. "
                    f"The last good checkpoint is in {out / LAST}. Try a lower --lr (now {args.lr})."
                )
            opt.zero_grad(set_to_none=True)
            loss.loss.backward()
            opt.step()
            step += 1
            sums += torch.tensor([loss.loss.item(), loss.kl.item(), 1.0], dtype=torch.float64)
            bar.set_postfix(loss=f"{sums[0] / sums[2]:.2f}", kl=f"{sums[1] / sums[2]:.2f}")
        if ddp.world_size > 1:
            dist.all_reduce(sums)
        model.eval()
        test = continuous_test_loss(model, test_set)
        model.train()
        record = {
            "epoch": epoch + 1, "step": step,
            "train_loss": round(sums[0].item() / sums[2].item(), 4),
            "train_kl": round(sums[1].item() / sums[2].item(), 4),
            "test_loss": round(test["loss"], 4), "test_kl": round(test["kl"], 4),
            "seconds": round(time.perf_counter() - started, 2),
        }
        history.append(record)
        if ddp.main:
            print(
                f"epoch {record['epoch']}: train loss {record['train_loss']:.2f}  "
                f"test loss {record['test_loss']:.2f} (KL {record['test_kl']:.2f})  {record['seconds']:.1f}s",
                file=sys.stderr,
            )
            meta = {**meta, "history": history}
            save_checkpoint(out / LAST, model, {**meta, "train_state": {"epoch": epoch + 1, "step": step}})
            write_tensors(out / LAST / OPTIMIZER, optimizer_tensors(opt))
            if record["test_loss"] < best:
                best = record["test_loss"]
                save_checkpoint(out, model, {**meta, "best_epoch": epoch + 1})
            else:  # the best weights stay; their metadata learns the newer history
                update_meta(out, history=history)
    if ddp.world_size > 1:
        dist.barrier()
        dist.destroy_process_group()
    return meta
