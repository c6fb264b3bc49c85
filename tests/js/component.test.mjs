// The pure parts of the component module (it is imported without a DOM: nothing runs at import time).
import assert from "node:assert/strict";
import { test } from "node:test";

import { alongPath } from "../../components/live_decoder/component.mjs";

test("the scrubber walks the path of codes piece by piece", () => {
  const path = [[0, 0], [1, 2], [3, 2]], out = new Float64Array(2);
  assert.deepEqual([...alongPath(path, 0, out)], [0, 0]);
  assert.deepEqual([...alongPath(path, 0.25, out)], [0.5, 1]);
  assert.deepEqual([...alongPath(path, 0.5, out)], [1, 2]);
  assert.deepEqual([...alongPath(path, 1, out)], [3, 2]);
  assert.deepEqual([...alongPath(path, 7, out)], [3, 2]);
});
