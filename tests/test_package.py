"""`pip install .`: the wheel carries what the `latent-explorer` command needs, and the command's pieces work."""

from __future__ import annotations

import configparser
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import launcher

ROOT = Path(__file__).resolve().parents[1]
APP_FOLDERS = ("pages", "components", "checkpoints", "vae", "ui", "static")  # static/: where it exists


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel built from a fresh tree (links to this checkout's files), so no earlier build/ folder hides a gap."""
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("wheel")
    for entry in ROOT.iterdir():
        if entry.name not in {"build", ".git", ".venv", "node_modules"} and not entry.name.endswith(".egg-info"):
            (src / entry.name).symlink_to(entry)
    subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(out)], cwd=src, check=True, capture_output=True, timeout=300)
    (built,) = out.glob("latent_explorer-*.whl")
    return zipfile.ZipFile(built)


def shipped_files() -> list[str]:
    """Every file the app reads from its own folder, as a path relative to the repository."""
    files = ["app.py", "launcher.py", ".streamlit/config.toml"]
    for folder in APP_FOLDERS:
        files += [p.relative_to(ROOT).as_posix() for p in sorted((ROOT / folder).rglob("*"))
                  if p.is_file() and "__pycache__" not in p.parts and "last" not in p.parts
                  and not p.name.startswith(".")]
    return files


def test_the_wheel_holds_the_app_laid_out_as_in_the_repository(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    missing = [f for f in shipped_files() if f"latent_explorer/{f}" not in names]
    assert not missing, f"not in the wheel: {missing}"
    assert not [n for n in names if n.startswith(("latent_explorer/tests/", "latent_explorer/bench/"))]
    assert any(n.endswith("licenses/LICENSE") for n in names)


def test_the_wheel_installs_the_latent_explorer_command(wheel: zipfile.ZipFile) -> None:
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    scripts = configparser.ConfigParser()
    scripts.read_string(wheel.read(entry_points).decode())
    assert scripts["console_scripts"]["latent-explorer"] == "latent_explorer.launcher:main"


def test_the_app_settings_travel_as_streamlit_flags_from_any_folder() -> None:
    options = launcher.config_options()
    assert options["runner.postScriptGC"] == "false"
    assert options["server.fileWatcherType"] == "poll"
    assert options["theme.base"] == "light"
    args = launcher.run_parser().parse_args([])
    cmd, _ = launcher.streamlit_command(args)
    assert cmd[cmd.index("--runner.postScriptGC") + 1] == "false"


def test_run_serves_the_app_with_absolute_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(launcher.DATA_ROOT_ENV, raising=False)
    args = launcher.run_parser().parse_args(["--checkpoints", "mine", "--port", "8700", "--address", "0.0.0.0"])
    cmd, env = launcher.streamlit_command(args)
    assert cmd[1:5] == ["-m", "streamlit", "run", str(ROOT / "app.py")]
    assert cmd[cmd.index("--server.port") + 1] == "8700"
    assert cmd.count("--server.address") == 1 and cmd[cmd.index("--server.address") + 1] == "0.0.0.0"
    assert cmd[-3:] == ["--", "--checkpoints", str(tmp_path / "mine")]
    assert env[launcher.DATA_ROOT_ENV] == str(tmp_path / "data")


def test_trust_code_reaches_the_app_only_when_asked() -> None:
    plain, _ = launcher.streamlit_command(launcher.run_parser().parse_args([]))
    assert "--trust-code" not in plain and "--" not in plain
    trusted, _ = launcher.streamlit_command(launcher.run_parser().parse_args(["--trust-code"]))
    assert trusted[-2:] == ["--", "--trust-code"]


def test_other_commands_are_python_m_vae(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        launcher.main(["train", "--help"])
    assert done.value.code == 0
    assert "--latent-dim" in capsys.readouterr().out
    assert launcher.main(["--help"]) == 0
    assert "train" in capsys.readouterr().out
