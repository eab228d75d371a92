import { UserError } from '../errors.js';
import type { Backend } from './backend.js';
import { blasHint, loadBlasBackend, recurrentSplit, type BlasOptions } from './blas.js';
import { switchedOn } from './env.js';
import { jsBackend, jsBackendOn } from './js.js';
import { nodeWasmThreads } from './wasm-threads-node.js';

import { BACKEND_CHOICES, type BackendChoice } from './choices.js';
export { BACKEND_CHOICES, type BackendChoice };

/**
 * `js`: the pure-TypeScript backend. `blas`: OpenBLAS/Accelerate, or a UserError saying how to install it.
 * `auto`: BLAS when it loads; otherwise the TypeScript backend, and `warn` is called once with one line.
 */
export function selectBackend(choice: BackendChoice, warn: (line: string) => void = () => {}, options: BlasOptions = {}): Backend {
  // a wrong setting is an error, not a reason to fall back
  switchedOn('RLSTM_HELPER');
  switchedOn('RLSTM_RELAXED_SIMD');
  if (choice === 'js') return jsBackendTwoThreads();
  const split = recurrentSplit(options);
  switchedOn('RLSTM_BLIS');
  switchedOn('RLSTM_DNNL');
  try {
    return loadBlasBackend({ ...options, recurrentSplit: split });
  } catch (err) {
    const why = (err as Error).message;
    if (choice === 'blas') throw new UserError(`--backend blas: ${why}; ${blasHint()}, or use --backend js`);
    warn(`note: BLAS is not available (${why}); using the pure-TypeScript backend, which is much slower; to speed up, ${blasHint()}`);
    return jsBackendTwoThreads();
  }
}

let twoThreads: Backend | undefined;

/** The js backend with its GEMM on two threads where there are two cores (wasm-threads.ts; RLSTM_HELPER=0: one). */
function jsBackendTwoThreads(): Backend {
  twoThreads ??= (() => { const kernels = nodeWasmThreads(); return kernels === null ? jsBackend : jsBackendOn(kernels); })();
  return twoThreads;
}
