// The map's points on a canvas that pans and zooms: written as pixels into one buffer per frame (no path per
// point, so 70,000 points take a few milliseconds), thumbnails from a sprite sheet in place of dots once
// zoomed in far enough to see them, an optional picture under everything, and an overlay canvas on top for
// the pointer's marks. Used by the map view (map.mjs).
//
// Drawing less where it cannot be seen: the points are kept in the order of the map's grid cells, so a frame
// reads only the rows of cells in view; and while the view moves, at most MOVING_BUDGET of them are drawn
// (every k-th: the same density picture, thinner), the rest when it stops.
//
// Coordinates: "data" is the map's own (UMAP, PCA, the latent plane); "css" is the stage's CSS pixels.
// The fit puts the data's box in the square stage; the view (k, tx, ty) zooms and pans on top of it.
import { el } from "./view.mjs";

const FIT_PAD = 12;
const MIN_ZOOM = 0.5, MAX_ZOOM = 400;
const THUMB_MIN_PX = 10;  // thumbnails replace dots once the typical gap between points is this many CSS pixels
const THUMB_SIZE = [20, 72];  // their side, twice the typical gap within these bounds (they may overlap a little)
const MAX_THUMBS = 400;  // more thumbnails than this in view: dots instead (they would not be seen anyway)
const BACKDROP_ALPHA = 0.55;
const MOVING_BUDGET = 200000;  // points drawn per frame while panning or zooming

/** A CSS hex colour "#rrggbb" as one RGBA pixel in a Uint32Array (little-endian: 0xAABBGGRR). */
export function packColour(hex, alpha = 255) {
  const v = parseInt(hex.slice(1, 7), 16);
  return ((alpha << 24) | ((v & 0xff) << 16) | (v & 0xff00) | ((v >> 16) & 0xff)) >>> 0;
}

export class PointPlot {
  constructor(stage) {
    this.stage = stage;
    this.canvas = el("canvas", "led-points", stage);
    this.overlay = el("canvas", "led-overlay", stage);
    this.buffer = document.createElement("canvas");  // the points' pixels, composited over the picture
    this.view = { k: 1, tx: 0, ty: 0 };
    this.css = 0;
    this.map = null;
    this.thumbsShown = 0;
    this.lastFrameMs = 0;
  }

  /** What to draw: a loaded map, colours {palette: [css], index: Uint16Array}, a `shown` mask (Uint8Array or
   *  null for all), and extras {picture, extent: [x0, x1, y0, y1], sprite: {image, columns, tile}}. */
  show(map, colours, shown, extras = {}) {
    const fresh = map !== this.map;
    Object.assign(this, { map, colours, shown, picture: extras.picture ?? null, extent: extras.extent ?? null,
      sprite: extras.sprite ?? null });
    if (fresh) {
      this.view = { k: 1, tx: 0, ty: 0 };
      const { items } = map.grid;
      this.ordered = new Float32Array(2 * map.n);  // positions in grid-cell order
      for (let s = 0; s < map.n; s++) {
        this.ordered[2 * s] = map.xy[2 * items[s]];
        this.ordered[2 * s + 1] = map.xy[2 * items[s] + 1];
      }
    }
    // Each point's colour as a pixel, in grid-cell order; 0 for a hidden point.
    const packed = Uint32Array.from(colours.palette, (c) => packColour(c)), items = map.grid.items;
    this.pixelColours = new Uint32Array(map.n);
    for (let s = 0; s < map.n; s++) {
      const i = items[s];
      this.pixelColours[s] = shown && !shown[i] ? 0 : packed[colours.index[i]];
    }
    this.layout();
  }

  // The grid rows in view, as [first, last] ranges of cell-ordered points (a row's cells are contiguous).
  rowsInView(margin = 0) {
    const { minX, minY, cell, gx, gy, start } = this.map.grid;
    const [x0, y1] = this.toData(-margin, -margin), [x1, y0] = this.toData(this.css + margin, this.css + margin);
    const clamp = (v, hi) => Math.max(0, Math.min(hi - 1, Math.floor(v)));
    const i0 = clamp((x0 - minX) / cell, gx), i1 = clamp((x1 - minX) / cell, gx);
    const j0 = clamp((y0 - minY) / cell, gy), j1 = clamp((y1 - minY) / cell, gy), rows = [];
    let count = 0;
    for (let j = j0; j <= j1; j++) {
      const first = start[j * gx + i0], last = start[j * gx + i1 + 1];
      if (last > first) rows.push(first, last);
      count += last - first;
    }
    return { rows, count };
  }

