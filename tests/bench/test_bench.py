"""The benchmarks run end to end in their quick modes (their timings are never checked here)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
import torch

from vae.store.checkpoint import update_meta

ROOT = Path(__file__).resolve().parents[2]


def _bench(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_train_speed_quick(tiny_checkpoint, capsys) -> None:
    folder = tiny_checkpoint(arch="conv")  # stands in for the shipped model: its config, with a cosine schedule
    update_meta(folder, train={"lr": 2e-3, "lr_min": 1e-4, "epochs": 5, "binarize": "dynamic", "batch_size": 256})
    results = _bench("train_speed").main(["--quick", "--shipped", str(folder)])
    assert [r.contestant for r in results] == ["mlp preset", "shipped conv", "classic (reimplemented)"]
    assert all(r.epochs == 1 and r.seconds > 0 and 100 < r.test_loss < 600 and not r.reached for r in results)
    out = capsys.readouterr().out
    assert "| contestant | epochs | seconds | final test loss | reached 105.6? |" in out
    assert "'latent_dim': 4" in out and "'binarize': 'dynamic'" in out and "'batch_size': 256" in out
    assert torch.get_num_threads() == 1  # conftest's setting, untouched without --threads


def test_train_speed_races_the_first_run_of_a_widened_model(tiny_checkpoint) -> None:
    folder = tiny_checkpoint(arch="conv", hidden=16)  # widened from 8 channels by a second run
    first_run = {"arch": "conv", "latent_dim": 4, "hidden": 8, "epochs": 3, "lr": 2e-3}
    update_meta(folder, init={"checkpoint": "runs/narrow", "train": first_run}, train={"epochs": 9, "hidden": 16})
    data = SimpleNamespace(name="mnist", image_shape=(1, 28, 28), class_names=[str(i) for i in range(10)])
    cfg, settings, _ = _bench("train_speed").shipped_setup(folder, 20, data)
    assert (cfg.arch, cfg.latent_dim, cfg.hidden) == ("conv", 4, 8)
    assert (settings.epochs, settings.lr) == (3, 2e-3)


def test_train_speed_stops_at_the_target(capsys) -> None:
    results = _bench("train_speed").main(["--quick", "--only", "classic", "--target", "1000"])
    assert results[0].reached and results[0].epochs == 1
    assert "| yes |" in capsys.readouterr().out


def test_classic_model_has_the_classic_shape() -> None:
    model = _bench("train_speed").ClassicVAE()
    expected = (784 * 400 + 400) + 2 * (400 * 20 + 20) + (20 * 400 + 400) + (400 * 784 + 784)
    assert sum(p.numel() for p in model.parameters()) == expected
    recon, mu, logvar = model(torch.rand(3, 1, 28, 28))
    assert recon.shape == (3, 784) and mu.shape == logvar.shape == (3, 20)


def test_decode_speed_quick(tiny_checkpoint, capsys) -> None:
    onednn = torch.backends.mkldnn.enabled
    rows = _bench("decode_speed").main([str(tiny_checkpoint(arch="conv", num_classes=10)), "--calls", "20",
                                        "--warmup", "2"])
    assert [r["threads"] for r in rows] == ["default (1)", "1", "2", "1, oneDNN off (the app)"]
    assert all(0 < r["median_ms"] <= r["p95_ms"] for r in rows)
    assert "| threads | median ms | p95 ms | new thread per call: median ms | p95 ms |" in capsys.readouterr().out
    assert all(0 < r["fresh_median_ms"] <= r["fresh_p95_ms"] for r in rows)
    assert torch.get_num_threads() == 1 and torch.backends.mkldnn.enabled == onednn


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_decode_engines_quick(tiny_checkpoint, capsys) -> None:
    rows = _bench("decode_engines").main([str(tiny_checkpoint(arch="conv", num_classes=10)), "--calls", "5",
                                          "--warmup", "1"])
    assert [r["engine"] for r in rows] == ["onnxruntime-web (node 20, the browser runtime)",
                                           "onnxruntime (Python, 1 thread)", "torch (1 thread)"]
    assert all(len(r["decode"]) == len(r["encode"]) == 5 for r in rows)
    assert "| engine | decode p50 ms | p95 ms | encode p50 ms | p95 ms | load ms |" in capsys.readouterr().out


def test_score_cost_quick(tiny_checkpoint, capsys) -> None:
    folder = tiny_checkpoint(arch="conv")
    rows = _bench("score_cost").main([str(folder), "--images", "20", "--batch", "10", "--singles", "3", "--k", "2"])
    assert [r["score"] for r in rows] == ["neg_elbo", "nll", "recon", "complexity", "knn", "stats"]
    assert all(r["batched_ms"] > 0 and 0 < r["single_median_ms"] <= r["single_p95_ms"] for r in rows)
    assert "| score | batched ms per image | one image: median ms | p95 ms |" in capsys.readouterr().out
    assert torch.get_num_threads() == 1
def test_repair_scores_every_method_of_every_corruption(tiny_checkpoint, capsys) -> None:
    rows = _bench("repair").main([str(tiny_checkpoint(arch="conv")), "--images", "6", "--steps", "2"])
    methods = {(r["corruption"], r["method"]) for r in rows}
    assert ("missing top half", "inpainting") in methods and ("Gaussian noise, σ = 0.2", "median filter") in methods
    assert not any(r["method"] == "inpainting" and "noise" in r["corruption"] for r in rows)
    out = capsys.readouterr().out
    assert "| corruption | method | PSNR dB |" in out and "(baseline)" in out


def test_augment_compares_real_with_generated_training_images(tiny_checkpoint, capsys) -> None:
    folder = tiny_checkpoint("cond", arch="mlp", num_classes=10)
    rows = _bench("augment").main([str(folder), "--real-per-class", "3", "--generated-per-class", "2", "4",
                                   "--seeds", "2", "--steps", "2", "--test-subset", "50"])
    assert [r["setting"] for r in rows] == ["3 real", "3 real + 2 generated", "3 real + 4 generated",
                                            "4 generated, no real"]
    assert all(len(r["scores"]) == 2 and 0 <= r["mean"] <= 1 for r in rows)
    assert "| training images per class | test accuracy, mean ± sd |" in capsys.readouterr().out


def test_augment_refuses_an_unconditional_model(tiny_checkpoint) -> None:
    with pytest.raises(SystemExit):
        _bench("augment").main([str(tiny_checkpoint(arch="mlp")), "--seeds", "1"])


def test_live_frames_are_timed_from_the_move_behind_their_first_input() -> None:
    """bench/live_decode.py: a frame counts from the pointermove handled just before the view's handler (a
    slider's `input` comes from one), never from a move that changed nothing on screen before it."""
    pointer = [{"created": 0.0, "handled": 5.0},  # a move the view ignored (under the pad's 2-pixel step)
               {"created": 20.0, "handled": 21.0},  # the move behind the frame's first input
               {"created": 22.0, "handled": 30.0}]  # a later move, shown by the same frame
    frames = [{"mode": "pad", "created": 21.0, "handled": 21.2, "painted": 25.0}]

    class Page:
        def evaluate(self, script: str) -> list[dict]:
            return frames if "__liveDecoderTimings" in script else pointer

    live = _bench("live_decode")
    assert live.live_samples(Page(), "pad") == [{"mode": "pad", "created": 20.0, "handled": 21.2, "painted": 25.0}]
    summary = live.summarize("pad", live.live_samples(Page(), "pad"))
    assert [summary[k] for k in ("p95_ms", "handler_p95_ms", "wait_p95_ms")] == pytest.approx([5.0, 3.8, 1.2])
