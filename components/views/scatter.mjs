// The latent map drawn on canvases: atlas points coloured by class or by a value, an optional picture
// under them, and an overlay for pointers and markers. Shared by the map view and the drawing pad.
//
// Colourings come from Python (ui/live/map.py): {kind: "classes", palette, names} colours point i by
// palette[label % palette.length], the plotly map's colours; {kind: "scale", stops, range, title, missing?}
// colours it by values[i] (a runtime list) along the colour scale, drawn as a colour bar. With `missing` (a
// legend label), the values may cover only the first points; the others are drawn in MISSING_COLOUR.
import { el, format } from "./view.mjs";

const POINT_RADIUS = 1.6;
const PAD = 12;
const SCALE_STEPS = 64;  // a value scale is drawn in this many colours
const PICTURE_ALPHA = 0.55;
const MISSING_COLOUR = "#b4b9c3";  // a point without a value: a grey between the light and dark themes' backgrounds

function hex([r, g, b]) {
  return `#${[r, g, b].map((v) => Math.round(v).toString(16).padStart(2, "0")).join("")}`;
}

/** The colour at t in [0, 1] along stops [[position, [r, g, b]], ...] (positions ascending from 0 to 1). */
export function colourAt(stops, t) {
  let i = 1;
  while (i < stops.length - 1 && stops[i][0] < t) i++;
  const [p0, c0] = stops[i - 1], [p1, c1] = stops[i], f = p1 > p0 ? Math.max(0, Math.min(1, (t - p0) / (p1 - p0))) : 0;
  return hex(c0.map((v, j) => v + (c1[j] - v) * f));
}

/** Each point's colour as an index into a palette: { palette: [css colours], index: Uint16Array(n) }. */
export function pointColours(colouring, labels, values) {
  const n = labels.length, index = new Uint16Array(n);
  if (colouring.kind === "classes") {
    const palette = colouring.palette;
    for (let i = 0; i < n; i++) index[i] = ((labels[i] % palette.length) + palette.length) % palette.length;
    return { palette, index };
  }
  if (!values || !(values.length === n || (colouring.missing && values.length < n))) {
    throw new Error(`a value scale needs one value per point (${n})`);
  }
  const [lo, hi] = colouring.range, span = hi - lo || 1;
  const palette = Array.from({ length: SCALE_STEPS }, (_, s) => colourAt(colouring.stops, s / (SCALE_STEPS - 1)));
  for (let i = 0; i < values.length; i++) {
    index[i] = Math.round(Math.max(0, Math.min(1, (values[i] - lo) / span)) * (SCALE_STEPS - 1));
  }
  palette.push(MISSING_COLOUR);
  index.fill(SCALE_STEPS, values.length);
  return { palette, index };
}

/** The legend of a colouring: one key per class present, or a colour bar with its range and title. */
export function drawLegend(box, colouring, labels) {
  box.replaceChildren();
  if (colouring.kind === "classes") {
    const seen = [...new Set(labels)].sort((a, b) => a - b), { palette, names } = colouring;
    if (!names.length) return;  // a dataset without classes: its label 0 names nothing
    for (const label of seen) {
      const item = el("span", "led-key", box);
      el("i", "", item).style.background = palette[((label % palette.length) + palette.length) % palette.length];
      el("span", "", item, names[label] ?? String(label));
    }
    return;
  }
  const bar = el("div", "led-colourbar", box);
  el("span", "led-colourbar-title", bar, colouring.title);
  el("span", "led-colourbar-end", bar, format(colouring.range[0]));
  const ramp = el("i", "led-colourbar-ramp", bar);
  ramp.style.background = `linear-gradient(to right, ${colouring.stops.map(([p, c]) => `${hex(c)} ${100 * p}%`).join(", ")})`;
  el("span", "led-colourbar-end", bar, format(colouring.range[1]));
  if (colouring.missing) {
    const item = el("span", "led-key", box);
    el("i", "", item).style.background = MISSING_COLOUR;
    el("span", "", item, colouring.missing);
  }
}

/** The map's canvases inside `stage` (a square box): points below, an overlay on top. */
export class Scatter {
  constructor(stage) {
    this.stage = stage;
    this.points = el("canvas", "led-points", stage);
    this.overlay = el("canvas", "led-overlay", stage);
    this.toScreen = null;
    this.toData = null;
  }

  /** What to draw: a loaded map, its point colours, and an optional picture with its extent [x0, x1, y0, y1]. */
  show(map, colours, picture = null, extent = null) {
    Object.assign(this, { map, colours, picture, extent });
    this.layout();
  }

