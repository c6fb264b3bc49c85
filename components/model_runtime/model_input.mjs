// A picture to the model's input the way vae.datasets.uploads.prepare_upload turns an upload into one.
//
// The picture is RGBA bytes, as a canvas gives them; the result equals prepare_upload's for the same
// pixels saved as an RGBA PNG: transparent parts filled against the content, ITU-R 601 grey for a
// greyscale model, inverted when its background is the opposite of the training data's, then
// letterboxed ("pad") or cropped to the ink, fitted into 20/28 of the frame and centred by mass like
// MNIST ("digit"). Scaling is Pillow's Lanczos filter on 32-bit float images, reproduced here with
// its coefficients, its bounds and its two passes (horizontal first, each stored as float32); values
// are float32 where NumPy keeps them in float32, and rounding is Python's (half to even).
// prepare_upload first shrinks pictures larger than 8x the model's size; that step is not reproduced,
// so larger pictures are refused (the drawing pad is never larger).

const WORKING_SCALE = 8;
const DIGIT_BOX = 20 / 28;
const f32 = Math.fround;
const CONTENT_THRESHOLD = f32(0.2);
const LUMA = [f32(0.299), f32(0.587), f32(0.114)];
// Per byte value b: f32(b / 255), and its three weighted shares of ITU-R 601 grey, f32(f32(b / 255) * LUMA[c]).
const UNIT = Float32Array.from({ length: 256 }, (_, b) => b / 255);
const SHARES = LUMA.map((weight) => UNIT.map((v) => v * weight));

/** Python's round(): to the nearest integer, halves to the even one. */
export function roundHalfEven(v) {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function lanczos(x) {
  if (!(-3 <= x && x < 3)) return 0;
  const sinc = (t) => (t === 0 ? 1 : Math.sin(t * Math.PI) / (t * Math.PI));
  return sinc(x) * sinc(x / 3);
}

// Pillow's precompute_coeffs: for each output pixel, the first input pixel it reads, how many, and their weights.
function coefficients(inSize, outSize) {
  const scale = inSize / outSize, filterscale = Math.max(1, scale), support = 3 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1, kk = new Float64Array(outSize * ksize), bounds = new Int32Array(2 * outSize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale, ss = 1 / filterscale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) ww += (kk[xx * ksize + x] = lanczos((x + xmin - center + 0.5) * ss));
    if (ww !== 0) for (let x = 0; x < xmax; x++) kk[xx * ksize + x] /= ww;
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = xmax;
  }
  return { kk, bounds, ksize };
}

// One pass along rows (step 1) or columns (step = row length) of a float32 image.
function resamplePass(src, lines, lineStep, step, outSize, inSize, outLineStep, outStep) {
  const { kk, bounds, ksize } = coefficients(inSize, outSize), out = new Float32Array(lines * outSize);
  for (let line = 0; line < lines; line++) {
    for (let o = 0; o < outSize; o++) {
      const count = bounds[2 * o + 1], k = o * ksize;
      let ss = 0;
      for (let t = 0, i = line * lineStep + bounds[2 * o] * step; t < count; t++, i += step) ss += src[i] * kk[k + t];
      out[line * outLineStep + o * outStep] = ss;
    }
  }
  return out;
}

/** Image.resize(LANCZOS) of a float32 image ("F" mode) of w x h, row-major, to ow x oh. */
export function resizeLanczos(src, w, h, ow, oh) {
  let image = src, width = w;
  if (ow !== w) {
    image = resamplePass(image, h, w, 1, ow, w, ow, 1);
    width = ow;
  }
  if (oh !== h) image = resamplePass(image, width, 1, width, oh, h, 1, width);
  return image === src ? Float32Array.from(src) : image;  // always a new image
}

// vae.datasets.uploads.border_level of the channel mean: the median of the outermost pixels (corners counted
// twice, as NumPy does). Only the border's pixels are averaged.
function borderLevel(values, w, h, c) {
  const mean = (p) => (c === 1 ? values[p] : rgbMeanAt(values, p));
  const edge = new Float32Array(2 * (w + h));
  let i = 0;
  for (let x = 0; x < w; x++) {
    edge[i++] = mean(x);
    edge[i++] = mean((h - 1) * w + x);
  }
  for (let y = 0; y < h; y++) {
    edge[i++] = mean(y * w);
    edge[i++] = mean(y * w + w - 1);
  }
  edge.sort();
  const mid = edge.length >> 1;
  return f32(f32(edge[mid - 1] + edge[mid]) / 2);  // an even count
}

// The mean of pixel p's three channels, as NumPy's float32 mean sums them.
function rgbMeanAt(values, p) {
  return f32(f32(f32(values[3 * p] + values[3 * p + 1]) + values[3 * p + 2]) / 3);
}

// The mean of three channels, pixel by pixel.
function rgbMean(values, n) {
  const grey = new Float32Array(n);
  for (let p = 0; p < n; p++) grey[p] = rgbMeanAt(values, p);
  return grey;
}

// Floats in [0, 1] of the RGBA bytes: colour (n x 3) with transparent pixels filled (vae.datasets.uploads.composite).
function opaqueColour(rgba, n) {
  const colour = new Float32Array(3 * n), alpha = new Float32Array(n);
  let opaque = true;
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) colour[3 * p + c] = UNIT[rgba[4 * p + c]];
    alpha[p] = UNIT[rgba[4 * p + 3]];
    if (alpha[p] < 1) opaque = false;
  }
  if (opaque) return colour;
  const luminance = rgbMean(colour, n);
  let weight = 0, content = 0;
  for (let p = 0; p < n; p++) {
    weight += alpha[p];
    content += f32(luminance[p] * alpha[p]);
  }
  const background = (weight > 0 ? content / weight : 0) < 0.5 ? 1 : 0;
  for (let p = 0; p < n; p++) {
    const fill = f32(background * f32(1 - alpha[p]));
    for (let c = 0; c < 3; c++) colour[3 * p + c] = f32(f32(colour[3 * p + c] * alpha[p]) + fill);
  }
  return colour;
}