  // Size the canvases to the stage and fit the data's box (and the picture's) into it, same scale both ways.
  layout() {
    if (!this.map) return false;
    const css = this.stage.clientWidth, dpr = window.devicePixelRatio || 1;
    if (!css) return false;
    this.css = css;
    this.dpr = dpr;
    for (const canvas of [this.canvas, this.overlay, this.buffer]) {
      canvas.width = canvas.height = Math.round(css * dpr);
      canvas.style.width = canvas.style.height = `${css}px`;
    }
    this.pixels = new ImageData(this.canvas.width, this.canvas.height);
    this.words = new Uint32Array(this.pixels.data.buffer);
    let { minX, minY, maxX, maxY } = this.map.bounds;
    if (this.extent) {
      const [x0, x1, y0, y1] = this.extent;
      [minX, maxX, minY, maxY] = [Math.min(minX, x0), Math.max(maxX, x1), Math.min(minY, y0), Math.max(maxY, y1)];
    }
    const span = Math.max(maxX - minX, maxY - minY) || 1, scale = (css - 2 * FIT_PAD) / span;
    this.fit = { scale, ox: FIT_PAD + (css - 2 * FIT_PAD - (maxX - minX) * scale) / 2 - minX * scale,
      oy: css - FIT_PAD - (css - 2 * FIT_PAD - (maxY - minY) * scale) / 2 + minY * scale };
    this.render();
    return true;
  }

  /** CSS pixels per data unit at the current zoom. */
  get pxPerUnit() {
    return this.fit.scale * this.view.k;
  }

  toScreen(x, y) {
    const { scale, ox, oy } = this.fit, { k, tx, ty } = this.view;
    return [(ox + x * scale) * k + tx, (oy - y * scale) * k + ty];
  }

  toData(sx, sy) {
    const { scale, ox, oy } = this.fit, { k, tx, ty } = this.view;
    return [((sx - tx) / k - ox) / scale, (oy - (sy - ty) / k) / scale];
  }

  /** The pointer's position on the stage, in CSS pixels. */
  at(event) {
    const r = this.overlay.getBoundingClientRect();
    return [event.clientX - r.left, event.clientY - r.top];
  }

