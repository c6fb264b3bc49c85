// The latent map both ways, with the atlas points of vae.store.export.map_spec: a place to a code (the
// inverse map the views decode from) and a code to a place (where an encoded drawing lands).
//
// Place to code. The code at (x, y) blends the latent means of the K atlas points nearest to it in the map with
// modified Shepard weights w = ((R - d) / (R d))^2, where R is the distance of the (K+1)-th nearest
// point: on an atlas point the code is exactly its mean, and a neighbour's weight falls to zero just
// as it leaves the K nearest, so the code changes continuously as the pointer moves. Neighbours come
// from a uniform grid over the points, searched ring by ring around the pointer's cell.
//
// Code to place: vae.analysis.atlas.Atlas.project's rule. A PCA map is linear, so the place is exact; any
// other map places a code at the inverse-squared-distance weighted mean of the map positions of its
// nearest atlas means in latent space. On a latent plane (a 2-D latent space, spec kind
// "latent_plane") the map coordinates are the code itself, both ways.
import { base64ToFloat32 } from "./base64.mjs";

const K = 8;
const POINTS_PER_CELL = 4;
const SPACING_SAMPLE = 2000;

function buildGrid(xy, n) {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = xy[2 * i], y = xy[2 * i + 1];
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  const extent = Math.max(maxX - minX, maxY - minY) || 1;
  const cell = extent / Math.max(1, Math.round(Math.sqrt(n / POINTS_PER_CELL)));
  const gx = Math.max(1, Math.ceil((maxX - minX) / cell)), gy = Math.max(1, Math.ceil((maxY - minY) / cell));
  const cellOf = (x, y) => {
    const i = Math.min(gx - 1, Math.max(0, Math.floor((x - minX) / cell)));
    const j = Math.min(gy - 1, Math.max(0, Math.floor((y - minY) / cell)));
    return [i, j];
  };
  const start = new Uint32Array(gx * gy + 1), items = new Uint32Array(n), cells = new Uint32Array(n);
  for (let p = 0; p < n; p++) {
    const [i, j] = cellOf(xy[2 * p], xy[2 * p + 1]);
    cells[p] = j * gx + i;
    start[cells[p] + 1]++;
  }
  for (let c = 0; c < gx * gy; c++) start[c + 1] += start[c];
  const fill = start.slice(0, gx * gy);
  for (let p = 0; p < n; p++) items[fill[cells[p]]++] = p;
  return { minX, minY, maxX, maxY, cell, gx, gy, cellOf, start, items };
}

/**
 * Load a map spec. Returns { n, latentDim, kind, xy, mu, labels, classNames, bounds, grid, spacing, nearest,
 * locate, project }: `grid` is the uniform grid over the points (`items` holds the point indices cell by
 * cell, cell j * gx + i's from start[j * gx + i]), `spacing` is the median distance from an atlas point to
 * its nearest neighbour (the map's typical gap between real encodings), `nearest(x, y, k)` the k nearest atlas points, `locate(x, y, z)`
 * writes the code for (x, y) into z and says how far that place is from the data, and `project(z)` is
 * the place [x, y] of code z.
 */
