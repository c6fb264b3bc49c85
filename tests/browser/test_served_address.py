"""Issue 22: the app listens on this machine only unless shared on purpose, and keeps XSRF protection on."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest

import launcher
from tests.browser.helpers import ROOT, streamlit_server

LOOPBACK = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1 and ::1 as /proc/net/tcp* write them
LISTEN = "0A"


def listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as the kernel writes them) of the sockets listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if int(hex_port, 16) == port and state == LISTEN:
                found.add(address)
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads the listening sockets from Linux's /proc")
def test_the_app_listens_on_this_machine_only(tmp_path: Path) -> None:
    log = tmp_path / "streamlit.log"
    with streamlit_server("app.py", log=log) as url:
        addresses = listening_addresses(int(url.rsplit(":", 1)[1]))
        printed = log.read_text()
    assert addresses and addresses <= LOOPBACK, addresses  # not 0.0.0.0 / :: (every interface)
    assert "Network URL" not in printed


def test_the_settings_keep_it_local_and_xsrf_on() -> None:
    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert server["address"] == "127.0.0.1" and server["enableXsrfProtection"] is True
    assert "enableCORS" not in server  # turning CORS off would make Streamlit turn XSRF protection off too


@pytest.mark.parametrize(("address", "warned"), [(None, False), ("0.0.0.0", True), ("localhost", False)])
def test_make_run_shares_only_when_asked_and_says_so(address: str | None, warned: bool) -> None:
    args = ["make", "-n", "--no-print-directory", "run", *([f"ADDRESS={address}"] if address else [])]
    planned = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert f"--server.address {address or '127.0.0.1'}" in planned
    assert ("warning: the explorer is shared on" in planned) == warned


@pytest.mark.parametrize(("flags", "warned"), [([], False), (["--address", "0.0.0.0"], True),
                                               (["--address", "localhost"], False)])
def test_the_launcher_binds_as_the_config_says_and_warns_when_shared(flags: list[str], warned: bool) -> None:
    cmd, _ = launcher.streamlit_command(launcher.run_parser().parse_args(flags))
    assert cmd[cmd.index("--server.address") + 1] == (flags[1] if flags else "127.0.0.1")
    warning = launcher.shared_warning(cmd)
    assert bool(warning) == warned and (not warned or "shared on 0.0.0.0:8501" in warning)
