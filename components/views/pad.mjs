// The drawing pad (ui/live/pad.py): draw with a mouse, a pen or a finger; on every stroke update the
// browser turns the drawing into the model's input (as uploads are), encodes it, decodes its mean,
// scores it and places it on the latent map, all before the next frame. When a stroke ends (and on
// undo or clear) the code, the model input and the strokes go back to Python.
import { prepareInput } from "../model_runtime/model_input.mjs";
import { negativeElboAtMean, percentileOf, reconstructionError } from "../model_runtime/scores.mjs";
import { imageCanvas } from "./picture.mjs";
import { Scatter, drawLegend, drawPin, pointColours, themeColours } from "./scatter.mjs";
import { decodeStrokes, encodeStrokes, paintPoint, paintStrokes } from "./strokes.mjs";
import { LiveView, component, el, format } from "./view.mjs";

const MIN_STEP = 2;  // raster pixels between kept points: smooth enough, and short enough for a link
const PAD_CSS = 300;  // the pad's size on screen, in CSS pixels
const SEEN_CSS = 84;

function button(parent, text, title, onClick) {
  const b = el("button", "led-button", parent, text);
  Object.assign(b, { type: "button", title });
  b.addEventListener("click", onClick);
  return b;
}

/** A channels-last image (H, W, C) as a flat list in PyTorch's (C, H, W) order. */
export function channelsFirst(x, channels) {
  const n = x.length / channels, out = new Array(x.length);
  for (let c = 0; c < channels; c++) for (let p = 0; p < n; p++) out[c * n + p] = x[p * channels + c];
  return out;
}

class PadView extends LiveView {
  constructor(parent) {
    super(parent, "pad");
    this.strokes = [];
    this.pointer = null;  // the pointer drawing the current stroke
    this.result = null;  // what the current drawing encodes to, once computed
    this.computed = Promise.resolve();  // the latest computation of it
    this.computing = 0;
    this.dirty = true;
  }

  build(box, data) {
    const padColumn = el("div", "led-pad-column", box);
    this.pad = el("canvas", "led-pad-canvas", padColumn);
    this.pad.style.width = this.pad.style.height = `${PAD_CSS}px`;
    this.ctx = this.pad.getContext("2d", { willReadFrequently: true });
    const tools = el("div", "led-tools", padColumn);
    const brush = el("label", "led-brush", tools);
    el("span", "led-key-name", brush, "Brush");
    this.brushInput = el("input", "", brush);
    this.brushDot = el("i", "led-brush-dot", brush);
    this.brushInput.addEventListener("input", () => this.showBrush());
    this.undoButton = button(tools, "Undo", "Take back the last stroke", () => this.edit(() => this.strokes.pop()));
    this.clearButton = button(tools, "Clear", "Start again on an empty pad", () => this.edit(() => (this.strokes = [])));
    el("div", "led-hint", padColumn, "Draw with the mouse, a pen or a finger. Everything beside the pad is computed "
      + "in your browser as you draw.");

    const results = el("div", "led-pad-results", box);
    const figures = el("div", "led-pad-figures", results);
    const seen = el("div", "led-figure", figures);
    this.seen = imageCanvas(seen, SEEN_CSS);
    this.seenCaption = el("div", "led-caption", seen);
    const recon = el("div", "led-figure", figures);
    this.recon = imageCanvas(recon, data.size, "led-image led-recon");
    el("div", "led-caption", recon, "its reconstruction");
    this.scoreBox = el("div", "led-score", results);
    this.scoreName = el("div", "led-key-name", this.scoreBox);
    const value = el("div", "led-score-value", this.scoreBox);
    this.scoreValue = el("span", "", value);
    this.scoreUnit = el("span", "led-score-unit", value);
    this.meter = el("div", "led-meter", this.scoreBox);
    this.meterFill = el("i", "", this.meter);
    this.scoreRank = el("div", "led-score-rank", this.scoreBox);
    this.scoreNote = el("div", "led-hint", this.scoreBox);

    this.mapColumn = el("div", "led-pad-map", box);
    this.scatter = new Scatter(el("div", "led-stage", this.mapColumn));
    this.legend = el("div", "led-legend", this.mapColumn);
    this.mapCaption = el("div", "led-caption", this.mapColumn);
    this.resize = new ResizeObserver(() => this.scatter.layout() && this.request(null));
    this.resize.observe(this.scatter.stage);

    this.pad.addEventListener("pointerdown", (event) => this.strokeStart(event));
    this.pad.addEventListener("pointermove", (event) => this.strokeMove(event));
    for (const type of ["pointerup", "pointercancel"]) this.pad.addEventListener(type, (event) => this.strokeEnd(event));
    this.appliedStrokes = null;
    this.lastCommitted = null;
    this.settings = null;
    this.shown = null;
    this.answered = null;
  }

