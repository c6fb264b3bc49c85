"""Training: `python -m vae train ...`, alone or under `torchrun --nproc-per-node N` (data-parallel).

Writes the best model (lowest continuous test loss; with --iwae-k K, lowest test -L_K) to
OUT/ and the last one, with the optimizer state for --resume, to OUT/last/, each folder's
files as one step (`vae.store.atomic`), so that a kill at any moment leaves a state --resume
continues from. Each epoch is seeded from (seed, epoch), so a resumed run draws the same
batches and noise as an uninterrupted one.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from vae.datasets.data import batches, binarize, load_dataset
from vae.datasets.folder import absolute_name
from vae.datasets.imageset import ImageSet
from vae.datasets.levels import Levels
from vae.networks.config import PRESETS, ModelConfig, TrainSettings
from vae.networks.model import VAE, build
from vae.networks.objectives import kl_warmup, training_loss
from vae.networks.widen import widen
from vae.store.atomic import settle
from vae.store.checkpoint import (
    CONFIG,
    OPTIMIZER,
    WEIGHTS,
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    load_optimizer,
    optimizer_tensors,
    save_checkpoint,
    update_meta,
)
from vae.training.evaluate import continuous_iwae_loss, continuous_test_loss

LAST = "last"
DEFAULT_MMD_WEIGHT = 10.0  # the WAE paper's lambda for MNIST
REGULARIZER = {"vae": "kl", "wae": "mmd"}  # the term each objective adds to reconstruction (an ae adds none)


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


def model_config(settings: TrainSettings, data: ImageSet) -> ModelConfig:
    """The preset named by --arch, overridden by any explicit flags and the data's shape."""
    c, h, w = data.image_shape
    names = ("latent_dim", "hidden", "hidden_layers", "beta")
    overrides = {k: getattr(settings, k) for k in names if getattr(settings, k) is not None}
    if settings.activation:
        overrides["activation"] = settings.activation
    if settings.objective:
        overrides["objective"] = settings.objective
    if settings.objective == "wae":
        overrides["mmd_weight"] = DEFAULT_MMD_WEIGHT if settings.mmd_weight is None else settings.mmd_weight
    if settings.conditional and not data.class_names:
        raise ValueError(f"--conditional needs class labels, and {data.name} has none (no class subfolders)")
    num_classes = len(data.class_names) if settings.conditional else 0
    return replace(PRESETS[settings.arch], channels=c, height=h, width=w, num_classes=num_classes, **overrides)


def initial_model(settings: TrainSettings, data: ImageSet) -> tuple[VAE, dict[str, Any]]:
    """The model of --init CHECKPOINT, checked against the data and any architecture flags; and its provenance.

    A larger --hidden than the checkpoint's widens the model (`vae.networks.widen`): same outputs, more room.
    """
    ckpt = load_checkpoint(settings.init)
    cfg = ckpt.model.cfg
    widening = settings.hidden is not None and settings.hidden > cfg.hidden
    problems = [
        f"--{name.replace('_', '-')} {getattr(settings, name)} (the checkpoint has {getattr(cfg, name)})"
        for name in ("latent_dim", "hidden", "hidden_layers", "beta", "activation", "objective", "mmd_weight")
        if getattr(settings, name) is not None and getattr(settings, name) != getattr(cfg, name)
        and not (name == "hidden" and widening)
    ]
    if cfg.image_shape != data.image_shape:
        problems.append(f"images of {data.image_shape} (the checkpoint's are {cfg.image_shape})")
    if settings.conditional != cfg.conditional or (cfg.conditional and cfg.num_classes != len(data.class_names)):
        problems.append(f"--conditional {settings.conditional} with {len(data.class_names)} classes "
                        f"(the checkpoint has {cfg.num_classes} classes)")
    if problems:
        raise ValueError(f"--init {settings.init}: the run asks for " + "; ".join(problems))
    keys = ("command", "resumed_with", "init", "train")
    model = widen(ckpt.model, settings.hidden) if widening else ckpt.model
    return model, {"checkpoint": settings.init, **{k: ckpt.meta[k] for k in keys if k in ckpt.meta}}


