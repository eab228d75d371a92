/**
 * IEEE 754 binary16 ("float16", 1 sign, 5 exponent, 10 fraction bits) and bfloat16 (1, 8, 7: the top
 * half of a float32) stored as 16-bit patterns, converted to and from float32. Decoding is exact (every
 * float16 and bfloat16 value is a float32); encoding rounds to nearest, ties to even, as hardware does.
 * The model always computes in float32: these only shrink a checkpoint on disk.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float32 whose bits are `bits`. */
function fromBits(bits: number): number {
  u32[0] = bits;
  return f32[0];
}

/** The bits of `x` rounded to float32. */
function bitsOf(x: number): number {
  f32[0] = x;
  return u32[0];
}

/** The value of the float16 bit pattern `h` (0..0xffff): subnormals, ±0, ±inf and NaN included. */
export function float16ToFloat32(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >>> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return (sign ? -1 : 1) * fraction * 2 ** -24; // ±0 and the subnormals, exact in float32
  if (exponent === 0x1f) return fromBits(sign | 0x7f800000 | (fraction << 13)); // ±inf, or NaN keeping its payload
  return fromBits(sign | ((exponent - 15 + 127) << 23) | (fraction << 13));
}

/** The value of the bfloat16 bit pattern `b`: the float32 whose top 16 bits these are. */
export function bfloat16ToFloat32(b: number): number {
  return fromBits((b & 0xffff) << 16);
}

/**
 * The float16 nearest to `x` (rounded to float32 first), ties to even. Finite values of magnitude 65520
 * or more become ±inf (the caller checks for that); below 2^-25 they become ±0.
 */
export function float32ToFloat16(x: number): number {
  const bits = bitsOf(x);
  const sign = (bits >>> 16) & 0x8000;
  const magnitude = bits & 0x7fffffff;
  if (magnitude > 0x7f800000) return sign | 0x7e00 | ((magnitude >>> 13) & 0x3ff); // NaN stays NaN (quiet)
  if (magnitude >= 0x477ff000) return sign | 0x7c00; // ±inf, and every finite value that rounds past 65504
  if (magnitude < 0x38800000) { // below 2^-14, the smallest normal float16: a multiple of 2^-24
    const scaled = Math.abs(fromBits(magnitude)) * 2 ** 24; // exact in double
    let q = Math.floor(scaled);
    const rest = scaled - q;
    if (rest > 0.5 || (rest === 0.5 && (q & 1) === 1)) q++;
    return sign | q; // q = 0x400 is the smallest normal's pattern, as it should be
  }
  // normal: drop 13 fraction bits and rebias the exponent; a carry out of the fraction moves the exponent up
  let h = (magnitude >>> 13) - ((127 - 15) << 10);
  const dropped = magnitude & 0x1fff;
  if (dropped > 0x1000 || (dropped === 0x1000 && (h & 1) === 1)) h++;
  return sign | h;
}

/** The bfloat16 nearest to `x` (rounded to float32 first), ties to even; past ±3.39e38 it becomes ±inf. */
export function float32ToBfloat16(x: number): number {
  const bits = bitsOf(x);
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x0040) & 0xffff; // NaN stays NaN (quiet)
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

let float16Table: Float32Array | null = null;

/** All 65,536 float16 values, built once: decoding a tensor is then one lookup per element. */
function float16Values(): Float32Array {
  if (float16Table === null) {
    float16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) float16Table[h] = float16ToFloat32(h);
  }
  return float16Table;
}

/** Decodes 16-bit patterns into `out` (same length) as float32: float16 or bfloat16. */
export function decodeHalves(halves: Uint16Array, out: Float32Array, format: 'F16' | 'BF16'): void {
  if (format === 'F16') {
    const table = float16Values();
    for (let k = 0; k < halves.length; k++) out[k] = table[halves[k]];
    return;
  }
  const outBits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let k = 0; k < halves.length; k++) outBits[k] = halves[k] << 16;
}

/**
 * Encodes float32 values as float16 or bfloat16 patterns. Returns the index of the first finite value
 * that overflowed to infinity, or -1 when none did.
 */
export function encodeHalves(values: Float32Array, out: Uint16Array, format: 'F16' | 'BF16'): number {
  const encode = format === 'F16' ? float32ToFloat16 : float32ToBfloat16;
  let overflow = -1;
  for (let k = 0; k < values.length; k++) {
    const h = encode(values[k]);
    out[k] = h;
    if (overflow < 0 && (h & 0x7fff) === (format === 'F16' ? 0x7c00 : 0x7f80) && Number.isFinite(values[k])) overflow = k;
  }
  return overflow;
}
