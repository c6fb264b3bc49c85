"""Summary statistics and command lines shared by the benchmarks."""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "mnist"


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile (1..99), interpolated inclusively; the value itself for a single sample."""
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def markdown(header: list[str], rows: list[list[str]], align: str) -> str:
    """A Markdown table: `align` has one letter per column, l (left) or r (right)."""
    rule = "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|"
    return "\n".join(["| " + " | ".join(header) + " |", rule, *("| " + " | ".join(r) + " |" for r in rows)])


def calls_args(doc: str, argv: list[str] | None) -> argparse.Namespace:
    """The command line of a bench that times single calls: CHECKPOINT (the shipped mnist), --calls, --warmup."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("checkpoint", nargs="?", default=str(SHIPPED), help="checkpoint folder")
    parser.add_argument("--calls", type=int, default=1000, help="timed calls per row (default %(default)s)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed calls first (default %(default)s)")
    args = parser.parse_args(argv)
    if args.calls < 2 or args.warmup < 0:
        parser.error("--calls must be >= 2 and --warmup >= 0")
    return args