def learning_rate(settings: TrainSettings, step: int, total_steps: int) -> float:
    """Cosine decay from --lr to --lr-min over the run (constant when they are equal)."""
    progress = min(1.0, step / max(1, total_steps))
    return settings.lr_min + 0.5 * (settings.lr - settings.lr_min) * (1 + math.cos(math.pi * progress))


def _all_finite(loss: torch.Tensor, ddp: Distributed) -> bool:
    """Whether the loss is finite on every rank (so that all ranks stop together, none hangs)."""
    finite = torch.isfinite(loss.detach()).float()
    if ddp.world_size > 1:
        dist.all_reduce(finite, op=dist.ReduceOp.MIN)
    return bool(finite.item())


def train_epoch(
    net: torch.nn.Module,
    opt: torch.optim.Optimizer,
    data: ImageSet,
    settings: TrainSettings,
    epoch: int,
    step: int,
    device: torch.device,
    ddp: Distributed | None = None,
) -> tuple[int, dict[str, float]]:
    """One pass over this rank's shard, seeded from (seed, epoch); returns the new step and mean loss and KL.

    Uses settings.{batch_size, epochs, lr, lr_min, warmup_epochs, free_bits, iwae_k, binarize, seed, quiet}: the
    learning rate and KL weight follow their schedules over settings.epochs; iwae_k > 1 trains on the IWAE bound.
    A NaN or infinite loss raises TrainingDiverged.
    """
    ddp = ddp or Distributed()
    model: VAE = net.module if isinstance(net, DistributedDataParallel) else net  # type: ignore[assignment]
    steps_per_epoch = math.ceil(len(data) // ddp.world_size / settings.batch_size)
    total_steps, warmup_steps = steps_per_epoch * settings.epochs, settings.warmup_epochs * steps_per_epoch
    torch.manual_seed(settings.seed * 100_003 + epoch * ddp.world_size + ddp.rank)
    order = torch.Generator().manual_seed(settings.seed * 100_003 + epoch)
    sums = torch.zeros(3, dtype=torch.float64)
    name = REGULARIZER.get(model.cfg.objective)
    shard = batches(data, settings.batch_size, shuffle=True, generator=order, rank=ddp.rank, world_size=ddp.world_size)
    bar = tqdm(
        shard, total=steps_per_epoch, desc=f"epoch {epoch + 1}/{settings.epochs}",
        disable=not ddp.main or settings.quiet, file=sys.stderr,
    )
    for x, y in bar:
        x = binarize(x, settings.binarize).to(device)
        y = y.to(device)
        for group in opt.param_groups:
            group["lr"] = learning_rate(settings, step, total_steps)
        beta = kl_warmup(step, warmup_steps, model.cfg.beta)
        loss = training_loss(net, x, y, beta=beta, free_bits=settings.free_bits, iwae_k=settings.iwae_k)  # type: ignore[arg-type]
        if not _all_finite(loss.loss, ddp):
            raise TrainingDiverged(
                f"the loss became NaN or infinite (here {loss.loss.item()}) at epoch {epoch + 1}, step {step}; "
                f"stopped. Try a lower --lr (now {settings.lr})."
            )
        opt.zero_grad(set_to_none=True)
        loss.loss.backward()
        opt.step()
        step += 1
        extra = loss.kl if loss.kl is not None else loss.mmd
        sums += torch.tensor([loss.loss.item(), 0.0 if extra is None else extra.item(), 1.0], dtype=torch.float64)
        bar.set_postfix(loss=f"{sums[0] / sums[2]:.2f}", **({name: f"{sums[1] / sums[2]:.3g}"} if name else {}))
    if ddp.world_size > 1:  # nccl reduces only tensors on the GPU
        reduced = sums.to(device)
        dist.all_reduce(reduced)
        sums = reduced.cpu()
    stats = {"train_loss": sums[0].item() / sums[2].item()}
    if name:
        stats[f"train_{name}"] = sums[1].item() / sums[2].item()
    return step, stats



def train(settings: TrainSettings, out: Path, device: torch.device, command: str,
          given: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    """Run the training `settings` describe into `out` (checked by vae.training.train_command); `given` are the flags
    the command line gave (on --resume, the others come from the run being resumed). Returns the final metadata."""
    if settings.resume:  # finish a save a kill interrupted after its commit, and clear what killed saves left
        settle(out, (WEIGHTS, CONFIG))
        settle(out / LAST, (WEIGHTS, CONFIG, OPTIMIZER))
    last = load_checkpoint(out / LAST) if settings.resume and (out / LAST / WEIGHTS).is_file() else None
    settings = replace(settings, dataset=absolute_name(settings.dataset))  # evaluate and the app find it anywhere
    if last:
        saved = last.meta.get("train", {})
        saved = {**saved, "dataset": absolute_name(saved["dataset"])} if "dataset" in saved else saved
        settings = settings.resumed(saved, given)
    settings.check()
    ddp = setup_distributed(device)
    try:
        if device.type == "cuda" and ddp.world_size > 1:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        run = start(settings, out, command, last, device, ddp)
        for epoch in range(run.start_epoch, settings.epochs):
            started = time.perf_counter()
            try:
                stats = train_epoch(run.net, run.opt, run.train_set, settings, epoch, run.step, device, ddp)
            except TrainingDiverged as err:
                saved = (out / LAST / WEIGHTS).is_file()
                kept = f"The last good state is in {out / LAST}." if saved else "Nothing was saved."
                raise TrainingDiverged(f"{err} {kept}") from err
            run.step = stats[0]
            end_of_epoch(run, epoch, stats[1], time.perf_counter() - started)
        if ddp.world_size > 1:
            dist.barrier()
    finally:
        if ddp.world_size > 1:
            dist.destroy_process_group()
    return run.meta


@dataclass
class Run:
    """A training run between epochs: what `start` sets up and `end_of_epoch` records and saves."""

    settings: TrainSettings
    out: Path
    ddp: Distributed
    model: VAE
    net: torch.nn.Module  # the model, wrapped for data-parallel training when there are several processes
    opt: torch.optim.Optimizer
    train_set: ImageSet
    test_set: ImageSet
    meta: dict[str, Any]
    history: list[dict[str, Any]]
    start_epoch: int = 0
    step: int = 0
    selection: str = "test_loss"  # the test figure the best model is chosen by
    best: float = math.inf


def start(settings: TrainSettings, out: Path, command: str, last: Checkpoint | None, device: torch.device,
          ddp: Distributed) -> Run:
    """Read the data and make the model (resumed from `last`, started from --init, or new) and its optimizer."""
    # A resumed run reads its folder as it was first read: the recorded levels and class order.
    levels, classes = ((Levels.of(last.meta), last.meta.get("class_names")) if last
                       else (Levels(settings.normalise), None))
    train_set = load_dataset(settings.dataset, "train", settings.data_root, settings.size, settings.channels, levels,
                             tuple(classes) if classes else None)
    test_set = load_dataset(settings.dataset, "test", settings.data_root, settings.size, settings.channels,
                            train_set.levels, tuple(train_set.class_names))
    if ddp.main:
        for note in dict.fromkeys(train_set.notes + test_set.notes):  # both splits' skipped files, once each
            print(f"{settings.dataset}: {note}", file=sys.stderr)
    if settings.subset:
        train_set, test_set = train_set.subset(settings.subset), test_set.subset(max(1, settings.subset // 6))
    if len(train_set) < ddp.world_size:
        raise ValueError(f"{len(train_set)} training images cannot be shared among {ddp.world_size} processes")

    torch.manual_seed(settings.seed)
    history: list[dict[str, Any]] = []
    start_epoch, step = 0, 0
    if last:
        model = last.model
        history = list(last.meta.get("history", []))
        state = last.meta.get("train_state")
        if not isinstance(state, dict) or not {"epoch", "step"} <= state.keys():
            raise CheckpointError(f"{last.folder / 'config.json'}: has no train_state (epoch, step) to resume from")
        start_epoch, step = state["epoch"], state["step"]
    elif settings.init:
        model, init = initial_model(settings, train_set)
    else:
        model = build(model_config(settings, train_set))
    if settings.iwae_k > 1 and model.cfg.beta != 1.0:
        raise ValueError(f"--iwae-k > 1 needs beta 1 (the IWAE bound has no KL weight), not {model.cfg.beta}")
    try:
        model.to(device).train()
    except RuntimeError as err:  # out of memory on the device, above all
        raise ValueError(f"could not move the model to {device}: {str(err).splitlines()[0]}") from err
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    if last:
        load_optimizer(opt, out / LAST, step)
        if ddp.main:
            print(f"resuming from epoch {start_epoch}, step {step}", file=sys.stderr)
    elif settings.resume and ddp.main:
        print(f"{out / LAST} holds no state to resume from; training from the start", file=sys.stderr)
    if start_epoch >= settings.epochs and ddp.main:
        print(f"{out} has trained {start_epoch} epochs already; pass a larger --epochs to go on", file=sys.stderr)
    net = DistributedDataParallel(model) if ddp.world_size > 1 else model
    selection = "test_iwae_loss" if settings.iwae_k > 1 else "test_loss"
    meta: dict[str, Any] = {
        "dataset": settings.dataset,
        "class_names": train_set.class_names,
        "split": train_set.split,
        "levels": train_set.levels.record(),
        "binarize": settings.binarize,
        "train": settings.recorded(),
        "command": last.meta.get("command", command) if last else command,
    }
    if last:  # the original command stays first; each resumption is recorded after it
        meta["resumed_with"] = [*last.meta.get("resumed_with", []), command]
        if "init" in last.meta:
            meta["init"] = last.meta["init"]
    elif settings.init:  # how the starting weights were made, so that the whole recipe can be re-run
        meta["init"] = init
    return Run(settings, out, ddp, model, net, opt, train_set, test_set, meta, history, start_epoch, step, selection,
               best=min((h[selection] for h in history if selection in h), default=math.inf))


def end_of_epoch(run: Run, epoch: int, stats: dict[str, float], seconds: float) -> None:
    """Test the model, record the epoch, and save: the best model to OUT when it is the best, the last to OUT/last."""
    model, settings, out = run.model, run.settings, run.out
    model.eval()
    test = continuous_test_loss(model, run.test_set)
    if settings.iwae_k > 1:
        test["iwae_loss"] = continuous_iwae_loss(model, run.test_set, settings.iwae_k)
    model.train()
    if not math.isfinite(test["loss"]):
        raise TrainingDiverged(f"the test loss became {test['loss']} after epoch {epoch + 1}; stopped.")
    record = {
        "epoch": epoch + 1, "step": run.step,
        **{k: round(v, 4) for k, v in stats.items()},
        **{f"test_{k}": round(v, 4) for k, v in test.items() if k != "recon"},
        "seconds": round(seconds, 2),
    }
    run.history.append(record)
    if not run.ddp.main:
        return
    print(
        f"epoch {record['epoch']}: train loss {record['train_loss']:.2f}  "
        f"test loss {record['test_loss']:.2f}"
        + (f" (KL {record['test_kl']:.2f})" if "test_kl" in record else "")
        + (f"  test -L_{settings.iwae_k} {record['test_iwae_loss']:.2f}" if run.selection != "test_loss" else "")
        + f"  {record['seconds']:.1f}s",
        file=sys.stderr,
    )
    run.meta = {**run.meta, "history": run.history}
    # Each save is one step (vae.store.atomic). The best goes first: after a kill between the two, --resume
    # redoes this epoch exactly and saves the same best again.
    if record[run.selection] < run.best:
        run.best = record[run.selection]
        save_checkpoint(out, model, {**run.meta, "best_epoch": epoch + 1})
    else:  # the best weights stay; their metadata learns the newer history
        update_meta(out, **run.meta)
    save_checkpoint(out / LAST, model, {**run.meta, "train_state": {"epoch": epoch + 1, "step": run.step}},
                    extra={OPTIMIZER: optimizer_tensors(run.opt)})
