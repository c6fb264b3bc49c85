// Binary data as the specs carry it: base64 text, numbers as little-endian float32.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function base64ToBytes(b64) {
  const bin = atob(b64), bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

export function base64ToFloat32(b64) {
  if (!LITTLE_ENDIAN) throw new Error("the model runtime needs a little-endian platform");
  return new Float32Array(base64ToBytes(b64).buffer);
}
