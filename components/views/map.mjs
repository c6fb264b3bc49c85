// The map view (ui/live/map.py): every atlas point on a canvas that pans (drag) and zooms (wheel). Hovering a
// point shows its image beside its reconstruction; hovering between points decodes the place and says how far
// the nearest real code is. A click pins the place (and selects the point under it); Box and Lasso select
// many; the legend hides a class (click) or isolates it (double-click); "Find #" zooms to an image. Zoomed in,
// thumbnails from a sprite sheet replace the dots. Decoding is awaited and only the latest request is shown,
// so a decoder that answers asynchronously never paints a stale image.
import { imageCanvas } from "./picture.mjs";
import { PointPlot } from "./plot.mjs";
import { drawCross, drawLegend, drawNearest, drawPin, pointColours, themeColours } from "./scatter.mjs";
import { LiveView, component, el, format } from "./view.mjs";

const OFF_DATA_SPACINGS = 5;  // farther than this many typical gaps from any encoding: off the data
const HOVER_PX = 6;  // the pointer is "on" a point within this many CSS pixels of it
const CLICK_PX = 4;  // a press that moves less than this is a click, not a drag
const WHEEL_ZOOM = 1.0015;  // zoom factor per wheel delta unit
const MAX_RINGS = 3000;  // selected points ringed on the overlay, at most
const FRAMES_KEPT = 5000;
const SETTLE_MS = 150;  // the view rests this long after panning or zooming before every point is drawn

// For bench/map_frames.py: milliseconds of main-thread work per drawn frame, and what the frame redrew.
const frames = (globalThis.__mapFrames ??= []);

class MapView extends LiveView {
  constructor(parent) {
    super(parent, "map");
  }

  build(box, data) {
    const main = el("div", "led-map-main", box), toolbar = el("div", "led-toolbar", main);
    const stage = el("div", "led-stage", main);
    this.plot = new PointPlot(stage);
    this.buildToolbar(toolbar);
    const side = el("div", "led-side", box);
    const pair = el("div", "led-pair", side);
    const figure = (caption) => {
      const f = el("div", "led-figure", pair);
      return [f, el("div", "led-caption", f, caption)];
    };
    const [original, originalCaption] = figure("image");
    this.original = el("canvas", "led-original", original);
    this.original.style.width = this.original.style.height = `${data.size / 1.4}px`;
    original.insertBefore(this.original, originalCaption);
    this.originalCaption = originalCaption;
    const [decoded, decodedCaption] = figure("decoded");
    this.image = imageCanvas(decoded, data.size / 1.4);
    decoded.insertBefore(this.image.canvas, decodedCaption);
    this.decodedCaption = decodedCaption;
    this.legend = el("div", "led-legend", side);
    this.colourbar = el("div", "led-legend", side);
    this.readout = this.buildReadout(el("div", "led-readout", side));
    Object.assign(this, { hover: null, pinned: null, selection: [], drag: null, hidden: new Set(), applied: {},
      dirty: true, wanted: null, decoding: false, shownKey: null });
    this.listen(this.plot.overlay);
    this.resize = new ResizeObserver(() => this.plot.layout() && this.request(null));
    this.resize.observe(stage);
    globalThis.__latentMap = this;  // the newest map, for the browser tests and bench/map_frames.py
  }

