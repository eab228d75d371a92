// WebAssembly SIMD kernels (AssemblyScript), for the elementwise work that dominates once the matrix
// products run in BLAS: softmax + cross-entropy over the 10,000-word vocabulary (4 exponentials per
// instruction instead of 1). Compiled by `npm run build:wasm` into dist/wasm/kernels.wasm and called
// from src/kernels/wasm.ts, which copies rows in and out of this module's memory.
//
// Pointers are byte offsets into the module's memory; matrices are row-major float32.

let scratchStart: usize = 0;

/**
 * The one scratch region the TypeScript side copies operands into: it starts after everything this
 * module allocates (`reserve`) and is grown to hold `bytes`, so the memory grows only to the largest call's
 * need. Returns its 16-byte-aligned start, or 0 when the memory cannot grow that far. Nothing may be
 * reserved after the first call. In a memory shared between threads only one thread's instance calls it.
 */
/**
 * A region of `bytes` (16-byte aligned) for good: the GEMM's workspaces (one per thread). Returns 0 once the
 * scratch region has been placed, since it would overlap what follows.
 */
export function reserve(bytes: usize): usize {
  if (scratchStart != 0) return 0;
  return (heap.alloc(bytes + 16) + 15) & ~15;
}

export function scratch(bytes: usize): usize {
  if (scratchStart == 0) scratchStart = (heap.alloc(16) + 15) & ~15;
  const end = scratchStart + bytes;
  const have = (<usize>memory.size()) << 16;
  if (end > have && memory.grow(<i32>((end - have + 0xffff) >>> 16)) < 0) return 0;
  return scratchStart;
}

// exp(x) for float32 lanes: x = k·ln2 + r with |r| ≤ ln2/2, e^r by a degree-7 polynomial
// (minimax coefficients of Cephes' expf), 2^k built in the exponent bits. About 1 ulp.
// k is rounded to the nearest integer by adding 1.5·2^23 (the float's last mantissa bit is then 1):
// the sum's low mantissa bits are k itself, so no separate rounding or float→int conversion is needed.
// The clamps use pmin/pmax (one instruction each; min/max must also order NaNs and signed zeros, which
// costs several): a NaN input stays NaN, as the training loop's divergence check needs.
const EXP_HI: f32 = 88.3762626647949;
const EXP_LO: f32 = -87.3365447505531;
const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const ROUND: f32 = 12582912; // 1.5 · 2^23
const P0: f32 = 1.9875691500e-4;
const P1: f32 = 1.3981999507e-3;
const P2: f32 = 8.3334519073e-3;
const P3: f32 = 4.1665795894e-2;
const P4: f32 = 1.6666665459e-1;
const P5: f32 = 5.0000001201e-1;

// @ts-ignore: decorator
@inline function expLanes(x: v128): v128 {
  x = f32x4.pmin(f32x4.pmax(x, f32x4.splat(EXP_LO)), f32x4.splat(EXP_HI));
  const kRounded = f32x4.add(f32x4.mul(x, f32x4.splat(LOG2E)), f32x4.splat(ROUND)); // bits: 0x4B400000 + k
  const k = f32x4.sub(kRounded, f32x4.splat(ROUND));
  let r = f32x4.sub(x, f32x4.mul(k, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(k, f32x4.splat(LN2_LO)));
  const z = f32x4.mul(r, r);
  let y = f32x4.add(f32x4.mul(f32x4.splat(P0), r), f32x4.splat(P1));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(P2));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(P3));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(P4));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(P5));
  y = f32x4.add(f32x4.add(f32x4.mul(y, z), r), f32x4.splat(1));
  // 2^k: (k + 127) in the exponent field; the shift drops the 0x4B400000 above k's bits
  const pow2 = i32x4.shl(i32x4.add(kRounded, i32x4.splat(127)), 23);
  return f32x4.mul(y, pow2);
}

// @ts-ignore: decorator
@inline function expScalar(x: f32): f32 {
  return f32x4.extract_lane(expLanes(f32x4.splat(x)), 0);
}

