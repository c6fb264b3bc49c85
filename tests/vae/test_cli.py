"""Issue 15 (3-5) and issue 10 (7): every foreseeable failure of a command is one `error:` line and exit code 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import vae.training.train
from tests.damaged import CASES
from tests.vae.test_train import TINY_RUN, train
from vae.__main__ import main
from vae.store.checkpoint import CONFIG, read_meta


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if an epoch starts: these errors must come before any training."""

    def refuse(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(vae.training.train, "train_epoch", refuse)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--hidden", "1000000000"], "more than the 1,073,741,824 allowed"),
        (["--device", "banana"], "--device 'banana' is not a device (cpu, cuda, cuda:N or mps)"),
        (["--size", "0", "--dataset", "folder:."], "--size must be in 1..1024"),
        (["--size", "-3", "--dataset", "folder:."], "--size must be in 1..1024"),
        (["--size", "100000", "--dataset", "folder:."], "--size must be in 1..1024"),
        (["--size", "30", "--arch", "conv", "--dataset", "folder:."], "--size 30: the conv architecture needs a"),
        (["--resume", "--overwrite"], "--resume continues the model in"),
    ],
)
def test_bad_settings_are_refused_before_training(tmp_path: Path, capsys, no_training, flags, message) -> None:
    assert train(tmp_path / "run", *flags) == 2
    assert message in one_error_line(capsys)
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_refused(tmp_path: Path, capsys, no_training) -> None:
    assert train(tmp_path / "run", "--device", "cuda") == 2
    assert "--device cuda: CUDA is not available on this machine" in one_error_line(capsys)


@pytest.mark.parametrize("out", ["", "  "])
def test_an_empty_out_is_refused(capsys, no_training, out: str) -> None:
    assert main(["train", *TINY_RUN, "--out", out]) == 2
    assert "--out is empty" in one_error_line(capsys)


def test_out_under_a_file_is_refused_before_training(tmp_path: Path, capsys, no_training) -> None:
    (tmp_path / "file").write_text("x")
    assert train(tmp_path / "file" / "run") == 2
    assert f"--out {tmp_path / 'file' / 'run'}: {tmp_path / 'file'} is a file, not a folder" in one_error_line(capsys)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_an_unwritable_out_is_refused_before_training(tmp_path: Path, repo_root: Path, child_env: dict) -> None:
    """As a user without write permission (root without CAP_DAC_OVERRIDE), not after the first epoch."""
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    locked.chmod(0o555)
    tmp_path.chmod(0o755)
    proc = subprocess.run(
        ["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m", "vae", "train",
         *TINY_RUN, "--epochs", "1", "--out", str(locked / "run")],
        cwd=repo_root, env=child_env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == f"error: --out {locked / 'run'}: cannot write in {locked} (Permission denied)"


def test_an_existing_model_is_never_replaced_without_a_word(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    assert train(out, "--epochs", "1") == 0
    before = (out / CONFIG).read_text()
    capsys.readouterr()
    assert train(out, "--epochs", "1", "--seed", "9") == 2
    line = one_error_line(capsys)
    assert f"{out} holds a trained model" in line and "--resume" in line and "--overwrite" in line
    assert (out / CONFIG).read_text() == before
    assert train(out, "--epochs", "1", "--seed", "9", "--overwrite") == 0
    assert read_meta(out)["train"]["seed"] == 9 and "--overwrite" in read_meta(out)["command"]


def test_help_says_how_an_existing_model_is_treated(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--overwrite" in text and "needs --resume (to continue it) or --overwrite (to replace it)" in text


@pytest.mark.parametrize("command", ["evaluate", "atlas"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_evaluate_and_atlas_refuse_a_damaged_checkpoint(tiny_checkpoint, capsys, command: str, case: str) -> None:
    folder = tiny_checkpoint()
    damage, reason = CASES[case]
    damage(folder)
    assert main([command, str(folder), "--subset", "20"]) == 2
    line = one_error_line(capsys)
    assert reason in line and str(folder) in line


@pytest.mark.parametrize("subset", ["0", "-5"])
def test_atlas_refuses_a_subset_that_is_not_positive(tiny_checkpoint, capsys, subset: str) -> None:
    assert main(["atlas", str(tiny_checkpoint()), "--subset", subset, "--no-umap"]) == 2
    assert f"--subset must be >= 1, got {subset}" in one_error_line(capsys)


@pytest.mark.parametrize("command", ["evaluate", "atlas"])
def test_evaluate_and_atlas_need_the_dataset_named(tiny_checkpoint, capsys, command: str) -> None:
    folder = tiny_checkpoint()
    meta = json.loads((folder / CONFIG).read_text())
    del meta["dataset"]
    (folder / CONFIG).write_text(json.dumps(meta))
    assert main([command, str(folder), "--subset", "20"]) == 2
    assert f"{folder / CONFIG}: names no dataset, so its test images are unknown" in one_error_line(capsys)


def test_atlas_prints_a_short_summary_and_consistent_progress(tiny_checkpoint, capsys) -> None:
    """Issue 22: not the whole atlas.json (with \\u2212 escapes), and no "30% ... 177 of 177"."""
    folder = tiny_checkpoint()
    assert main(["atlas", str(folder), "--subset", "60", "--no-umap", "--k", "2"]) == 0
    captured = capsys.readouterr()
    out = captured.out.strip().splitlines()
    assert out[0].startswith("Atlas of 60 test images of mnist (4-D latent), built in ") and out[0].endswith(" s")
    assert "projections: PCA" in out[1] and "anomaly scores: −ELBO" in out[2] and "(k = 2)" in out[2]
    assert out[3].startswith("  trustworthiness (k = 10): PCA ")
    assert out[4] == f"  written to {folder / 'atlas.safetensors'} and atlas.json"
    assert "{" not in captured.out and "\\u" not in captured.out
    lines = [line.split(None, 1) for line in captured.err.splitlines() if line.strip().startswith(tuple("0123456789"))]
    atlas_lines = [(int(p.rstrip("%")), m) for p, m in lines if m.startswith(("Step", "Atlas"))]
    percents = [p for p, _ in atlas_lines]
    assert percents == sorted(percents) and percents[-1] == 100
    steps = {m.split(":")[0] for _, m in atlas_lines if m.startswith("Step")}
    assert steps == {"Step 1 of 3", "Step 2 of 3", "Step 3 of 3"}  # encoding, scoring, map quality: no UMAP asked
    finished = [p for p, m in atlas_lines if m.startswith("Step 2 of 3") and "60 of 60" in m]
    assert finished and all(abs(p - 200 / 3) < 1 for p in finished)  # a step's full count is at that step's end
