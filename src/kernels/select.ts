import { UserError } from '../errors.js';
import type { Backend } from './backend.js';
import { blasHint, loadBlasBackend, recurrentSplit, type BlasOptions } from './blas.js';
import { switchedOn } from './env.js';
import { jsBackend } from './js.js';

export type BackendChoice = 'auto' | 'blas' | 'js';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'blas', 'js'];

/**
 * `js`: the pure-TypeScript backend. `blas`: OpenBLAS/Accelerate, or a UserError saying how to install it.
 * `auto`: BLAS when it loads; otherwise the TypeScript backend, and `warn` is called once with one line.
 */
export function selectBackend(choice: BackendChoice, warn: (line: string) => void = () => {}, options: BlasOptions = {}): Backend {
  if (choice === 'js') return jsBackend;
  // a wrong setting is an error, not a reason to fall back
  const split = recurrentSplit(options);
  switchedOn('RLSTM_HELPER');
  switchedOn('RLSTM_BLIS');
  try {
    return loadBlasBackend({ ...options, recurrentSplit: split });
  } catch (err) {
    const why = (err as Error).message;
    if (choice === 'blas') throw new UserError(`--backend blas: ${why}; ${blasHint()}, or use --backend js`);
    warn(`note: BLAS is not available (${why}); using the pure-TypeScript backend, which is much slower; to speed up, ${blasHint()}`);
    return jsBackend;
  }
}