  sync(data, newModel) {
    if (this.side !== data.side) {
      this.side = this.pad.width = this.pad.height = data.side;
      Object.assign(this.brushInput, { type: "range", min: 1, max: data.maxBrush, step: 1, value: String(data.brush) });
      this.showBrush();
      this.strokes = [];
    }
    const dark = data.input.darkBackground;
    [this.ink, this.paper] = dark ? ["#ffffff", "#000000"] : ["#000000", "#ffffff"];
    const settings = JSON.stringify([data.input, data.label, data.score]);
    if (newModel || settings !== this.settings) {
      this.settings = settings;
      this.dirty = true;
    }
    if (data.strokes !== this.appliedStrokes) {
      this.appliedStrokes = data.strokes;
      if (data.strokes !== this.lastCommitted && this.pointer === null) {  // an echo of a commit, or a drawing in progress
        try {
          this.strokes = decodeStrokes(data.strokes);
        } catch {
          this.strokes = [];
        }
        this.dirty = true;
      }
    }
    paintStrokes(this.ctx, this.strokes, this.side, this.ink, this.paper);
    const shape = this.models.decoder.shape;
    this.seenCaption.textContent = `what the model sees (${shape[2]}×${shape[1]})`;
    this.scoreName.textContent = data.score.title;
    this.scoreNote.textContent = data.score.note;
    this.syncMap(data, newModel);
    const asked = JSON.stringify([data.strokes, settings]);  // answered once per drawing and settings: never a loop
    if (data.commitWanted && this.answered !== asked) {
      this.answered = asked;
      this.commitDrawing();
    }
  }

  syncMap(data, newModel) {
    const map = this.models.map;
    this.mapColumn.hidden = !map;
    if (!map) return;
    const shown = JSON.stringify(data.colouring);
    if (newModel || shown !== this.shown) {
      this.shown = shown;
      drawLegend(this.legend, data.colouring, map.labels);
      this.scatter.show(map, pointColours(data.colouring, map.labels, null));
    }
    this.mapCaption.textContent = data.mapCaption;
  }

  showBrush() {
    const px = (Number(this.brushInput.value) * PAD_CSS) / this.side;
    this.brushDot.style.width = this.brushDot.style.height = `${Math.max(2, px)}px`;
  }

  // The raster pixel under a pointer event, clamped onto the pad.
  pixel(event) {
    const r = this.pad.getBoundingClientRect(), s = this.side;
    const x = Math.round(((event.clientX - r.left) * s) / r.width), y = Math.round(((event.clientY - r.top) * s) / r.height);
    return [Math.max(0, Math.min(s - 1, x)), Math.max(0, Math.min(s - 1, y))];
  }

  strokeStart(event) {
    if (this.pointer !== null || this.failed || event.button > 0) return;
    event.preventDefault();
    this.pad.setPointerCapture(event.pointerId);
    this.pointer = event.pointerId;
    const stroke = { size: Number(this.brushInput.value), points: this.pixel(event) };
    this.strokes.push(stroke);
    paintPoint(this.ctx, stroke, 0, this.ink);
    this.dirty = true;
    this.request(event);
  }

  strokeMove(event) {
    if (event.pointerId !== this.pointer) return;
    const stroke = this.strokes[this.strokes.length - 1], p = stroke.points;
    let added = false;
    for (const e of event.getCoalescedEvents?.() ?? [event]) {
      const [x, y] = this.pixel(e), n = p.length / 2;
      if (Math.hypot(x - p[2 * n - 2], y - p[2 * n - 1]) < MIN_STEP) continue;
      p.push(x, y);
      paintPoint(this.ctx, stroke, n, this.ink);
      added = true;
    }
    if (!added) return;
    this.dirty = true;
    this.request(event);
  }

