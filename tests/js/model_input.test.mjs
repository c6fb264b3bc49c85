// The drawing -> model input path against vae.datasets.uploads.prepare_upload, picture by picture.
import assert from "node:assert/strict";
import { test } from "node:test";

import { base64ToFloat32 } from "../../components/model_runtime/base64.mjs";
import { prepareInput, resizeLanczos, roundHalfEven } from "../../components/model_runtime/model_input.mjs";
import { fixtures } from "./fixtures.mjs";

const TOLERANCE = 1e-5;

for (const [name, fixture] of fixtures("inputs")) {
  test(`prepares ${name} like prepare_upload`, () => {
    const rgba = Uint8Array.from(Buffer.from(fixture.rgba, "base64"));
    const got = prepareInput(rgba, fixture.width, fixture.height, fixture.options);
    const want = base64ToFloat32(fixture.expected);
    assert.equal(got.length, want.length);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    assert.ok(worst <= TOLERANCE, `largest difference ${worst} (${JSON.stringify(fixture.options)})`);
  });
}

test("rounds halves to even, like Python", () => {
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, -0, -2, 2, 3]);
});

test("resizing to the same size copies; a constant image stays constant", () => {
  const image = Float32Array.from([0.25, 0.5, 0.75, 1]);
  assert.deepEqual([...resizeLanczos(image, 2, 2, 2, 2)], [...image]);
  const flat = resizeLanczos(new Float32Array(50 * 30).fill(0.4), 50, 30, 7, 11);
  assert.ok(flat.every((v) => Math.abs(v - 0.4) < 1e-6));
});

test("refuses pictures larger than prepare_upload would take unshrunk", () => {
  const options = { channels: 1, size: [28, 28] };
  assert.throws(() => prepareInput(new Uint8Array(4 * 225 * 10), 225, 10, options), /larger than 8x/);
});
