"""The train command: a tiny run learns, --resume continues exactly, bad input stops cleanly, DDP on two CPUs."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

import vae.training.train
from tests.vae.kills import Killed, kill_at
from vae.__main__ import main
from vae.networks.objectives import Loss
from vae.store.checkpoint import WEIGHTS, load_checkpoint, read_meta, update_meta

TINY_RUN = ["--dataset", "mnist", "--arch", "mlp", "--latent-dim", "4", "--hidden", "32", "--subset", "512",
            "--batch-size", "64", "--seed", "3", "--quiet"]


def train(out: Path, *extra: str) -> int:
    return main(["train", *TINY_RUN, "--out", str(out), *extra])


def _history(folder: Path) -> list[dict]:
    return [{k: v for k, v in h.items() if k != "seconds"} for h in read_meta(folder)["history"]]


def _same_weights(a: Path, b: Path) -> bool:
    sa, sb = load_checkpoint(a).model.state_dict(), load_checkpoint(b).model.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


def test_a_tiny_run_improves_the_elbo(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert train(out, "--epochs", "3", "--lr", "3e-3") == 0
    meta = read_meta(out)
    losses = [h["test_loss"] for h in meta["history"]]
    assert len(losses) == 3 and losses[2] < losses[1] < losses[0]
    assert losses[0] - losses[2] > 20, losses
    assert [h["step"] for h in meta["history"]] == [8, 16, 24]
    assert meta["best_epoch"] == 3
    assert meta["command"].startswith("python -m vae train --dataset mnist")
    assert meta["train"]["latent_dim"] == 4 and meta["model"]["latent_dim"] == 4
    for name in (WEIGHTS, "config.json", "optimizer.safetensors"):
        assert (out / "last" / name).is_file()
    assert _same_weights(out, out / "last")  # the best epoch was the last one


def test_resume_continues_as_if_never_interrupted(tmp_path: Path, monkeypatch, capsys) -> None:
    assert train(tmp_path / "whole", "--epochs", "3", "--lr-min", "1e-4") == 0

    real_epoch, calls = vae.training.train.train_epoch, []

    def interrupted_in_epoch_two(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(vae.training.train, "train_epoch", interrupted_in_epoch_two)
    out = tmp_path / "resumed"
    assert train(out, "--epochs", "3", "--lr-min", "1e-4") == 130
    assert [h["epoch"] for h in read_meta(out)["history"]] == [1]
    monkeypatch.undo()
    assert main(["train", "--out", str(out), "--resume", "--quiet"]) == 0  # the saved settings are used
    assert "resuming from epoch 1, step 8" in capsys.readouterr().err

    assert _history(out) == _history(tmp_path / "whole")
    assert [h["step"] for h in _history(out)] == [8, 16, 24]
    assert _same_weights(out / "last", tmp_path / "whole" / "last")
    meta = read_meta(out)
    assert meta["command"] == read_meta(tmp_path / "whole")["command"].replace("whole", "resumed")
    assert meta["resumed_with"] == [f"python -m vae train --out {out} --resume --quiet"]
    assert meta["train"] == {**read_meta(tmp_path / "whole")["train"], "out": str(out)}


def test_resume_can_extend_but_not_contradict(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    assert train(out, "--epochs", "1") == 0
    assert train(out, "--epochs", "1", "--resume", "--lr", "0.5") == 2
    assert "--lr 0.5 differs from the run being resumed (0.001)" in capsys.readouterr().err
    assert train(out, "--epochs", "2", "--resume") == 0
    meta = read_meta(out)
    assert [h["step"] for h in meta["history"]] == [8, 16]
    assert meta["train"]["epochs"] == 2 and len(meta["resumed_with"]) == 1
    assert train(out, "--epochs", "2", "--resume") == 0
    assert "trained 2 epochs already" in capsys.readouterr().err


def test_resume_refuses_state_from_an_interrupted_save(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    assert train(out, "--epochs", "1") == 0
    update_meta(out / "last", train_state={"epoch": 1, "step": 5})  # as if config.json were older than the rest
    assert train(out, "--epochs", "2", "--resume") == 2
    err = capsys.readouterr().err
    assert "optimizer.safetensors" in err and "interrupted" in err and "Traceback" not in err


def test_resume_refuses_a_last_state_without_train_state(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    assert train(out, "--epochs", "1") == 0
    meta = read_meta(out / "last")
    del meta["train_state"]
    (out / "last" / "config.json").write_text(json.dumps(meta))
    assert train(out, "--epochs", "2", "--resume") == 2
    assert "has no train_state" in capsys.readouterr().err


def test_iwae_training_starts_from_an_init_checkpoint(tmp_path: Path) -> None:
    first, second = tmp_path / "elbo", tmp_path / "iwae"
    assert train(first, "--epochs", "1", "--lr", "3e-3") == 0
    assert train(second, "--init", str(first), "--iwae-k", "3", "--epochs", "1", "--lr", "1e-9") == 0
    start, end = load_checkpoint(first).model.state_dict(), load_checkpoint(second).model.state_dict()
    for name in start:  # a learning rate of 1e-9 leaves the initial weights where they were
        torch.testing.assert_close(end[name], start[name], atol=1e-6, rtol=0)
    meta, init_meta = read_meta(second), read_meta(first)
    assert meta["init"] == {"checkpoint": str(first), "command": init_meta["command"], "train": init_meta["train"]}
    assert meta["train"]["iwae_k"] == 3 and meta["best_epoch"] == 1
    record = meta["history"][0]
    # -L_3 is a tighter bound than the one-sample ELBO, on the same test images
    assert record["test_iwae_loss"] < record["test_loss"]
    assert record["test_loss"] == pytest.approx(init_meta["history"][0]["test_loss"], abs=1.0)


def test_init_refuses_a_contradicting_architecture(tmp_path: Path, capsys) -> None:
    assert train(tmp_path / "a", "--epochs", "1") == 0
    assert train(tmp_path / "b", "--init", str(tmp_path / "a"), "--latent-dim", "8", "--hidden", "16") == 2
    err = capsys.readouterr().err
    assert "--latent-dim 8 (the checkpoint has 4)" in err and "--hidden 16 (the checkpoint has 32)" in err
    assert not (tmp_path / "b").exists()


def test_init_with_a_larger_hidden_widens_the_model(tmp_path: Path) -> None:
    first, second = tmp_path / "narrow", tmp_path / "wide"
    assert train(first, "--epochs", "1", "--lr", "3e-3") == 0
    assert train(second, "--init", str(first), "--hidden", "48", "--epochs", "1", "--lr", "1e-9") == 0
    meta, init_meta = read_meta(second), read_meta(first)
    assert meta["model"]["hidden"] == 48 and init_meta["model"]["hidden"] == 32
    # the widened model starts where the narrow one ended
    assert meta["history"][0]["test_loss"] == pytest.approx(init_meta["history"][0]["test_loss"], abs=1.0)


@pytest.mark.parametrize(("objective", "term"), [("ae", None), ("wae", "mmd")])
def test_the_deterministic_members_train_and_record_their_own_terms(tmp_path: Path, objective, term) -> None:
    out = tmp_path / objective
    assert train(out, "--objective", objective, "--epochs", "2", "--lr", "3e-3") == 0
    meta = read_meta(out)
    assert meta["model"]["objective"] == objective
    assert meta["model"]["mmd_weight"] == (10.0 if objective == "wae" else 0.0)
    history = meta["history"]
    assert history[1]["test_loss"] < history[0]["test_loss"]
    assert not any("kl" in key for h in history for key in h)  # no KL where there is no posterior
    assert all((f"test_{term}" in h) == (term is not None) for h in history)


def test_conditional_training_needs_labels(tmp_path: Path, capsys) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for i in range(12):
        Image.new("L", (8, 8), color=i * 20).save(images / f"{i}.png")
    assert train(tmp_path / "run", "--dataset", f"folder:{images}", "--size", "8", "--conditional") == 2
    assert "--conditional needs class labels" in capsys.readouterr().err


def test_nan_loss_stops_with_a_clear_message(tmp_path: Path, monkeypatch, capsys) -> None:
    real_loss, calls = vae.training.train.training_loss, []

    def nan_in_epoch_two(*args, **kwargs):
        calls.append(1)
        loss = real_loss(*args, **kwargs)
        return Loss(loss.loss * float("nan"), loss.recon, loss.kl) if len(calls) > 8 else loss

    monkeypatch.setattr(vae.training.train, "training_loss", nan_in_epoch_two)
    out = tmp_path / "run"
    assert train(out, "--epochs", "3") == 2
    err = capsys.readouterr().err
    assert "error: the loss became NaN or infinite (here nan) at epoch 2, step 8" in err
    assert f"The last good state is in {out / 'last'}" in err and "Traceback" not in err
    assert [h["epoch"] for h in read_meta(out)["history"]] == [1]


def test_absurd_learning_rate_diverges_cleanly(tmp_path: Path, capsys) -> None:
    assert train(tmp_path / "run", "--epochs", "1", "--lr", "1e30") == 2
    assert "NaN or infinite" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--latent-dim", "0"], "latent_dim must be in 1..1024"),
        (["--epochs", "-1"], "--epochs must be >= 1"),
        (["--batch-size", "0"], "--batch-size must be >= 1"),
        (["--lr", "0"], "--lr must be a positive number"),
        (["--lr", "nan"], "--lr must be a positive number"),
        (["--subset", "0"], "--subset must be >= 1"),
        (["--free-bits", "-1"], "--free-bits must be a number >= 0"),
        (["--warmup-epochs", "-2"], "--warmup-epochs must be >= 0"),
        (["--beta", "-1"], "beta must be a finite number >= 0"),
        (["--hidden", "0"], "hidden and hidden_layers must be positive"),
        (["--iwae-k", "0"], "--iwae-k must be >= 1"),
        (["--iwae-k", "3", "--beta", "0.5"], "no --beta, --warmup-epochs or --free-bits"),
        (["--init", "/nonexistent/ckpt"], "/nonexistent/ckpt"),
        (["--objective", "ae", "--beta", "4"], "--objective ae has no KL term: --beta apply to a vae only"),
        (["--objective", "wae", "--iwae-k", "5"], "--iwae-k apply to a vae only"),
        (["--mmd-weight", "3"], "--mmd-weight is the WAE's lambda"),
        (["--objective", "wae", "--mmd-weight", "0"], "--mmd-weight is the WAE's lambda"),
        (["--dataset", "cifar10"], "unknown dataset 'cifar10'"),
        (["--dataset", "folder:/nonexistent/images"], "image folder /nonexistent/images does not exist"),
    ],
)
def test_absurd_settings_get_a_clear_message(tmp_path: Path, capsys, flags: list[str], message: str) -> None:
    assert train(tmp_path / "run", *flags) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err, err
    assert not (tmp_path / "run").exists()


def test_cli_errors_exit_2_without_a_traceback(tmp_path: Path, repo_root: Path, child_env: dict) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vae", "train", "--dataset", "nope", "--out", str(tmp_path / "x")],
        cwd=repo_root, env=child_env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: unknown dataset 'nope': use mnist, fashion-mnist or folder:PATH"


def test_two_process_ddp_run(tmp_path: Path, repo_root: Path, child_env: dict) -> None:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    out = tmp_path / "ddp"
    proc = subprocess.run(
        [torchrun, "--standalone", "--nproc-per-node", "2", "-m", "vae", "train", "--dataset", "mnist",
         "--arch", "mlp", "--latent-dim", "4", "--hidden", "32", "--subset", "256", "--batch-size", "64",
         "--epochs", "2", "--device", "cpu", "--quiet", "--out", str(out)],
        cwd=repo_root, env=child_env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = json.loads((out / "config.json").read_text())
    assert meta["command"].startswith("torchrun --nproc-per-node 2 -m vae train --dataset mnist")
    assert [h["step"] for h in meta["history"]] == [2, 4]  # each rank takes 128 images: 2 steps of 64 per epoch
    assert proc.stderr.count("epoch 2: train loss") == 1  # rank 0 alone reports and saves
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "last", "model.safetensors"]
    load_checkpoint(out)


def test_a_kill_at_any_step_of_any_save_is_resumed_exactly(tmp_path: Path, monkeypatch) -> None:
    """Issue 15: a kill between (or inside) the files of any save of a run, then --resume, ends where an
    uninterrupted run ends: same steps, history and weights, and no leftovers of the kill."""
    # read MNIST once
    monkeypatch.setattr(vae.training.train, "load_dataset", functools.cache(vae.training.train.load_dataset))
    run = ("--epochs", "2", "--lr-min", "1e-4")
    assert train(tmp_path / "whole", *run) == 0
    with kill_at(monkeypatch, tmp_path / "count", None) as steps:
        assert train(tmp_path / "count", *run) == 0
    assert len(steps) >= 2 * (6 + 8), steps  # each epoch: the best (two files) and the last state (three)
    for step in range(1, len(steps) + 1):
        out = tmp_path / f"killed-{step}"
        with kill_at(monkeypatch, out, step), pytest.raises(Killed):
            train(out, *run)
        assert train(out, *run, "--resume") == 0, f"no resume after a kill at {steps[step - 1]}"
        assert _history(out) == _history(tmp_path / "whole"), steps[step - 1]
        assert _same_weights(out / "last", tmp_path / "whole" / "last") and _same_weights(out, tmp_path / "whole")
        assert sorted(p.name for p in out.iterdir()) == ["config.json", "last", "model.safetensors"]
        assert sorted(p.name for p in (out / "last").iterdir()) == ["config.json", "model.safetensors",
                                                                    "optimizer.safetensors"]


KILL_AT_A_WRITE = """
import os, signal, sys
import vae.store.atomic
from vae.__main__ import main
writes, real = [], vae.store.atomic.fsync_file
def fsync_file(path):
    writes.append(path)
    if len(writes) == int(sys.argv[1]):
        os.kill(os.getpid(), signal.SIGKILL)
    real(path)
vae.store.atomic.fsync_file = fsync_file
main(sys.argv[2:])
"""


def test_a_real_sigkill_mid_save_is_resumed_and_its_leftovers_removed(
    tmp_path: Path, repo_root: Path, child_env: dict
) -> None:
    """The same with a real SIGKILL (no Python cleanup runs at all), in epoch 2's save of the last state."""
    run = [*TINY_RUN, "--epochs", "2"]
    out = tmp_path / "killed"
    # files written per epoch: the best (2, or 1 when only its config.json changes), then the last state (3)
    proc = subprocess.run([sys.executable, "-c", KILL_AT_A_WRITE, "9", "train", *run, "--out", str(out)],
                          cwd=repo_root, env=child_env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert [p.name for p in (out / "last").iterdir() if p.name.startswith(".staging.")], "nothing left to clean"
    assert train(tmp_path / "whole", "--epochs", "2") == 0
    assert train(out, "--epochs", "2", "--resume") == 0
    assert _history(out) == _history(tmp_path / "whole")
    assert _same_weights(out / "last", tmp_path / "whole" / "last")
    assert sorted(p.name for p in (out / "last").iterdir()) == ["config.json", "model.safetensors",
                                                                "optimizer.safetensors"]
