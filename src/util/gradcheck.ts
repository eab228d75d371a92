/**
 * Finite-difference gradient checking: compares an analytic gradient against the central difference
 * (L(x + ε) − L(x − ε)) / 2ε, one coordinate at a time. The parameters are float32, so the step actually
 * taken is measured after rounding, and ε should be about 1e-3 (smaller steps drown in rounding noise).
 */

export interface GradientCheckResult {
  checked: number; //      coordinates compared
  maxAbsError: number; //  max |analytic − numeric|
  worst: { index: number; analytic: number; numeric: number; error: number } | null;
  failures: number; //     coordinates outside the tolerance
}

export interface GradientCheckOptions {
  eps?: number; //         finite-difference step (default 1e-3)
  absTolerance?: number; // pass when |a − n| ≤ absTolerance + relTolerance · max(|a|, |n|)
  relTolerance?: number;
  indices?: number[]; //   which coordinates (default: all)
}

/**
 * `loss()` must recompute the scalar loss from the current contents of `x` without side effects on its
 * randomness (fixed dropout masks). `analytic` is dL/dx, computed before the call.
 */
export function checkGradient(
  loss: () => number, x: Float32Array, analytic: Float32Array, options: GradientCheckOptions = {},
): GradientCheckResult {
  const eps = options.eps ?? 1e-3;
  const absTol = options.absTolerance ?? 1e-3;
  const relTol = options.relTolerance ?? 1e-2;
  const indices = options.indices ?? Array.from({ length: x.length }, (_, k) => k);
  const result: GradientCheckResult = { checked: 0, maxAbsError: 0, worst: null, failures: 0 };
  const probe = new Float32Array(1);
  for (const k of indices) {
    const original = x[k];
    probe[0] = original + eps; const up = probe[0];
    probe[0] = original - eps; const down = probe[0];
    x[k] = up; const lossUp = loss();
    x[k] = down; const lossDown = loss();
    x[k] = original;
    const numeric = (lossUp - lossDown) / (up - down);
    const error = Math.abs(analytic[k] - numeric);
    result.checked++;
    if (error > absTol + relTol * Math.max(Math.abs(analytic[k]), Math.abs(numeric))) result.failures++;
    if (error >= result.maxAbsError) {
      result.maxAbsError = error;
      result.worst = { index: k, analytic: analytic[k], numeric, error };
    }
  }
  return result;
}
