import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bf16ToFloat32, bf16Value, roundToBf16, roundToBf16Loop } from '../src/kernels/bf16.js';
import { loadWasmKernels } from '../src/kernels/wasm.js';
import { createRng, nextUint32 } from '../src/util/rng.js';

// float32 → bfloat16 (src/kernels/bf16.ts): the rounding cases with known answers, checked through every
// implementation, and the TypeScript loop and the WebAssembly kernel against each other and against a
// reference computed in float64 arithmetic from the values, not the bits.

const hex = (h: number, digits = 4): string => `0x${h.toString(16).padStart(digits, '0')}`;

const wasm = loadWasmKernels();

type Rounding = (src: Float32Array, dst: Uint16Array, n: number) => void;

/** The implementations every case goes through: the public function and the two it chooses between. */
const implementations: [string, Rounding][] = [
  ['roundToBf16', roundToBf16],
  ['roundToBf16Loop (TypeScript)', roundToBf16Loop],
];
if (wasm !== null) {
  implementations.push(['WebAssembly kernel', (src, dst, n) => assert.ok(wasm.roundToBf16(src, dst, n), 'the module memory holds a chunk')]);
}

/** Float32 inputs given by their bits, so that a signalling NaN reaches the code as it is. */
function floatsOfBits(bits: number[]): Float32Array {
  return new Float32Array(Uint32Array.from(bits).buffer);
}

/**
 * Each input's bf16 bits by `round`, which must give the same in one call over all inputs (padded to a
 * multiple of 8 with zeros: the kernel's SIMD loop) and in one call per input (its scalar tail).
 */
function roundEach(name: string, round: Rounding, bits: number[]): number[] {
  const padded = Math.ceil(bits.length / 8) * 8;
  const src = floatsOfBits([...bits, ...new Array(padded - bits.length).fill(0)]);
  const together = new Uint16Array(padded);
  round(src, together, padded);
  return bits.map((b, k) => {
    const alone = new Uint16Array(1);
    round(floatsOfBits([b]), alone, 1);
    assert.equal(hex(alone[0]), hex(together[k]), `${name}: ${hex(b, 8)} alone and among eight`);
    return alone[0];
  });
}

/** Checks [float32 bits, expected bf16 bits] pairs through every implementation. */
function checkCases(cases: [number, number][]): void {
  for (const [name, round] of implementations) {
    const got = roundEach(name, round, cases.map(([b]) => b));
    cases.forEach(([b, expected], k) => assert.equal(hex(got[k]), hex(expected), `${name}: ${hex(b, 8)}`));
  }
}

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** The float32 bits of x (which must be a float32 value, or the test is wrong). */
function bitsOf(x: number): number {
  scratch[0] = x;
  assert.ok(scratch[0] === x || Number.isNaN(x), `${x} is a float32 value`);
  return scratchBits[0];
}

function valueOf(bits: number): number {
  scratchBits[0] = bits;
  return scratch[0];
}

/** The largest finite bfloat16, 0x7f7f, and the float32 halfway from it to 2^128 (0x7f7f8000). */
const MAX_BF16 = (2 - 2 ** -7) * 2 ** 127;
const OVERFLOW_TIE = (2 - 2 ** -8) * 2 ** 127;

/**
 * The bf16 bits of the float32 with bits `bits`, from its value in float64 arithmetic: the value divided by
 * its bf16 spacing (2^(e−7) for 2^e ≤ |x| < 2^(e+1), 2^-133 below 2^-126), rounded to an integer by hand,
 * ties to even, and multiplied back; every step is exact in float64. Past MAX_BF16 by a half-spacing or
 * more it is ±Inf (IEEE's overflow). null for NaN, whose payload the contract leaves open.
 */
function referenceBf16(bits: number): number | null {
  const x = valueOf(bits);
  if (Number.isNaN(x)) return null;
  const sign = bits >>> 31 ? 0x8000 : 0;
  const a = Math.abs(x);
  let rounded: number;
  if (a === 0 || a === Infinity) rounded = a;
  else {
    let e = Math.floor(Math.log2(a));
    while (2 ** e > a) e--; // log2 may round up just below a power of two
    while (2 ** (e + 1) <= a) e++;
    const spacing = 2 ** (Math.max(e, -126) - 7);
    const q = a / spacing;
    let whole = Math.floor(q);
    const rest = q - whole;
    if (rest > 0.5 || (rest === 0.5 && whole % 2 === 1)) whole++;
    rounded = whole * spacing;
    if (rounded > MAX_BF16) rounded = Infinity;
  }
  const roundedBits = bitsOf(rounded);
  assert.equal(roundedBits & 0xffff, 0, `the reference's ${rounded} is a bf16 value`);
  return sign | (roundedBits >>> 16);
}

