"""Page state that lives in the URL, so that a copied link reproduces the view.

Each stateful widget has a key that is also its query parameter. `bind` gives the widget
its first value (from the link, else what it was when the user last left the page, else
the default) before it is drawn; a value that does not parse is dropped with a short
notice. `slider`, `selectbox`, `segmented_control`, ... bind, draw and register a widget in
one call, from one range or list of choices; `publish` writes the registered widgets' values
(and any others it is given) back to the URL after the widgets are drawn.
Parsers never touch the file system: a value is only ever compared against known choices
and ranges, so `../../etc` is just an unknown name.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import streamlit as st

MEMORY = "_remembered"  # values of each page's widgets when the user last left the page
REGISTERED = "_published"  # keys of the widgets drawn by this module's calls since the page's run began
MODEL_KEY = "model"
MAX_SHOWN = 40  # characters of a rejected value quoted back to the user
MAX_SEED = 2**31 - 1  # seeds in links and seed inputs: 0..MAX_SEED

Parser = Callable[[str], Any]


def notice(message: str) -> None:
    st.toast(message, icon=":material/info:")


def bind(key: str, default: Any, parse: Parser) -> None:
    """Set st.session_state[key] once, before the widget with that key is drawn."""
    if key not in st.session_state:
        st.session_state[key] = initial(key, default, parse)


def initial(key: str, default: Any, parse: Parser) -> Any:
    """A widget's first value: from the link, else what it was when the user last left the page, else the
    default; a link value that does not parse gives the default and a notice."""
    raw = st.query_params.get(key)
    if raw is None:
        return st.session_state.setdefault(MEMORY, {}).get(key, default)
    try:
        return parse(raw)
    except ValueError as err:
        shown = raw if len(raw) <= MAX_SHOWN else raw[:MAX_SHOWN] + "…"
        instead = f"no {key}" if default is None else repr(dump(default))
        notice(f"Ignored {key}={shown!r} from the link: {err}. Using {instead} instead.")
        return default


def bind_code(key: str, dim: int, limit: float) -> bool:
    """bind for a latent code of `dim` numbers within ±limit (zeros by default). A code kept in the session
    with another length (another model's, handed over or left behind) never reaches the page: it is
    dropped with a notice, and True says so."""
    bind(key, [0.0] * dim, numbers(dim, -limit, limit))
    kept = st.session_state[key]
    if len(kept) == dim:
        return False
    notice(f"Ignored a code of {len(kept)} numbers: this model has {dim} latent dimensions. Starting from zeros.")
    st.session_state[key] = [0.0] * dim
    return True


def switch_page(page: str, values: dict[str, Any] | None = None) -> NoReturn:
    """Open another page of the app with these values in its link, keeping the model.

    st.switch_page starts the next page without the browser's widget states, so Streamlit forgets every
    widget's value, the sidebar's model picker's too, which would fall back to the default model. The
    model therefore goes along in the URL, where `bind` finds it, like any other value of the page.
    """
    wanted = {MODEL_KEY: st.session_state[MODEL_KEY]} if MODEL_KEY in st.session_state else {}
    wanted.update({k: dump(v) for k, v in (values or {}).items()})
    st.switch_page(page, query_params=wanted)


def new_run() -> None:
    """app.py calls this before each run of a page: the widgets it draws register afresh (a fragment's
    rerun keeps what the page's run registered)."""
    st.session_state[REGISTERED] = []


def publish(values: dict[str, Any] | None = None) -> None:
    """Make the URL hold the chosen model and exactly this page's values: those of the widgets drawn through
    this module, and `values` (values bound but not drawn, or one left out with None); remember them for a
    later visit."""
    drawn = {k: st.session_state.get(k) for k in st.session_state.get(REGISTERED, [])}
    present = {k: v for k, v in {**drawn, **(values or {})}.items() if v is not None}
    st.session_state.setdefault(MEMORY, {}).update(present)
    wanted = {MODEL_KEY: st.session_state[MODEL_KEY]} if MODEL_KEY in st.session_state else {}
    wanted.update({k: dump(v) for k, v in present.items() if v != []})
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


def new_seed(key: str) -> None:
    """Callback: a fresh random seed under `key`."""
    st.session_state[key] = random.randrange(MAX_SEED)


def _bound(key: str, default: Any, parse: Parser) -> None:
    bind(key, default, parse)
    registered = st.session_state.setdefault(REGISTERED, [])
    if key not in registered:
        registered.append(key)


def slider(label: str, lo: float, hi: float, key: str, default: float, where: Any = st, **kwargs: Any) -> Any:
    """An st.slider from lo to hi bound to the URL (whole numbers when lo, hi and default are ints)."""
    whole = all(isinstance(v, int) for v in (lo, hi, default))
    _bound(key, default, integer(lo, hi) if whole else number(lo, hi))
    where.slider(label, lo, hi, key=key, **kwargs)
    return st.session_state[key]


def number_input(label: str, lo: int, hi: int, key: str, default: int, where: Any = st, **kwargs: Any) -> int:
    """An st.number_input of whole numbers from lo to hi, bound to the URL."""
    _bound(key, default, integer(lo, hi))
    where.number_input(label, lo, hi, key=key, **kwargs)
    return st.session_state[key]


def _choice_of(options: Sequence[Any]) -> Parser:
    if isinstance(options, range) and options.step == 1:
        return integer(options.start, options.stop - 1)
    return integer_choice(options) if all(isinstance(o, int) for o in options) else choice(options)


def selectbox(label: str, options: Sequence[Any], key: str, default: Any, where: Any = st, **kwargs: Any) -> Any:
    """An st.selectbox of names or whole numbers, bound to the URL."""
    _bound(key, default, _choice_of(options))
    where.selectbox(label, options, key=key, **kwargs)
    return st.session_state[key]


def select_slider(label: str, options: Sequence[Any], key: str, default: Any, where: Any = st, **kwargs: Any) -> Any:
    """An st.select_slider of names or whole numbers, bound to the URL."""
    _bound(key, default, _choice_of(options))
    where.select_slider(label, options, key=key, **kwargs)
    return st.session_state[key]


def segmented_control(label: str, options: Sequence[str], key: str, default: str | None = None, where: Any = st,
                      **kwargs: Any) -> str:
    """A required st.segmented_control (the first option by default), bound to the URL."""
    _bound(key, options[0] if default is None else default, choice(options))
    where.segmented_control(label, options, key=key, required=True, **kwargs)
    return st.session_state[key]


def radio(label: str, options: Sequence[str], key: str, default: str, where: Any = st, **kwargs: Any) -> str:
    """An st.radio bound to the URL."""
    _bound(key, default, choice(options))
    where.radio(label, options, key=key, **kwargs)
    return st.session_state[key]


def toggle(label: str, key: str, default: bool = False, where: Any = st, **kwargs: Any) -> bool:
    """An st.toggle bound to the URL."""
    _bound(key, default, flag)
    where.toggle(label, key=key, **kwargs)
    return st.session_state[key]


def dump(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ",".join(dump(v) for v in value)
    return str(value)


def choice(options: Sequence[str]) -> Parser:
    def parse(raw: str) -> str:
        if raw not in options:
            raise ValueError("not one of the choices" if len(options) > 8 else f"not one of {', '.join(options)}")
        return raw

    return parse


def choices(options: Sequence[str], max_count: int) -> Parser:
    """Up to `max_count` distinct comma-separated names, each one of `options` (an empty value is an empty list)."""

    def parse(raw: str) -> list[str]:
        names = [n for n in raw.split(",") if n] if raw else []
        if len(names) > max_count or len(set(names)) != len(names):
            raise ValueError(f"needs up to {max_count} different names")
        return [choice(options)(n) for n in names]

    return parse


def integer_choice(options: Sequence[int]) -> Parser:
    def parse(raw: str) -> int:
        value = integer(min(options), max(options))(raw)
        if value not in options:
            raise ValueError(f"not one of {', '.join(map(str, options))}")
        return value

    return parse


def integer(lo: int, hi: int) -> Parser:
    return _within(int, "not a whole number", lo, hi)


def number(lo: float, hi: float) -> Parser:
    return _within(float, "not a number", lo, hi)


def _within(convert: Callable[[str], float], unreadable: str, lo: float, hi: float) -> Parser:
    """A parser of one number, `convert`ed from the link, in lo..hi; says what was wrong when it is not."""
    shown = f"{lo:g}..{hi:g}" if isinstance(lo, float) or isinstance(hi, float) else f"{lo}..{hi}"

    def parse(raw: str) -> Any:
        try:
            value = convert(raw)
        except ValueError:
            raise ValueError(unreadable) from None
        if math.isnan(value):
            raise ValueError("not a number")
        if not math.isfinite(value) or not lo <= value <= hi:
            raise ValueError(f"outside {shown}" if math.isfinite(lo) or math.isfinite(hi) else "not finite")
        return value

    return parse


def numbers(count: int, lo: float, hi: float) -> Parser:
    """Exactly `count` comma-separated numbers, each clamped into [lo, hi]."""

    def parse(raw: str) -> list[float]:
        parts = raw.split(",")
        if len(parts) != count:
            raise ValueError(f"needs {count} numbers, got {len(parts)}")
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise ValueError("not a list of numbers") from None
        if not all(math.isfinite(v) for v in values):
            raise ValueError("not finite")
        return [min(hi, max(lo, v)) for v in values]

    return parse


def integers(lo: int, hi: int, max_count: int) -> Parser:
    """Up to `max_count` comma-separated whole numbers in lo..hi (an empty value is an empty list)."""

    def parse(raw: str) -> list[int]:
        if not raw:
            return []
        parts = raw.split(",")
        if len(parts) > max_count:
            raise ValueError(f"more than {max_count} numbers")
        return [integer(lo, hi)(p) for p in parts]

    return parse


def flag(raw: str) -> bool:
    if raw not in ("0", "1"):
        raise ValueError("not 0 or 1")
    return raw == "1"
