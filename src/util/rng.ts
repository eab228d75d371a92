/**
 * A small, fast, seedable random generator (xoshiro128**), so that the same seed gives the same
 * initialization and dropout masks on every machine and backend. Its whole state is four 32-bit
 * words, which a checkpoint can store.
 */
export interface Rng {
  /** The generator's state words (mutated in place by every draw). */
  state: Uint32Array;
}

/** Seeds the four state words from one integer with splitmix32, as the xoshiro authors advise. */
export function createRng(seed: number): Rng {
  const state = new Uint32Array(4);
  let x = seed >>> 0;
  for (let i = 0; i < 4; i++) {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    state[i] = (z ^ (z >>> 16)) >>> 0;
  }
  if ((state[0] | state[1] | state[2] | state[3]) === 0) state[0] = 1; // the all-zero state is a fixed point
  return { state };
}

/** The next 32 random bits as an unsigned integer. */
export function nextUint32(rng: Rng): number {
  const s = rng.state;
  const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
  const t = s[1] << 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 11);
  return result;
}

/** A uniform float in [0, 1) with 32 random bits. */
export function nextFloat(rng: Rng): number {
  return nextUint32(rng) / 4294967296;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * The state the generator reaches after n draws from `state`, without drawing them: xoshiro's state update
 * is linear over GF(2), so n steps are one 128×128 bit matrix, M^n, applied to the state. (This lets two
 * threads fill the two halves of one dropout mask with exactly the numbers one thread would draw.)
 */
export function advancedState(state: Uint32Array, n: number): Uint32Array {
  return applyBitMatrix(stepMatrixPower(n), state);
}

/** A 128×128 bit matrix as its 128 columns, 4 words each: column i is the image of state bit i. */
type BitMatrix = Uint32Array;

function applyBitMatrix(m: BitMatrix, v: Uint32Array): Uint32Array {
  const out = new Uint32Array(4);
  for (let i = 0; i < 128; i++) {
    if (((v[i >>> 5] >>> (i & 31)) & 1) === 0) continue;
    out[0] ^= m[4 * i]; out[1] ^= m[4 * i + 1]; out[2] ^= m[4 * i + 2]; out[3] ^= m[4 * i + 3];
  }
  return out;
}

/** a·b: column j of the product is a applied to column j of b. */
function multiplyBitMatrices(a: BitMatrix, b: BitMatrix): BitMatrix {
  const out = new Uint32Array(512);
  for (let j = 0; j < 128; j++) out.set(applyBitMatrix(a, b.subarray(4 * j, 4 * j + 4)), 4 * j);
  return out;
}

const powerCache = new Map<number, BitMatrix>();

/** M^n for the one-draw update M, by repeated squaring; the few n a training run uses are kept. */
function stepMatrixPower(n: number): BitMatrix {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`advancedState: n must be a whole number ≥ 0, got ${n}`);
  const cached = powerCache.get(n);
  if (cached !== undefined) return cached;
  let square: BitMatrix = new Uint32Array(512); // M: column i is one draw applied to the state with only bit i set
  for (let i = 0; i < 128; i++) {
    const unit = { state: new Uint32Array(4) };
    unit.state[i >>> 5] = 1 << (i & 31);
    nextUint32(unit);
    square.set(unit.state, 4 * i);
  }
  let result: BitMatrix = new Uint32Array(512); // the identity
  for (let i = 0; i < 128; i++) result[4 * i + (i >>> 5)] = 1 << (i & 31);
  for (let k = n; k > 0; k = Math.floor(k / 2)) {
    if (k % 2 === 1) result = multiplyBitMatrices(square, result);
    if (k > 1) square = multiplyBitMatrices(square, square);
  }
  if (powerCache.size >= 64) powerCache.clear();
  powerCache.set(n, result);
  return result;
}
