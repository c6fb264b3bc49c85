"""Training: `python -m vae train ...`, alone or under `torchrun --nproc-per-node N` (data-parallel).

Writes the best model (lowest continuous test loss; with --iwae-k K, lowest test -L_K) to
OUT/ and the last one, with the optimizer state for --resume, to OUT/last/, each folder's
files as one step (`vae.atomic`), so that a kill at any moment leaves a state --resume
continues from. Each epoch is seeded from (seed, epoch), so a resumed run draws the same
batches and noise as an uninterrupted one.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from vae.atomic import settle
from vae.checkpoint import (
    CONFIG,
    WEIGHTS,
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    read_tensors,
    save_checkpoint,
    update_meta,
)
from vae.config import PRESETS, ModelConfig
from vae.data import ImageSet, batches, binarize, load_dataset
from vae.evaluate import continuous_iwae_loss, continuous_test_loss
from vae.folder import absolute_name
from vae.levels import Levels
from vae.model import VAE, build
from vae.objectives import kl_warmup, training_loss
from vae.widen import widen

LAST = "last"
OPTIMIZER = "optimizer.safetensors"
# On --resume, these come from the new command line; --epochs may extend the run; all else is the saved run's.
RESUME_CURRENT = ("device", "data_root", "out", "resume", "quiet")
DEFAULT_MMD_WEIGHT = 10.0  # the WAE paper's lambda for MNIST
MAX_SIZE = 1024  # --size: larger images are beyond what these models and the browser decoder are for
REGULARIZER = {"vae": "kl", "wae": "mmd"}  # the term each objective adds to reconstruction (an ae adds none)
RESUME_MAY_CHANGE = ("epochs",)
NOT_SETTINGS = ("command", "func", "resume", "quiet", "overwrite")  # argparse fields not recorded in config.json


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
    if args.objective:
        overrides["objective"] = args.objective
    if args.objective == "wae":
        overrides["mmd_weight"] = DEFAULT_MMD_WEIGHT if args.mmd_weight is None else args.mmd_weight
    if args.conditional and not data.class_names:
        raise ValueError(f"--conditional needs class labels, and {data.name} has none (no class subfolders)")
    num_classes = len(data.class_names) if args.conditional else 0
    return replace(PRESETS[args.arch], channels=c, height=h, width=w, num_classes=num_classes, **overrides)


def initial_model(args: argparse.Namespace, data: ImageSet) -> tuple[VAE, dict[str, Any]]:
    """The model of --init CHECKPOINT, checked against the data and any architecture flags; and its provenance.

    A larger --hidden than the checkpoint's widens the model (`vae.widen`): same outputs, more room.
    """
    ckpt = load_checkpoint(args.init)
    cfg = ckpt.model.cfg
    widening = args.hidden is not None and args.hidden > cfg.hidden
    problems = [
        f"--{name.replace('_', '-')} {getattr(args, name)} (the checkpoint has {getattr(cfg, name)})"
        for name in ("latent_dim", "hidden", "hidden_layers", "beta", "activation", "objective", "mmd_weight")
        if getattr(args, name) is not None and getattr(args, name) != getattr(cfg, name)
        and not (name == "hidden" and widening)
    ]
    if cfg.image_shape != data.image_shape:
        problems.append(f"images of {data.image_shape} (the checkpoint's are {cfg.image_shape})")
    if args.conditional != cfg.conditional or (cfg.conditional and cfg.num_classes != len(data.class_names)):
        problems.append(f"--conditional {args.conditional} with {len(data.class_names)} classes "
                        f"(the checkpoint has {cfg.num_classes} classes)")
    if problems:
        raise ValueError(f"--init {args.init}: the run asks for " + "; ".join(problems))
    keys = ("command", "resumed_with", "init", "train")
    model = widen(ckpt.model, args.hidden) if widening else ckpt.model
    return model, {"checkpoint": args.init, **{k: ckpt.meta[k] for k in keys if k in ckpt.meta}}


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


def check_out(args: argparse.Namespace) -> Path:
    """Every rule about --out, checked before any data is read or model built; returns the folder.

    It names a folder ('' would train into the current one); a folder that holds a trained model is
    continued with --resume or replaced with --overwrite, never silently; and it can be written: a
    probe file goes into the nearest folder of the path that exists (nothing is created yet, so a
    refused run leaves nothing behind).
    """
    if not args.out.strip():
        raise ValueError("--out is empty: name the folder to train into (it is created if missing)")
    out = Path(args.out)
    if args.resume and args.overwrite:
        raise ValueError(f"--resume continues the model in {out} and --overwrite replaces it: pass one of them")
    trained = [p for p in (out / CONFIG, out / LAST / CONFIG) if p.is_file()]
    if trained and not (args.resume or args.overwrite):
        raise ValueError(
            f"{out} holds a trained model already ({trained[0]}); pass --resume to continue it or --overwrite "
            "to replace it, or train into another --out"
        )
    existing = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise ValueError(f"--out {out}: {existing} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".latent-explorer-probe.")
        os.close(fd)
        os.remove(probe)
    except OSError as err:
        raise ValueError(f"--out {out}: cannot write in {existing} ({err.strerror or err})") from err
    return out


def pick_device(name: str | None) -> torch.device:
    """The --device to train on: a device torch knows that this machine has (default: cuda when available)."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"--device {name!r} is not a device (cpu, cuda, cuda:N or mps)") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine (no GPU, or a torch built "
                         "without CUDA); use --device cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {name}: MPS is not available on this machine; use --device cpu")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"--device {name!r} is not a device (cpu, cuda, cuda:N or mps)")
    return device


