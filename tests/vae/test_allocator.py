"""The allocator setting: training steps reuse freed tensor memory instead of faulting fresh pages in."""

from __future__ import annotations

import subprocess
import sys

import pytest

FAULTS = """
import resource, sys, torch
from vae.training.allocator import keep_freed_memory
from vae.networks.config import PRESETS
from vae.networks.model import VAE
from vae.networks.objectives import negative_iwae

if sys.argv[1] == "keep":
    assert keep_freed_memory()
torch.manual_seed(0)
model, x = VAE(PRESETS["conv"]), (torch.rand(64, 1, 28, 28) < 0.3).float()
negative_iwae(model, x, 5).loss.backward()  # one step to warm up, then count the page faults of five
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    negative_iwae(model, x, 5).loss.backward()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _page_faults(mode: str, repo_root, child_env) -> int:
    proc = subprocess.run([sys.executable, "-c", FAULTS, mode], cwd=repo_root, env=child_env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_freed_tensors_are_reused_without_page_faults(repo_root, child_env) -> None:
    default, kept = _page_faults("default", repo_root, child_env), _page_faults("keep", repo_root, child_env)
    # By default glibc gives the steps' freed tensors back to the kernel and faults fresh pages in again
    # (88,072 faults here); kept, the memory is reused (2,000-8,000).
    assert kept < default / 5, (default, kept)
