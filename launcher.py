"""The `latent-explorer` command that `pip install .` puts on the PATH.

    latent-explorer [run] [--checkpoints DIR ...] [--port 8501] [--address ADDR] [--data-root DIR]
    latent-explorer COMMAND ...          # any `python -m vae` command: train, evaluate, atlas, ood, ...

`run` (the default) starts the app from any folder: `streamlit run app.py` of the installed copy (or of
this checkout) with the app's own settings from its `.streamlit/config.toml`, which Streamlit would only
read from the current folder, given as command-line options. Datasets are read from --data-root,
$LATENT_EXPLORER_DATA, or ./data of the folder the command is run in, as with `make run`. Every other
command goes to `python -m vae` unchanged.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent  # the folder holding app.py, pages/, vae/, ui/, components/, checkpoints/
STREAMLIT_CONFIG = ROOT / ".streamlit" / "config.toml"
DATA_ROOT_ENV = "LATENT_EXPLORER_DATA"  # vae.datasets.data's name for it; not imported here, importing vae loads torch


def config_options(path: Path = STREAMLIT_CONFIG) -> dict[str, str]:
    """The options of a Streamlit config.toml by flag name: [theme] base = "light" -> {"theme.base": "light"}."""
    return flat(tomllib.loads(path.read_text())) if path.is_file() else {}


def flat(table: dict, prefix: str = "") -> dict[str, str]:
    """Nested TOML tables as dotted names ([theme.sidebar] too), values as Streamlit's flags spell them."""
    options = {}
    for name, value in table.items():
        if isinstance(value, dict):
            options |= flat(value, f"{prefix}{name}.")
        else:
            options[prefix + name] = str(value).lower() if isinstance(value, bool) else str(value)
    return options


LOOPBACK = ("127.0.0.1", "localhost", "::1")  # the app's config binds to the first (.streamlit/config.toml)


def shared_warning(cmd: list[str]) -> str | None:
    """One line when the `streamlit run` command serves beyond this machine (`make run ADDRESS=...` says the
    same), else None."""
    def option(name: str, default: str) -> str:
        return cmd[cmd.index(name) + 1] if name in cmd else default

    address = option("--server.address", "0.0.0.0")  # Streamlit's own default: every interface
    if address in LOOPBACK:
        return None
    return (f"warning: the explorer is shared on {address}:{option('--server.port', '8501')}: anyone who can "
            "reach this machine can open it and upload files and start work on it")


def run_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="latent-explorer", formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="latent-explorer [run] [--checkpoints DIR] [--trust-code] [--port PORT] [--address ADDR]\n"
              "                       [--data-root DIR]\n"
              "       latent-explorer COMMAND [options]   (COMMAND: see below)",
        description="Start the Latent Explorer app on the shipped checkpoints (and on --checkpoints folders); "
                    "open the URL it prints.")
    p.add_argument("--checkpoints", action="append", default=[], metavar="DIR",
                   help="another folder of checkpoints (or one checkpoint folder) to list; may be repeated")
    p.add_argument("--trust-code", action="store_true", help="open models whose model.json names Python code "
                   "(module:callable): their code is imported and run; only for code you trust")
    p.add_argument("--port", type=int, default=8501, help="port to serve on (default 8501)")
    p.add_argument("--address", help="address to bind (default: the app's setting)")
    p.add_argument("--data-root", help=f"where datasets live (default: ${DATA_ROOT_ENV} or ./data)")
    return p


def streamlit_command(args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """The `streamlit run` command line and environment that serve the app as `args` ask."""
    options = {**config_options(), "server.port": str(args.port), "server.headless": "true"}
    if args.address:
        options["server.address"] = args.address
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
           *(arg for name, value in options.items() for arg in (f"--{name}", value))]
    folders = [str(Path(folder).expanduser().resolve()) for folder in args.checkpoints]
    app_args = [*(arg for folder in folders for arg in ("--checkpoints", folder)), *["--trust-code"] * args.trust_code]
    if app_args:
        cmd += ["--", *app_args]
    data_root = args.data_root or os.environ.get(DATA_ROOT_ENV) or "data"
    return cmd, {**os.environ, DATA_ROOT_ENV: str(Path(data_root).expanduser().resolve())}


def vae_help() -> str:
    """`python -m vae --help`, named as this command."""
    from vae.__main__ import main as vae_main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        vae_main(["--help"])
    text = out.getvalue()
    return text[text.find("positional arguments:"):].replace("python -m vae", "latent-explorer")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    sys.path.insert(0, str(ROOT))  # vae/ and ui/ are importable as in a checkout
    if argv and argv[0] in ("-h", "--help"):
        print(run_parser().format_help(), "\nCOMMAND is any command of `python -m vae` (`latent-explorer COMMAND "
              "--help` for its options):\n", vae_help(), sep="\n")
        return 0
    if not argv or argv[0] == "run" or argv[0].startswith("-"):
        args = run_parser().parse_args(argv[1:] if argv and argv[0] == "run" else argv)
        cmd, env = streamlit_command(args)
        warning = shared_warning(cmd)
        if warning:
            print(warning, file=sys.stderr)
        os.execve(cmd[0], cmd, env)  # streamlit takes this process's place: Ctrl+C and kill reach it directly
    from vae.__main__ import main as vae_main

    return vae_main(argv)


if __name__ == "__main__":
    sys.exit(main())
