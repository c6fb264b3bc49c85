"""The round trip ours -> ONNX folder -> the app's onnxruntime source, for every shipped checkpoint.

Each checkpoint is exported with `python -m vae export` (vae.store.onnx_export) into a temporary folder and opened
again with vae.models.sources.open_model; the table gives the largest difference, over 100 random inputs, between
the two sources' codes (test images in, the encoder's mean) and decoded images (prior codes in, pixels in
[0, 1]), the export's time and the two files' size. The issue's bar: images within 1e-4.

    python bench/onnx_round_trip.py [CHECKPOINT ...]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vae.models.sources import open_model  # noqa: E402
from vae.store.checkpoint import find_checkpoints, load_checkpoint  # noqa: E402
from vae.store.onnx_export import export_onnx  # noqa: E402

N = 100


@torch.no_grad()
def round_trip(folder: Path, out: Path) -> tuple[float, float, float, float]:
    started = time.perf_counter()
    export_onnx(load_checkpoint(folder), out)
    seconds = time.perf_counter() - started
    ours, onnx = open_model(folder).model, open_model(out).model
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(N, *ours.image_shape, generator=gen)
    z = torch.randn(N, ours.latent_dim, generator=gen)
    y = torch.arange(N) % max(ours.num_classes, 1)
    codes = (ours.encode(x, y)[0] - onnx.encode(x, y)[0]).abs().max().item()
    images = (ours.image(z, y) - onnx.image(z, y)).abs().max().item()
    megabytes = sum(p.stat().st_size for p in out.glob("*.onnx")) / 1e6
    return codes, images, seconds, megabytes


def main() -> None:
    torch.set_num_threads(1)
    folders = [Path(a) for a in sys.argv[1:]] or find_checkpoints(ROOT / "checkpoints")
    print(f"{'checkpoint':<16} {'codes max |diff|':>16} {'images max |diff|':>17} {'export s':>9} {'MB':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for folder in folders:
            codes, images, seconds, megabytes = round_trip(folder, Path(tmp) / folder.name)
            print(f"{folder.name:<16} {codes:16.2e} {images:17.2e} {seconds:9.1f} {megabytes:6.2f}")


if __name__ == "__main__":
    main()
