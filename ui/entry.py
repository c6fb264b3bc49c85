"""Every page runs inside app.py, which sets the page up and draws the model picker.

Until st.navigation has run once in a server process, Streamlit treats a `pages/` folder the
old way and may run a page file on its own (a link straight to /map as the first request, and
every AppTest rerun). A page then hands over to app.py, which runs it again properly.
"""

from __future__ import annotations

import runpy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

APP = Path(__file__).resolve().parent.parent / "app.py"
_run = threading.local()  # each session's script runs in its own thread


@contextmanager
def inside_app() -> Iterator[None]:
    """app.py wraps the page it runs in this."""
    _run.inside = True
    try:
        yield
    finally:
        _run.inside = False


def through_app() -> None:
    """The first line of every page: run app.py instead when Streamlit started this page alone."""
    if getattr(_run, "inside", False):
        return
    runpy.run_path(str(APP), run_name="__main__")
    st.stop()
