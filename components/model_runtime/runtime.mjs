// The model runtime component (ui/live/runtime.py mounts it beside every view): it turns the specs it
// is given into a decoder (onnxruntime-web), an encoder, an encoder, a map, a list of values or a picture, and registers each by
// its id for the views. Its data never changes for a model, so Streamlit sends it once per page.
import { loadDecoder } from "./decoder.mjs";
import { loadEncoder } from "./encoder.mjs";
import { loadMap } from "./latent_map.mjs";
import { base64ToFloat32 } from "./base64.mjs";
import { provide } from "./registry.mjs";

function loadValues(spec) {
  const values = base64ToFloat32(spec.values);
  if (values.length !== spec.n) throw new Error(`a list of ${spec.n} values holds ${values.length}`);
  return values;
}

function loadPicture(spec) {
  const image = new Image();
  image.src = spec.url;
  return image.decode().then(() => image, () => { throw new Error("the background picture cannot be decoded"); });
}

const LOADERS = {
  "latent-explorer-onnx-decoder/1": loadDecoder,
  "latent-explorer-onnx-encoder/1": loadEncoder,
  "latent-explorer-map/1": loadMap,
  "latent-explorer-values/1": loadValues,
  "latent-explorer-picture/1": loadPicture,
};

export default function modelRuntime({ data }) {
  for (const spec of data.specs) {
    const load = LOADERS[spec.format];
    provide(spec.id, () => {
      if (!load) throw new Error(`unknown spec format ${spec.format}`);
      return load(spec);
    });
  }
}