// sum + (lanes 0, 1 of e) and sum + (lanes 2, 3 of e), in float64
// @ts-ignore: decorator
@inline function addLowLanes(sum: v128, e: v128): v128 {
  return f64x2.add(sum, f64x2.promote_low_f32x4(e));
}

// @ts-ignore: decorator
@inline function addHighLanes(sum: v128, e: v128): v128 {
  return f64x2.add(sum, f64x2.promote_low_f32x4(v128.shuffle<i32>(e, e, 2, 3, 0, 1)));
}

/**
 * Softmax + cross-entropy over N rows of V scores, in place (see src/kernels/pointwise.ts for the
 * TypeScript version and the contract): returns Σ −log p(target); when scale ≠ 0 each row becomes
 * scale · (softmax − onehot(target)).
 */
export function softmaxCrossEntropy(logits: usize, targets: usize, N: i32, V: i32, scale: f32): f64 {
  let nll: f64 = 0;
  const V4 = V & ~3;
  for (let n = 0; n < N; n++) {
    const row = logits + (<usize>n * <usize>V) * 4;
    let maxLanes = f32x4.splat(-Infinity);
    for (let v = 0; v < V4; v += 4) maxLanes = f32x4.pmax(maxLanes, v128.load(row + (<usize>v) * 4));
    let max = Mathf.max(Mathf.max(f32x4.extract_lane(maxLanes, 0), f32x4.extract_lane(maxLanes, 1)),
      Mathf.max(f32x4.extract_lane(maxLanes, 2), f32x4.extract_lane(maxLanes, 3)));
    for (let v = V4; v < V; v++) max = Mathf.max(max, load<f32>(row + (<usize>v) * 4));
    const target = load<i32>(targets + (<usize>n) * 4);
    const targetScore = <f64>load<f32>(row + (<usize>target) * 4) - <f64>max;
    const maxSplat = f32x4.splat(max);
    // the sum of exponentials is accumulated in float64 (two f64x2 halves)
    let sumLow = f64x2.splat(0), sumHigh = f64x2.splat(0);
    let sum: f64 = 0;
    const writeGradient = scale != 0;
    // four vectors per iteration: their exponentials are independent and overlap (1.5× faster than one at
    // a time here); they are added to the sums in the order of the one-at-a-time loop below
    const V16 = V & ~15;
    for (let v = 0; v < V16; v += 16) {
      const p = row + (<usize>v) * 4;
      const e0 = expLanes(f32x4.sub(v128.load(p), maxSplat));
      const e1 = expLanes(f32x4.sub(v128.load(p + 16), maxSplat));
      const e2 = expLanes(f32x4.sub(v128.load(p + 32), maxSplat));
      const e3 = expLanes(f32x4.sub(v128.load(p + 48), maxSplat));
      if (writeGradient) {
        v128.store(p, e0);
        v128.store(p + 16, e1);
        v128.store(p + 32, e2);
        v128.store(p + 48, e3);
      }
      sumLow = addLowLanes(addLowLanes(addLowLanes(addLowLanes(sumLow, e0), e1), e2), e3);
      sumHigh = addHighLanes(addHighLanes(addHighLanes(addHighLanes(sumHigh, e0), e1), e2), e3);
    }
    for (let v = V16; v < V4; v += 4) {
      const p = row + (<usize>v) * 4;
      const e = expLanes(f32x4.sub(v128.load(p), maxSplat));
      if (writeGradient) v128.store(p, e);
      sumLow = addLowLanes(sumLow, e);
      sumHigh = addHighLanes(sumHigh, e);
    }
    for (let v = V4; v < V; v++) {
      const p = row + (<usize>v) * 4;
      const e = expScalar(load<f32>(p) - max);
      if (writeGradient) store<f32>(p, e);
      sum += <f64>e;
    }
    sum += f64x2.extract_lane(sumLow, 0) + f64x2.extract_lane(sumLow, 1)
      + f64x2.extract_lane(sumHigh, 0) + f64x2.extract_lane(sumHigh, 1);
    nll += Math.log(sum) - targetScore;
    if (!writeGradient) continue;
    const k = <f32>(<f64>scale / sum);
    const kSplat = f32x4.splat(k);
    for (let v = 0; v < V4; v += 4) {
      const p = row + (<usize>v) * 4;
      v128.store(p, f32x4.mul(v128.load(p), kSplat));
    }
    for (let v = V4; v < V; v++) {
      const p = row + (<usize>v) * 4;
      store<f32>(p, load<f32>(p) * k);
    }
    const t = row + (<usize>target) * 4;
    store<f32>(t, load<f32>(t) - scale);
  }
  return nll;
}

