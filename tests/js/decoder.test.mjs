// The decoder (onnxruntime-web) against PyTorch: its output and the image drawn from it, within 1e-4 on
// 100 codes. The fixtures are written by tests/js/test_model_runtime.py, which sets
// LATENT_EXPLORER_JS_FIXTURES and runs `node --test tests/js`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { base64ToFloat32 } from "../../components/model_runtime/base64.mjs";
import { loadDecoder } from "../../components/model_runtime/decoder.mjs";
import { valuesToRGBA } from "../../components/views/picture.mjs";
import { fixtures, root } from "./fixtures.mjs";

const TOLERANCE = 1e-4;
const decoders = fixtures("decoders");

for (const [name, fixture] of decoders) {
  test(`decodes ${name} like PyTorch`, async (t) => {
    const decoder = await loadDecoder(fixture.spec);
    const [c, h, w] = decoder.shape, d = decoder.latentDim;
    const z = base64ToFloat32(fixture.z), output = base64ToFloat32(fixture.output), image = base64ToFloat32(fixture.image);
    assert.equal(z.length / d, 100);
    let worst = 0, worstPixel = 0;
    for (let s = 0; s < 100; s++) {
      const got = await decoder.decode(z.subarray(s * d, (s + 1) * d), fixture.labels[s] ?? 0);
      for (let ch = 0; ch < c; ch++) {
        for (let p = 0; p < h * w; p++) {
          const at = (s * c + ch) * h * w + p;
          if (got.logits) worst = Math.max(worst, Math.abs(got.logits[p * c + ch] - output[at]));
          worstPixel = Math.max(worstPixel, Math.abs(got.image[p * c + ch] - image[at]));
        }
      }
    }
    t.diagnostic(`max abs difference over 100 codes: logits ${worst.toExponential(2)}, pixels ${worstPixel.toExponential(2)}`);
    assert.ok(worst <= TOLERANCE, `largest logit difference ${worst}`);
    assert.ok(worstPixel <= TOLERANCE, `largest pixel difference ${worstPixel}`);
  });
}

test("fixtures are present", { skip: root ? false : "run through pytest tests/js/test_model_runtime.py" }, () => {
  assert.ok(decoders.length > 0, `no decoder fixtures in ${root}`);
});

test("refuses a file that is not ONNX", async () => {
  const spec = { format: "latent-explorer-onnx-decoder/1", latent_shape: [2], image_shape: [1, 1, 1],
    output: "logits", conditional: false, onnx: btoa("not a model") };
  await assert.rejects(loadDecoder(spec));
});

test("writes greyscale pixels from values in [0, 1]", () => {
  const rgba = valuesToRGBA(new Float32Array([0.5, 1, 0]), 1, new Uint8ClampedArray(12));
  assert.deepEqual([...rgba], [128, 128, 128, 255, 255, 255, 255, 255, 0, 0, 0, 255]);
});
