// The live decoder component (Streamlit components v2, mounted by ui/live_decoder.py).
//
// Two kinds of mount share this module. A *weights* mount ({load: {decoder, map}}) turns specs into
// a decoder and an inverse map, kept in `registry` by content id for the life of the page; its data
// never changes, so Streamlit sends it once and then only a reference. A *view* mount draws one
// of three modes with the decoder named by id:
//   sliders  one slider per latent dimension; the image follows every drag, values go back on release;
//   map      a scatter of the atlas; the pointer decodes wherever it is, a click pins and sends the code;
//   path     a scrubber along a list of codes from A to B.
// Input events only record what changed; drawing happens once per animation frame. Any failure is
// reported to Python as the state value `error`, so the page can fall back to the server.
import { loadDecoder, logitsToRGBA } from "./decoder.mjs";
import { loadMap } from "./inverse_map.mjs";

const OFF_DATA_SPACINGS = 5;  // farther than this many typical gaps from any encoding: off the data
const POINT_RADIUS = 1.6;
const FALLBACK_COLORS = ["#0068c9", "#83c9ff", "#ff2b2b", "#ffabab", "#29b09d", "#7defa1", "#ff8700", "#ffd16a",
  "#6d3fc0", "#d5dae5"];
const TIMINGS_KEPT = 5000;

// Decoders and maps by content id; `waiting` holds the views that asked before their weights arrived.
const registry = new Map();

function provide(id, build) {
  let entry = registry.get(id);
  if (entry && (entry.value || entry.error)) return;
  if (!entry) registry.set(id, (entry = { waiting: [] }));
  try {
    entry.value = build();
  } catch (err) {
    entry.error = err;
  }
  for (const [resolve, reject] of entry.waiting) entry.value ? resolve(entry.value) : reject(entry.error);
  entry.waiting = [];
}

function loaded(id) {
  let entry = registry.get(id);
  if (!entry) registry.set(id, (entry = { waiting: [] }));
  if (entry.value) return Promise.resolve(entry.value);
  if (entry.error) return Promise.reject(entry.error);
  return new Promise((resolve, reject) => entry.waiting.push([resolve, reject]));
}

// For bench/live_decode.py: per drawn frame, the oldest input event it shows (`created`: the event's
// timeStamp; `handled`: performance.now() in its handler) and `painted`, performance.now() right after
// the image was written, all on the performance.now() clock.
const timings = (globalThis.__liveDecoderTimings ??= []);

function recordTiming(mode, input, painted) {
  if (timings.length >= TIMINGS_KEPT) timings.splice(0, timings.length - TIMINGS_KEPT + 1);
  timings.push({ mode, created: input.created, handled: input.handled, painted });
}

/** The code at position t in [0, 1] along a polyline of codes, written into out. */
export function alongPath(path, t, out) {
  const segments = path.length - 1, s = Math.max(0, Math.min(1, t)) * segments;
  const i = Math.min(segments - 1, Math.floor(s)), f = s - i, a = path[i], b = path[i + 1];
  for (let j = 0; j < out.length; j++) out[j] = a[j] + (b[j] - a[j]) * f;
  return out;
}