  buildToolbar(bar) {
    this.modes = {};
    for (const [mode, label, tip] of [["pan", "Pan", "Drag to pan, wheel to zoom, click to pin"],
      ["box", "Box", "Drag a box to select the points in it"], ["lasso", "Lasso", "Draw around points to select them"]]) {
      const button = el("button", "led-button led-mode", bar, label);
      button.title = tip;
      button.addEventListener("click", () => this.setMode(mode));
      this.modes[mode] = button;
    }
    this.setMode("pan");
    const reset = el("button", "led-button", bar, "Reset view");
    reset.addEventListener("click", () => { this.plot.reset(); this.dirty = true; this.request(null); });
    const find = el("form", "led-find", bar);
    el("label", "", find, "Find #");
    this.findPart = el("select", "led-find-part", find);  // on a map of several parts (test and training images)
    this.findPart.title = "Which images the number counts";
    this.findInput = el("input", "", find);
    Object.assign(this.findInput, { type: "number", min: 0, step: 1, placeholder: "index" });
    find.addEventListener("submit", (event) => {
      event.preventDefault();
      const parts = this.parts(), part = parts[Math.max(0, this.findPart.selectedIndex)];
      const i = Number(this.findInput.value);
      if (!Number.isInteger(i) || i < 0 || i >= part.n) {
        this.note.textContent = `No ${part.name.toLowerCase()} #${this.findInput.value}: there are `
          + `${part.n.toLocaleString()}.`;
        return;
      }
      this.focusOn(part.offset + i);
      this.select([part.offset + i], "find");
    });
    this.note = el("span", "led-note led-map-note", bar);
  }

  // The map's parts, in point order: data.parts ([name, count] each, e.g. test images then training images), or
  // one part of every point.
  parts() {
    let offset = 0;
    return (this.data.parts ?? [["Image", this.models.map.n]]).map(([name, n]) => {
      offset += n;
      return { name, n, offset: offset - n };
    });
  }

  // A point by its part and its number there: "Training image #12" ("training #12" when short); "image #3".
  pointName(point, short = false) {
    const parts = this.parts(), part = parts.findLast((p) => p.offset <= point) ?? parts[0];
    const name = parts.length > 1 || part.name !== "Image" ? part.name : "image";
    return short ? `${parts.length > 1 ? `${name.split(" ")[0].toLowerCase()} ` : ""}#${point - part.offset}`
      : `${name} #${point - part.offset}`;
  }

  setMode(mode) {
    this.mode = mode;
    for (const [name, button] of Object.entries(this.modes)) button.classList.toggle("led-active", name === mode);
    this.plot.overlay.dataset.mode = mode;
  }

  listen(overlay) {
    overlay.addEventListener("pointerdown", (event) => {
      if (!this.ready) return;
      overlay.setPointerCapture(event.pointerId);
      const at = this.plot.at(event);
      this.drag = { start: at, last: at, path: [at], moved: false };
    });
    overlay.addEventListener("pointermove", (event) => {
      if (!this.ready) return;
      const at = this.plot.at(event), drag = this.drag;
      if (drag) {
        drag.moved ||= Math.hypot(at[0] - drag.start[0], at[1] - drag.start[1]) >= CLICK_PX;
        if (this.mode === "pan" && drag.moved) {
          this.plot.panBy(at[0] - drag.last[0], at[1] - drag.last[1]);
          this.moved();
        } else if (this.mode === "lasso") drag.path.push(at);
        drag.last = at;
      }
      this.hoverAt(at);
      this.request(event);
    });
    overlay.addEventListener("pointerup", (event) => {
      const drag = this.drag;
      this.drag = null;
      if (!drag || !this.ready) return;
      const at = this.plot.at(event);
      if (!drag.moved) this.click(at);
      else if (this.mode === "box") {
        const [x0, y0] = drag.start, [x1, y1] = at;
        this.select(this.plot.inside([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]), "box");
      } else if (this.mode === "lasso" && drag.path.length > 2) this.select(this.plot.inside(drag.path), "lasso");
      this.request(event);
    });
    overlay.addEventListener("pointerleave", () => {
      if (this.drag) return;
      this.hover = null;
      this.request(null);
    });
    overlay.addEventListener("wheel", (event) => {
      if (!this.ready) return;
      event.preventDefault();
      const [sx, sy] = this.plot.at(event);
      this.plot.zoomAt(sx, sy, WHEEL_ZOOM ** -event.deltaY);
      this.moved();
      this.hoverAt([sx, sy]);
      this.request(event);
    }, { passive: false });
  }

