"""Summary statistics shared by the benchmarks."""

from __future__ import annotations

import statistics


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile (1..99), interpolated inclusively; the value itself for a single sample."""
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def markdown(header: list[str], rows: list[list[str]], align: str) -> str:
    """A Markdown table: `align` has one letter per column, l (left) or r (right)."""
    rule = "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|"
    return "\n".join(["| " + " | ".join(header) + " |", rule, *("| " + " | ".join(r) + " |" for r in rows)])
