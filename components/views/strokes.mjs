// The pad's drawing as strokes, and how they are painted and written down (ui/live/pad.py reads the same).
//
// A stroke is a brush size and a list of points, both in pixels of the pad's square raster (at most
// 256 on a side), so a stroke is bytes: its size, its point count (two bytes, big-endian), then x, y
// per point. The drawing is its strokes' bytes in base64url, short enough for a link. Painting is
// the same live and on replay: a dot at the first point, then each segment stroked with round caps.

export const MAX_SIDE = 256;
export const MAX_POINTS = 65535;

/** Strokes [{size, points: [x0, y0, x1, y1, ...]}] as base64url. */
export function encodeStrokes(strokes) {
  const bytes = [];
  for (const { size, points } of strokes) {
    const count = points.length / 2;
    bytes.push(size, count >> 8, count & 255, ...points);
  }
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** encodeStrokes read back; throws on text that is not a list of strokes. */
export function decodeStrokes(text) {
  const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0)), strokes = [];
  for (let i = 0; i < bytes.length;) {
    if (i + 3 > bytes.length) throw new Error("a stroke is cut short");
    const size = bytes[i], count = (bytes[i + 1] << 8) | bytes[i + 2];
    if (size < 1 || count < 1 || i + 3 + 2 * count > bytes.length) throw new Error("a stroke is malformed");
    strokes.push({ size, points: Array.from(bytes.subarray(i + 3, i + 3 + 2 * count)) });
    i += 3 + 2 * count;
  }
  return strokes;
}

/** Paint point n of a stroke, in `ink`: the first as a dot, every other as the segment that reaches it. */
export function paintPoint(ctx, stroke, n, ink) {
  const p = stroke.points;
  ctx.fillStyle = ctx.strokeStyle = ink;
  ctx.beginPath();
  if (n === 0) {
    ctx.arc(p[0], p[1], stroke.size / 2, 0, 2 * Math.PI);
    ctx.fill();
    return;
  }
  ctx.lineWidth = stroke.size;
  ctx.lineCap = "round";
  ctx.moveTo(p[2 * n - 2], p[2 * n - 1]);
  ctx.lineTo(p[2 * n], p[2 * n + 1]);
  ctx.stroke();
}

/** Paint a whole drawing on paper, point by point, exactly as it was painted live. */
export function paintStrokes(ctx, strokes, side, ink, paper) {
  ctx.fillStyle = paper;
  ctx.fillRect(0, 0, side, side);
  for (const stroke of strokes) for (let n = 0; n < stroke.points.length / 2; n++) paintPoint(ctx, stroke, n, ink);
}
