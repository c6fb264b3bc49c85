// The sliders view (ui/live/sliders.py): one slider per latent dimension, and optional direction
// sliders, each adding its latent vector scaled by its value: the decoded code is z + sum_i s_i d_i.
// The image follows every drag; on release the code and the direction values go back to Python.
import { imageCanvas } from "./picture.mjs";
import { LiveView, component, el, format } from "./view.mjs";

function rangeInput(row, [lo, hi], step, value) {
  const input = el("input", "", row);
  Object.assign(input, { type: "range", min: lo, max: hi, step, value: String(value) });
  return input;
}

/** The decoded code z + sum_i values[i] * directions[i], written into out. */
export function withDirections(z, directions, values, out) {
  out.set(z);
  directions.forEach((d, i) => {
    for (let j = 0; j < out.length; j++) out[j] += values[i] * d[j];
  });
  return out;
}

class SlidersView extends LiveView {
  constructor(parent) {
    super(parent, "sliders");
  }

  build(box, data) {
    const figure = el("div", "led-figure", box);
    this.image = imageCanvas(figure, data.size);
    el("div", "led-caption", figure, "decoded in your browser");
    const lists = el("div", "led-slider-lists", box);
    this.list = el("div", "led-slider-list", lists);
    this.directionList = el("div", "led-slider-list led-directions", lists);
    this.note = el("div", "led-note", box);
    this.rowsKey = null;
    this.appliedZ = null;
    this.appliedValues = null;
  }

  sync(data, newModel) {
    const key = JSON.stringify([data.sliders, data.bounds, data.step, data.directions.map((d) => [d.label, d.vector, d.bounds])]);
    if (key !== this.rowsKey) {
      this.rowsKey = key;
      this.buildRows(data);
      this.appliedZ = this.appliedValues = null;
    }
    const z = JSON.stringify(data.z), values = JSON.stringify(data.directions.map((d) => d.value));
    if (z !== this.appliedZ || newModel) {
      this.appliedZ = z;
      this.z = Float64Array.from(data.z);
      for (const row of this.rows) row.set(this.z[row.dim]);
    }
    if (values !== this.appliedValues || newModel) {
      this.appliedValues = values;
      this.values = Float64Array.from(data.directions, (d) => d.value);
      this.directionRows.forEach((row, i) => row.set(this.values[i]));
    }
    this.code = new Float64Array(this.z.length);
  }

  // One labelled range input; `onInput(value)` on every move, a commit on release.
  row(list, name, title, faded, bounds, step, onInput, released) {
    const row = el("label", `led-slider${faded ? " led-inactive" : ""}`, list);
    row.title = title;
    el("span", "led-name", row, name);
    const input = rangeInput(row, bounds, step, 0), output = el("output", "", row);
    input.addEventListener("input", (event) => {
      output.textContent = format(onInput(Number(input.value)));
      this.request(event);
    });
    input.addEventListener("change", released);
    return { input, set(value) { input.value = String(value); output.textContent = format(value); } };
  }

  buildRows(data) {
    this.list.replaceChildren();
    this.directionList.replaceChildren();
    // One label width for every row (in characters), so that "z10" does not push its track past "z9"'s.
    const chars = Math.max(1, ...data.sliders.map((s) => s.label.length), ...data.directions.map((d) => d.label.length));
    for (const list of [this.list, this.directionList]) list.style.setProperty("--led-name-chars", String(chars));
    this.rows = data.sliders.map(({ dim, label, inactive }) => {
      const title = inactive ? `${label}: inactive (its KL is near zero, so it barely changes the image)` : label;
      const row = this.row(this.list, label, title, inactive, data.bounds, data.step,
        (value) => (this.z[dim] = value), () => this.commit({ z: Array.from(this.z), directions: Array.from(this.values), dim }));
      row.input.dataset.dim = dim;
      return { dim, ...row };
    });
    if (data.directions.length) el("div", "led-list-title", this.directionList, "Directions");
    this.directionList.hidden = !data.directions.length;
    this.directions = data.directions.map((d) => Float64Array.from(d.vector));
    this.directionRows = data.directions.map(({ label, bounds }, i) => {
      const row = this.row(this.directionList, label, `${label}: adds this direction to the code, times the value`,
        false, bounds, data.step, (value) => (this.values[i] = value),
        () => this.commit({ z: Array.from(this.z), directions: Array.from(this.values), direction: i }));
      row.input.dataset.direction = i;
      return row;
    });
    const anyInactive = data.sliders.some((s) => s.inactive);
    this.note.textContent = anyInactive ? "Faded sliders are inactive dimensions: they barely change the image." : "";
  }

  draw() {
    const code = withDirections(this.z, this.directions, this.values, this.code);
    return this.image.draw(this.models.decoder, code, this.data.label ?? 0);
  }
}

export default component(SlidersView);