  zoomAt(sx, sy, factor) {
    const { k, tx, ty } = this.view, next = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, k * factor)), f = next / k;
    this.view = { k: next, tx: sx - (sx - tx) * f, ty: sy - (sy - ty) * f };
  }

  panBy(dx, dy) {
    this.view = { ...this.view, tx: this.view.tx + dx, ty: this.view.ty + dy };
  }

  reset() {
    this.view = { k: 1, tx: 0, ty: 0 };
  }

  /** Centre the point `i`, zoomed in so that its thumbnail shows. */
  focus(i) {
    const k = Math.max(this.view.k, (4 * THUMB_MIN_PX) / Math.max(1e-9, this.map.spacing * this.fit.scale));
    this.view = { k: Math.min(MAX_ZOOM, k), tx: 0, ty: 0 };
    const [sx, sy] = this.toScreen(this.map.xy[2 * i], this.map.xy[2 * i + 1]);
    this.panBy(this.css / 2 - sx, this.css / 2 - sy);
  }

  /** Side of a thumbnail in CSS pixels at this zoom, or 0 when dots are drawn. */
  thumbSize() {
    if (!this.sprite) return 0;
    const gap = this.map.spacing * this.pxPerUnit;
    return gap >= THUMB_MIN_PX ? Math.min(THUMB_SIZE[1], Math.max(THUMB_SIZE[0], 2 * gap)) : 0;
  }

  // Every shown point in view as pixels (a square of `side` device pixels each); then thumbnails over them
  // when zoomed in. While `moving`, at most MOVING_BUDGET points: `this.thinned` then says a full frame is owed.
  render(moving = false) {
    const started = performance.now();
    const { map, words, dpr, ordered, pixelColours } = this, n = map.n;
    const w = this.canvas.width, h = this.canvas.height;
    const { scale, ox, oy } = this.fit, { k, tx, ty } = this.view;
    const ax = scale * k * dpr, bx = (ox * k + tx) * dpr, ay = -scale * k * dpr, by = (oy * k + ty) * dpr;
    const side = Math.max(1, Math.min(6, Math.round((n > 200000 ? 1 : n > 20000 ? 2 : 3) * dpr
      + Math.max(0, Math.log2(k)))));
    const half = side >> 1, { rows, count } = this.rowsInView(side);
    const stride = moving && count > MOVING_BUDGET ? Math.ceil(count / MOVING_BUDGET) : 1;
    this.thinned = stride > 1;
    words.fill(0);
    for (let r = 0; r < rows.length; r += 2) {
      for (let s = rows[r]; s < rows[r + 1]; s += stride) {
        const c = pixelColours[s];
        if (!c) continue;
        const px = (ax * ordered[2 * s] + bx - half) | 0, py = (ay * ordered[2 * s + 1] + by - half) | 0;
        if (px < 0 || py < 0 || px > w - side || py > h - side) continue;
        if (side === 1) {
          words[py * w + px] = c;
          continue;
        }
        for (let q = 0, row = py * w + px; q < side; q++, row += w) {
          for (let t = 0; t < side; t++) words[row + t] = c;
        }
      }
    }
    this.buffer.getContext("2d").putImageData(this.pixels, 0, 0);
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, w, h);
    if (this.picture && this.extent) this.drawPicture(ctx);
    ctx.globalAlpha = 0.85;
    ctx.drawImage(this.buffer, 0, 0);
    ctx.globalAlpha = 1;
    this.thumbsShown = this.drawThumbs(ctx, count);
    this.lastFrameMs = performance.now() - started;
    return this.lastFrameMs;
  }

  drawPicture(ctx) {
    const [x0, x1, y0, y1] = this.extent, dpr = this.dpr;
    const [left, top] = this.toScreen(x0, y1), [right, bottom] = this.toScreen(x1, y0);
    ctx.fillStyle = "#000000";  // the picture dimmed towards black
    ctx.fillRect(left * dpr, top * dpr, (right - left) * dpr, (bottom - top) * dpr);
    ctx.globalAlpha = BACKDROP_ALPHA;
    ctx.drawImage(this.picture, left * dpr, top * dpr, (right - left) * dpr, (bottom - top) * dpr);
    ctx.globalAlpha = 1;
  }

  // Thumbnails of the points in view, each framed in its colour; none when too many would be in view.
  drawThumbs(ctx, inViewCount) {
    const size = this.thumbSize();
    if (!size || inViewCount > 20 * MAX_THUMBS) return 0;
    const { items } = this.map.grid, { rows } = this.rowsInView(size), ordered = this.ordered, css = this.css;
    const { scale, ox, oy } = this.fit, { k, tx, ty } = this.view, inView = [];
    for (let r = 0; r < rows.length && inView.length <= 3 * MAX_THUMBS; r += 2) {
      for (let s = rows[r]; s < rows[r + 1]; s++) {
        if (!this.pixelColours[s]) continue;
        const sx = (ox + ordered[2 * s] * scale) * k + tx, sy = (oy - ordered[2 * s + 1] * scale) * k + ty;
        if (sx > -size && sy > -size && sx < css + size && sy < css + size) inView.push(items[s], sx, sy);
      }
    }
    if (inView.length / 3 > MAX_THUMBS) return 0;
    const { image, columns, tile } = this.sprite, { palette, index } = this.colours, dpr = this.dpr, d = size * dpr;
    const frames = new Map();  // colour -> the thumbnails it frames, stroked in one path
    ctx.imageSmoothingEnabled = false;
    for (let j = 0; j < inView.length; j += 3) {
      const i = inView[j], x = (inView[j + 1] - size / 2) * dpr, y = (inView[j + 2] - size / 2) * dpr;
      ctx.drawImage(image, (i % columns) * tile, Math.floor(i / columns) * tile, tile, tile, x, y, d, d);
      const colour = palette[index[i]];
      if (!frames.has(colour)) frames.set(colour, new Path2D());
      frames.get(colour).rect(x, y, d, d);
    }
    ctx.lineWidth = Math.max(1, dpr);
    for (const [colour, path] of frames) {
      ctx.strokeStyle = colour;
      ctx.stroke(path);
    }
    return inView.length / 3;
  }

  /** The overlay's context, cleared, in CSS pixels. */
  clearOverlay() {
    const ctx = this.overlay.getContext("2d"), dpr = this.dpr || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.css, this.css);
    return ctx;
  }

  /** The indices of the shown points inside a closed polygon of screen points [[sx, sy], ...]. */
  inside(polygon) {
    const { xy, n } = this.map, shown = this.shown, found = [];
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (const [x, y] of polygon) {
      minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
    }
    for (let i = 0; i < n; i++) {
      if (shown && !shown[i]) continue;
      const [sx, sy] = this.toScreen(xy[2 * i], xy[2 * i + 1]);
      if (sx < minX || sx > maxX || sy < minY || sy > maxY) continue;
      let within = false;  // even-odd rule: count the edges a ray to the right crosses
      for (let a = 0, b = polygon.length - 1; a < polygon.length; b = a++) {
        const [ax, ay] = polygon[a], [bx, by] = polygon[b];
        if ((ay > sy) !== (by > sy) && sx < ((bx - ax) * (sy - ay)) / (by - ay) + ax) within = !within;
      }
      if (within) found.push(i);
    }
    return found;
  }
}