  // The view moved: redraw the points, thinned while it keeps moving, in full once it has rested SETTLE_MS.
  moved() {
    this.dirty = true;
    this.movedAt = performance.now();
    clearTimeout(this.settle);
    this.settle = setTimeout(() => {
      if (!this.plot.thinned) return;
      this.dirty = true;
      this.request(null);
    }, SETTLE_MS);
  }

  // What is under the pointer: a point (within HOVER_PX, or inside its thumbnail) or a place between points.
  hoverAt([sx, sy]) {
    const map = this.models.map, [x, y] = this.plot.toData(sx, sy), shown = this.shown;
    const { idx, dist } = map.nearest(x, y, 8);
    let s = 0;
    while (s < idx.length && shown && !shown[idx[s]]) s++;
    const reach = Math.max(HOVER_PX, this.plot.thumbSize() / 2) / this.plot.pxPerUnit;
    this.hover = s < idx.length && dist[s] <= reach ? { point: idx[s], xy: [x, y] } : { point: null, xy: [x, y] };
  }

  click(at) {
    const map = this.models.map;
    this.hoverAt(at);
    const place = this.hover.point === null ? this.hover.xy : [map.xy[2 * this.hover.point], map.xy[2 * this.hover.point + 1]];
    const z = new Float64Array(map.latentDim), where = map.locate(place[0], place[1], z);
    this.pinned = place;
    const commit = { kind: "pin", z: Array.from(z), xy: place, label: where.label, index: where.index };
    if (this.hover.point !== null) {
      this.selection = [this.hover.point];
      commit.selected = this.selection;
    }
    this.commit(commit);
  }

  select(indices, how) {
    this.selection = indices;
    this.note.textContent = `${indices.length.toLocaleString()} selected (${how})`;
    this.commit({ kind: "select", indices, how });
  }

  focusOn(i) {
    this.plot.focus(i);
    this.dirty = true;
    const map = this.models.map;
    this.hover = { point: i, xy: [map.xy[2 * i], map.xy[2 * i + 1]] };
    this.request(null);
  }

  sync(data, newModel) {
    const { map, values = null, picture = null, sprite = null } = this.models;
    const shownKey = JSON.stringify([data.colouring, data.extent, data.sprite]);
    if (newModel || shownKey !== this.shownKey) {
      if (newModel) this.hidden.clear();
      this.shownKey = shownKey;
      this.colours = pointColours(data.colouring, map.labels, values);
      drawLegend(this.colourbar, data.colouring, map.labels);
      this.colourbar.hidden = data.colouring.kind === "classes";
      this.drawClassLegend(data.class_palette, map);
      this.applyShown(picture, sprite);
    }
    const parts = this.parts(), partsKey = JSON.stringify(parts);
    if (partsKey !== this.partsKey) {  // kept across reruns otherwise, with the user's choice of part
      this.partsKey = partsKey;
      this.findPart.replaceChildren(...parts.map((p) => el("option", "", null, p.name.split(" ")[0])));
      this.findPart.hidden = parts.length < 2;
    }
    // Python's values replace what the user did here only when they change.
    const changed = (name, value) => {
      const key = JSON.stringify(value);
      if (key === this.applied[name]) return false;
      this.applied[name] = key;
      return true;
    };
    if (changed("pinned", data.pinned)) this.pinned = data.pinned;
    if (changed("selected", data.selected) && data.selected) this.selection = data.selected.filter((i) => i < map.n);
    if (changed("focus", data.focus) && Number.isInteger(data.focus) && data.focus < map.n) this.focusOn(data.focus);
  }

  applyShown(picture = this.models.picture ?? null, sprite = this.models.sprite ?? null) {
    const map = this.models.map, labels = map.labels;
    this.shown = null;
    if (this.hidden.size) {
      this.shown = new Uint8Array(map.n);
      for (let i = 0; i < map.n; i++) this.shown[i] = this.hidden.has(labels[i]) ? 0 : 1;
    }
    const spriteSheet = sprite && this.data.sprite ? { image: sprite, ...this.data.sprite } : null;
    this.plot.show(map, this.colours, this.shown, { picture, extent: this.data.extent, sprite: spriteSheet });
    this.dirty = false;
  }

