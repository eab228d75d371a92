import { readFileSync } from 'node:fs';
import { lstmGatesForward as lstmGatesForwardTs, softmaxCrossEntropy as softmaxCrossEntropyTs } from './pointwise.js';

/**
 * The WebAssembly SIMD kernels of assembly/kernels.ts, compiled to dist/wasm/kernels.wasm by the build.
 * Their data lives in the module's own memory, so the wrappers here copy a few rows at a time in (and the
 * gradient out): the copies stay in cache and cost little next to the exponentials they speed up.
 */

interface KernelExports {
  memory: WebAssembly.Memory;
  reserve(bytes: number): number;
  softmaxCrossEntropy(logits: number, targets: number, N: number, V: number, scale: number): number;
  lstmGatesForward(z: number, cPrev: number, c: number, tanhC: number, h: number, B: number, H: number): void;
}

/** Floats per chunk copied into the module: ~256 KB, about what a core's L2 cache holds comfortably. */
const CHUNK_FLOATS = 65536;

export interface WasmKernels {
  softmaxCrossEntropy: typeof softmaxCrossEntropyTs;
  lstmGatesForward: typeof lstmGatesForwardTs;
}

let cached: WasmKernels | null | undefined;

/** The kernels, or null when the .wasm file is missing or the engine lacks SIMD (callers fall back to TypeScript). */
export function loadWasmKernels(): WasmKernels | null {
  if (cached !== undefined) return cached;
  try {
    const bytes = readFileSync(new URL('../../wasm/kernels.wasm', import.meta.url));
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { abort: () => { throw new Error('wasm abort'); } } });
    cached = makeKernels(instance.exports as unknown as KernelExports);
  } catch {
    cached = null;
  }
  return cached;
}

function makeKernels(k: KernelExports): WasmKernels {
  // One scratch region, grown on demand: floats [0, capacity) then ints for the targets.
  let capacity = 0, base = 0;
  let floats = new Float32Array(0), ints = new Int32Array(0);
  const ensure = (floatCount: number, intCount: number): void => {
    const needed = floatCount + intCount + 4;
    if (needed > capacity) {
      capacity = Math.max(needed, 2 * capacity);
      base = (k.reserve(capacity * 4 + 16) + 15) & ~15;
    }
    if (floats.buffer !== k.memory.buffer) { // views made before the memory grew are detached
      floats = new Float32Array(k.memory.buffer);
      ints = new Int32Array(k.memory.buffer);
    }
  };
  return {
    softmaxCrossEntropy(logits, targets, N, V, scale) {
      const rows = Math.max(1, Math.floor(CHUNK_FLOATS / V));
      ensure(rows * V, rows);
      const logitsPtr = base, targetsPtr = base + rows * V * 4;
      let nll = 0;
      for (let n0 = 0; n0 < N; n0 += rows) {
        const r = Math.min(rows, N - n0);
        const chunk = logits.subarray(n0 * V, (n0 + r) * V);
        floats.set(chunk, logitsPtr / 4);
        ints.set(targets.subarray(n0, n0 + r), targetsPtr / 4);
        nll += k.softmaxCrossEntropy(logitsPtr, targetsPtr, r, V, scale);
        if (scale !== 0) chunk.set(floats.subarray(logitsPtr / 4, logitsPtr / 4 + r * V));
      }
      return nll;
    },
    lstmGatesForward(z, cPrev, c, tanhC, h, B, H, normalizeCell, cAct) {
      if (normalizeCell !== null) {
        lstmGatesForwardTs(z, cPrev, c, tanhC, h, B, H, normalizeCell, cAct);
        return;
      }
      const n = B * H;
      ensure(8 * n, 0);
      const f = base / 4; // float offsets: z (4n), cPrev, c, tanhC, h (n each)
      floats.set(z.subarray(0, 4 * n), f);
      floats.set(cPrev.subarray(0, n), f + 4 * n);
      k.lstmGatesForward(base, base + 16 * n, base + 20 * n, base + 24 * n, base + 28 * n, B, H);
      z.set(floats.subarray(f, f + 4 * n));
      c.set(floats.subarray(f + 5 * n, f + 6 * n));
      tanhC.set(floats.subarray(f + 6 * n, f + 7 * n));
      h.set(floats.subarray(f + 7 * n, f + 8 * n));
    },
  };
}
