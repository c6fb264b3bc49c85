// onnxruntime-web behind the runtime: loaded once per tab, one WASM thread, one run at a time per session.
//
// The browser imports it from the app's static files (`spec.runtime`, a URL path where `make` put
// ort.wasm.min.mjs and its .wasm, served by Streamlit); node's tests import the npm package by name.
// Streamlit sends no cross-origin isolation headers, so WASM threads are off: numThreads = 1.
import { base64ToBytes } from "./base64.mjs";

const BROWSER_MODULE = "ort.wasm.min.mjs";

function moduleUrl(runtime) {
  if (!runtime) return "onnxruntime-web";  // node: the package in node_modules
  return new URL(`${runtime.replace(/\/?$/, "/")}${BROWSER_MODULE}`, globalThis.location.origin).href;
}

/** The onnxruntime-web module, imported once per tab (the first caller's `runtime` path wins). */
export function onnxRuntime(runtime) {
  globalThis.__latentExplorerOrt ??= import(moduleUrl(runtime)).then((ort) => {
    ort.env.wasm.numThreads = 1;
    if (runtime) ort.env.wasm.wasmPaths = new URL(runtime.replace(/\/?$/, "/"), globalThis.location.origin).href;
    return ort;
  });
  return globalThis.__latentExplorerOrt;
}

/**
 * An ONNX network of a spec (`onnx`: the file's bytes, base64) as an InferenceSession whose `run(feeds)`
 * resolves to its outputs. Runs are queued, one at a time: a session cannot run twice at once.
 */
export async function loadSession(spec) {
  const ort = await onnxRuntime(spec.runtime);
  const session = await ort.InferenceSession.create(base64ToBytes(spec.onnx), { executionProviders: ["wasm"] });
  let queue = Promise.resolve();
  return {
    ort,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    inputMetadata: session.inputMetadata,  // each input's declared shape: a decoder's z flat or in the latent shape
    run(feeds) {
      const result = queue.then(() => session.run(feeds));
      queue = result.catch(() => {});
      return result;
    },
  };
}

/** The int64 label tensor `y` of one image, clamped into 0 .. classes - 1. */
export function labelTensor(ort, classes, label) {
  const y = Math.max(0, Math.min(Math.max(classes, 1) - 1, label | 0));
  return new ort.Tensor("int64", BigInt64Array.of(BigInt(y)), [1]);
}