def check_args(args: argparse.Namespace) -> None:
    """Refuse settings that cannot train, with one message naming each bad flag."""
    problems = []
    if args.size is not None and not 1 <= args.size <= MAX_SIZE:
        problems.append(f"--size must be in 1..{MAX_SIZE}, got {args.size}")
    elif args.size is not None and args.size % 4 and args.arch == "conv" and not args.init:
        problems.append(f"--size {args.size}: the conv architecture needs a multiple of 4 (or --arch mlp)")
    if args.epochs < 1:
        problems.append(f"--epochs must be >= 1, got {args.epochs}")
    if args.batch_size < 1:
        problems.append(f"--batch-size must be >= 1, got {args.batch_size}")
    if not 0 < args.lr < math.inf:
        problems.append(f"--lr must be a positive number, got {args.lr}")
    if not 0 <= args.lr_min < math.inf:
        problems.append(f"--lr-min must be a number >= 0, got {args.lr_min}")
    if args.warmup_epochs < 0:
        problems.append(f"--warmup-epochs must be >= 0, got {args.warmup_epochs}")
    if not 0 <= args.free_bits < math.inf:
        problems.append(f"--free-bits must be a number >= 0, got {args.free_bits}")
    if args.subset is not None and args.subset < 1:
        problems.append(f"--subset must be >= 1, got {args.subset}")
    if args.iwae_k < 1:
        problems.append(f"--iwae-k must be >= 1, got {args.iwae_k}")
    elif args.iwae_k > 1 and (args.warmup_epochs or args.free_bits or args.beta not in (None, 1.0)):
        problems.append("--iwae-k > 1 trains the plain IWAE bound: no --beta, --warmup-epochs or --free-bits")
    objective = args.objective or "vae"
    if objective != "vae":
        vae_only = [flag for flag, used in (
            ("--beta", args.beta is not None), ("--iwae-k", args.iwae_k > 1),
            ("--warmup-epochs", args.warmup_epochs > 0), ("--free-bits", args.free_bits > 0),
        ) if used]
        if vae_only:
            problems.append(f"--objective {objective} has no KL term: {', '.join(vae_only)} apply to a vae only")
    if args.mmd_weight is not None and (objective != "wae" or not 0 < args.mmd_weight < math.inf):
        problems.append(f"--mmd-weight is the WAE's lambda: a positive number with --objective wae, "
                        f"got {args.mmd_weight} with --objective {objective}")
    if problems:
        raise ValueError("; ".join(problems))


