// Images on canvases at the model's resolution, scaled up by CSS without smoothing.
import { el } from "./view.mjs";

/** Write channels-last logits as RGBA pixels: sigmoid, then 0..255 (greyscale when there is one channel). */
export function logitsToRGBA(logits, channels, rgba) {
  return valuesToRGBA(logits, channels, rgba, (l) => 1 / (1 + Math.exp(-l)));
}

/** Write a channels-last image as RGBA pixels, each value through `toUnit` (identity: values in [0, 1]). */
export function valuesToRGBA(values, channels, rgba, toUnit = (v) => v) {
  const n = rgba.length >> 2;
  for (let p = 0; p < n; p++) {
    const q = p * 4;
    if (channels === 1) {
      rgba[q] = rgba[q + 1] = rgba[q + 2] = Math.round(255 * toUnit(values[p]));
    } else {
      for (let c = 0; c < 3; c++) rgba[q + c] = Math.round(255 * toUnit(values[p * 3 + c]));
    }
    rgba[q + 3] = 255;
  }
  return rgba;
}

/** A canvas showing one image: decoded from a code, from logits, or an image in [0, 1]. */
export function imageCanvas(parent, size, className = "led-image") {
  const canvas = el("canvas", className, parent);
  canvas.style.width = canvas.style.height = `${size}px`;
  let pixels = null;
  const frame = ([, h, w]) => {
    if (!pixels || pixels.width !== w || pixels.height !== h) {
      canvas.width = w;
      canvas.height = h;
      pixels = new ImageData(w, h);
    }
    return pixels;
  };
  const put = () => canvas.getContext("2d").putImageData(pixels, 0, 0);
  return {
    canvas,
    draw(decoder, z, label) {
      logitsToRGBA(decoder.decode(z, label), decoder.shape[0], frame(decoder.shape).data);
      put();
    },
    showLogits(logits, shape) {
      logitsToRGBA(logits, shape[0], frame(shape).data);
      put();
    },
    showImage(values, shape) {
      valuesToRGBA(values, shape[0], frame(shape).data);
      put();
    },
  };
}