/** Whether h is a quiet NaN carrying the sign of the float32 bits `bits`. */
function isQuietNaNOf(h: number, bits: number): boolean {
  return (h & 0x7fc0) === 0x7fc0 && (h >>> 15) === (bits >>> 31);
}

test('roundToBf16 rounds to nearest with ties to even, carrying into the exponent when it rounds up', () => {
  // at 1 the bf16 spacing is 2^-7: 1 + 2^-8 is halfway between 1 (0x3f80, even) and 1 + 2^-7 (0x3f81)
  checkCases([
    [bitsOf(1 + 2 ** -8), 0x3f80], //              tie: to the even 1
    [bitsOf(1 + 3 * 2 ** -8), 0x3f82], //          tie between 0x3f81 and 0x3f82: up, to 1 + 2^-6
    [bitsOf(1 + 2 ** -8 + 2 ** -23), 0x3f81], //   one float32 ulp above halfway: up
    [bitsOf(1 + 2 ** -8 - 2 ** -23), 0x3f80], //   one below: down
    [bitsOf(1 + 3 * 2 ** -8 - 2 ** -23), 0x3f81],
    [bitsOf(-(1 + 2 ** -8)), 0xbf80], [bitsOf(-(1 + 3 * 2 ** -8)), 0xbf82], // negatives: the same by magnitude
    [bitsOf(257), 0x4380], [bitsOf(259), 0x4382], // 256..512 in steps of 2: 257 → 256, 259 → 260
    [bitsOf(2 - 2 ** -8), 0x4000], //               tie between 0x3fff (odd) and 2: the carry makes the exponent 1
    [0x3f808000, 0x3f80], [0x3f818000, 0x3f82], [0x3f807fff, 0x3f80], [0x3f808001, 0x3f81], // the lower half's edges
    [bitsOf(1), 0x3f80], [bitsOf(-3), 0xc040], // exact values stay
  ]);
});

test('roundToBf16 keeps NaN a quiet NaN with its sign, even a signalling NaN whose payload would round to Inf', () => {
  checkCases([[0x7fc00000, 0x7fc0], [0xffc00000, 0xffc0]]); // the canonical quiet NaN stays canonical
  // 0x7f800001 + the rounding bias carries into Inf; 0x7fffffff carries out of the sign bit (into -0)
  const nans = [0x7f800001, 0xff800001, 0x7f808000, 0x7f807fff, 0x7fa00000, 0x7fbfffff, 0x7fffffff, 0xffffffff];
  for (const [name, round] of implementations) {
    roundEach(name, round, nans).forEach((h, k) =>
      assert.ok(isQuietNaNOf(h, nans[k]), `${name}: ${hex(nans[k], 8)} → ${hex(h)} is not a quiet NaN with its sign`));
  }
});

test('roundToBf16 keeps ±Inf and ±0', () => {
  checkCases([[0x7f800000, 0x7f80], [0xff800000, 0xff80], [0x00000000, 0x0000], [0x80000000, 0x8000]]);
});

test('roundToBf16 rounds subnormals like any other value: no flush to zero, and up into the normal range', () => {
  // bf16's subnormals are float32's with the lower half dropped: spacing 2^-133 (0x0001) up to 0x007f
  checkCases([
    [0x00000001, 0x0000], [0x80000001, 0x8000], // the smallest float32 subnormal, 2^-149: to ±0
    [0x00010000, 0x0001], [0x80010000, 0x8001], // the smallest bf16 subnormal, 2^-133, stays
    [0x00008000, 0x0000], [0x00008001, 0x0001], // 2^-134, halfway to 2^-133: to the even 0; just above: up
    [0x00018000, 0x0002], [0x00028000, 0x0002], // 1.5 and 2.5 · 2^-133: to 2 · 2^-133 both
    [0x007f0000, 0x007f], [0x807f0000, 0x807f], // the largest bf16 subnormal stays
    [0x007f7fff, 0x007f], //                        just below halfway to 2^-126: down
    [0x007f8000, 0x0080], //                        halfway (0x007f is odd): up to the smallest normal, 2^-126
    [0x007fffff, 0x0080], [0x807fffff, 0x8080], // the largest float32 subnormal: up into the normal range
  ]);
});