function el(tag, className, parent, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function format(v, digits = 2) {
  return (Math.abs(v) < 0.005 && digits === 2 ? 0 : v).toFixed(digits);
}

// The decoded image: a canvas at the model's resolution, scaled up by CSS without smoothing.
function imageCanvas(parent, size) {
  const canvas = el("canvas", "led-image", parent);
  canvas.style.width = canvas.style.height = `${size}px`;
  let pixels = null;
  return {
    canvas,
    draw(decoder, z, label) {
      const [c, h, w] = decoder.shape;
      if (!pixels || pixels.width !== w || pixels.height !== h) {
        canvas.width = w;
        canvas.height = h;
        pixels = new ImageData(w, h);
      }
      logitsToRGBA(decoder.decode(z, label), c, pixels.data);
      canvas.getContext("2d").putImageData(pixels, 0, 0);
    },
  };
}

class View {
  constructor(parent, api) {
    this.root = el("div", "led-root", parent);  // beside the <style> Streamlit put into parent
    this.api = api;
    this.mode = null;
    this.decoder = null;
    this.map = null;
    this.raf = 0;
    this.pendingInput = null;
    this.failed = false;
    this.resize = null;
  }

  update(data) {
    this.data = data;
    if (this.mode !== data.mode) this.build(data);
    this.status.textContent = "Loading the decoder…";
    const want = [loaded(data.decoder), data.map ? loaded(data.map) : Promise.resolve(null)];
    Promise.all(want).then(([decoder, map]) => {
      if (this.data !== data) return;  // a newer update superseded this one
      const newModel = decoder !== this.decoder || map !== this.map;
      this.decoder = decoder;
      this.map = map;
      this.status.textContent = "";
      this.sync(data, newModel);
      this.request(null);
    }).catch((err) => this.fail(err));
  }

  build(data) {
    this.mode = data.mode;
    this.root.replaceChildren();
    this.resize?.disconnect();
    const box = el("div", `led led-${data.mode}`, this.root);
    this.status = el("div", "led-status", box);
    if (data.mode === "sliders") this.buildSliders(box, data);
    else if (data.mode === "map") this.buildMap(box, data);
    else if (data.mode === "path") this.buildPath(box, data);
    else throw new Error(`unknown mode ${data.mode}`);
  }

  // Apply what Python sent, when it differs from what was applied last (not from what the user did since).
  sync(data, newModel) {
    if (this.mode === "sliders") this.syncSliders(data, newModel);
    else if (this.mode === "map") this.syncMap(data, newModel);
    else this.syncPath(data, newModel);
  }

  // Draw on the next animation frame; `event` is the input that asked for it (null for other reasons).
  request(event) {
    if (event && this.pendingInput === null) this.pendingInput = { created: event.timeStamp, handled: performance.now() };
    if (!this.raf) this.raf = requestAnimationFrame(() => this.frame());
  }

  frame() {
    this.raf = 0;
    if (this.failed || !this.decoder) return;
    try {
      this.draw();
      if (this.pendingInput !== null) recordTiming(this.mode, this.pendingInput, performance.now());
    } catch (err) {
      this.fail(err);
    }
    this.pendingInput = null;
  }

  draw() {
    if (this.mode === "sliders") this.image.draw(this.decoder, this.z, this.data.label ?? 0);
    else if (this.mode === "map") this.drawMap();
    else this.drawPath();
  }

  fail(err) {
    if (this.failed) return;
    this.failed = true;
    const message = err && err.message ? err.message : String(err);
    this.root.replaceChildren();
    el("div", "led-error", this.root, `The in-browser decoder stopped: ${message}`);
    this.api.setStateValue("error", message);
  }

  destroy() {
    cancelAnimationFrame(this.raf);
    this.resize?.disconnect();
    this.failed = true;
  }

  // ---- sliders ----
  buildSliders(box, data) {
    const figure = el("div", "led-figure", box);
    this.image = imageCanvas(figure, data.size);
    el("div", "led-caption", figure, "decoded in your browser");
    this.list = el("div", "led-slider-list", box);
    this.note = el("div", "led-note", box);
    this.sliderKey = null;
  }

  syncSliders(data, newModel) {
    const key = JSON.stringify([data.sliders, data.bounds, data.step]);
    if (key !== this.sliderKey) {
      this.sliderKey = key;
      this.buildSliderRows(data);
      this.appliedZ = null;
    }
    const z = JSON.stringify(data.z);
    if (z !== this.appliedZ || newModel) {
      this.appliedZ = z;
      this.z = Float64Array.from(data.z);
      for (const row of this.rows) {
        row.input.value = String(this.z[row.dim]);
        row.output.textContent = format(this.z[row.dim]);
      }
    }
  }

  buildSliderRows(data) {
    this.list.replaceChildren();
    // One label width for every row (in characters), so that "z10" does not push its track past "z9"'s.
    this.list.style.setProperty("--led-name-chars", String(Math.max(1, ...data.sliders.map((s) => s.label.length))));
    this.rows = data.sliders.map(({ dim, label, inactive }) => {
      const row = el("label", `led-slider${inactive ? " led-inactive" : ""}`, this.list);
      row.title = inactive ? `${label}: inactive (its KL is near zero, so it barely changes the image)` : label;
      el("span", "led-name", row, label);
      const input = el("input", "", row);
      Object.assign(input, { type: "range", min: data.bounds[0], max: data.bounds[1], step: data.step });
      input.dataset.dim = dim;
      const output = el("output", "", row);
      input.addEventListener("input", (event) => {
        this.z[dim] = Number(input.value);
        output.textContent = format(this.z[dim]);
        this.request(event);
      });
      input.addEventListener("change", () => this.commit({ z: Array.from(this.z), dim }));
      return { dim, input, output };
    });
    const anyInactive = data.sliders.some((s) => s.inactive);
    this.note.textContent = anyInactive ? "Faded sliders are inactive dimensions: they barely change the image." : "";
  }

  commit(value) {
    this.api.setTriggerValue("commit", value);
  }

  // ---- map ----
  buildMap(box, data) {
    const stage = el("div", "led-stage", box);
    this.points = el("canvas", "led-points", stage);
    this.overlay = el("canvas", "led-overlay", stage);
    const side = el("div", "led-side", box);
    this.image = imageCanvas(side, data.size);
    this.legend = el("div", "led-legend", side);
    this.readout = this.buildReadout(el("div", "led-readout", side));
    this.hover = null;
    this.pinned = null;
    this.appliedPin = undefined;
    this.z = null;
    const place = (event) => {
      const r = this.overlay.getBoundingClientRect();
      return this.toData(event.clientX - r.left, event.clientY - r.top);
    };
    this.overlay.addEventListener("pointermove", (event) => {
      this.hover = place(event);
      this.request(event);
    });
    this.overlay.addEventListener("pointerleave", () => {
      this.hover = null;
      this.request(null);
    });
    this.overlay.addEventListener("click", (event) => {
      if (!this.map) return;
      const [x, y] = place(event);
      this.pinned = [x, y];
      const where = this.map.locate(x, y, this.z);
      this.commit({ z: Array.from(this.z), xy: [x, y], label: where.label, index: where.index });
      this.request(null);
    });
    this.resize = new ResizeObserver(() => this.layoutMap());
    this.resize.observe(stage);
  }

  syncMap(data, newModel) {
    if (newModel) {
      this.z = new Float64Array(this.map.latentDim);
      this.drawLegend();
      this.layoutMap();
    }
    const pin = JSON.stringify(data.pinned);
    if (pin !== this.appliedPin) {
      this.appliedPin = pin;
      this.pinned = data.pinned;
    }
  }

  colors() {
    const css = getComputedStyle(this.root).getPropertyValue("--st-chart-categorical-colors");
    const list = css.split(",").map((c) => c.trim().replace(/^"|"$/g, "")).filter(Boolean);
    return list.length >= 2 ? list : FALLBACK_COLORS;
  }

  drawLegend() {
    const colors = this.colors(), names = this.map.classNames, seen = [...new Set(this.map.labels)].sort((a, b) => a - b);
    this.legend.replaceChildren();
    if (!names.length) return;  // a dataset without classes: its label 0 names nothing
    for (const label of seen) {
      const item = el("span", "led-key", this.legend);
      el("i", "", item).style.background = colors[label % colors.length];
      el("span", "", item, names[label] ?? String(label));
    }
  }

  // Fit the data's bounding box into the square stage, same scale on both axes.
  layoutMap() {
    if (!this.map) return;
    const css = this.points.parentElement.clientWidth, dpr = window.devicePixelRatio || 1;
    if (!css) return;
    for (const canvas of [this.points, this.overlay]) {
      canvas.width = canvas.height = Math.round(css * dpr);
      canvas.style.width = canvas.style.height = `${css}px`;
    }
    const { minX, minY, maxX, maxY } = this.map.bounds, pad = 12;
    const span = Math.max(maxX - minX, maxY - minY) || 1, scale = (css - 2 * pad) / span;
    const ox = pad + (css - 2 * pad - (maxX - minX) * scale) / 2, oy = pad + (css - 2 * pad - (maxY - minY) * scale) / 2;
    this.toScreen = (x, y) => [ox + (x - minX) * scale, css - (oy + (y - minY) * scale)];
    this.toData = (sx, sy) => [minX + (sx - ox) / scale, minY + (css - sy - oy) / scale];
    const style = getComputedStyle(this.root);
    this.ink = style.color;
    this.paper = style.getPropertyValue("--st-background-color").trim() || "#ffffff";
    const ctx = this.points.getContext("2d"), colors = this.colors(), { xy, labels, n } = this.map;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, css, css);
    ctx.globalAlpha = 0.8;
    const classes = [...new Set(labels)];
    for (const label of classes) {
      ctx.beginPath();
      for (let i = 0; i < n; i++) {
        if (labels[i] !== label) continue;
        const [sx, sy] = this.toScreen(xy[2 * i], xy[2 * i + 1]);
        ctx.moveTo(sx + POINT_RADIUS, sy);
        ctx.arc(sx, sy, POINT_RADIUS, 0, 2 * Math.PI);
      }
      ctx.fillStyle = colors[label % colors.length];
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    this.request(null);
  }

  drawMap() {
    if (!this.toScreen) return;
    const place = this.hover ?? this.pinned;
    const ctx = this.overlay.getContext("2d"), dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.overlay.width, this.overlay.height);
    if (!place) {
      this.showReadout(null, null);
      return;
    }
    const where = this.map.locate(place[0], place[1], this.z);
    this.image.draw(this.decoder, this.z, this.data.label ?? where.label);
    const near = this.toScreen(this.map.xy[2 * where.index], this.map.xy[2 * where.index + 1]);
    const [px, py] = this.toScreen(place[0], place[1]);
    ctx.strokeStyle = this.ink;
    ctx.globalAlpha = 0.6;
    ctx.lineWidth = 1;
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(px, py);
    ctx.lineTo(near[0], near[1]);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.beginPath();
    ctx.arc(near[0], near[1], 4, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.globalAlpha = 1;
    if (this.pinned) this.drawPin(ctx, this.toScreen(this.pinned[0], this.pinned[1]));
    if (this.hover) this.drawCross(ctx, px, py);
    this.showReadout(place, where);
  }

  // A target (ring and centre dot) in the theme's colours, unlike any class's dots.
  drawPin(ctx, [x, y]) {
    ctx.fillStyle = this.paper;
    ctx.strokeStyle = this.ink;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(x, y, 7, 0, 2 * Math.PI);
    ctx.fill();
    ctx.stroke();
    ctx.fillStyle = this.ink;
    ctx.beginPath();
    ctx.arc(x, y, 2.5, 0, 2 * Math.PI);
    ctx.fill();
  }

  drawCross(ctx, x, y) {
    ctx.strokeStyle = this.ink;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.moveTo(x - 8, y);
    ctx.lineTo(x + 8, y);
    ctx.moveTo(x, y - 8);
    ctx.lineTo(x, y + 8);
    ctx.stroke();
  }

  // The readout's nodes are made once; each frame only sets their text.
  buildReadout(box) {
    const row = (name) => {
      const r = el("div", "led-row", box);
      return [el("span", "led-key-name", r, name), el("span", "led-value", r)];
    };
    const readout = { box, place: row("Pointer"), nearest: row("Nearest encoding"), onMap: row("… on the map"),
      inLatent: row("… in latent space") };
    readout.warning = el("div", "led-warning", box, "Off the data: no real image encodes near here, so expect a blend.");
    readout.hint = el("div", "led-hint", box);
    return readout;
  }

  showReadout(place, where) {
    const r = this.readout;
    for (const key of ["place", "nearest", "onMap", "inLatent"]) r[key][0].parentElement.hidden = !place;
    r.warning.hidden = !place || where.distance / this.map.spacing <= OFF_DATA_SPACINGS;
    r.hint.textContent = !place ? "Move the pointer over the map to decode any place; click to pin it."
      : this.hover ? "Click to pin this code." : "";
    if (!place) return;
    const names = this.map.classNames, name = names.length ? `, ${names[where.label] ?? where.label}` : "";
    r.place[0].textContent = this.hover ? "Pointer" : "Pinned";
    r.place[1].textContent = `(${format(place[0])}, ${format(place[1])})`;
    r.nearest[1].textContent = `test image #${where.index}${name}`;
    r.onMap[1].textContent = `${format(where.distance)} map units (${format(where.distance / this.map.spacing, 1)}× the typical gap)`;
    r.inLatent[1].textContent = `${format(where.latentDistance)} latent units`;
  }

  // ---- path ----
  buildPath(box, data) {
    const figure = el("div", "led-figure", box);
    this.image = imageCanvas(figure, data.size);
    const scrub = el("div", "led-scrub", box);
    const ends = [el("div", "led-end", scrub), null, el("div", "led-end", scrub)];
    this.input = el("input", "", null);
    scrub.insertBefore(this.input, ends[2]);
    Object.assign(this.input, { type: "range", min: 0, max: 1, step: 0.001 });
    this.thumbs = [imageCanvas(ends[0], 40), imageCanvas(ends[2], 40)];
    el("div", "led-caption", ends[0], data.endLabels[0]);
    el("div", "led-caption", ends[2], data.endLabels[1]);
    this.caption = el("div", "led-caption", figure);
    this.input.addEventListener("input", (event) => {
      this.t = Number(this.input.value);
      this.request(event);
    });
    this.input.addEventListener("change", () => this.commit({ t: this.t, z: Array.from(alongPath(this.data.path, this.t, this.z)) }));
    this.appliedT = null;
  }

  syncPath(data, newModel) {
    this.z = new Float64Array(this.decoder.latentDim);
    if (newModel || data.t !== this.appliedT) {
      this.appliedT = data.t;
      this.t = data.t;
      this.input.value = String(data.t);
    }
    const label = data.label ?? 0, ends = [data.path[0], data.path[data.path.length - 1]];
    this.thumbs.forEach((thumb, i) => thumb.draw(this.decoder, ends[i], label));
  }

  drawPath() {
    this.image.draw(this.decoder, alongPath(this.data.path, this.t, this.z), this.data.label ?? 0);
    this.caption.textContent = `t = ${format(this.t)}`;
  }
}

const views = new WeakMap();

export default function liveDecoder({ data, parentElement, setStateValue, setTriggerValue }) {
  if (data.load) {
    const { decoder, map } = data.load;
    if (decoder) provide(decoder.id, () => loadDecoder(decoder));
    if (map) provide(map.id, () => loadMap(map));
    return undefined;
  }
  let view = views.get(parentElement);
  if (!view) views.set(parentElement, (view = new View(parentElement, {})));
  view.api = { setStateValue, setTriggerValue };
  try {
    view.update(data);
  } catch (err) {
    view.fail(err);
  }
  return () => view.destroy();
}
