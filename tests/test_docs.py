"""The README and docs/ as a reader uses them: every relative link resolves (anchors too), and every command
line the README gives to run parses (`make ...` as `make -n`, `python -m vae ...` and `latent-explorer ...`
against their own parsers, without running anything)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
from functools import cache
from pathlib import Path

import pytest

import launcher

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted([README, *(ROOT / "docs").glob("*.md")])

FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)


def prose(path: Path) -> str:
    """The text of a Markdown file without its code blocks and comments (links there are not links)."""
    return COMMENT.sub("", FENCE.sub("", path.read_text()))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@cache
def anchors(path: Path) -> set[str]:
    return {slug(h) for h in HEADING.findall(FENCE.sub("", path.read_text()))}


def relative_links(path: Path) -> list[str]:
    return [t for t in LINK.findall(prose(path)) if not re.match(r"[a-z]+:", t)]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(doc: Path) -> None:
    broken = []
    for link in relative_links(doc):
        target, _, anchor = link.partition("#")
        file = (doc.parent / target).resolve() if target else doc
        if not file.exists():
            broken.append(link)
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{link} (no such heading)")
    assert not broken, f"{doc.name}: broken links {broken}"


def test_the_readme_picture_is_small() -> None:
    pictures = [t for t in relative_links(README) if t.endswith((".png", ".gif", ".jpg"))]
    assert pictures, "the README shows the app"
    for picture in pictures:
        assert (ROOT / picture).stat().st_size < 500_000, picture


def readme_commands() -> list[str]:
    """The command lines of the README's bash blocks, comments and leading VAR=value assignments dropped."""
    lines = []
    for block in re.findall(r"^```bash\n(.*?)^```", README.read_text(), re.MULTILINE | re.DOTALL):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            line = re.sub(r"^(\w+=\S+\s+)+", "", line)
            if line:
                lines.append(line)
    return lines


@cache
def vae_help(command: str) -> str:
    """`python -m vae COMMAND --help`, run in this process (torch is imported once)."""
    from vae.__main__ import main as vae_main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        vae_main([command, "--help"])
    assert done.value.code == 0, f"python -m vae {command}: no such command"
    return out.getvalue()


def check_vae(args: list[str]) -> None:
    """The command exists and knows every option the line gives."""
    command, *rest = args
    text = vae_help(command)
    unknown = [a.split("=")[0] for a in rest if a.startswith("--") and a.split("=")[0] not in text]
    assert not unknown, f"python -m vae {command}: unknown options {unknown}"


def check(line: str) -> None:
    words = shlex.split(line)
    if words[0] == "make":
        run = subprocess.run(["make", "-n", *words[1:]], cwd=ROOT, capture_output=True, text=True, timeout=60,
                             env={**os.environ, "MAKEFLAGS": ""})
        assert run.returncode == 0, f"{line}: {run.stderr}"
    elif "-m" in words and words[words.index("-m") + 1] == "vae":
        check_vae(words[words.index("-m") + 2:])
    elif "-m" in words and words[words.index("-m") + 1] == "pytest":
        missing = [w for w in words if w.startswith("tests/") and not (ROOT / w.split("::")[0]).exists()]
        assert not missing, f"{line}: no such test {missing}"
    elif words[0] == "latent-explorer":
        rest = words[1:]
        if rest and not rest[0].startswith("-") and rest[0] != "run":
            check_vae(rest)
        else:
            launcher.run_parser().parse_args(rest[1:] if rest and rest[0] == "run" else rest)
    else:
        raise AssertionError(f"README command with no check here, add one: {line}")


@pytest.mark.parametrize("line", readme_commands())
def test_every_readme_command_parses(line: str) -> None:
    check(line)


def test_the_checks_catch_a_wrong_command() -> None:
    for wrong in ["make runn", "python -m vae train --no-such-option", "python -m vae trian",
                  "latent-explorer run --no-such-option"]:
        with pytest.raises((AssertionError, SystemExit)):
            check(wrong)
