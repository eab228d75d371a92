import type { Backend } from './backend.js';
import { roundToBf16 } from './bf16.js';

/**
 * bf16 mixed precision (Kalamkar et al. 2019; what PyTorch's CPU autocast and TPUs do): every matrix product
 * takes its two operands rounded to bfloat16 (nearest, ties to even) and accumulates in float32 into a float32
 * result. Everything else stays float32: the weights themselves (the "master" copy SGD updates), the gradients,
 * clipping, the elementwise kernels, softmax and the loss.
 *
 * A backend wrapped by `mixedPrecision` runs its `gemm` that way, through the backend's gemmBf16. An operand that
 * lies in the parameter buffer (a weight) is read from a bf16 copy of it, made on its first use after
 * `refreshWeightCopies` (once per optimizer step: a weight is rounded once however many products read it);
 * any other operand (activations, gradients flowing back) is rounded on every product into a scratch buffer.
 * The recurrent loop runs as plain calls (no recurrentLoop): its per-step products are the backend's bf16 ones.
 */
export interface MixedPrecisionBackend extends Backend {
  /** The weights changed (an optimizer step, a restore): their bf16 copies are made again on their next use. */
  refreshWeightCopies(): void;
}

/** The elements a row-major operand of `rows` rows of `columns` at stride `ld` spans, from its first. */
export function operandLength(rows: number, columns: number, ld: number): number {
  return rows === 0 || columns === 0 ? 0 : (rows - 1) * ld + columns;
}

export function mixedPrecision(backend: Backend, params: Float32Array): MixedPrecisionBackend {
  const gemmBf16 = backend.gemmBf16?.bind(backend);
  if (gemmBf16 === undefined) throw new Error(`mixedPrecision: the ${backend.name} backend has no bf16 products (${backend.bf16Unavailable ?? 'none'})`);
  const weightCopy = new Uint16Array(params.length);
  /** The ranges of the parameter buffer whose bf16 copy is current, [start, end) in elements. */
  let fresh: [number, number][] = [];
  const scratch = [new Uint16Array(0), new Uint16Array(0)];
  const paramsStart = params.byteOffset / 4, paramsEnd = paramsStart + params.length;

  /** The bf16 bits of an operand of `length` elements, laid out as the operand (slot: which scratch buffer). */
  const rounded = (x: Float32Array, length: number, slot: 0 | 1): Uint16Array => {
    const start = x.byteOffset / 4;
    if (x.buffer === params.buffer && start >= paramsStart && start + length <= paramsEnd) { // a weight
      const offset = start - paramsStart, end = offset + length;
      if (!fresh.some(([s, e]) => s <= offset && end <= e)) {
        roundToBf16(x, weightCopy.subarray(offset, end), length);
        fresh.push([offset, end]);
      }
      return weightCopy.subarray(offset, end);
    }
    if (scratch[slot].length < length) scratch[slot] = new Uint16Array(length);
    const out = scratch[slot].subarray(0, length);
    roundToBf16(x, out, length);
    return out;
  };

  const { recurrentLoop: _notUsed, ...rest } = backend;
  return {
    ...rest,
    gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) {
      if (M === 0 || N === 0) return;
      const a = rounded(A, operandLength(transA ? K : M, transA ? M : K, lda), 0);
      const b = rounded(B, operandLength(transB ? N : K, transB ? K : N, ldb), 1);
      gemmBf16(transA, transB, M, N, K, alpha, a, lda, b, ldb, beta, C, ldc);
    },
    refreshWeightCopies() {
      fresh = [];
    },
  };
}

/**
 * Why `backend` cannot train in bf16 mixed precision, as the one line that refuses `--precision bf16`; null
 * where it can. bf16 is offered only where it runs faster than float32: oneDNN's bf16 products on a CPU with bf16
 * dot products (RLSTM_BF16_EMULATE=1 lifts this, for checking bf16's numerics on any CPU; slower than fp32).
 */
export function bf16Refusal(backend: Backend, subject = '--precision bf16'): string | null {
  if (backend.gemmBf16 !== undefined) return null;
  const why = backend.name === 'js' ? 'the TypeScript backend has no bf16 products; it needs the BLAS backend with oneDNN (Debian: sudo apt-get install libdnnl2)'
    : backend.bf16Unavailable ?? 'this backend has no bf16 products';
  return `${subject}: ${why}; train in fp32${subject.startsWith('--') ? ' (--precision fp32)' : ''}`;
}
