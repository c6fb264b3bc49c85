// The JavaScript decoder against PyTorch's logits. The fixtures are written by
// tests/js/test_model_runtime.py, which sets LATENT_EXPLORER_JS_FIXTURES and runs `node --test tests/js`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { loadDecoder } from "../../components/model_runtime/decoder.mjs";
import { base64ToFloat32 } from "../../components/model_runtime/layers.mjs";
import { logitsToRGBA } from "../../components/views/picture.mjs";
import { fixtures, root } from "./fixtures.mjs";

const TOLERANCE = 1e-4;
const decoders = fixtures("decoders");

for (const [name, fixture] of decoders) {
  test(`decodes ${name} like PyTorch`, (t) => {
    const decoder = loadDecoder(fixture.spec);
    const [c, h, w] = decoder.shape;
    const z = base64ToFloat32(fixture.z);
    const expected = base64ToFloat32(fixture.logits);
    const n = z.length / decoder.latentDim;
    assert.equal(n, 100);
    let worst = 0, worstPixel = 0;
    for (let s = 0; s < n; s++) {
      const out = decoder.decode(z.subarray(s * decoder.latentDim, (s + 1) * decoder.latentDim), fixture.labels[s] ?? 0);
      for (let ch = 0; ch < c; ch++) {
        for (let p = 0; p < h * w; p++) {
          const want = expected[((s * c + ch) * h * w) + p];
          const got = out[p * c + ch];
          worst = Math.max(worst, Math.abs(got - want));
          worstPixel = Math.max(worstPixel, Math.abs(1 / (1 + Math.exp(-got)) - 1 / (1 + Math.exp(-want))));
        }
      }
    }
    t.diagnostic(`max abs difference in logits over 100 codes: ${worst.toExponential(2)}`);
    assert.ok(worst <= TOLERANCE, `largest logit difference ${worst}`);
    assert.ok(worstPixel <= TOLERANCE, `largest pixel difference ${worstPixel}`);
  });
}

test("fixtures are present", { skip: root ? false : "run through pytest tests/js/test_model_runtime.py" }, () => {
  assert.ok(decoders.length > 0, `no decoder fixtures in ${root}`);
});

test("rejects a layer it has no code for", () => {
  const spec = { format: "latent-explorer-decoder/1", latent_dim: 2, num_classes: 0, image_shape: [1, 1, 1],
    layers: [{ type: "tanh" }] };
  assert.throws(() => loadDecoder(spec), /no tanh layer/);
});

test("writes greyscale pixels through a sigmoid", () => {
  const rgba = logitsToRGBA(new Float32Array([0, 100, -100]), 1, new Uint8ClampedArray(12));
  assert.deepEqual([...rgba], [128, 128, 128, 255, 255, 255, 255, 255, 0, 0, 0, 255]);
});
