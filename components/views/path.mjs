// The path view (ui/live/path.py): a scrubber along a list of codes from A to B; the image follows
// the scrubber, and on release its position t goes back to Python.
import { imageCanvas } from "./picture.mjs";
import { LiveView, component, el, format } from "./view.mjs";

/** The code at position t in [0, 1] along a polyline of codes, written into out. */
export function alongPath(path, t, out) {
  const segments = path.length - 1, s = Math.max(0, Math.min(1, t)) * segments;
  const i = Math.min(segments - 1, Math.floor(s)), f = s - i, a = path[i], b = path[i + 1];
  for (let j = 0; j < out.length; j++) out[j] = a[j] + (b[j] - a[j]) * f;
  return out;
}

class PathView extends LiveView {
  constructor(parent) {
    super(parent, "path");
  }

  build(box, data) {
    const figure = el("div", "led-figure", box);
    this.image = imageCanvas(figure, data.size);
    const scrub = el("div", "led-scrub", box);
    const ends = [el("div", "led-end", scrub), el("div", "led-end", scrub)];
    this.input = el("input", "", null);
    scrub.insertBefore(this.input, ends[1]);
    Object.assign(this.input, { type: "range", min: 0, max: 1, step: 0.001 });
    this.thumbs = [imageCanvas(ends[0], 40), imageCanvas(ends[1], 40)];
    this.endCaptions = ends.map((end) => el("div", "led-caption", end));
    this.caption = el("div", "led-caption", figure);
    this.input.addEventListener("input", (event) => {
      this.t = Number(this.input.value);
      this.request(event);
    });
    this.input.addEventListener("change", () => this.commit({ t: this.t, z: Array.from(alongPath(this.data.path, this.t, this.z)) }));
    this.appliedT = null;
  }

  sync(data, newModel) {
    const decoder = this.models.decoder;
    this.z = new Float64Array(decoder.latentDim);
    if (newModel || data.t !== this.appliedT) {
      this.appliedT = data.t;
      this.t = data.t;
      this.input.value = String(data.t);
    }
    const label = data.label ?? 0, ends = [data.path[0], data.path[data.path.length - 1]];
    Promise.all(this.thumbs.map((thumb, i) => thumb.draw(decoder, ends[i], label))).catch((err) => this.fail(err));
    this.endCaptions.forEach((caption, i) => (caption.textContent = data.endLabels[i]));
  }

  draw() {
    this.caption.textContent = `t = ${format(this.t)}`;
    return this.image.draw(this.models.decoder, alongPath(this.data.path, this.t, this.z), this.data.label ?? 0);
  }
}

export default component(PathView);