export function loadMap(spec) {
  if (spec.format !== "latent-explorer-map/1") throw new Error(`unknown map format ${spec.format}`);
  const n = spec.n, d = spec.latent_dim;
  const xy = base64ToFloat32(spec.xy), mu = base64ToFloat32(spec.mu), labels = Int32Array.from(spec.labels);
  const plane = spec.kind === "latent_plane";
  if (plane && d !== 2) throw new Error(`a latent plane needs a 2-D latent space, not ${d}-D`);
  if (n < 1 || xy.length !== 2 * n || mu.length !== n * d || labels.length !== n) {
    throw new Error(`map spec sizes disagree: n ${n}, xy ${xy.length}, mu ${mu.length}, labels ${labels.length}`);
  }
  const grid = buildGrid(xy, n);
  const { minX, minY, cell, gx, gy, cellOf, start, items } = grid;

  // The k nearest points to (x, y), nearest first: their indices and distances.
  function nearest(x, y, k) {
    k = Math.min(k, n);
    const idx = new Int32Array(k).fill(-1), dist = new Float64Array(k).fill(Infinity);
    const consider = (p) => {
      const dx = xy[2 * p] - x, dy = xy[2 * p + 1] - y, dd = Math.sqrt(dx * dx + dy * dy);
      if (dd >= dist[k - 1]) return;
      let s = k - 1;
      while (s > 0 && dist[s - 1] > dd) {
        dist[s] = dist[s - 1];
        idx[s] = idx[s - 1];
        s--;
      }
      dist[s] = dd;
      idx[s] = p;
    };
    const [cx, cy] = cellOf(x, y);
    for (let r = 0; ; r++) {
      for (let j = cy - r; j <= cy + r; j++) {
        if (j < 0 || j >= gy) continue;
        const edgeRow = j === cy - r || j === cy + r;
        for (let i = cx - r; i <= cx + r; i += edgeRow ? 1 : 2 * r) {
          if (i >= 0 && i < gx) for (let s = start[j * gx + i]; s < start[j * gx + i + 1]; s++) consider(items[s]);
          if (r === 0) break;
        }
      }
      // Points not yet seen lie outside the searched square: at least this far away.
      let bound = Infinity;
      if (cx - r > 0) bound = Math.min(bound, x - (minX + (cx - r) * cell));
      if (cx + r < gx - 1) bound = Math.min(bound, minX + (cx + r + 1) * cell - x);
      if (cy - r > 0) bound = Math.min(bound, y - (minY + (cy - r) * cell));
      if (cy + r < gy - 1) bound = Math.min(bound, minY + (cy + r + 1) * cell - y);
      if (bound === Infinity || dist[k - 1] <= bound) return { idx, dist };
    }
  }

  const spacing = (() => {
    const step = Math.max(1, Math.floor(n / SPACING_SAMPLE)), gaps = [];
    for (let p = 0; p < n; p += step) {
      const { dist } = nearest(xy[2 * p], xy[2 * p + 1], 2);
      if (dist.length > 1) gaps.push(dist[1]);
    }
    gaps.sort((a, b) => a - b);
    const median = gaps.length ? gaps[gaps.length >> 1] : 0;
    return median > 0 ? median : Math.max(grid.maxX - minX, grid.maxY - minY, 1) / Math.sqrt(n);
  })();

  // Write the code for map place (x, y) into z (length latentDim). Returns the nearest atlas point
  // (`index`, its `label`), its map distance `distance`, and `latentDistance`, the Euclidean distance
  // from z to the nearest atlas mean in latent space.
  function locate(x, y, z) {
    if (plane) {
      const { idx, dist } = nearest(x, y, 1);
      z[0] = x;
      z[1] = y;
      return { index: idx[0], label: labels[idx[0]], distance: dist[0], latentDistance: dist[0] };
    }
    const { idx, dist } = nearest(x, y, K + 1);
    const k = Math.min(K, idx.length);
    z.fill(0);
    if (dist[0] === 0 || k === 1) {
      for (let j = 0; j < d; j++) z[j] = mu[idx[0] * d + j];
    } else {
      const R = idx.length > K ? dist[K] : 2 * dist[k - 1];
      let total = 0;
      for (let s = 0; s < k; s++) {
        const w = ((R - dist[s]) / (R * dist[s])) ** 2;
        total += w;
        for (let j = 0, m = idx[s] * d; j < d; j++) z[j] += w * mu[m + j];
      }
      if (total > 0) for (let j = 0; j < d; j++) z[j] /= total;
      else for (let j = 0; j < d; j++) z[j] = mu[idx[0] * d + j];
    }
    let best = Infinity;
    for (let p = 0; p < n; p++) {
      let s = 0;
      for (let j = 0, m = p * d; j < d && s < best; j++, m++) {  // a partial sum past the best can stop
        const t = mu[m] - z[j];
        s += t * t;
      }
      if (s < best) best = s;
    }
    return { index: idx[0], label: labels[idx[0]], distance: dist[0], latentDistance: Math.sqrt(best) };
  }

  return {
    id: spec.id, n, latentDim: d, kind: spec.kind, xy, mu, labels, classNames: spec.class_names || [],
    bounds: { minX, minY, maxX: grid.maxX, maxY: grid.maxY }, grid, spacing, nearest, locate,
    project: placement(spec.placement, xy, mu, n, d),
  };
}

// Code to place, by the spec's placement rule.
function placement(rule, xy, mu, n, d) {
  if (rule.rule === "identity") return (z) => [z[0], z[1]];
  if (rule.rule === "pca") {
    const mean = base64ToFloat32(rule.mean), basis = base64ToFloat32(rule.basis);
    if (mean.length !== d || basis.length !== 2 * d) throw new Error("the PCA's mean or basis has the wrong size");
    return (z) => {
      let x = 0, y = 0;
      for (let j = 0; j < d; j++) {
        const c = z[j] - mean[j];
        x += c * basis[j];
        y += c * basis[d + j];
      }
      return [x, y];
    };
  }
  if (rule.rule !== "neighbours") throw new Error(`unknown placement ${rule.rule}`);
  const k = Math.min(rule.k, n), best = new Float64Array(k), which = new Int32Array(k);
  return (z) => {
    best.fill(Infinity);
    for (let p = 0, m = 0; p < n; p++, m += d) {
      let s = 0;
      for (let j = 0; j < d; j++) {
        const t = z[j] - mu[m + j];
        s += t * t;
      }
      if (s >= best[k - 1]) continue;
      let slot = k - 1;
      for (; slot > 0 && best[slot - 1] > s; slot--) {
        best[slot] = best[slot - 1];
        which[slot] = which[slot - 1];
      }
      best[slot] = s;
      which[slot] = p;
    }
    let x = 0, y = 0, total = 0;
    for (let s = 0; s < k; s++) {
      const w = 1 / Math.max(Math.sqrt(best[s]), 1e-6) ** 2;
      total += w;
      x += w * xy[2 * which[s]];
      y += w * xy[2 * which[s] + 1];
    }
    return [x / total, y / total];
  };
}
