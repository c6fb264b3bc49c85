// The VAE decoder in the browser: the layer list of vae.export.decoder_spec, run by layers.mjs.
import { buildLayers, oneHot, runLayers } from "./layers.mjs";

/**
 * Build a decoder from a spec. Returns { id, latentDim, numClasses, shape: [C, H, W], decode(z, label) },
 * where decode returns the Bernoulli logits channels-last (H, W, C) in a buffer reused by the next call.
 * Throws on a layer or shape it cannot run, so the caller can fall back to the server.
 */
export function loadDecoder(spec) {
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
      return runLayers(ops, input);
    },
  };
}
