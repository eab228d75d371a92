import { loadWasmKernels } from './wasm.js';

/**
 * bfloat16 (1 sign, 8 exponent, 7 fraction bits: the upper half of a float32) for mixed-precision training,
 * a whole array at a time: float32 → bf16 bits, rounded to nearest, ties to even, and back.
 *
 * roundToBf16 runs the WebAssembly SIMD kernel (assembly/kernels.ts) where loadWasmKernels gives one, else
 * roundToBf16Loop; both give the same bits for every input. (src/util/float16.ts converts one value at a time
 * for checkpoints.)
 */

/** n must be a count both arrays hold: a shorter array would be read or written past its end by the kernel. */
function checkCount(n: number, srcLength: number, dstLength: number, what: string): void {
  if (!(Number.isInteger(n) && n >= 0 && n <= srcLength && n <= dstLength)) {
    throw new RangeError(`${what}: n = ${n} is not a count of values that src (${srcLength}) and dst (${dstLength}) both hold`);
  }
}

/**
 * dst[i] = the bfloat16 bits of src[i] for i in [0, n): round to nearest, ties to even; NaN stays a (quiet)
 * NaN with its sign; ±Inf stay ±Inf; finite values that round past the largest bf16 become ±Inf (IEEE
 * round-to-nearest); subnormals round like any other value (no flush to zero).
 */
export function roundToBf16(src: Float32Array, dst: Uint16Array, n: number): void {
  checkCount(n, src.length, dst.length, 'roundToBf16');
  const kernels = loadWasmKernels();
  if (kernels === null || !kernels.roundToBf16(src, dst, n)) roundToBf16Loop(src, dst, n);
}

/**
 * roundToBf16 in TypeScript, on the floats' bits: the fallback where WebAssembly SIMD is missing, and the
 * reference the kernel is tested against. Adding 0x7fff plus the lowest kept bit rounds the upper half to
 * nearest, ties to even; a carry moves the exponent up, and past the largest bf16 it reaches ±Inf. A NaN
 * keeps its upper half with the quiet bit set instead, since adding would carry a small payload into Inf
 * (0x7f800001 → 0x7f80) and the largest out of the sign bit. For a non-NaN the sum stays below 2^32 (at most
 * 0xff807fff), so it is exact.
 */
export function roundToBf16Loop(src: Float32Array, dst: Uint16Array, n: number): void {
  checkCount(n, src.length, dst.length, 'roundToBf16Loop');
  const bits = new Uint32Array(src.buffer, src.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const b = bits[i];
    dst[i] = (b & 0x7fffffff) > 0x7f800000 ? (b >>> 16) | 0x40 : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
}

/** dst[i] = the float32 value of the bfloat16 bits src[i] (exact: bits << 16). */
export function bf16ToFloat32(src: Uint16Array, dst: Float32Array, n: number): void {
  checkCount(n, src.length, dst.length, 'bf16ToFloat32');
  const bits = new Int32Array(dst.buffer, dst.byteOffset, n); // << gives an int32: these are its bits
  for (let i = 0; i < n; i++) bits[i] = src[i] << 16;
}

const oneFloat = new Float32Array(1);
const oneHalf = new Uint16Array(1);

/**
 * The float32 value nearest x after rounding it to bfloat16 (one number; for references and tests). x is
 * rounded to float32 first, as storing it in a Float32Array does, so that bf16Value(x) is the value
 * roundToBf16 gives for that element (a double between two float32 values can round differently in one step).
 */
export function bf16Value(x: number): number {
  oneFloat[0] = x;
  roundToBf16Loop(oneFloat, oneHalf, 1);
  bf16ToFloat32(oneHalf, oneFloat, 1);
  return oneFloat[0];
}
