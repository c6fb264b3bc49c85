// Decode-only timing of the browser's runtime in node (bench/decode_engines.py writes the specs and reads
// the JSON this prints): one code decoded (one image encoded) per call, `calls` times after `warmup` calls.
import { readFileSync } from "node:fs";

import { loadDecoder } from "../components/model_runtime/decoder.mjs";
import { loadEncoder } from "../components/model_runtime/encoder.mjs";

const [specsPath, calls, warmup] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const specs = JSON.parse(readFileSync(specsPath, "utf8"));

async function timed(run) {
  for (let i = 0; i < warmup; i++) await run(i);
  const times = [];
  for (let i = 0; i < calls; i++) {
    const started = performance.now();
    await run(i);
    times.push(performance.now() - started);
  }
  return times;
}

const started = performance.now();
const decoder = await loadDecoder(specs.decoder), encoder = await loadEncoder(specs.encoder);
const loadMs = performance.now() - started;
const z = Float32Array.from({ length: decoder.latentDim }, (_, j) => Math.sin(j + 1));
const [c, h, w] = encoder.shape, x = Float32Array.from({ length: c * h * w }, (_, j) => (j % 7) / 7);
console.log(JSON.stringify({ load_ms: loadMs,
  decode: await timed((i) => { z[0] = i / calls; return decoder.decode(z, 0); }),
  encode: await timed((i) => { x[i % x.length] = 1 - x[i % x.length]; return encoder.encode(x, 0); }) }));
