// The encoder in the browser: an ONNX network (vae.store.export.network_specs) run by onnxruntime-web.
import { count } from "./decoder.mjs";
import { labelTensor, loadSession } from "./onnx.mjs";

/**
 * Build an encoder from a spec. Resolves to { id, latentDim, numClasses, shape: [C, H, W], encode(x, label) }:
 * x is an image channels-last (H, W, C) in [0, 1] (scaled here to the range the model expects), and
 * encode resolves to { mu, logvar } of q(z|x), flat; a deterministic encoder's code is mu, with logvar
 * null. Rejects a network it cannot run.
 */
export async function loadEncoder(spec) {
  const session = await loadSession(spec), ort = session.ort, outputs = session.outputNames;
  const [c, h, w] = spec.image_shape, latentDim = count(spec.latent_shape), numClasses = spec.num_classes || 0;
  const [lo, hi] = spec.input_range ?? [0, 1], xName = session.inputNames.find((n) => n !== "y");
  if (spec.conditional !== session.inputNames.includes("y")) {
    throw new Error(`the encoder's inputs are ${session.inputNames.join(", ")}; conditional is ${spec.conditional}`);
  }
  const [muName, logvarName] = outputs.includes("mu") ? ["mu", outputs.includes("logvar") ? "logvar" : null]
    : outputs.includes("z") ? ["z", null] : [outputs[0], outputs[1] ?? null];
  return {
    id: spec.id,
    latentDim,
    numClasses,
    shape: [c, h, w],
    async encode(x, label = 0) {
      if (x.length !== c * h * w) throw new Error(`the encoder takes ${c * h * w} values, got ${x.length}`);
      const planar = new Float32Array(x.length);
      for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * w; p++) planar[ch * h * w + p] = lo + (hi - lo) * x[p * c + ch];
      const feeds = { [xName]: new ort.Tensor("float32", planar, [1, c, h, w]) };
      if (spec.conditional) feeds.y = labelTensor(ort, numClasses, label);
      const out = await session.run(feeds), mu = out[muName].data, logvar = logvarName ? out[logvarName].data : null;
      if (mu.length !== latentDim) throw new Error(`the encoder gave a code of ${mu.length} values, not ${latentDim}`);
      return { mu: Float32Array.from(mu), logvar: logvar && Float32Array.from(logvar) };
    },
  };
}
