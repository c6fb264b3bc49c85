// Images on canvases at the model's resolution, scaled up by CSS without smoothing.
import { el } from "./view.mjs";

/** Write a channels-last image in [0, 1] as RGBA pixels, 0..255 (greyscale when there is one channel). */
export function valuesToRGBA(values, channels, rgba) {
  const n = rgba.length >> 2;
  for (let p = 0; p < n; p++) {
    const q = p * 4;
    if (channels === 1) {
      rgba[q] = rgba[q + 1] = rgba[q + 2] = Math.round(255 * values[p]);
    } else {
      for (let c = 0; c < 3; c++) rgba[q + c] = Math.round(255 * values[p * 3 + c]);
    }
    rgba[q + 3] = 255;
  }
  return rgba;
}

/**
 * A canvas showing one image: decoded from a code (`draw`, asynchronous: it resolves to whether it
 * drew, false when a later draw started meanwhile, so the latest code wins), or an image in [0, 1].
 */
export function imageCanvas(parent, size, className = "led-image") {
  const canvas = el("canvas", className, parent);
  canvas.style.width = canvas.style.height = `${size}px`;
  let pixels = null, latest = 0;
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
    async draw(decoder, z, label) {
      const ticket = ++latest, { image } = await decoder.decode(z, label);
      if (ticket !== latest) return false;
      valuesToRGBA(image, decoder.shape[0], frame(decoder.shape).data);
      put();
      return true;
    },
    showImage(values, shape) {
      latest++;  // a decode still on its way is older than this image
      valuesToRGBA(values, shape[0], frame(shape).data);
      put();
    },
  };
}
