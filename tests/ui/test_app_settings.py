"""Settings that keep the app quick to answer (measured by bench/page_speed.py; see docs/benchmarks.md)."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_ui_leaves_torch_one_thread_and_its_own_kernels() -> None:
    # In a process of its own: the setting is global, and whichever page Streamlit runs first must get it.
    probe = "import ui, torch; print(torch.get_num_threads(), torch.backends.mkldnn.enabled)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "False"]


def test_streamlit_skips_the_full_collection_after_each_run() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False


def test_streamlit_polls_its_sources_instead_of_watching_the_checkout() -> None:
    """inotify on the checkout overflowed while training wrote checkpoints; polling still sees page edits."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "poll"