  // The classes present, each a key: click hides or shows it, double-click shows it alone (or all again).
  drawClassLegend(palette, map) {
    this.legend.replaceChildren();
    const names = map.classNames;
    if (!names.length || !palette) return;
    const present = [...new Set(map.labels)].sort((a, b) => a - b);
    for (const label of present) {
      const item = el("button", "led-key led-class", this.legend);
      item.type = "button";
      item.title = "Click to hide or show; double-click to show this class alone";
      el("i", "", item).style.background = palette[((label % palette.length) + palette.length) % palette.length];
      el("span", "", item, names[label] ?? String(label));
      item.classList.toggle("led-off", this.hidden.has(label));
      item.addEventListener("click", () => {
        if (this.hidden.has(label)) this.hidden.delete(label);
        else this.hidden.add(label);
        this.refreshClasses(palette, map);
      });
      item.addEventListener("dblclick", () => {
        const alone = present.every((other) => other === label || this.hidden.has(other)) && !this.hidden.has(label);
        this.hidden = new Set(alone ? [] : present.filter((other) => other !== label));
        this.refreshClasses(palette, map);
      });
    }
  }

  refreshClasses(palette, map) {
    this.drawClassLegend(palette, map);
    this.applyShown();
    this.request(null);
  }

  draw() {
    const started = performance.now(), plot = this.plot, map = this.models.map;
    if (!plot.fit) return;
    const redrew = this.dirty;
    if (this.dirty) {
      plot.render(performance.now() - (this.movedAt ?? -Infinity) < SETTLE_MS);
      this.dirty = false;
    }
    const ctx = plot.clearOverlay(), { ink, paper } = themeColours(this.root);
    this.drawSelection(ctx, ink);
    const hover = this.hover, place = hover?.xy ?? this.pinned;
    if (place) {
      const z = new Float64Array(map.latentDim), where = map.locate(place[0], place[1], z);
      const point = hover?.point ?? null;
      if (point !== null) {
        for (let j = 0; j < map.latentDim; j++) z[j] = map.mu[point * map.latentDim + j];
      }
      const label = this.data.label ?? (point !== null ? map.labels[point] : where.label);
      this.want(z, label, point);
      this.showOriginal(point);
      const at = plot.toScreen(place[0], place[1]);
      if (point === null) drawNearest(ctx, at, plot.toScreen(map.xy[2 * where.index], map.xy[2 * where.index + 1]), ink);
      else drawNearest(ctx, at, plot.toScreen(map.xy[2 * point], map.xy[2 * point + 1]), ink);
      if (hover) drawCross(ctx, at[0], at[1], ink, paper);
      this.showReadout(place, point === null ? where : { ...where, index: point, label: map.labels[point],
        distance: 0, latentDistance: 0 }, point);
    } else {
      this.showOriginal(null);
      this.showReadout(null, null, null);
    }
    if (this.pinned) drawPin(ctx, plot.toScreen(this.pinned[0], this.pinned[1]), ink, paper);
    const shape = this.drag && this.drag.moved && this.mode !== "pan" ? this.drag : null;
    if (shape) this.drawShape(ctx, shape, ink);
    if (frames.length >= FRAMES_KEPT) frames.splice(0, frames.length - FRAMES_KEPT + 1);
    frames.push({ ms: performance.now() - started, points: redrew, thumbs: plot.thumbsShown, n: map.n });
  }

  drawSelection(ctx, ink) {
    const map = this.models.map, plot = this.plot, count = Math.min(this.selection.length, MAX_RINGS);
    if (!count) return;
    ctx.strokeStyle = ink;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    for (let s = 0; s < count; s++) {
      const i = this.selection[s];
      const [sx, sy] = plot.toScreen(map.xy[2 * i], map.xy[2 * i + 1]);
      if (sx < -8 || sy < -8 || sx > plot.css + 8 || sy > plot.css + 8) continue;
      ctx.moveTo(sx + 4, sy);
      ctx.arc(sx, sy, 4, 0, 2 * Math.PI);
    }
    ctx.stroke();
  }

