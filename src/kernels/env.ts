import { UserError } from '../errors.js';

/**
 * The on/off environment variables of the backends: RLSTM_HELPER (the second thread, BLAS and js), RLSTM_BLIS, RLSTM_DNNL,
 * RLSTM_RELAXED_SIMD (the js backend's relaxed-SIMD build where the engine has it; wasm.ts reads it too).
 */
export type EnvironmentSwitch = 'RLSTM_HELPER' | 'RLSTM_BLIS' | 'RLSTM_RELAXED_SIMD' | 'RLSTM_DNNL';

/**
 * Whether a switch is on: unset, empty or 1 is on, 0 is off; anything else (`off`, `false`, `2`) is a
 * UserError naming the variable, rather than being read silently as on.
 */
export function switchedOn(name: EnvironmentSwitch): boolean {
  const value = process.env[name];
  if (value === undefined || value === '' || value === '1') return true;
  if (value === '0') return false;
  throw new UserError(`${name} is "${value}": use 0 (off) or 1 (on), or leave it unset`);
}
