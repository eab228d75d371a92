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