// @ts-ignore: decorator
@inline function sigmoidLanes(x: v128): v128 {
  return f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), expLanes(f32x4.neg(x))));
}

// tanh(x) = 1 − 2 / (e^{2x} + 1)
// @ts-ignore: decorator
@inline function tanhLanes(x: v128): v128 {
  return f32x4.sub(f32x4.splat(1), f32x4.div(f32x4.splat(2), f32x4.add(expLanes(f32x4.add(x, x)), f32x4.splat(1))));
}

/**
 * One LSTM step after the matrix products, without layer norm (src/kernels/pointwise.ts has the contract):
 *   z (B,4H) pre-activations → activated gates i f g o, in place
 *   c = f ⊙ cPrev + i ⊙ g;  tanhC = tanh(c);  h = o ⊙ tanhC          (cPrev, c, tanhC, h: (B,H))
 * Four units at a time; when H is not a multiple of 4 the last units of a row go one by one through the
 * same lane arithmetic (a broadcast value, lane 0 kept), so every unit gets the same rounding.
 */
export function lstmGatesForward(z: usize, cPrev: usize, c: usize, tanhC: usize, h: usize, B: i32, H: i32): void {
  const rowBytes = <usize>H * 4;
  const vectorBytes = <usize>(H & ~3) * 4;
  const eightsBytes = <usize>(H & ~7) * 4; // the units taken eight at a time
  for (let b = 0; b < B; b++) {
    const zr = z + <usize>b * rowBytes * 4;
    const r = <usize>b * rowBytes;
    for (let j: usize = 0; j < eightsBytes; j += 32) {
      cellLanesTwice(zr + j, rowBytes, cPrev + r + j, c + r + j, tanhC + r + j, h + r + j);
    }
    for (let j: usize = eightsBytes; j < vectorBytes; j += 16) {
      cellLanes(zr + j, rowBytes, cPrev + r + j, c + r + j, tanhC + r + j, h + r + j, false);
    }
    for (let j: usize = vectorBytes; j < rowBytes; j += 4) {
      cellLanes(zr + j, rowBytes, cPrev + r + j, c + r + j, tanhC + r + j, h + r + j, true);
    }
  }
}

// cellLanes for 8 consecutive units, as two groups of 4 whose arithmetic is interleaved: the two groups'
// exponentials and divisions are independent, and the processor overlaps them (each group alone is a
// chain it must mostly wait on). Every lane gets cellLanes' operations in cellLanes' order: the same bits.
// @ts-ignore: decorator
@inline function cellLanesTwice(zp: usize, gateBytes: usize, cPrevP: usize, cP: usize, tanhCP: usize, hP: usize): void {
  const i0 = sigmoidLanes(v128.load(zp)), i1 = sigmoidLanes(v128.load(zp + 16));
  const f0 = sigmoidLanes(v128.load(zp + gateBytes)), f1 = sigmoidLanes(v128.load(zp + gateBytes + 16));
  const g0 = tanhLanes(v128.load(zp + 2 * gateBytes)), g1 = tanhLanes(v128.load(zp + 2 * gateBytes + 16));
  const o0 = sigmoidLanes(v128.load(zp + 3 * gateBytes)), o1 = sigmoidLanes(v128.load(zp + 3 * gateBytes + 16));
  const c0 = f32x4.add(f32x4.mul(f0, v128.load(cPrevP)), f32x4.mul(i0, g0));
  const c1 = f32x4.add(f32x4.mul(f1, v128.load(cPrevP + 16)), f32x4.mul(i1, g1));
  const tc0 = tanhLanes(c0), tc1 = tanhLanes(c1);
  v128.store(zp, i0);
  v128.store(zp + 16, i1);
  v128.store(zp + gateBytes, f0);
  v128.store(zp + gateBytes + 16, f1);
  v128.store(zp + 2 * gateBytes, g0);
  v128.store(zp + 2 * gateBytes + 16, g1);
  v128.store(zp + 3 * gateBytes, o0);
  v128.store(zp + 3 * gateBytes + 16, o1);
  v128.store(cP, c0);
  v128.store(cP + 16, c1);
  v128.store(tanhCP, tc0);
  v128.store(tanhCP + 16, tc1);
  v128.store(hP, f32x4.mul(o0, tc0));
  v128.store(hP + 16, f32x4.mul(o1, tc1));
}

