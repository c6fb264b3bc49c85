// What every live view shares (the sliders, map, path and pad components, mounted by ui/live/).
//
// A view names the runtime's resources it needs by id (data.resources: {decoder: id, map: id, ...})
// and waits for them in the registry the model runtime fills. Input events only record what changed
// and ask for a frame; drawing happens once per animation frame. Any failure is reported to Python
// as the state value `error`, so the page can fall back to the server; commits go back as the
// trigger value `commit`. Python's values replace what the user set only when they change.
import { loaded } from "../model_runtime/registry.mjs";

const TIMINGS_KEPT = 5000;

// For bench/live_decode.py: per drawn frame, the oldest input event it shows (`created`: the event's
// timeStamp; `handled`: performance.now() in its handler) and `painted`, performance.now() right after
// the image was written, all on the performance.now() clock.
const timings = (globalThis.__liveDecoderTimings ??= []);

function recordTiming(mode, input, painted) {
  if (timings.length >= TIMINGS_KEPT) timings.splice(0, timings.length - TIMINGS_KEPT + 1);
  timings.push({ mode, created: input.created, handled: input.handled, painted });
}

export function el(tag, className, parent, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

export function format(v, digits = 2) {
  return (Math.abs(v) < 0.005 && digits === 2 ? 0 : v).toFixed(digits);
}

/** A view: subclasses give `build(box, data)`, `sync(data, newModel)` and `draw()`. */
export class LiveView {
  constructor(parent, name) {
    this.name = name;
    this.root = el("div", "led-root", parent);  // beside the <style> Streamlit put into parent
    this.api = null;
    this.box = null;
    this.models = {};
    this.data = null;
    this.raf = 0;
    this.pendingInput = null;
    this.drawing = false;  // a frame is awaiting its decode
    this.redraw = false;  // a frame was asked for meanwhile
    this.failed = false;
    this.ready = false;  // every resource named has loaded
  }

  update(data) {
    this.data = data;
    if (!this.box) {
      this.box = el("div", `led led-${this.name}`, this.root);
      this.status = el("div", "led-status", this.box);
      this.build(this.box, data);
    }
    const names = Object.keys(data.resources);
    this.status.textContent = "Loading the model…";
    Promise.all(names.map((name) => loaded(data.resources[name]))).then((values) => {
      if (this.data !== data || this.failed) return;  // a newer update superseded this one
      const models = Object.fromEntries(names.map((name, i) => [name, values[i]]));
      const newModel = names.length !== Object.keys(this.models).length || names.some((n) => models[n] !== this.models[n]);
      this.models = models;
      this.ready = true;
      this.status.textContent = "";
      this.sync(data, newModel);
      this.request(null);
    }).catch((err) => this.fail(err));
  }

  // Draw on the next animation frame; `event` is the input that asked for it (null for other reasons).
  request(event) {
    if (event && this.pendingInput === null) this.pendingInput = { created: event.timeStamp, handled: performance.now() };
    if (this.drawing) this.redraw = true;
    else if (!this.raf) this.raf = requestAnimationFrame(() => this.frame());
  }

  // One frame's draw at a time: decoding is asynchronous (onnxruntime-web), and input that arrives while
  // a draw awaits its decode asks for one more frame when it ends, drawn from the latest state; the
  // codes in between are never decoded.
  async frame() {
    this.raf = 0;
    if (this.failed || !this.ready) return;
    const input = this.pendingInput;
    this.pendingInput = null;
    this.drawing = true;
    try {
      await this.draw();
      if (input !== null) recordTiming(this.name, input, performance.now());
    } catch (err) {
      this.fail(err);
    }
    this.drawing = false;
    if (this.redraw) {
      this.redraw = false;
      this.request(null);
    }
  }

  commit(value) {
    this.api.setTriggerValue("commit", value);
  }

  fail(err) {
    if (this.failed) return;
    this.failed = true;
    const message = err && err.message ? err.message : String(err);
    this.root.replaceChildren();
    el("div", "led-error", this.root, `The in-browser model stopped: ${message}`);
    this.api.setStateValue("error", message);
  }

  destroy() {
    cancelAnimationFrame(this.raf);
    this.failed = true;
  }
}

/** The default export of a view's component: one view per Streamlit element, kept across reruns. */
export function component(View) {
  const views = new WeakMap();
  return ({ data, parentElement, setStateValue, setTriggerValue }) => {
    let view = views.get(parentElement);
    if (!view) views.set(parentElement, (view = new View(parentElement)));
    view.api = { setStateValue, setTriggerValue };
    try {
      view.update(data);
    } catch (err) {
      view.fail(err);
    }
    return () => {
      view.destroy();
      views.delete(parentElement);
    };
  };
}
