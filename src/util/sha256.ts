/**
 * SHA-256 (FIPS 180-4) in plain TypeScript, for a browser, where crypto.subtle hashes only whole buffers
 * and only asynchronously: checkpoints are checked as they are in Node (node:crypto), piece by piece.
 * Same interface as the part of node:crypto's Hash that safetensors.ts uses: update (bytes, or a string
 * as UTF-8), then digest('hex').
 */

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

export interface Sha256Hash {
  update(data: Uint8Array | string): Sha256Hash;
  digest(encoding: 'hex'): string;
}

const utf8 = new TextEncoder();

export function createSha256(): Sha256Hash {
  const state = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const w = new Uint32Array(64); // the message schedule of one block
  const pending = new Uint8Array(64); // bytes waiting for a full block
  let pendingLength = 0;
  let total = 0; // bytes hashed so far

  /** Compresses the 64-byte block at bytes[at..at+64) into the state. */
  const block = (bytes: Uint8Array, at: number): void => {
    for (let t = 0; t < 16; t++) {
      const k = at + 4 * t;
      w[t] = (bytes[k] << 24) | (bytes[k + 1] << 16) | (bytes[k + 2] << 8) | bytes[k + 3];
    }
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15], y = w[t - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
    }
    let a = state[0], b = state[1], c = state[2], d = state[3], e = state[4], f = state[5], g = state[6], h = state[7];
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (h + S1 + ch + K[t] + w[t]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    state[0] += a; state[1] += b; state[2] += c; state[3] += d;
    state[4] += e; state[5] += f; state[6] += g; state[7] += h;
  };

  const hash: Sha256Hash = {
    update(data) {
      const bytes = typeof data === 'string' ? utf8.encode(data) : data;
      total += bytes.length;
      let at = 0;
      if (pendingLength > 0) { // complete the block started by an earlier update
        const n = Math.min(64 - pendingLength, bytes.length);
        pending.set(bytes.subarray(0, n), pendingLength);
        pendingLength += n;
        at = n;
        if (pendingLength < 64) return hash;
        block(pending, 0);
        pendingLength = 0;
      }
      for (; at + 64 <= bytes.length; at += 64) block(bytes, at);
      pending.set(bytes.subarray(at), 0);
      pendingLength = bytes.length - at;
      return hash;
    },
    digest() {
      // padding: 0x80, zeros up to 56 bytes mod 64, then the length in bits as a big-endian u64
      const bits = total * 8;
      const tail = new Uint8Array(pendingLength < 56 ? 64 : 128);
      tail.set(pending.subarray(0, pendingLength));
      tail[pendingLength] = 0x80;
      const view = new DataView(tail.buffer);
      view.setUint32(tail.length - 8, Math.floor(bits / 0x100000000));
      view.setUint32(tail.length - 4, bits >>> 0);
      for (let at = 0; at < tail.length; at += 64) block(tail, at);
      return Array.from(state, (v) => v.toString(16).padStart(8, '0')).join('');
    },
  };
  return hash;
}