def apply_saved_settings(args: argparse.Namespace, saved: dict[str, Any], argv: list[str]) -> None:
    """On --resume, continue with the settings of the run being resumed.

    Only RESUME_MAY_CHANGE may be given anew; another flag given explicitly that contradicts a saved setting
    is an error, rather than silently ignored or silently applied.
    """
    given = {a.split("=", 1)[0] for a in argv if a.startswith("--")}
    for key, value in saved.items():
        flag = "--" + key.replace("_", "-")
        if key in RESUME_CURRENT or not hasattr(args, key) or (key in RESUME_MAY_CHANGE and flag in given):
            continue
        if flag in given and getattr(args, key) != value:
            raise ValueError(
                f"{flag} {getattr(args, key)} differs from the run being resumed ({value}); "
                "resume with the same settings, or train into a new --out"
            )
        setattr(args, key, value)


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
    args: argparse.Namespace,
    epoch: int,
    step: int,
    device: torch.device,
    ddp: Distributed | None = None,
) -> tuple[int, dict[str, float]]:
    """One pass over this rank's shard, seeded from (seed, epoch); returns the new step and mean loss and KL.

    Uses args.{batch_size, epochs, lr, lr_min, warmup_epochs, free_bits, iwae_k, binarize, seed, quiet}: the
    learning rate and KL weight follow their schedules over args.epochs; iwae_k > 1 trains on the IWAE bound.
    A NaN or infinite loss raises TrainingDiverged.
    """
    ddp = ddp or Distributed()
    model: VAE = net.module if isinstance(net, DistributedDataParallel) else net  # type: ignore[assignment]
    steps_per_epoch = math.ceil(len(data) // ddp.world_size / args.batch_size)
    total_steps, warmup_steps = steps_per_epoch * args.epochs, args.warmup_epochs * steps_per_epoch
    torch.manual_seed(args.seed * 100_003 + epoch * ddp.world_size + ddp.rank)
    order = torch.Generator().manual_seed(args.seed * 100_003 + epoch)
    sums = torch.zeros(3, dtype=torch.float64)
    name = REGULARIZER.get(model.cfg.objective)
    shard = batches(data, args.batch_size, shuffle=True, generator=order, rank=ddp.rank, world_size=ddp.world_size)
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
        loss = training_loss(net, x, y, beta=beta, free_bits=args.free_bits, iwae_k=args.iwae_k)  # type: ignore[arg-type]
        if not _all_finite(loss.loss, ddp):
            raise TrainingDiverged(
                f"the loss became NaN or infinite (here {loss.loss.item()}) at epoch {epoch + 1}, step {step}; "
                f"stopped. Try a lower --lr (now {args.lr})."
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



def _resume_optimizer(opt: torch.optim.Optimizer, folder: Path, step: int) -> None:
    """Load Adam's state, checking it was saved at the same step as the weights."""
    path = folder / OPTIMIZER
    tensors = read_tensors(path)
    saved_steps = {int(v.item()) for k, v in tensors.items() if k.endswith(".step")}
    if saved_steps != {step}:
        raise CheckpointError(
            f"{path}: optimizer state is from step {sorted(saved_steps)}, the weights in {folder} from step {step}; "
            "the files are not from one save (copied by hand, or a save interrupted in an older version), so the "
            "run cannot be resumed exactly. Train again into a new --out."
        )
    load_optimizer_tensors(opt, tensors)


def train(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """Run the training described by the parsed CLI arguments; returns the final metadata."""
    out = check_out(args)
    command = command_line(argv)
    device = pick_device(args.device)
    if args.resume:  # finish a save a kill interrupted after its commit, and clear what killed saves left
        settle(out, (WEIGHTS, CONFIG))
        settle(out / LAST, (WEIGHTS, CONFIG, OPTIMIZER))
    last = load_checkpoint(out / LAST) if args.resume and (out / LAST / WEIGHTS).is_file() else None
    args.dataset = absolute_name(args.dataset)  # so that evaluate and the app find it from any folder
    if last:
        saved = last.meta.get("train", {})
        saved = {**saved, "dataset": absolute_name(saved["dataset"])} if "dataset" in saved else saved
        apply_saved_settings(args, saved, argv)
    if args.lr_min is None:
        args.lr_min = args.lr
    check_args(args)
    ddp = setup_distributed(device)
    try:
        if device.type == "cuda" and ddp.world_size > 1:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        meta = _train(args, out, command, last, device, ddp)
        if ddp.world_size > 1:
            dist.barrier()
    finally:
        if ddp.world_size > 1:
            dist.destroy_process_group()
    return meta


def _train(
    args: argparse.Namespace, out: Path, command: str, last: Checkpoint | None, device: torch.device, ddp: Distributed
) -> dict[str, Any]:
    # A resumed run reads its folder as it was first read: the recorded levels and class order.
    levels, classes = (Levels.of(last.meta), last.meta.get("class_names")) if last else (Levels(args.normalise), None)
    train_set = load_dataset(args.dataset, "train", args.data_root, args.size, args.channels, levels,
                             tuple(classes) if classes else None)
    test_set = load_dataset(args.dataset, "test", args.data_root, args.size, args.channels, train_set.levels,
                            tuple(train_set.class_names))
    if ddp.main:
        for note in dict.fromkeys(train_set.notes + test_set.notes):  # both splits' skipped files, once each
            print(f"{args.dataset}: {note}", file=sys.stderr)
    if args.subset:
        train_set, test_set = train_set.subset(args.subset), test_set.subset(max(1, args.subset // 6))
    if len(train_set) < ddp.world_size:
        raise ValueError(f"{len(train_set)} training images cannot be shared among {ddp.world_size} processes")

    torch.manual_seed(args.seed)
    history: list[dict[str, Any]] = []
    start_epoch, step = 0, 0
    if last:
        model = last.model
        history = list(last.meta.get("history", []))
        state = last.meta.get("train_state")
        if not isinstance(state, dict) or not {"epoch", "step"} <= state.keys():
            raise CheckpointError(f"{last.folder / 'config.json'}: has no train_state (epoch, step) to resume from")
        start_epoch, step = state["epoch"], state["step"]
    elif args.init:
        model, init = initial_model(args, train_set)
    else:
        model = build(model_config(args, train_set))
    if args.iwae_k > 1 and model.cfg.beta != 1.0:
        raise ValueError(f"--iwae-k > 1 needs beta 1 (the IWAE bound has no KL weight), not {model.cfg.beta}")
    try:
        model.to(device).train()
    except RuntimeError as err:  # out of memory on the device, above all
        raise ValueError(f"could not move the model to {device}: {str(err).splitlines()[0]}") from err
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    if last:
        _resume_optimizer(opt, out / LAST, step)
        if ddp.main:
            print(f"resuming from epoch {start_epoch}, step {step}", file=sys.stderr)
    elif args.resume and ddp.main:
        print(f"{out / LAST} holds no state to resume from; training from the start", file=sys.stderr)
    if start_epoch >= args.epochs and ddp.main:
        print(f"{out} has trained {start_epoch} epochs already; pass a larger --epochs to go on", file=sys.stderr)
    net = DistributedDataParallel(model) if ddp.world_size > 1 else model
    selection = "test_iwae_loss" if args.iwae_k > 1 else "test_loss"
    best = min((h[selection] for h in history if selection in h), default=math.inf)
    meta: dict[str, Any] = {
        "dataset": args.dataset,
        "class_names": train_set.class_names,
        "split": train_set.split,
        "levels": train_set.levels.record(),
        "binarize": args.binarize,
        "train": {k: v for k, v in vars(args).items() if k not in NOT_SETTINGS},
        "command": last.meta.get("command", command) if last else command,
    }
    if last:  # the original command stays first; each resumption is recorded after it
        meta["resumed_with"] = [*last.meta.get("resumed_with", []), command]
        if "init" in last.meta:
            meta["init"] = last.meta["init"]
    elif args.init:  # how the starting weights were made, so that the whole recipe can be re-run
        meta["init"] = init

    for epoch in range(start_epoch, args.epochs):
        started = time.perf_counter()
        try:
            step, stats = train_epoch(net, opt, train_set, args, epoch, step, device, ddp)
        except TrainingDiverged as err:
            saved = (out / LAST / WEIGHTS).is_file()
            kept = f"The last good state is in {out / LAST}." if saved else "Nothing was saved."
            raise TrainingDiverged(f"{err} {kept}") from err
        model.eval()
        test = continuous_test_loss(model, test_set)
        if args.iwae_k > 1:
            test["iwae_loss"] = continuous_iwae_loss(model, test_set, args.iwae_k)
        model.train()
        if not math.isfinite(test["loss"]):
            raise TrainingDiverged(f"the test loss became {test['loss']} after epoch {epoch + 1}; stopped.")
        record = {
            "epoch": epoch + 1, "step": step,
            **{k: round(v, 4) for k, v in stats.items()},
            **{f"test_{k}": round(v, 4) for k, v in test.items() if k != "recon"},
            "seconds": round(time.perf_counter() - started, 2),
        }
        history.append(record)
        if ddp.main:
            print(
                f"epoch {record['epoch']}: train loss {record['train_loss']:.2f}  "
                f"test loss {record['test_loss']:.2f}"
                + (f" (KL {record['test_kl']:.2f})" if "test_kl" in record else "")
                + (f"  test -L_{args.iwae_k} {record['test_iwae_loss']:.2f}" if selection != "test_loss" else "")
                + f"  {record['seconds']:.1f}s",
                file=sys.stderr,
            )
            meta = {**meta, "history": history}
            # Each save is one step (vae.atomic). The best goes first: after a kill between the two, --resume
            # redoes this epoch exactly and saves the same best again.
            if record[selection] < best:
                best = record[selection]
                save_checkpoint(out, model, {**meta, "best_epoch": epoch + 1})
            else:  # the best weights stay; their metadata learns the newer history
                update_meta(out, **meta)
            save_checkpoint(out / LAST, model, {**meta, "train_state": {"epoch": epoch + 1, "step": step}},
                            extra={OPTIMIZER: optimizer_tensors(opt)})
    return meta
