// The layers of vae.export's specs in plain JavaScript, on typed arrays: what the encoder and the decoder run.
//
// Everything is laid out once per model. Activations are kept channels-last (H, W, C); a Linear
// that an Unflatten reshapes gets its rows permuted from PyTorch's (C, H, W) order, and a Linear
// fed by a Flatten its columns, so neither reshape costs anything. Every layer is a bank of kernels
// applied as dot products: a Linear row over the input, a convolution's kernel over the patch of
// input pixels that reach one output pixel. Banks are packed eight kernels interleaved, so one pass
// over the input feeds eight sums held in registers. Sums are taken in float64; each layer owns its
// output buffer, and running the layers allocates nothing.

import { base64ToFloat32 } from "./base64.mjs";

const GROUP = 8;

function weights(layer, expected) {
  const w = base64ToFloat32(layer.weight);
  const b = base64ToFloat32(layer.bias);
  if (w.length !== expected || b.length !== layer.out) {
    throw new Error(`${layer.type}: expected ${expected} weights and ${layer.out} biases, got ${w.length}, ${b.length}`);
  }
  return { w, b };
}

// `co` kernels of length n, kernel o's element i being weightAt(o, i): whole groups of eight
// interleaved element by element, the remaining kernels one after another.
function packKernels(co, n, weightAt) {
  const groups = Math.floor(co / GROUP), packed = new Float32Array(co * n);
  for (let o = 0; o < co; o++) {
    const g = Math.floor(o / GROUP);
    for (let i = 0; i < n; i++) {
      packed[g < groups ? (g * n + i) * GROUP + (o % GROUP) : o * n + i] = weightAt(o, i);
    }
  }
  return { packed, groups, co, n };
}

// y[yb + o] = bias[o] + kernel_o . x[0 .. n) for every kernel of the bank.
function matvec(bank, bias, x, y, yb) {
  const { packed: k, groups, co, n } = bank;
  for (let g = 0; g < groups; g++) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    for (let i = 0, a = g * n * GROUP; i < n; i++, a += GROUP) {
      const v = x[i];
      s0 += k[a] * v; s1 += k[a + 1] * v; s2 += k[a + 2] * v; s3 += k[a + 3] * v;
      s4 += k[a + 4] * v; s5 += k[a + 5] * v; s6 += k[a + 6] * v; s7 += k[a + 7] * v;
    }
    const o = yb + g * GROUP, b = g * GROUP;
    y[o] = bias[b] + s0; y[o + 1] = bias[b + 1] + s1; y[o + 2] = bias[b + 2] + s2; y[o + 3] = bias[b + 3] + s3;
    y[o + 4] = bias[b + 4] + s4; y[o + 5] = bias[b + 5] + s5; y[o + 6] = bias[b + 6] + s6; y[o + 7] = bias[b + 7] + s7;
  }
  for (let o = groups * GROUP; o < co; o++) {
    let s = 0;
    for (let i = 0, a = o * n; i < n; i++, a++) s += k[a] * x[i];
    y[yb + o] = bias[o] + s;
  }
}

// Linear weights stay in PyTorch's (out, in) layout until `pack`, so an Unflatten can permute rows first.
// Fed by a Flatten of (C, H, W) (size.chw), input i is our channels-last element, PyTorch's column c * H * W + p.
function linear(layer, size) {
  if (size.flat !== layer.in) throw new Error(`linear expects ${layer.in} inputs, gets ${JSON.stringify(size)}`);
  const { w, b } = weights(layer, layer.in * layer.out);
  const nin = layer.in, nout = layer.out, y = new Float64Array(nout);
  const column = Int32Array.from({ length: nin }, (_, i) => i);
  if (size.chw) {
    const { c, h, w: width } = size.chw;
    for (let p = 0; p < h * width; p++) for (let ch = 0; ch < c; ch++) column[p * c + ch] = ch * h * width + p;
  }
  let bank = null;
  const op = {
    kind: "linear", w, b,
    pack() {
      bank = packKernels(nout, nin, (o, i) => op.w[o * nin + column[i]]);
    },
    run(x) {
      matvec(bank, op.b, x, y, 0);
      return y;
    },
  };
  return [op, { flat: nout }];
}

const ACTIVATIONS = { relu: (v) => (v < 0 ? 0 : v), silu: (v) => v / (1 + Math.exp(-v)) };

function relu() {
  return {
    kind: "elementwise",
    scalar: ACTIVATIONS.relu,
    run(x) {
      for (let i = 0; i < x.length; i++) if (x[i] < 0) x[i] = 0;
      return x;
    },
  };
}

