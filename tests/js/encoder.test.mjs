// The encoder (onnxruntime-web) and the scores against PyTorch: posterior means and log-variances (or
// codes) within 1e-4, and vae.networks.objectives.negative_elbo_at_mean and the reconstruction error computed from them.
import assert from "node:assert/strict";
import { test } from "node:test";

import { base64ToFloat32 } from "../../components/model_runtime/base64.mjs";
import { loadDecoder } from "../../components/model_runtime/decoder.mjs";
import { loadEncoder } from "../../components/model_runtime/encoder.mjs";
import { negativeElboAtMean, percentileOf, reconstructionError } from "../../components/model_runtime/scores.mjs";
import { channelsLast, fixtures } from "./fixtures.mjs";

const TOLERANCE = 1e-4;

for (const [name, fixture] of fixtures("encoders")) {
  test(`encodes ${name} like PyTorch`, async (t) => {
    const encoder = await loadEncoder(fixture.encoder), decoder = await loadDecoder(fixture.decoder);
    const d = encoder.latentDim, size = encoder.shape.reduce((a, b) => a * b);
    const x = base64ToFloat32(fixture.x), mu = base64ToFloat32(fixture.mu);
    const logvar = fixture.logvar && base64ToFloat32(fixture.logvar);
    assert.equal(x.length / size, 100);
    let worst = 0, worstElbo = 0, worstError = 0;
    for (let s = 0; s < 100; s++) {
      const image = channelsLast(x.subarray(s * size, (s + 1) * size), encoder.shape), label = fixture.labels[s] ?? 0;
      const out = await encoder.encode(image, label);
      assert.equal(out.logvar === null, logvar === null);
      for (let j = 0; j < d; j++) {
        worst = Math.max(worst, Math.abs(out.mu[j] - mu[s * d + j]), logvar ? Math.abs(out.logvar[j] - logvar[s * d + j]) : 0);
      }
      if (!fixture.recon_error) continue;
      const decoded = await decoder.decode(out.mu, label);
      if (fixture.neg_elbo) {
        const want = fixture.neg_elbo[s];
        worstElbo = Math.max(worstElbo, Math.abs(negativeElboAtMean(decoded, image, out.mu, out.logvar) - want) / Math.max(1, want));
      }
      worstError = Math.max(worstError, Math.abs(reconstructionError(decoded, image) - fixture.recon_error[s]));
    }
    t.diagnostic(`max abs difference in the code (mu, logvar) over 100 inputs: ${worst.toExponential(2)}`);
    assert.ok(worst <= TOLERANCE, `largest difference in mu or logvar ${worst}`);
    assert.ok(worstElbo <= 1e-5, `largest relative -ELBO difference ${worstElbo}`);
    assert.ok(worstError <= 1e-6, `largest reconstruction error difference ${worstError}`);
  });
}

test("a percentile counts the reference values at or below", () => {
  const sorted = Float32Array.from([1, 2, 2, 3]);
  assert.deepEqual([0.5, 1, 2, 2.5, 3, 9].map((v) => percentileOf(sorted, v)), [0, 25, 75, 75, 100, 100]);
});

test("scores from probabilities when the decoder gives no logits", () => {
  const x = Float32Array.from([1, 0]), decoded = { image: Float32Array.from([0.5, 0.25]), logits: null };
  const want = -Math.log(0.5) - Math.log(0.75);
  assert.ok(Math.abs(negativeElboAtMean(decoded, x, [0], [0]) - want) < 1e-12);
  assert.ok(Math.abs(reconstructionError(decoded, x) - (0.25 + 0.0625) / 2) < 1e-12);
});
