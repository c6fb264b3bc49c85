"""ROC curves as a PNG, drawn with Pillow (no plotting library needed): one panel per set, one curve per score."""

from __future__ import annotations

import math
import os

from PIL import Image, ImageDraw, ImageFont

PANEL = 300  # plot area, pixels square
LEFT, RIGHT, TOP, BOTTOM = 46, 16, 30, 38
COLUMNS = 4
COLOURS = ["#4f46e5", "#dc2626", "#16a34a", "#d97706", "#db2777", "#0ea5e9", "#475569", "#9333ea"]
INK, GRID, PAPER = "#1f2430", "#e5e7eb", "#ffffff"

Curves = dict[str, dict[str, dict[str, list[float]]]]


def save_roc_plot(path: str | os.PathLike, curves: Curves, aurocs: dict[str, dict[str, float]]) -> None:
    """Draw curves (set -> score -> {"fpr", "tpr"}), each labelled with its AUROC, and save as PNG."""
    sets = list(curves)
    columns = max(1, min(COLUMNS, len(sets)))
    rows = max(1, math.ceil(len(sets) / columns))
    cell_w, cell_h = LEFT + PANEL + RIGHT, TOP + PANEL + BOTTOM
    image = Image.new("RGB", (columns * cell_w, rows * cell_h), PAPER)
    draw = ImageDraw.Draw(image)
    font, small = ImageFont.load_default(size=14), ImageFont.load_default(size=11)
    scores = list(dict.fromkeys(score for name in sets for score in curves[name]))
    for i, name in enumerate(sets):
        x0, y0 = (i % columns) * cell_w + LEFT, (i // columns) * cell_h + TOP

        def at(fpr: float, tpr: float, x0: int = x0, y0: int = y0) -> tuple[float, float]:
            return x0 + fpr * PANEL, y0 + (1 - tpr) * PANEL

        for tick in (0.25, 0.5, 0.75):
            draw.line([at(tick, 0), at(tick, 1)], fill=GRID)
            draw.line([at(0, tick), at(1, tick)], fill=GRID)
        draw.line([at(0, 0), at(1, 1)], fill="#9ca3af", width=1)
        for score in curves[name]:
            curve = curves[name][score]
            colour = COLOURS[scores.index(score) % len(COLOURS)]
            draw.line([at(f, t) for f, t in zip(curve["fpr"], curve["tpr"], strict=True)], fill=colour, width=2)
        draw.rectangle([at(0, 1), at(1, 0)], outline=INK)
        draw.text((x0 + PANEL / 2, y0 - 8), f"against {name}", fill=INK, font=font, anchor="ms")
        draw.text((x0 + PANEL / 2, y0 + PANEL + 26), "false positive rate", fill=INK, font=small, anchor="ms")
        draw.text((x0 - 8, y0 + PANEL), "0", fill=INK, font=small, anchor="rm")
        draw.text((x0, y0 + PANEL + 4), "0", fill=INK, font=small, anchor="mt")
        draw.text((x0 + PANEL, y0 + PANEL + 4), "1", fill=INK, font=small, anchor="mt")
        draw.text((x0 - 8, y0), "1", fill=INK, font=small, anchor="rm")
        draw.text((x0 - 26, y0 + PANEL / 2), "TPR", fill=INK, font=small, anchor="mm")
        legend_top = y0 + PANEL - 20 - 15 * (len(curves[name]) - 1)
        draw.rectangle([x0 + PANEL - 156, legend_top, x0 + PANEL - 4, y0 + PANEL - 4], fill=PAPER, outline=GRID)
        for j, score in enumerate(curves[name]):  # the legend, lower right, inside the panel
            y = legend_top + 8 + 15 * j
            colour = COLOURS[scores.index(score) % len(COLOURS)]
            auroc = aurocs.get(name, {}).get(score)
            label = f"{score} {auroc:.3f}" if auroc is not None else score
            draw.line([(x0 + PANEL - 150, y), (x0 + PANEL - 134, y)], fill=colour, width=3)
            draw.text((x0 + PANEL - 128, y), label, fill=INK, font=small, anchor="lm")
    image.save(path, format="PNG")