function silu() {
  return {
    kind: "elementwise",
    scalar: ACTIVATIONS.silu,
    run(x) {
      for (let i = 0; i < x.length; i++) {
        const v = x[i];
        x[i] = v / (1 + Math.exp(-v));
      }
      return x;
    },
  };
}

// Permute the rows of the Linear feeding this Unflatten from (C, H, W) to (H, W, C) order.
function unflatten(layer, size, ops) {
  const [c, h, w] = layer.shape;
  if (size.flat !== c * h * w) throw new Error(`unflatten to ${layer.shape} gets ${JSON.stringify(size)}`);
  let i = ops.length - 1;
  while (i >= 0 && ops[i].kind === "elementwise") i--;
  if (i < 0 || ops[i].kind !== "linear") throw new Error("unflatten must follow a linear layer");
  const lin = ops[i], nin = lin.w.length / lin.b.length;
  const weight = new Float32Array(lin.w.length), bias = new Float32Array(lin.b.length);
  for (let ch = 0; ch < c; ch++) {
    for (let p = 0; p < h * w; p++) {
      const src = ch * h * w + p, dst = p * c + ch;
      bias[dst] = lin.b[src];
      weight.set(lin.w.subarray(src * nin, (src + 1) * nin), dst * nin);
    }
  }
  lin.w = weight;
  lin.b = bias;
  return { c, h, w };
}

// A Flatten moves no data (activations are channels-last already); the Linear after it permutes its columns.
function flatten(size) {
  if (size.c === undefined) throw new Error(`flatten needs an image, gets ${JSON.stringify(size)}`);
  return { flat: size.c * size.h * size.w, chw: size };
}

// Copy input pixel (iy, ix)'s channels into the patch at p0, or zeros when it lies off the edge.
function gather(x, h, w, ci, iy, ix, patch, p0) {
  if (iy < 0 || iy >= h || ix < 0 || ix >= w) patch.fill(0, p0, p0 + ci);
  else for (let c = 0, xb = (iy * w + ix) * ci; c < ci; c++) patch[p0 + c] = x[xb + c];
}

// ConvTranspose2d(kernel 4, stride 2, padding 1): output row oy = 2 iy - 1 + ky, so an even row 2m
// takes kernel rows 1, 3 from input rows m, m - 1 and an odd row 2m + 1 kernel rows 0, 2 from input
// rows m + 1, m; likewise for columns. Each of the four output parities has its own 2 x 2 sub-kernel.
const TAP_KERNEL = [[1, 3], [0, 2]];
const TAP_OFFSET = [[0, -1], [1, 0]];

function convTranspose2d(layer, size) {
  if (layer.kernel !== 4 || layer.stride !== 2 || layer.padding !== 1) throw new Error("conv_transpose2d must be k4 s2 p1");
  if (size.c !== layer.in) throw new Error(`conv_transpose2d expects ${layer.in} channels, gets ${JSON.stringify(size)}`);
  const ci = layer.in, co = layer.out, h = size.h, w = size.w, H = 2 * h, W = 2 * w, n = 4 * ci;
  const { w: raw, b } = weights(layer, ci * co * 16);  // PyTorch layout (ci, co, 4, 4)
  const banks = [];  // by parity py * 2 + px; patch element i = ((a * 2 + bb) * ci + c)
  for (let py = 0; py < 2; py++) {
    for (let px = 0; px < 2; px++) {
      banks.push(packKernels(co, n, (o, i) => {
        const c = i % ci, tap = (i - c) / ci, ky = TAP_KERNEL[py][tap >> 1], kx = TAP_KERNEL[px][tap & 1];
        return raw[((c * co + o) * 4 + ky) * 4 + kx];
      }));
    }
  }
  const patch = new Float64Array(n), y = new Float64Array(H * W * co);
  const op = {
    kind: "conv",
    run(x) {
      for (let oy = 0; oy < H; oy++) {
        const py = oy & 1, m = oy >> 1;
        for (let ox = 0; ox < W; ox++) {
          const px = ox & 1, q = ox >> 1;
          gather(x, h, w, ci, m + TAP_OFFSET[py][0], q + TAP_OFFSET[px][0], patch, 0);
          gather(x, h, w, ci, m + TAP_OFFSET[py][0], q + TAP_OFFSET[px][1], patch, ci);
          gather(x, h, w, ci, m + TAP_OFFSET[py][1], q + TAP_OFFSET[px][0], patch, 2 * ci);
          gather(x, h, w, ci, m + TAP_OFFSET[py][1], q + TAP_OFFSET[px][1], patch, 3 * ci);
          matvec(banks[py * 2 + px], b, patch, y, (oy * W + ox) * co);
        }
      }
      return y;
    },
  };
  return [op, { c: co, h: H, w: W }];
}