test('roundToBf16 keeps the largest finite bf16 (0x7f7f) and rounds to ±Inf from the float32 halfway to 2^128', () => {
  assert.equal(bitsOf(MAX_BF16), 0x7f7f0000);
  assert.equal(bitsOf(OVERFLOW_TIE), 0x7f7f8000); // 3.3961775292304957e38
  const belowTie = OVERFLOW_TIE - 2 ** (127 - 23); // the float32 just below: 0x7f7f7fff
  assert.equal(bitsOf(belowTie), 0x7f7f7fff);
  checkCases([
    [bitsOf(MAX_BF16), 0x7f7f], [bitsOf(-MAX_BF16), 0xff7f],
    [bitsOf(belowTie), 0x7f7f], [bitsOf(-belowTie), 0xff7f], //         below halfway: the largest finite
    [bitsOf(OVERFLOW_TIE), 0x7f80], [bitsOf(-OVERFLOW_TIE), 0xff80], // halfway: to even, which is 2^128, i.e. Inf
    [0x7f7f8001, 0x7f80], [0x7f7fffff, 0x7f80], [0xff7fffff, 0xff80], // above, up to float32's largest: Inf
  ]);
  assert.equal(bf16Value(MAX_BF16), MAX_BF16);
  assert.equal(bf16Value(belowTie), MAX_BF16);
  assert.equal(bf16Value(OVERFLOW_TIE), Infinity);
});