// The cell arithmetic for 4 consecutive units (or, with single = true, for one unit in lane 0).
// @ts-ignore: decorator
@inline function cellLanes(zp: usize, gateBytes: usize, cPrevP: usize, cP: usize, tanhCP: usize, hP: usize, single: bool): void {
  const zi = single ? f32x4.splat(load<f32>(zp)) : v128.load(zp);
  const zf = single ? f32x4.splat(load<f32>(zp + gateBytes)) : v128.load(zp + gateBytes);
  const zg = single ? f32x4.splat(load<f32>(zp + 2 * gateBytes)) : v128.load(zp + 2 * gateBytes);
  const zo = single ? f32x4.splat(load<f32>(zp + 3 * gateBytes)) : v128.load(zp + 3 * gateBytes);
  const cPrev = single ? f32x4.splat(load<f32>(cPrevP)) : v128.load(cPrevP);
  const i = sigmoidLanes(zi);
  const f = sigmoidLanes(zf);
  const g = tanhLanes(zg);
  const o = sigmoidLanes(zo);
  const cNew = f32x4.add(f32x4.mul(f, cPrev), f32x4.mul(i, g));
  const tc = tanhLanes(cNew);
  const hNew = f32x4.mul(o, tc);
  if (single) {
    store<f32>(zp, f32x4.extract_lane(i, 0));
    store<f32>(zp + gateBytes, f32x4.extract_lane(f, 0));
    store<f32>(zp + 2 * gateBytes, f32x4.extract_lane(g, 0));
    store<f32>(zp + 3 * gateBytes, f32x4.extract_lane(o, 0));
    store<f32>(cP, f32x4.extract_lane(cNew, 0));
    store<f32>(tanhCP, f32x4.extract_lane(tc, 0));
    store<f32>(hP, f32x4.extract_lane(hNew, 0));
  } else {
    v128.store(zp, i);
    v128.store(zp + gateBytes, f);
    v128.store(zp + 2 * gateBytes, g);
    v128.store(zp + 3 * gateBytes, o);
    v128.store(cP, cNew);
    v128.store(tanhCP, tc);
    v128.store(hP, hNew);
  }
}

/**
 * Backward of one LSTM step without layer norm (the contract of lstmGatesBackward in
 * src/kernels/pointwise.ts): from dh (B,H), dcNext (B,H), the saved gates (B,4H), cPrev and tanhC (B,H),
 * writes dz (B,4H) and dcNext ← dL/dc_{t-1}. dz may be the gates themselves (a pair of units reads all
 * its gates before writing). Two units at a time in float64, every product in the order of the TypeScript
 * loop and rounded to float32 where that loop stores, so the results are the TypeScript's, bit for bit.
 */
export function lstmGatesBackward(dh: usize, dcNext: usize, gates: usize, cPrev: usize, tanhC: usize, dz: usize, B: i32, H: i32): void {
  const rowBytes = <usize>H * 4;
  const pairBytes = <usize>(H & ~1) * 4;
  for (let b = 0; b < B; b++) {
    const zr = <usize>b * rowBytes * 4;
    const r = <usize>b * rowBytes;
    for (let j: usize = 0; j < pairBytes; j += 8) unitsBackward(dh + r + j, dcNext + r + j, gates + zr + j, cPrev + r + j, tanhC + r + j, dz + zr + j, rowBytes, false);
    if (pairBytes < rowBytes) unitsBackward(dh + r + pairBytes, dcNext + r + pairBytes, gates + zr + pairBytes, cPrev + r + pairBytes, tanhC + r + pairBytes, dz + zr + pairBytes, rowBytes, true);
  }
}

