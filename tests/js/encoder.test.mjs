// The JavaScript encoder and scores against PyTorch: posterior means and log-variances within 1e-4,
// and vae.objectives.negative_elbo_at_mean and the reconstruction error computed from them.
import assert from "node:assert/strict";
import { test } from "node:test";

import { loadDecoder } from "../../components/model_runtime/decoder.mjs";
import { loadEncoder } from "../../components/model_runtime/encoder.mjs";
import { base64ToFloat32 } from "../../components/model_runtime/layers.mjs";
import { negativeElboAtMean, percentileOf, reconstructionError } from "../../components/model_runtime/scores.mjs";
import { channelsLast, fixtures } from "./fixtures.mjs";

const TOLERANCE = 1e-4;

for (const [name, fixture] of fixtures("encoders")) {
  test(`encodes ${name} like PyTorch`, (t) => {
    const encoder = loadEncoder(fixture.encoder), decoder = loadDecoder(fixture.decoder);
    const d = encoder.latentDim, size = encoder.shape.reduce((a, b) => a * b);
    const x = base64ToFloat32(fixture.x), mu = base64ToFloat32(fixture.mu), logvar = base64ToFloat32(fixture.logvar);
    assert.equal(x.length / size, 100);
    let worst = 0, worstElbo = 0, worstError = 0;
    for (let s = 0; s < 100; s++) {
      const image = channelsLast(x.subarray(s * size, (s + 1) * size), encoder.shape), label = fixture.labels[s] ?? 0;
      const out = encoder.encode(image, label);
      for (let j = 0; j < d; j++) {
        worst = Math.max(worst, Math.abs(out.mu[j] - mu[s * d + j]), Math.abs(out.logvar[j] - logvar[s * d + j]));
      }
      const logits = decoder.decode(out.mu, label);
      if (fixture.neg_elbo) {
        const want = fixture.neg_elbo[s];
        worstElbo = Math.max(worstElbo, Math.abs(negativeElboAtMean(logits, image, out.mu, out.logvar) - want) / Math.max(1, want));
      }
      worstError = Math.max(worstError, Math.abs(reconstructionError(logits, image) - fixture.recon_error[s]));
    }
    t.diagnostic(`max abs difference in mu or logvar over 100 inputs: ${worst.toExponential(2)}`);
    assert.ok(worst <= TOLERANCE, `largest difference in mu or logvar ${worst}`);
    assert.ok(worstElbo <= 1e-5, `largest relative -ELBO difference ${worstElbo}`);
    assert.ok(worstError <= 1e-6, `largest reconstruction error difference ${worstError}`);
  });
}

test("a percentile counts the reference values at or below", () => {
  const sorted = Float32Array.from([1, 2, 2, 3]);
  assert.deepEqual([0.5, 1, 2, 2.5, 3, 9].map((v) => percentileOf(sorted, v)), [0, 25, 75, 75, 100, 100]);
});

for (const [name, fixture] of fixtures("encoders").slice(0, 4)) {
  test(`an encoder that remembers ${name}'s last image gives what a fresh one gives`, () => {
    const used = loadEncoder(fixture.encoder), [c, h, w] = used.shape, size = c * h * w;
    const x = base64ToFloat32(fixture.x), label = fixture.labels[0] ?? 0;
    const first = channelsLast(x.subarray(0, size), used.shape), other = channelsLast(x.subarray(size, 2 * size), used.shape);
    const edited = Float32Array.from(first);  // the first image with a corner of the second pasted in, as a stroke adds
    for (let y = 0; y < Math.min(6, h); y++) for (let v = 0; v < Math.min(6, w) * c; v++) edited[y * w * c + v] = other[y * w * c + v];
    used.encode(first, label);
    const again = Array.from(used.encode(edited, label).mu), fresh = Array.from(loadEncoder(fixture.encoder).encode(edited, label).mu);
    assert.deepEqual(again, fresh);
    assert.deepEqual(Array.from(used.encode(edited, label).mu), fresh);  // nothing changed: everything kept
  });
}