test('bf16ToFloat32 gives exactly the bits shifted up, for all 65,536 patterns, and they round back to themselves', () => {
  const all = Uint16Array.from({ length: 65536 }, (_, h) => h);
  const floats = new Float32Array(65536);
  bf16ToFloat32(all, floats, 65536);
  const bits = new Uint32Array(floats.buffer);
  for (let h = 0; h < 65536; h++) if (bits[h] !== h << 16 >>> 0) assert.fail(`${hex(h)} → ${hex(bits[h], 8)}`);
  assert.equal(floats[0x3f80], 1);
  assert.equal(floats[0x7f7f], MAX_BF16);
  assert.equal(floats[0x0001], 2 ** -133);
  assert.ok(Object.is(floats[0x8000], -0));
  for (const [name, round] of implementations) {
    const back = new Uint16Array(65536);
    round(floats, back, 65536);
    for (let h = 0; h < 65536; h++) {
      const signalling = (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0 && (h & 0x40) === 0;
      const expected = signalling ? h | 0x40 : h; // a signalling NaN comes back quiet
      if (back[h] !== expected) assert.fail(`${name}: ${hex(h)} → ${hex(back[h])}`);
    }
  }
});

test('bf16Value rounds x to float32 first (as a Float32Array store does), then to the nearest bf16 value', () => {
  assert.equal(bf16Value(1), 1);
  assert.equal(bf16Value(1 + 2 ** -8), 1);
  assert.equal(bf16Value(1 + 3 * 2 ** -8), 1 + 2 ** -6);
  assert.equal(bf16Value(-(1 + 2 ** -8 + 2 ** -23)), -(1 + 2 ** -7));
  // 2^-30 is below half a float32 ulp at 1, so x becomes the float32 tie 1 + 2^-8, which goes to 1 (rounding
  // the double in one step would give 1 + 2^-7)
  assert.equal(bf16Value(1 + 2 ** -8 + 2 ** -30), 1);
  assert.equal(bf16Value(2 ** -149), 0);
  assert.equal(bf16Value(0x007fffff * 2 ** -149), 2 ** -126);
  assert.equal(bf16Value(1e39), Infinity); // already Inf as a float32
  assert.equal(bf16Value(-Infinity), -Infinity);
  assert.ok(Object.is(bf16Value(-0), -0));
  assert.ok(Number.isNaN(bf16Value(NaN)));
});

/** The lower halves combined with every upper half: zero, the rounding edges around 0x8000, and the extremes. */
const LOWER_HALVES = [0x0000, 0x0001, 0x4000, 0x7fff, 0x8000, 0x8001, 0xc000, 0xffff];

/** Compares the bf16 bits `got` of `inputs` with the float64 reference (NaN: a quiet NaN with its sign). */
function checkAgainstReference(name: string, inputs: Uint32Array, got: Uint16Array): void {
  for (let k = 0; k < inputs.length; k++) {
    const expected = referenceBf16(inputs[k]);
    const ok = expected === null ? isQuietNaNOf(got[k], inputs[k]) : got[k] === expected;
    if (!ok) assert.fail(`${name}: ${hex(inputs[k], 8)} → ${hex(got[k])}, the reference says ${expected === null ? 'a quiet NaN' : hex(expected)}`);
  }
}

/** Every upper half with each of LOWER_HALVES, then random bits: more than one of the kernel's copy chunks, and a length that leaves a scalar tail. */
function referenceInputs(): Uint32Array[] {
  const edges = new Uint32Array(65536 * LOWER_HALVES.length);
  for (let upper = 0; upper < 65536; upper++) {
    LOWER_HALVES.forEach((lower, j) => { edges[upper * LOWER_HALVES.length + j] = ((upper << 16) | lower) >>> 0; });
  }
  const rng = createRng(2026);
  return [edges, Uint32Array.from({ length: 3 * 65536 + 13 }, () => nextUint32(rng))];
}
const inputSets = referenceInputs();

test('every implementation equals a float64 reference for all upper halves × edge lower halves and for random floats', () => {
  for (const inputs of inputSets) {
    for (const [name, round] of implementations) {
      const got = new Uint16Array(inputs.length);
      round(new Float32Array(inputs.buffer), got, inputs.length);
      checkAgainstReference(name, inputs, got);
    }
  }
});

test('the TypeScript loop and the WebAssembly kernel (SIMD loop and scalar tail) give identical bits, NaN payloads included', {
  skip: wasm === null ? 'WebAssembly SIMD is not available: only the TypeScript loop runs' : false,
}, () => {
  for (const inputs of inputSets) {
    const src = new Float32Array(inputs.buffer), n = inputs.length;
    const loop = new Uint16Array(n), kernel = new Uint16Array(n);
    roundToBf16Loop(src, loop, n);
    assert.ok(wasm!.roundToBf16(src, kernel, n));
    const compare = (path: string) => {
      for (let k = 0; k < n; k++) {
        if (loop[k] !== kernel[k]) assert.fail(`${hex(inputs[k], 8)}: TypeScript ${hex(loop[k])}, WebAssembly ${path} ${hex(kernel[k])}`);
      }
    };
    compare('(one call)');
    // again in calls of 7 values, fewer than the kernel's 8 at a time: every value through its scalar tail
    kernel.fill(0);
    for (let k = 0; k < n; k += 7) assert.ok(wasm!.roundToBf16(src.subarray(k), kernel.subarray(k), Math.min(7, n - k)));
    compare('(scalar tail)');
  }
});

test('roundToBf16 converts the first n values of views at any offset, leaves the rest of dst alone, and refuses an n the arrays do not hold', () => {
  const n = 2 * 65536 + 5; // past two copy chunks
  const rng = createRng(17);
  const srcBuffer = new Float32Array(new Uint32Array(n + 10).map(() => nextUint32(rng)).buffer);
  const src = srcBuffer.subarray(3, 3 + n + 4); // four more values than are converted
  const srcBits = new Uint32Array(src.buffer, src.byteOffset, n);
  const expected = Uint16Array.from(srcBits, (b) => referenceBf16(b) ?? 0); // NaN: checked apart
  for (const [name, round] of implementations) {
    const dstBuffer = new Uint16Array(n + 8).fill(0xabcd);
    const dst = dstBuffer.subarray(1, 1 + n + 4); // an offset of 2 bytes: not 4-byte aligned
    round(src, dst, n);
    for (let k = 0; k < n; k++) {
      const ok = Number.isNaN(src[k]) ? isQuietNaNOf(dst[k], srcBits[k]) : dst[k] === expected[k];
      if (!ok) assert.fail(`${name}: value ${k} → ${hex(dst[k])}, expected ${Number.isNaN(src[k]) ? 'a quiet NaN' : hex(expected[k])}`);
    }
    assert.deepEqual(Array.from(dstBuffer.subarray(1 + n)), new Array(7).fill(0xabcd), `${name}: nothing written past n`);
    assert.equal(dstBuffer[0], 0xabcd, `${name}: nothing written before the view`);
    round(src, dst, 0); // nothing to do
  }
  // the public functions check n (the kernel behind roundToBf16 is reached only through it)
  for (const [name, round] of [['roundToBf16', roundToBf16], ['roundToBf16Loop', roundToBf16Loop]] as const) {
    const dst = new Uint16Array(n + 4);
    assert.throws(() => round(src, dst, src.length + 1), RangeError, `${name}: n past src (a view of a longer buffer)`);
    assert.throws(() => round(src, dst.subarray(0, 10), 11), RangeError, `${name}: n past dst`);
    assert.throws(() => round(src, dst, 1.5), RangeError, `${name}: n not a count`);
    assert.throws(() => round(src, dst, -1), RangeError, `${name}: n negative`);
  }
});