// Conv2d, kernel 3 stride 1 padding 1 (the decoder's last layer) or kernel 4 stride 2 padding 1 (the
// encoder's downsampling): output pixel (oy, ox) sees input rows s oy - p + ky, columns s ox - p + kx,
// and its patch element i = ((ky * k + kx) * ci + c).
//
// An incremental conv2d remembers each output pixel's patch and recomputes only the pixels whose
// patch changed since the last run: a drawing changes a few places per stroke update, so most of
// the encoder's work would repeat the last frame's. Its activation (`op.activation`, fused by
// buildLayers) is applied to the recomputed pixels only, so the kept ones are not activated twice.
const CONV_SHAPES = ["3,1,1", "4,2,1"];

// Whether patch equals the remembered one at store[base ..], which then holds patch either way.
function rememberPatch(store, base, patch, n) {
  let same = true;
  for (let i = 0; i < n; i++) {
    if (store[base + i] !== patch[i]) {
      same = false;
      store[base + i] = patch[i];
    }
  }
  return same;
}

function conv2d(layer, size, incremental) {
  const k = layer.kernel, s = layer.stride, p = layer.padding;
  if (!CONV_SHAPES.includes(`${k},${s},${p}`)) throw new Error("conv2d must be k3 s1 p1 or k4 s2 p1");
  if (size.c !== layer.in) throw new Error(`conv2d expects ${layer.in} channels, gets ${JSON.stringify(size)}`);
  const ci = layer.in, co = layer.out, h = size.h, w = size.w, taps = k * k, n = taps * ci;
  const H = Math.floor((h + 2 * p - k) / s) + 1, W = Math.floor((w + 2 * p - k) / s) + 1;
  const { w: raw, b } = weights(layer, ci * co * taps);  // PyTorch layout (co, ci, k, k)
  const bank = packKernels(co, n, (o, i) => {
    const c = i % ci, tap = (i - c) / ci;
    return raw[(o * ci + c) * taps + tap];
  });
  const patch = new Float64Array(n), y = new Float64Array(H * W * co);
  const remembered = incremental ? new Float64Array(H * W * n).fill(NaN) : null;
  const op = {
    kind: "conv",
    activation: null,
    run(x) {
      const activation = op.activation;
      for (let oy = 0; oy < H; oy++) {
        for (let ox = 0; ox < W; ox++) {
          for (let t = 0; t < taps; t++) {
            gather(x, h, w, ci, s * oy - p + ((t / k) | 0), s * ox - p + (t % k), patch, t * ci);
          }
          const at = oy * W + ox;
          if (remembered && rememberPatch(remembered, at * n, patch, n)) continue;
          matvec(bank, b, patch, y, at * co);
          if (activation) for (let o = at * co; o < (at + 1) * co; o++) y[o] = activation(y[o]);
        }
      }
      return y;
    },
  };
  return [op, { c: co, h: H, w: W }];
}

/**
 * Lay out a list of spec layers for an input of `size` ({flat: n} or {c, h, w}, plus `chw` when a
 * Flatten made it). Returns { ops, size }: run them with runLayers. With `incremental`, conv2d layers
 * recompute only the output pixels whose input changed since the last run (see conv2d), their
 * activations fused into them. Throws on a layer it has no code for.
 */
export function buildLayers(layers, size, { incremental = false } = {}) {
  const ops = [];
  for (const layer of layers) {
    let op = null;
    if (layer.type === "linear") [op, size] = linear(layer, size);
    else if (layer.type === "relu") op = relu();
    else if (layer.type === "silu") op = silu();
    else if (layer.type === "unflatten") size = unflatten(layer, size, ops);
    else if (layer.type === "flatten") size = flatten(size);
    else if (layer.type === "conv_transpose2d") [op, size] = convTranspose2d(layer, size);
    else if (layer.type === "conv2d") [op, size] = conv2d(layer, size, incremental);
    else throw new Error(`the model runtime has no ${layer.type} layer`);
    const last = ops[ops.length - 1];
    if (op && op.scalar && incremental && last && last.kind === "conv" && !last.activation) last.activation = op.scalar;
    else if (op) ops.push(op);
  }
  for (const op of ops) if (op.pack) op.pack();
  return { ops, size };
}

/** Run laid-out layers on x; the result is the last layer's own buffer (x itself when there are none). */
export function runLayers(ops, x) {
  for (const op of ops) x = op.run(x);
  return x;
}

/** Write the one-hot of `label` (clamped into 0 .. classes - 1) into input[from .. from + classes). */
export function oneHot(input, from, classes, label) {
  input.fill(0, from, from + classes);
  input[from + Math.max(0, Math.min(classes - 1, label | 0))] = 1;
}
