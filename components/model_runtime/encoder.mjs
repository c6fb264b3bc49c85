// The VAE encoder in the browser: vae.export.encoder_spec's trunk, the one-hot class, then its head.
import { buildLayers, oneHot, runLayers } from "./layers.mjs";

/**
 * Build an encoder from a spec. Returns { id, latentDim, numClasses, shape: [C, H, W], encode(x, label) }:
 * x is an image channels-last (H, W, C) in [0, 1], and encode returns { mu, logvar } of q(z|x), two
 * buffers of latentDim reused by the next call. Throws on a layer or shape it cannot run.
 */
export function loadEncoder(spec) {
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
      return { mu, logvar };
    },
  };
}
