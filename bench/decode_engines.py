"""Decode-only: the browser's runtime in node (onnxruntime-web, WASM, one thread) beside onnxruntime and torch in
Python (one thread), on one checkpoint, in one run.

Each engine decodes one code per call (and encodes one image per call), timed call by call after a
warm-up; the table gives p50 and p95 in ms and the browser runtime's load time (onnxruntime-web's
WASM and the two sessions). The ONNX files are vae.store.onnx_export's, as the app serves them.

    python bench/decode_engines.py [CHECKPOINT] [--calls 1000] [--warmup 50]
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import onnxruntime as ort
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stats import calls_args, percentile  # noqa: E402
from vae.store.checkpoint import load_checkpoint  # noqa: E402
from vae.store.export import network_specs  # noqa: E402
from vae.store.onnx_export import model_json, onnx_networks  # noqa: E402


def python_times(run, calls: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(calls):
        started = time.perf_counter_ns()
        run()
        times.append((time.perf_counter_ns() - started) / 1e6)
    return times


def main(argv: list[str] | None = None) -> list[dict]:
    args = calls_args(__doc__, argv)
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not installed")
    ckpt = load_checkpoint(args.checkpoint)
    model, cfg = ckpt.model.eval(), ckpt.model.cfg
    started = time.perf_counter()
    nets = onnx_networks(model)
    export_s = time.perf_counter() - started
    specs = network_specs(nets.encoder, nets.decoder, model_json(ckpt))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "specs.json"
        path.write_text(json.dumps(specs))
        out = subprocess.run([node, str(ROOT / "bench" / "decode_engines.mjs"), str(path), str(args.calls),
                              str(args.warmup)], cwd=ROOT, capture_output=True, text=True, check=True)
    rows = [{"engine": "onnxruntime-web (node 20, the browser runtime)", **json.loads(out.stdout)}]
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    decoder = ort.InferenceSession(nets.decoder, options, providers=["CPUExecutionProvider"])
    encoder = ort.InferenceSession(nets.encoder, options, providers=["CPUExecutionProvider"])
    z, x = torch.randn(1, cfg.latent_dim), torch.rand(1, *cfg.image_shape)
    feeds_z, feeds_x = {"z": z.numpy()}, {"x": x.numpy()}
    if cfg.conditional:
        feeds_z["y"] = feeds_x["y"] = torch.zeros(1, dtype=torch.long).numpy()
    y = torch.zeros(1, dtype=torch.long) if cfg.conditional else None
    rows.append({"engine": "onnxruntime (Python, 1 thread)", "load_ms": None,
                 "decode": python_times(lambda: decoder.run(None, feeds_z), args.calls, args.warmup),
                 "encode": python_times(lambda: encoder.run(None, feeds_x), args.calls, args.warmup)})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            rows.append({"engine": "torch (1 thread)", "load_ms": None,
                         "decode": python_times(lambda: model.decode(z, y), args.calls, args.warmup),
                         "encode": python_times(lambda: model.encode(x, y), args.calls, args.warmup)})
    finally:
        torch.set_num_threads(threads)
    print(f"# {args.checkpoint} ({cfg.arch}, latent {cfg.latent_dim}); {args.calls} calls after {args.warmup} warm-up; "
          f"ONNX export {export_s:.1f} s; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print("| engine | decode p50 ms | p95 ms | encode p50 ms | p95 ms | load ms |\n|---|---:|---:|---:|---:|---:|")
    for r in rows:
        load = "" if r["load_ms"] is None else f"{r['load_ms']:.0f}"
        print(f"| {r['engine']} | {percentile(r['decode'], 50):.2f} | {percentile(r['decode'], 95):.2f} "
              f"| {percentile(r['encode'], 50):.2f} | {percentile(r['encode'], 95):.2f} | {load} |")
    return rows


if __name__ == "__main__":
    main()