  drawShape(ctx, drag, ink) {
    ctx.strokeStyle = ink;
    ctx.fillStyle = "rgba(79, 70, 229, 0.12)";
    ctx.lineWidth = 1;
    ctx.setLineDash([4, 3]);
    ctx.beginPath();
    if (this.mode === "box") {
      const [x0, y0] = drag.start, [x1, y1] = drag.last;
      ctx.rect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
    } else {
      drag.path.forEach(([x, y], s) => (s ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.closePath();
    }
    ctx.fill();
    ctx.stroke();
    ctx.setLineDash([]);
  }

  // The test image of the point under the pointer, cut from the sprite sheet (blank between points).
  showOriginal(point) {
    if (point === this.originalShown) return;
    this.originalShown = point;
    const ctx = this.original.getContext("2d"), sheet = this.data.sprite, sprite = this.models.sprite;
    this.original.classList.toggle("led-empty", point === null || !sprite);
    if (point === null || !sprite || !sheet) {
      ctx.clearRect(0, 0, this.original.width, this.original.height);
      this.originalCaption.textContent = point === null ? "image (on a point)" : this.pointName(point);
      return;
    }
    const { columns, tile } = sheet;
    this.original.width = this.original.height = tile;
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(sprite, (point % columns) * tile, Math.floor(point / columns) * tile, tile, tile, 0, 0, tile, tile);
    this.originalCaption.textContent = this.pointName(point);
  }

  // Decode z, latest request wins: one decode at a time, and a request made while one runs replaces any
  // other waiting, so an answer is never older than the image already shown.
  want(z, label, point) {
    const key = `${label}:${z.join(",")}`;
    if (key === this.wantedKey) return;
    this.wantedKey = key;
    this.wanted = { z, label, point };
    this.pump();
  }

  async pump() {
    const decoder = this.models.decoder;
    if (this.decoding || !this.wanted || !decoder) return;
    const { z, label, point } = this.wanted;
    this.wanted = null;
    this.decoding = true;
    try {
      const { image } = await decoder.decode(z, label);
      this.image.showImage(image, decoder.shape);
      this.decodedCaption.textContent = point === null ? "decoded here" : "reconstruction";
    } catch (err) {
      this.fail(err);
    } finally {
      this.decoding = false;
    }
    this.pump();
  }

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

  showReadout(place, where, point) {
    const r = this.readout, map = this.models.map;
    for (const key of ["place", "nearest"]) r[key][0].parentElement.hidden = !place;
    for (const key of ["onMap", "inLatent"]) r[key][0].parentElement.hidden = !place || point !== null;
    r.warning.hidden = !place || point !== null || where.distance / map.spacing <= OFF_DATA_SPACINGS;
    r.hint.textContent = !place ? "Hover a point to see its image and reconstruction, or between points to decode "
      + "the place; click to pin. Drag to pan, wheel to zoom in until thumbnails show."
      : this.hover ? "Click to pin this code." : "";
    if (!place) return;
    const names = map.classNames, name = names.length ? `, ${names[where.label] ?? where.label}` : "";
    r.place[0].textContent = this.hover ? (point === null ? "Pointer" : "Point") : "Pinned";
    r.place[1].textContent = `(${format(place[0])}, ${format(place[1])})`;
    r.nearest[0].textContent = point === null ? "Nearest encoding" : "Image";
    r.nearest[1].textContent = `${this.pointName(where.index, true)}${name}`;
    r.onMap[1].textContent = `${format(where.distance)} map units (${format(where.distance / map.spacing, 1)}× the typical gap)`;
    r.inLatent[1].textContent = `${format(where.latentDistance)} latent units`;
  }

  destroy() {
    super.destroy();
    clearTimeout(this.settle);
    this.resize?.disconnect();
  }
}

export default component(MapView);