  // Fit the points' box (and the picture's) into the square stage, same scale on both axes; draw the points.
  layout() {
    if (!this.map) return false;
    const css = this.stage.clientWidth, dpr = window.devicePixelRatio || 1;
    if (!css) return false;
    for (const canvas of [this.points, this.overlay]) {
      canvas.width = canvas.height = Math.round(css * dpr);
      canvas.style.width = canvas.style.height = `${css}px`;
    }
    let { minX, minY, maxX, maxY } = this.map.bounds;
    if (this.extent) {
      const [x0, x1, y0, y1] = this.extent;
      [minX, maxX, minY, maxY] = [Math.min(minX, x0), Math.max(maxX, x1), Math.min(minY, y0), Math.max(maxY, y1)];
    }
    const span = Math.max(maxX - minX, maxY - minY) || 1, scale = (css - 2 * PAD) / span;
    const ox = PAD + (css - 2 * PAD - (maxX - minX) * scale) / 2, oy = PAD + (css - 2 * PAD - (maxY - minY) * scale) / 2;
    this.toScreen = (x, y) => [ox + (x - minX) * scale, css - (oy + (y - minY) * scale)];
    this.toData = (sx, sy) => [minX + (sx - ox) / scale, minY + (css - sy - oy) / scale];
    const ctx = this.points.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, css, css);
    if (this.picture && this.extent) {
      const [x0, x1, y0, y1] = this.extent, [left, top] = this.toScreen(x0, y1), [right, bottom] = this.toScreen(x1, y0);
      ctx.fillStyle = "#000000";  // the picture dimmed towards black, as the plotly map shows it
      ctx.fillRect(left, top, right - left, bottom - top);
      ctx.globalAlpha = PICTURE_ALPHA;
      ctx.drawImage(this.picture, left, top, right - left, bottom - top);
    }
    const { xy, n } = this.map, { palette, index } = this.colours;
    ctx.globalAlpha = 0.8;
    for (let colour = 0; colour < palette.length; colour++) {
      ctx.beginPath();
      for (let i = 0; i < n; i++) {
        if (index[i] !== colour) continue;
        const [sx, sy] = this.toScreen(xy[2 * i], xy[2 * i + 1]);
        ctx.moveTo(sx + POINT_RADIUS, sy);
        ctx.arc(sx, sy, POINT_RADIUS, 0, 2 * Math.PI);
      }
      ctx.fillStyle = palette[colour];
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    return true;
  }

  /** The pointer's place on the map, in map coordinates. */
  place(event) {
    const r = this.overlay.getBoundingClientRect();
    return this.toData(event.clientX - r.left, event.clientY - r.top);
  }

  /** The overlay's context, cleared, in CSS pixels. */
  clearOverlay() {
    const ctx = this.overlay.getContext("2d"), dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.overlay.width, this.overlay.height);
    return ctx;
  }
}

// Markers on the overlay, in the theme's colours (`ink`, `paper`), unlike any class's dots.

/** A target: ring and centre dot. */
export function drawPin(ctx, [x, y], ink, paper, radius = 7) {
  ctx.fillStyle = paper;
  ctx.strokeStyle = ink;
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.arc(x, y, radius, 0, 2 * Math.PI);
  ctx.fill();
  ctx.stroke();
  ctx.fillStyle = ink;
  ctx.beginPath();
  ctx.arc(x, y, radius * 0.36, 0, 2 * Math.PI);
  ctx.fill();
}

/** A cross in ink on a paper halo, so it shows over dark pictures too. */
export function drawCross(ctx, x, y, ink, paper) {
  for (const [colour, width] of [[paper, 4], [ink, 1.5]]) {
    ctx.strokeStyle = colour;
    ctx.lineWidth = width;
    ctx.beginPath();
    ctx.moveTo(x - 8, y);
    ctx.lineTo(x + 8, y);
    ctx.moveTo(x, y - 8);
    ctx.lineTo(x, y + 8);
    ctx.stroke();
  }
}

/** A dashed line from a place to the atlas point nearest it, which is ringed. */
export function drawNearest(ctx, from, to, ink) {
  ctx.strokeStyle = ink;
  ctx.globalAlpha = 0.6;
  ctx.lineWidth = 1;
  ctx.setLineDash([3, 3]);
  ctx.beginPath();
  ctx.moveTo(from[0], from[1]);
  ctx.lineTo(to[0], to[1]);
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.beginPath();
  ctx.arc(to[0], to[1], 4, 0, 2 * Math.PI);
  ctx.stroke();
  ctx.globalAlpha = 1;
}

/** The theme's text and background colours, for markers. */
export function themeColours(root) {
  const style = getComputedStyle(root);
  return { ink: style.color, paper: style.getPropertyValue("--st-background-color").trim() || "#ffffff" };
}
