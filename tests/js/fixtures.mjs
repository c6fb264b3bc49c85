// The fixtures tests/js/test_model_runtime.py writes: LATENT_EXPLORER_JS_FIXTURES/<kind>/<name>.json.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const root = process.env.LATENT_EXPLORER_JS_FIXTURES;

/** [name, fixture] for every fixture of this kind, in name order (none outside pytest). */
export function fixtures(kind) {
  const dir = root && join(root, kind);
  if (!dir || !existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith(".json")).sort()
    .map((f) => [f.replace(/\.json$/, ""), JSON.parse(readFileSync(join(dir, f), "utf8"))]);
}

/** A (C, H, W) image, flat, in the runtime's channels-last order. */
export function channelsLast(x, [c, h, w]) {
  const out = new Float32Array(x.length);
  for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * w; p++) out[p * c + ch] = x[ch * h * w + p];
  return out;
}
