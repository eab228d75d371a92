import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bfloat16ToFloat32, decodeHalves, encodeHalves, float16ToFloat32, float32ToBfloat16, float32ToFloat16,
} from '../src/util/float16.js';
import { createRng, nextFloat } from '../src/util/rng.js';

// float16 and bfloat16 <-> float32 (src/util/float16.ts): known bit patterns, ties to even, every
// pattern's round trip, and the nearest value checked against a search over all float16 values.

const hex = (h: number): string => `0x${h.toString(16).padStart(4, '0')}`;

test('float16 bit patterns decode exactly: normals, the largest, subnormals, signed zeros, infinities, NaN', () => {
  const cases: [number, number][] = [
    [0x3c00, 1], [0xc000, -2], [0x7bff, 65504], [0xfbff, -65504], [0x3555, 0.333251953125],
    [0x0400, 2 ** -14], // the smallest normal
    [0x0001, 2 ** -24], [0x03ff, 1023 * 2 ** -24], [0x8001, -(2 ** -24)], // subnormals
    [0x7c00, Infinity], [0xfc00, -Infinity], [0x0000, 0],
  ];
  for (const [h, value] of cases) assert.equal(float16ToFloat32(h), value, hex(h));
  assert.ok(Object.is(float16ToFloat32(0x8000), -0), '0x8000 is -0');
  for (const h of [0x7e00, 0x7c01, 0xfe00, 0x7fff]) assert.ok(Number.isNaN(float16ToFloat32(h)), `${hex(h)} is NaN`);
});

test('float32 -> float16 rounds to nearest, ties to even, in the normal and subnormal ranges', () => {
  const cases: [number, number][] = [
    [1, 0x3c00], [65504, 0x7bff], [-65504, 0xfbff],
    [1 + 2 ** -11, 0x3c00], //      halfway between 1 and the next float16: to the even one, 1
    [1 + 3 * 2 ** -11, 0x3c02], //  halfway between 0x3c01 and 0x3c02: to the even one
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above halfway: up
    [2049, 0x6800], [2051, 0x6802], // integers past 2048 are even: 2049 -> 2048, 2051 -> 2052
    [65519, 0x7bff], [65520, 0x7c00], [1e6, 0x7c00], [-1e6, 0xfc00], // 65520 is the tie that goes to infinity
    [Infinity, 0x7c00], [-Infinity, 0xfc00],
    [2 ** -24, 0x0001], [2 ** -25, 0x0000], //  the tie between 0 and the smallest subnormal: to 0 (even)
    [2 ** -25 * 1.001, 0x0001], [3 * 2 ** -25, 0x0002], [5 * 2 ** -25, 0x0002], // 1.5 -> 2, 2.5 -> 2
    [2 ** -14 - 2 ** -26, 0x0400], // rounds up into the smallest normal
    [1e-10, 0x0000], [-1e-10, 0x8000], [-0, 0x8000], [0, 0x0000],
  ];
  for (const [x, h] of cases) assert.equal(hex(float32ToFloat16(x)), hex(h), `${x}`);
  const nan = float32ToFloat16(NaN);
  assert.equal(nan & 0x7c00, 0x7c00, 'NaN keeps an all-ones exponent');
  assert.notEqual(nan & 0x3ff, 0, 'and a non-zero fraction');
});

test('every float16 pattern survives float16 -> float32 -> float16', () => {
  for (let h = 0; h < 65536; h++) {
    const x = float16ToFloat32(h);
    if (Number.isNaN(x)) continue;
    const back = float32ToFloat16(x);
    if (back !== h) assert.fail(`${hex(h)} -> ${x} -> ${hex(back)}`);
  }
});

