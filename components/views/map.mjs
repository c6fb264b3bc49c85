// The map view (ui/live/map.py): a scatter of the atlas; the pointer decodes wherever it is, between
// points too, and a click pins the place and sends its code to Python. Points are coloured as Python
// says (by class, or by a value with a colour bar); a latent plane may carry a picture under them.
import { imageCanvas } from "./picture.mjs";
import { Scatter, drawCross, drawLegend, drawNearest, drawPin, pointColours, themeColours } from "./scatter.mjs";
import { LiveView, component, el, format } from "./view.mjs";

const OFF_DATA_SPACINGS = 5;  // farther than this many typical gaps from any encoding: off the data

class MapView extends LiveView {
  constructor(parent) {
    super(parent, "map");
  }

  build(box, data) {
    const stage = el("div", "led-stage", box);
    this.scatter = new Scatter(stage);
    const side = el("div", "led-side", box);
    this.image = imageCanvas(side, data.size);
    this.legend = el("div", "led-legend", side);
    this.readout = this.buildReadout(el("div", "led-readout", side));
    this.hover = null;
    this.pinned = null;
    this.appliedPin = undefined;
    this.shown = null;
    const overlay = this.scatter.overlay;
    overlay.addEventListener("pointermove", (event) => {
      if (!this.scatter.toData) return;
      this.hover = this.scatter.place(event);
      this.request(event);
    });
    overlay.addEventListener("pointerleave", () => {
      this.hover = null;
      this.request(null);
    });
    overlay.addEventListener("click", (event) => {
      if (!this.models.map || !this.scatter.toData) return;
      const [x, y] = this.scatter.place(event);
      this.pinned = [x, y];
      const where = this.models.map.locate(x, y, this.z);
      this.commit({ z: Array.from(this.z), xy: [x, y], label: where.label, index: where.index });
      this.request(null);
    });
    this.resize = new ResizeObserver(() => this.scatter.layout() && this.request(null));
    this.resize.observe(stage);
  }

  sync(data, newModel) {
    const { map, values = null, picture = null } = this.models;
    const shown = JSON.stringify([data.colouring, data.extent]);
    if (newModel || shown !== this.shown) {
      this.shown = shown;
      this.z = new Float64Array(map.latentDim);
      drawLegend(this.legend, data.colouring, map.labels);
      this.scatter.show(map, pointColours(data.colouring, map.labels, values), picture, data.extent);
    }
    const pin = JSON.stringify(data.pinned);
    if (pin !== this.appliedPin) {
      this.appliedPin = pin;
      this.pinned = data.pinned;
    }
  }

  draw() {
    const { map, decoder } = this.models, scatter = this.scatter;
    if (!scatter.toScreen) return;
    const place = this.hover ?? this.pinned, ctx = scatter.clearOverlay();
    if (!place) {
      this.showReadout(null, null);
      return;
    }
    const where = map.locate(place[0], place[1], this.z);
    const decoded = this.image.draw(decoder, this.z, this.data.label ?? where.label);  // asynchronous
    const { ink, paper } = themeColours(this.root), at = scatter.toScreen(place[0], place[1]);
    drawNearest(ctx, at, scatter.toScreen(map.xy[2 * where.index], map.xy[2 * where.index + 1]), ink);
    if (this.pinned) drawPin(ctx, scatter.toScreen(this.pinned[0], this.pinned[1]), ink, paper);
    if (this.hover) drawCross(ctx, at[0], at[1], ink, paper);
    this.showReadout(place, where);
    return decoded;
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
    const r = this.readout, map = this.models.map;
    for (const key of ["place", "nearest", "onMap", "inLatent"]) r[key][0].parentElement.hidden = !place;
    r.warning.hidden = !place || where.distance / map.spacing <= OFF_DATA_SPACINGS;
    r.hint.textContent = !place ? "Move the pointer over the map to decode any place; click to pin it."
      : this.hover ? "Click to pin this code." : "";
    if (!place) return;
    const names = map.classNames, name = names.length ? `, ${names[where.label] ?? where.label}` : "";
    r.place[0].textContent = this.hover ? "Pointer" : "Pinned";
    r.place[1].textContent = `(${format(place[0])}, ${format(place[1])})`;
    r.nearest[1].textContent = `test image #${where.index}${name}`;
    r.onMap[1].textContent = `${format(where.distance)} map units (${format(where.distance / map.spacing, 1)}× the typical gap)`;
    r.inLatent[1].textContent = `${format(where.latentDistance)} latent units`;
  }

  destroy() {
    super.destroy();
    this.resize?.disconnect();
  }
}

export default component(MapView);