// two float32 values → float64 lanes (or one, in lane 0, with single = true)
// @ts-ignore: decorator
@inline function load2(p: usize, single: bool): v128 {
  return f64x2.promote_low_f32x4(single ? f32x4.splat(load<f32>(p)) : v128.load64_zero(p));
}

// float64 lanes → two float32 values (or lane 0 only)
// @ts-ignore: decorator
@inline function store2(p: usize, x: v128, single: bool): void {
  const f = f32x4.demote_f64x2_zero(x);
  if (single) store<f32>(p, f32x4.extract_lane(f, 0));
  else v128.store64_lane(p, f, 0);
}

// @ts-ignore: decorator
@inline function unitsBackward(dhP: usize, dcNextP: usize, gatesP: usize, cPrevP: usize, tanhCP: usize, dzP: usize, gateBytes: usize, single: bool): void {
  const one = f64x2.splat(1);
  const d = load2(dhP, single), tc = load2(tanhCP, single);
  const i = load2(gatesP, single), f = load2(gatesP + gateBytes, single);
  const g = load2(gatesP + 2 * gateBytes, single), o = load2(gatesP + 3 * gateBytes, single);
  const cp = load2(cPrevP, single), dcIn = load2(dcNextP, single);
  // h = o ⊙ tanh(c):  dz_o = d·tc·o·(1−o),  dL/dc (this step's part) = d·o·(1−tc²), stored as float32
  const dzO = f64x2.mul(f64x2.mul(f64x2.mul(d, tc), o), f64x2.sub(one, o));
  const dcAct = f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(
    f64x2.mul(f64x2.mul(d, o), f64x2.sub(one, f64x2.mul(tc, tc)))));
  // c_t = f ⊙ c_{t-1} + i ⊙ g
  const dc = f64x2.add(dcAct, dcIn);
  store2(dzP, f64x2.mul(f64x2.mul(f64x2.mul(dc, g), i), f64x2.sub(one, i)), single);
  store2(dzP + gateBytes, f64x2.mul(f64x2.mul(f64x2.mul(dc, cp), f), f64x2.sub(one, f)), single);
  store2(dzP + 2 * gateBytes, f64x2.mul(f64x2.mul(dc, i), f64x2.sub(one, f64x2.mul(g, g))), single);
  store2(dzP + 3 * gateBytes, dzO, single);
  store2(dcNextP, f64x2.mul(dc, f), single);
}

/**
 * out = a ⊙ b and out = a + b over n floats (dropout's multiply by its mask, the LSTM backward's sum of
 * the two gradients reaching h_t): float32 arithmetic, so the bits of the TypeScript loops that store into a
 * Float32Array. out may be a or b.
 */
export function multiply(a: usize, b: usize, out: usize, n: i32): void {
  const vectorBytes = <usize>(n & ~3) * 4, bytes = <usize>n * 4;
  for (let k: usize = 0; k < vectorBytes; k += 16) v128.store(out + k, f32x4.mul(v128.load(a + k), v128.load(b + k)));
  for (let k = vectorBytes; k < bytes; k += 4) store<f32>(out + k, load<f32>(a + k) * load<f32>(b + k));
}

export function add(a: usize, b: usize, out: usize, n: i32): void {
  const vectorBytes = <usize>(n & ~3) * 4, bytes = <usize>n * 4;
  for (let k: usize = 0; k < vectorBytes; k += 16) v128.store(out + k, f32x4.add(v128.load(a + k), v128.load(b + k)));
  for (let k = vectorBytes; k < bytes; k += 4) store<f32>(out + k, load<f32>(a + k) + load<f32>(b + k));
}

