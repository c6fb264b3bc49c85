// The hand-written engine (layers.mjs), kept only until bench/live_decode.py has compared it with
// onnxruntime-web in one run: vae.export's layer lists, decoded and encoded in plain JavaScript, with the
// same asynchronous interface as decoder.mjs and encoder.mjs (an image in [0, 1] and the logits).
import { buildLayers, oneHot, runLayers } from "./layers.mjs";

/**
 * Build a decoder from a spec. Returns { id, latentDim, numClasses, shape: [C, H, W], decode(z, label) },
 * where decode returns the Bernoulli logits channels-last (H, W, C) in a buffer reused by the next call.
 * Throws on a layer or shape it cannot run, so the caller can fall back to the server.
 */
export function loadHandwrittenDecoder(spec) {
  if (spec.format !== "latent-explorer-decoder/1") throw new Error(`unknown decoder format ${spec.format}`);
  const latentDim = spec.latent_dim, numClasses = spec.num_classes || 0;
  const input = new Float64Array(latentDim + numClasses);
  const { ops, size } = buildLayers(spec.layers, { flat: input.length });
  const [c, h, w] = spec.image_shape;
  if (size.c !== c || size.h !== h || size.w !== w) {
    throw new Error(`decoder ends in ${JSON.stringify(size)}, not the image shape ${spec.image_shape}`);
  }
  return {
    id: spec.id,
    latentDim,
    numClasses,
    shape: [c, h, w],
    decode(z, label = 0) {
      for (let i = 0; i < latentDim; i++) input[i] = z[i];
      if (numClasses > 0) oneHot(input, latentDim, numClasses, label);
      const out = runLayers(ops, input), logits = Float32Array.from(out);
      return Promise.resolve({ image: logits.map((l) => 1 / (1 + Math.exp(-l))), logits });
    },
  };
}


/**
 * Build an encoder from a spec. Returns { id, latentDim, numClasses, shape: [C, H, W], encode(x, label) }:
 * x is an image channels-last (H, W, C) in [0, 1], and encode returns { mu, logvar } of q(z|x), two
 * buffers of latentDim reused by the next call. Throws on a layer or shape it cannot run.
 */
export function loadHandwrittenEncoder(spec) {
  if (spec.format !== "latent-explorer-encoder/1") throw new Error(`unknown encoder format ${spec.format}`);
  const latentDim = spec.latent_dim, numClasses = spec.num_classes || 0;
  const [c, h, w] = spec.image_shape;
  const trunk = buildLayers(spec.trunk, { c, h, w }, { incremental: true });  // a drawing changes in places
  if (trunk.size.flat === undefined) throw new Error("the encoder's trunk must end flat");
  const features = trunk.size.flat, input = new Float64Array(features + numClasses);
  const head = buildLayers(spec.head, { ...trunk.size, flat: input.length });
  if (head.size.flat !== 2 * latentDim) throw new Error(`the encoder's head gives ${JSON.stringify(head.size)}`);
  const mu = new Float64Array(latentDim), logvar = new Float64Array(latentDim);
  return {
    id: spec.id,
    latentDim,
    numClasses,
    shape: [c, h, w],
    encode(x, label = 0) {
      if (x.length !== c * h * w) throw new Error(`the encoder takes ${c * h * w} values, got ${x.length}`);
      input.set(runLayers(trunk.ops, x).subarray(0, features));
      if (numClasses > 0) oneHot(input, features, numClasses, label);
      const out = runLayers(head.ops, input);
      for (let j = 0; j < latentDim; j++) {
        mu[j] = out[j];
        logvar[j] = out[latentDim + j];
      }
      return Promise.resolve({ mu: Float64Array.from(mu), logvar: Float64Array.from(logvar) });
    },
  };
}