  strokeEnd(event) {
    if (event.pointerId !== this.pointer) return;
    this.pointer = null;
    this.commitDrawing();
  }

  // Undo or clear: change the strokes, repaint them all, and send the result.
  edit(change) {
    if (this.pointer !== null || this.failed) return;
    change();
    paintStrokes(this.ctx, this.strokes, this.side, this.ink, this.paper);
    this.dirty = true;
    this.commitDrawing();
    this.request(null);
  }

  // The drawing -> the model's input -> its code, reconstruction, score and place on the map. Resolves
  // when this.result holds them; a computation that a newer one overtook leaves the result alone.
  compute() {
    this.dirty = false;
    const ticket = ++this.computing;
    this.computed = this.strokes.length ? this.encodeDrawing() : Promise.resolve(null);
    return (this.computed = this.computed.then((result) => {
      if (ticket === this.computing) this.result = result;
    }));
  }

  async encodeDrawing() {
    const { encoder, decoder, map, scores } = this.models, data = this.data, side = this.side;
    const x = prepareInput(this.ctx.getImageData(0, 0, side, side).data, side, side, data.input);
    const { mu, logvar } = await encoder.encode(x, data.label ?? 0);
    const decoded = await decoder.decode(mu, data.label ?? 0);
    const score = data.score.kind === "neg_elbo" ? negativeElboAtMean(decoded, x, mu, logvar) : reconstructionError(decoded, x);
    return { x, mu, decoded, score, percentile: scores ? percentileOf(scores, score) : null, place: map ? map.project(mu) : null };
  }

  async commitDrawing() {
    if (this.failed || !this.models.encoder) return;
    const strokes = encodeStrokes(this.strokes), data = this.data;
    this.lastCommitted = strokes;
    try {
      await (this.dirty ? this.compute() : this.computed);
    } catch (err) {
      this.fail(err);
      return;
    }
    const r = this.result;
    this.commit({
      strokes, label: data.label, fit: data.input.fit,
      z: r ? Array.from(r.mu) : null, x: r ? channelsFirst(r.x, data.input.channels) : null, score: r ? r.score : null,
    });
  }

  async draw() {
    if (this.dirty) await this.compute();
    const r = this.result, data = this.data, shape = this.models.decoder.shape, empty = !this.strokes.length;
    if (this.undoButton.disabled !== empty) this.undoButton.disabled = this.clearButton.disabled = empty;
    if (!r) {
      for (const image of [this.seen, this.recon]) image.canvas.getContext("2d").clearRect(0, 0, image.canvas.width, image.canvas.height);
      this.scoreValue.textContent = "–";
      this.scoreUnit.textContent = "";
      this.scoreRank.textContent = "Draw on the pad to see it encoded.";
      this.meter.hidden = true;
      delete this.pad.dataset.score;
      this.drawMarker(null);
      return;
    }
    this.seen.showImage(r.x, shape);
    this.recon.showImage(r.decoded.image, shape);
    this.drawMarker(r.place);  // before the text below changes: its theme colours are then read without a style recalculation
    this.pad.dataset.score = String(r.score);
    this.scoreValue.textContent = r.score.toFixed(data.score.digits);
    this.scoreUnit.textContent = ` ${data.score.unit}`;
    this.meter.hidden = r.percentile === null;
    if (r.percentile !== null) {
      this.meterFill.style.width = `${r.percentile}%`;
      this.scoreRank.textContent = `more unusual than ${r.percentile.toFixed(0)}% of the test images`;
    } else {
      this.scoreRank.textContent = data.score.noReference;
    }
  }

  drawMarker(place) {
    const scatter = this.scatter;
    if (!this.models.map || !scatter.toScreen) return;
    const ctx = scatter.clearOverlay();
    if (!place) {
      delete scatter.overlay.dataset.marker;
      return;
    }
    const { ink, paper } = themeColours(this.root);
    drawPin(ctx, scatter.toScreen(place[0], place[1]), ink, paper, 8);
    scatter.overlay.dataset.marker = `${format(place[0], 4)},${format(place[1], 4)}`;
  }

  destroy() {
    super.destroy();
    this.resize?.disconnect();
  }
}

export default component(PadView);