/**
 * Dropout mask values from four xoshiro128** generators at once, one per lane (the loop of
 * fillDropoutMaskPerStep in src/nn/dropout.ts, written for four streams). `state` holds 16 words: s0 of
 * lanes 0..3, then s1, s2, s3; it is left where the generators end. Lane i writes its `count` values at
 * out + i·count floats: kept (draw < threshold, i.e. draw / 2^32 < keep) → scale, dropped → 0.
 */
export function dropoutMaskLanes(state: usize, out: usize, count: i32, threshold: u32, scale: f32): void {
  let s0 = v128.load(state), s1 = v128.load(state + 16), s2 = v128.load(state + 32), s3 = v128.load(state + 48);
  const below = i32x4.splat(threshold), value = f32x4.splat(scale);
  const five = i32x4.splat(5), nine = i32x4.splat(9);
  const laneBytes = <usize>count * 4;
  for (let k: usize = 0; k < laneBytes; k += 4) {
    const m = i32x4.mul(s1, five);
    const draw = i32x4.mul(v128.or(i32x4.shl(m, 7), i32x4.shr_u(m, 25)), nine); // rotl(s1·5, 7)·9
    const t = i32x4.shl(s1, 9);
    s2 = v128.xor(s2, s0); s3 = v128.xor(s3, s1); s1 = v128.xor(s1, s2); s0 = v128.xor(s0, s3); s2 = v128.xor(s2, t);
    s3 = v128.or(i32x4.shl(s3, 11), i32x4.shr_u(s3, 21));
    const kept = v128.and(i32x4.lt_u(draw, below), value);
    const p = out + k;
    v128.store32_lane(p, kept, 0);
    v128.store32_lane(p + laneBytes, kept, 1);
    v128.store32_lane(p + 2 * laneBytes, kept, 2);
    v128.store32_lane(p + 3 * laneBytes, kept, 3);
  }
  v128.store(state, s0); v128.store(state + 16, s1); v128.store(state + 32, s2); v128.store(state + 48, s3);
}

/**
 * float32 → bfloat16 bits over n values (the contract of roundToBf16 in src/kernels/bf16.ts, bit for bit its
 * TypeScript loop): round to nearest, ties to even, by adding 0x7fff plus the kept half's lowest bit and
 * keeping the upper half; the carry moves the exponent up, and past the largest bf16 it reaches ±Inf. A NaN
 * keeps its upper half with the quiet bit set, so that no payload rounds into Inf. Eight values per
 * iteration: the upper halves of two vectors are one byte shuffle. dst (n u16) must not overlap src.
 */
export function roundToBf16(src: usize, dst: usize, n: i32): void {
  const count = <usize>n, eights = <usize>(n & ~7);
  for (let k: usize = 0; k < eights; k += 8) {
    const low = roundLanes(v128.load(src + k * 4)), high = roundLanes(v128.load(src + k * 4 + 16));
    v128.store(dst + k * 2, v128.shuffle<u8>(low, high, 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31));
  }
  for (let k = eights; k < count; k++) {
    const bits = load<u32>(src + k * 4);
    const rounded = (bits & 0x7fffffff) > 0x7f800000 ? bits | 0x400000 : bits + 0x7fff + ((bits >>> 16) & 1);
    store<u16>(dst + k * 2, <u16>(rounded >>> 16));
  }
}

// four float32 bit patterns, rounded so that their upper halves are the bfloat16 bits (roundToBf16)
// @ts-ignore: decorator
@inline function roundLanes(bits: v128): v128 {
  const rounded = i32x4.add(bits, i32x4.add(i32x4.splat(0x7fff), v128.and(i32x4.shr_u(bits, 16), i32x4.splat(1))));
  return v128.bitselect(v128.or(bits, i32x4.splat(0x400000)), rounded, f32x4.ne(bits, bits));
}

// The matrix product of the pure-TypeScript backend (packed panels, a 4×8 register tile): assembly/gemm.ts
export { gemm, gemmWorkBytes, peakMultiplyAdd } from './gemm';
