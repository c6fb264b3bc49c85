// The pure parts of the view modules (they import without a DOM: nothing touches it at import time).
import assert from "node:assert/strict";
import { test } from "node:test";

import { channelsFirst } from "../../components/views/pad.mjs";
import { alongPath } from "../../components/views/path.mjs";
import { colourAt, pointColours } from "../../components/views/scatter.mjs";
import { withDirections } from "../../components/views/sliders.mjs";
import { decodeStrokes, encodeStrokes, paintStrokes } from "../../components/views/strokes.mjs";

test("the scrubber walks the path of codes piece by piece", () => {
  const path = [[0, 0], [1, 2], [3, 2]], out = new Float64Array(2);
  assert.deepEqual([...alongPath(path, 0, out)], [0, 0]);
  assert.deepEqual([...alongPath(path, 0.25, out)], [0.5, 1]);
  assert.deepEqual([...alongPath(path, 0.5, out)], [1, 2]);
  assert.deepEqual([...alongPath(path, 1, out)], [3, 2]);
  assert.deepEqual([...alongPath(path, 7, out)], [3, 2]);
});

test("direction sliders add their vectors, scaled by their values, to the code", () => {
  const z = Float64Array.from([1, 0, -1]), out = new Float64Array(3);
  const directions = [Float64Array.from([1, 1, 0]), Float64Array.from([0, 0, 2])];
  assert.deepEqual([...withDirections(z, directions, [0, 0], out)], [1, 0, -1]);
  assert.deepEqual([...withDirections(z, directions, [2, -0.5], out)], [3, 2, -2]);
  assert.deepEqual([...withDirections(z, [], [], out)], [1, 0, -1]);
});

test("strokes survive being written down, and malformed text is refused", () => {
  const strokes = [{ size: 18, points: [10, 20, 30, 40, 255, 0] }, { size: 1, points: [5, 5] }];
  const text = encodeStrokes(strokes);
  assert.match(text, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(decodeStrokes(text), strokes);
  assert.deepEqual(decodeStrokes(""), []);
  assert.throws(() => decodeStrokes(encodeStrokes(strokes).slice(0, 6)), /malformed|cut short/);
});

test("a replay paints every point of every stroke, over fresh paper", () => {
  const calls = [];
  const ctx = new Proxy({}, { get: (_, name) => (...args) => calls.push(name), set: () => true });
  paintStrokes(ctx, [{ size: 4, points: [1, 1, 5, 5, 9, 9] }, { size: 2, points: [3, 3] }], 16, "#fff", "#000");
  assert.equal(calls[0], "fillRect");
  assert.equal(calls.filter((c) => c === "arc").length, 2);  // the first point of each stroke
  assert.equal(calls.filter((c) => c === "lineTo").length, 2);  // the segments after them
});

test("points take the plotly palette by class, or a colour scale by value", () => {
  const labels = Int32Array.from([0, 1, 12]);
  const classes = pointColours({ kind: "classes", palette: ["#a", "#b", "#c", "#d", "#e", "#f", "#g", "#h", "#i", "#j"] }, labels);
  assert.deepEqual([...classes.index], [0, 1, 2]);
  const stops = [[0, [0, 0, 0]], [1, [255, 255, 255]]];
  assert.equal(colourAt(stops, 0.5), "#808080");
  const scale = pointColours({ kind: "scale", stops, range: [0, 10] }, labels, Float32Array.from([0, 5, 20]));
  assert.equal(scale.palette[scale.index[0]], "#000000");
  assert.equal(scale.palette[scale.index[2]], "#ffffff");
  assert.throws(() => pointColours({ kind: "scale", stops, range: [0, 1] }, labels, new Float32Array(2)), /one value per point/);
  const some = pointColours({ kind: "scale", stops, range: [0, 10], missing: "no score" }, labels, Float32Array.from([10]));
  assert.equal(some.palette[some.index[0]], "#ffffff");  // the values cover the first points; the rest are grey
  assert.equal(some.palette[some.index[1]], some.palette[some.index[2]]);
  assert.equal(some.palette[some.index[1]], some.palette.at(-1));
});

test("the drawing goes back to Python in (C, H, W) order", () => {
  assert.deepEqual(channelsFirst(Float32Array.from([1, 2, 3, 4, 5, 6]), 3), [1, 4, 2, 5, 3, 6]);
});