function toChannels(colour, n, channels) {
  if (channels === 3) return colour;
  const grey = new Float32Array(n);
  for (let p = 0; p < n; p++) {
    grey[p] = f32(f32(f32(colour[3 * p] * LUMA[0]) + f32(colour[3 * p + 1] * LUMA[1])) + f32(colour[3 * p + 2] * LUMA[2]));
  }
  return grey;
}

// The grey of opaque RGBA bytes, as toChannels(opaqueColour(...), n, 1) gives it, in one pass; null if any
// pixel is transparent. (The drawing pad's case, on every stroke update.)
function greyOfOpaque(rgba, n) {
  const grey = new Float32Array(n), [r, g, b] = SHARES;
  for (let p = 0, i = 0; p < n; p++, i += 4) {
    if (rgba[i + 3] !== 255) return null;
    grey[p] = f32(f32(r[rgba[i]] + g[rgba[i + 1]]) + b[rgba[i + 2]]);
  }
  return grey;
}

// vae.datasets.uploads.crop_to_content: the box of pixels differing from the background by more than 0.2.
function cropToContent(values, w, h, c, background) {
  let top = h, bottom = -1, left = w, right = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let far = 0;
      for (let ch = 0; ch < c; ch++) far = Math.max(far, Math.abs(f32(values[(y * w + x) * c + ch] - background)));
      if (far > CONTENT_THRESHOLD) {
        top = Math.min(top, y); bottom = Math.max(bottom, y); left = Math.min(left, x); right = Math.max(right, x);
      }
    }
  }
  if (bottom < 0) return { values, w, h };
  const cw = right - left + 1, chh = bottom - top + 1, out = new Float32Array(cw * chh * c);
  for (let y = 0; y < chh; y++) out.set(values.subarray(((top + y) * w + left) * c, ((top + y) * w + right + 1) * c), y * cw * c);
  return { values: out, w: cw, h: chh };
}

// vae.datasets.uploads.fit_to: into the model's frame, letterboxed or (digit) cropped, boxed and centred by mass.
function fitTo(values, w, h, c, [height, width], fit, background) {
  let box = [width, height];
  if (fit === "digit") {
    ({ values, w, h } = cropToContent(values, w, h, c, background));
    box = [Math.max(1, roundHalfEven(width * DIGIT_BOX)), Math.max(1, roundHalfEven(height * DIGIT_BOX))];
  }
  const scale = Math.min(box[0] / w, box[1] / h);
  const iw = Math.max(1, roundHalfEven(w * scale)), ih = Math.max(1, roundHalfEven(h * scale));
  const resized = new Float32Array(iw * ih * c);
  for (let ch = 0; ch < c; ch++) {
    let plane = values;
    if (c > 1) {
      plane = new Float32Array(w * h);
      for (let p = 0; p < w * h; p++) plane[p] = values[p * c + ch];
    }
    const scaled = resizeLanczos(plane, w, h, iw, ih);
    for (let p = 0; p < iw * ih; p++) resized[p * c + ch] = Math.min(1, Math.max(0, scaled[p]));
  }
  let top = (height - ih) >> 1, left = (width - iw) >> 1;
  if (fit === "digit") {
    let mass = 0, rows = 0, cols = 0;
    for (let y = 0; y < ih; y++) {
      for (let x = 0; x < iw; x++) {
        let m = 0;
        for (let ch = 0; ch < c; ch++) m = f32(m + Math.abs(f32(resized[(y * iw + x) * c + ch] - background)));
        mass += m;
        rows += y * m;
        cols += x * m;
      }
    }
    if (mass > 0) {
      top = Math.min(height - ih, Math.max(0, roundHalfEven(height / 2 - rows / mass)));
      left = Math.min(width - iw, Math.max(0, roundHalfEven(width / 2 - cols / mass)));
    }
  }
  const canvas = new Float32Array(height * width * c).fill(background);
  for (let y = 0; y < ih; y++) canvas.set(resized.subarray(y * iw * c, (y + 1) * iw * c), ((top + y) * width + left) * c);
  return canvas;
}

/**
 * The model input for a picture of RGBA bytes (width x height): a Float32Array channels-last (H, W, C)
 * in [0, 1]. Options as prepare_upload's: channels (1 or 3), size [H, W], darkBackground (the training
 * images are light on dark), invert ("auto", "always", "never"), fit ("pad", "digit").
 */
export function prepareInput(rgba, width, height, { channels, size, darkBackground = true, invert = "auto", fit = "pad" }) {
  if (width > size[1] * WORKING_SCALE || height > size[0] * WORKING_SCALE) {
    throw new Error(`a ${width}x${height} picture is larger than ${WORKING_SCALE}x the model's ${size[1]}x${size[0]}`);
  }
  const n = width * height;
  let colour = (channels === 1 && greyOfOpaque(rgba, n)) || toChannels(opaqueColour(rgba, n), n, channels);
  const lightBackground = borderLevel(colour, width, height, channels) > 0.5;
  if (invert === "always" || (invert === "auto" && lightBackground === darkBackground)) {
    for (let i = 0; i < colour.length; i++) colour[i] = 1 - colour[i];  // a Float32Array stores f32(1 - v)
  }
  const background = borderLevel(colour, width, height, channels);
  return fitTo(colour, width, height, channels, size, fit, background);
}
