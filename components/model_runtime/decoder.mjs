// The decoder in the browser: an ONNX network (vae.store.export.network_specs) run by onnxruntime-web.
import { labelTensor, loadSession } from "./onnx.mjs";

const clampUnit = (v) => (v < 0 ? 0 : v > 1 ? 1 : v);

/** The pixel value in [0, 1] of one output value, by the output's declared kind and the model's range. */
function toUnit(kind, [lo, hi]) {
  if (kind === "logits") return (v) => 1 / (1 + Math.exp(-v));
  if (kind === "probs") return clampUnit;
  if (kind === "mean") return (v) => clampUnit((v - lo) / (hi - lo));
  throw new Error(`unknown decoder output kind ${kind}`);
}

/** The number of values in a shape. */
export function count(shape) {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Build a decoder from a spec. Resolves to { id, latentDim, numClasses, shape: [C, H, W], output,
 * decode(z, label) }: decode resolves to { image, logits }, both channels-last (H, W, C), the image in
 * [0, 1] (a sigmoid of logits, probabilities or a mean clamped), the logits null unless the network
 * gives logits. z is flat (a spatial latent (C, h, w) flattened). Rejects a network it cannot run.
 */
export async function loadDecoder(spec) {
  const session = await loadSession(spec), ort = session.ort;
  const [c, h, w] = spec.image_shape, latentShape = spec.latent_shape, latentDim = count(latentShape);
  const numClasses = spec.num_classes || 0, zName = session.inputNames.find((n) => n !== "y");
  if (spec.conditional !== session.inputNames.includes("y")) {
    throw new Error(`the decoder's inputs are ${session.inputNames.join(", ")}; conditional is ${spec.conditional}`);
  }
  const unit = toUnit(spec.output, spec.input_range ?? [0, 1]), pixels = c * h * w;
  // z goes in as the network declares it: flat (1, D), as ours are exported, or in the latent shape (1, C, h, w)
  const zMeta = (session.inputMetadata ?? []).find((m) => m.name === zName);
  const zDims = zMeta?.isTensor && zMeta.shape.length === 2 ? [1, latentDim] : [1, ...latentShape];
  return {
    id: spec.id,
    latentDim,
    numClasses,
    shape: [c, h, w],
    output: spec.output,
    async decode(z, label = 0) {
      if (z.length !== latentDim) throw new Error(`the decoder takes ${latentDim} values, got ${z.length}`);
      const feeds = { [zName]: new ort.Tensor("float32", Float32Array.from(z), zDims) };
      if (spec.conditional) feeds.y = labelTensor(ort, numClasses, label);
      const out = (await session.run(feeds))[session.outputNames[0]].data;
      if (out.length !== pixels) throw new Error(`the decoder gave ${out.length} values, not an image of ${pixels}`);
      const image = new Float32Array(pixels), logits = spec.output === "logits" ? new Float32Array(pixels) : null;
      for (let ch = 0; ch < c; ch++) {
        for (let p = 0; p < h * w; p++) {
          const v = out[ch * h * w + p];
          image[p * c + ch] = unit(v);
          if (logits) logits[p * c + ch] = v;
        }
      }
      return { image, logits };
    },
  };
}
