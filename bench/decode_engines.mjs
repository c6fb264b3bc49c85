// Decode-only timing of the browser engines in node (bench/decode_engines.py writes the specs and reads
// the JSON this prints): each engine decodes one code per call, `calls` times after `warmup` calls.
import { readFileSync } from "node:fs";

import { loadDecoder } from "../components/model_runtime/decoder.mjs";
import { loadEncoder } from "../components/model_runtime/encoder.mjs";
import { loadHandwrittenDecoder, loadHandwrittenEncoder } from "../components/model_runtime/handwritten.mjs";

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

const LOADERS = { onnx: [loadDecoder, loadEncoder], handwritten: [loadHandwrittenDecoder, loadHandwrittenEncoder] };
const rows = [];
for (const [engine, [decoderOf, encoderOf]] of Object.entries(LOADERS)) {
  const started = performance.now();
  const decoder = await decoderOf(specs[engine].decoder), encoder = await encoderOf(specs[engine].encoder);
  const loadMs = performance.now() - started;
  const z = Float32Array.from({ length: decoder.latentDim }, (_, j) => Math.sin(j + 1));
  const [c, h, w] = encoder.shape, x = Float32Array.from({ length: c * h * w }, (_, j) => (j % 7) / 7);
  rows.push({ engine, load_ms: loadMs,
    decode: await timed((i) => { z[0] = i / calls; return decoder.decode(z, 0); }),
    encode: await timed((i) => { x[i % x.length] = 1 - x[i % x.length]; return encoder.encode(x, 0); }) });
}
console.log(JSON.stringify(rows));
