// The latent map: grid neighbour search against brute force, the blend of latent means (place to
// code), vae.analysis.atlas.Atlas.project's placement (code to place) against PyTorch, and the latent plane.
import assert from "node:assert/strict";
import { test } from "node:test";

import { base64ToFloat32 } from "../../components/model_runtime/base64.mjs";
import { loadMap } from "../../components/model_runtime/latent_map.mjs";
import { fixtures } from "./fixtures.mjs";

function b64(values) {
  return Buffer.from(new Float32Array(values).buffer).toString("base64");
}

function mapSpec(points, means, labels, kind = "atlas") {
  return { format: "latent-explorer-map/1", kind, n: points.length, latent_dim: means[0].length,
    xy: b64(points.flat()), mu: b64(means.flat()), labels, class_names: [],
    placement: kind === "atlas" ? { rule: "neighbours", k: 8 } : { rule: "identity" } };
}

for (const [name, fixture] of fixtures("maps")) {
  test(`places ${name} codes like Atlas.project`, () => {
    const map = loadMap(fixture.spec), codes = base64ToFloat32(fixture.codes), want = base64ToFloat32(fixture.places);
    const d = map.latentDim, n = codes.length / d;
    assert.equal(n, 100);
    let worst = 0;
    for (let s = 0; s < n; s++) {
      const [x, y] = map.project(codes.subarray(s * d, (s + 1) * d));
      worst = Math.max(worst, Math.abs(x - want[2 * s]), Math.abs(y - want[2 * s + 1]));
    }
    assert.ok(worst <= 1e-4, `largest difference ${worst}`);
  });
}

// A deterministic generator, so a failure can be replayed.
function random(seed) {
  let s = seed;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

test("nearest points agree with brute force, inside and outside the data", () => {
  const rand = random(1), points = [];
  for (let i = 0; i < 3000; i++) {
    const cluster = i % 3;  // three tight clusters and a sprinkle of outliers, like a UMAP
    const point = i % 50 === 0 ? [rand() * 20 - 10, rand() * 20 - 10] : [cluster * 4 + rand(), cluster * 2 + rand() * 0.5];
    points.push(point.map(Math.fround));  // as the map stores them
  }
  const map = loadMap(mapSpec(points, points.map(([x, y]) => [x, y]), points.map(() => 0)));
  for (let q = 0; q < 300; q++) {
    const x = rand() * 30 - 15, y = rand() * 30 - 15;
    const want = points.map(([px, py], i) => [Math.hypot(px - x, py - y), i]).sort((a, b) => a[0] - b[0]).slice(0, 9);
    const { dist } = map.nearest(x, y, 9);
    assert.deepEqual([...dist].map((v) => v.toFixed(9)), want.map(([v]) => v.toFixed(9)), `query ${x}, ${y}`);
  }
});

test("on an atlas point the code is its mean; between two it is their average", () => {
  const map = loadMap(mapSpec([[0, 0], [2, 0]], [[1, -1, 0], [3, 1, 4]], [5, 7]));
  const z = new Float64Array(3);
  let where = map.locate(2, 0, z);
  assert.deepEqual([...z], [3, 1, 4]);
  assert.equal(where.label, 7);
  assert.equal(where.distance, 0);
  where = map.locate(1, 0, z);
  assert.deepEqual([...z].map((v) => +v.toFixed(6)), [2, 0, 2]);
  assert.equal(where.distance, 1);
  assert.ok(Math.abs(where.latentDistance - Math.sqrt(6)) < 1e-6);
});

test("the code moves continuously with the pointer", () => {
  const rand = random(2), points = [], means = [];
  for (let i = 0; i < 500; i++) {
    points.push([rand() * 10, rand() * 10]);
    means.push([rand() * 4 - 2, rand() * 4 - 2]);
  }
  const map = loadMap(mapSpec(points, means, points.map(() => 0)));
  const a = new Float64Array(2), b = new Float64Array(2);
  let worst = 0;
  for (let s = 0; s < 2000; s++) {
    const x = s * 0.005, y = 5 + Math.sin(s * 0.01);
    map.locate(x, y, a);
    map.locate(x + 1e-6, y, b);
    worst = Math.max(worst, Math.hypot(a[0] - b[0], a[1] - b[1]));
  }
  assert.ok(worst < 1e-3, `a 1e-6 step moved the code by ${worst}`);
});

test("typical spacing is the median nearest-neighbour gap", () => {
  const points = [];
  for (let i = 0; i < 10; i++) for (let j = 0; j < 10; j++) points.push([i * 0.5, j * 0.5]);
  const map = loadMap(mapSpec(points, points, points.map(() => 0)));
  assert.ok(Math.abs(map.spacing - 0.5) < 1e-6, `spacing ${map.spacing}`);
});

test("on a latent plane the place is the code, both ways", () => {
  const points = [[0, 0], [1, 2], [-1, 0.5]], map = loadMap(mapSpec(points, points, [0, 1, 2], "latent_plane"));
  const z = new Float64Array(2), where = map.locate(0.9, 1.8, z);
  assert.deepEqual([...z], [0.9, 1.8]);
  assert.equal(where.index, 1);
  assert.ok(Math.abs(where.latentDistance - Math.hypot(0.1, 0.2)) < 1e-7);
  assert.deepEqual(map.project([0.25, -3]), [0.25, -3]);
  assert.throws(() => loadMap(mapSpec([[0, 0]], [[0, 0, 0]], [0], "latent_plane")), /2-D latent/);
});