test('float32 -> float16 is the nearest float16 (a search over all of them), with the error within half an ulp', () => {
  // the finite non-negative float16 values in increasing order: patterns 0x0000..0x7bff
  const values = Array.from({ length: 0x7c00 }, (_, h) => float16ToFloat32(h));
  const rng = createRng(16);
  let worstRelative = 0;
  for (let k = 0; k < 20000; k++) {
    // magnitudes spread over the whole range, from below the subnormals to the largest float16
    const x = Math.fround((nextFloat(rng) < 0.5 ? -1 : 1) * 2 ** (-27 + 43 * nextFloat(rng)) * (1 + nextFloat(rng)) / 2);
    const a = Math.abs(x);
    if (a > 65504) continue;
    let lo = 0, hi = values.length - 1; // the last value <= a
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (values[mid] <= a) lo = mid; else hi = mid - 1; }
    const below = lo, above = Math.min(lo + 1, values.length - 1);
    const dBelow = a - values[below], dAbove = values[above] - a;
    const nearest = dBelow < dAbove ? below : dAbove < dBelow ? above : (below % 2 === 0 ? below : above);
    const h = float32ToFloat16(x);
    assert.equal(hex(h), hex((x < 0 ? 0x8000 : 0) | nearest), `${x}`);
    const error = Math.abs(float16ToFloat32(h) - x);
    if (a >= 2 ** -14) {
      assert.ok(error <= 2 ** -11 * a, `${x}: error ${error} beyond half an ulp`);
      worstRelative = Math.max(worstRelative, error / a);
    } else {
      assert.ok(error <= 2 ** -25, `${x}: error ${error} beyond half the subnormal spacing`);
    }
  }
  assert.ok(worstRelative > 2 ** -12, `the sample reached relative errors near the bound (${worstRelative})`);
});

test('bfloat16: the top half of a float32, rounded to nearest, ties to even; every pattern survives a round trip', () => {
  assert.equal(bfloat16ToFloat32(0x3f80), 1);
  assert.equal(bfloat16ToFloat32(0xc040), -3);
  assert.equal(bfloat16ToFloat32(0x0001), 2 ** -133); // a float32 subnormal
  assert.equal(bfloat16ToFloat32(0x7f80), Infinity);
  assert.equal(bfloat16ToFloat32(0xff80), -Infinity);
  assert.ok(Number.isNaN(bfloat16ToFloat32(0x7fc0)));
  assert.ok(Object.is(bfloat16ToFloat32(0x8000), -0));
  const cases: [number, number][] = [
    [1, 0x3f80], [1 + 2 ** -8, 0x3f80], [1 + 3 * 2 ** -8, 0x3f82], [1 + 2 ** -8 + 2 ** -20, 0x3f81],
    [-3, 0xc040], [3.4028234663852886e38, 0x7f80], [Infinity, 0x7f80], [-0, 0x8000],
  ];
  for (const [x, b] of cases) assert.equal(hex(float32ToBfloat16(x)), hex(b), `${x}`);
  const nan = float32ToBfloat16(NaN);
  assert.ok(Number.isNaN(bfloat16ToFloat32(nan)), 'NaN stays NaN');
  for (let b = 0; b < 65536; b++) {
    const x = bfloat16ToFloat32(b);
    if (!Number.isNaN(x) && float32ToBfloat16(x) !== b) assert.fail(`${hex(b)} -> ${x} -> ${hex(float32ToBfloat16(x))}`);
  }
});

test('encodeHalves reports the first finite value that overflowed; decodeHalves inverts it', () => {
  const values = new Float32Array([0.5, -1.25, 70000, Infinity, -80000]);
  const halves = new Uint16Array(values.length);
  assert.equal(encodeHalves(values, halves, 'F16'), 2, '70000 is past float16\'s 65504; Infinity was infinite already');
  assert.equal(encodeHalves(new Float32Array([Infinity, 1]), new Uint16Array(2), 'F16'), -1);
  assert.equal(encodeHalves(values, halves, 'BF16'), -1, 'bfloat16 holds 70000');
  const back = new Float32Array(values.length);
  decodeHalves(halves, back, 'BF16');
  assert.deepEqual([...back], [0.5, -1.25, 70144, Infinity, -79872]); // 8 significant bits
  encodeHalves(new Float32Array([0.5, -1.25]), halves.subarray(0, 2), 'F16');
  decodeHalves(halves.subarray(0, 2), back.subarray(0, 2), 'F16');
  assert.deepEqual([...back.subarray(0, 2)], [0.5, -1.25]);
});
