import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GradientCheckResult } from '../src/util/gradcheck.js';
import { nextFloat, type Rng } from '../src/util/rng.js';

/**
 * The exercises' small check framework. An exercise is a list of checks; each check runs the learner's
 * code (or the solution) and either passes or throws. What it throws decides the feedback:
 *
 *   CheckFailure             a wrong result: what was checked, expected vs got, and a hint
 *   "not implemented yet"    the stub's own error: the function still has to be written
 *   anything else            an error inside the learner's code, shown with its line in their file
 */

/** The project root (this file runs as dist/exercises/harness.js). */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A wrong result. `hint` (when given) replaces the check's general hint. */
export class CheckFailure extends Error {
  readonly expected: string | null;
  readonly got: string | null;
  readonly hint: string | null;
  constructor(message: string, details: { expected?: string; got?: string; hint?: string } = {}) {
    super(message);
    this.name = 'CheckFailure';
    this.expected = details.expected ?? null;
    this.got = details.got ?? null;
    this.hint = details.hint ?? null;
  }
}

export function fail(message: string, details: { expected?: string; got?: string; hint?: string } = {}): never {
  throw new CheckFailure(message, details);
}

/** One check: what it verifies (a sentence), what to look at when it fails, and the code. */
export interface Check {
  name: string;
  hint: string;
  /** Throws on failure; may return a line of information, printed under the passing check. */
  run(): void | string | Promise<void | string>;
}

/** An exercise as its checks file declares it, typed by the module the learner edits. */
export interface Exercise<Impl> {
  number: number;
  slug: string; //         folder name, e.g. 01-dropout
  title: string;
  file: string; //         the learner's file, from the project root
  solutionFile: string;
  /** Printed before the checks run (for example: this takes half a minute). */
  note?: string;
  load(solution: boolean): Promise<Impl>;
  checks(impl: Impl): Check[];
}

/** An exercise with its implementation type closed over, so that different exercises fit in one list. */
export interface RunnableExercise {
  number: number;
  slug: string;
  title: string;
  file: string;
  solutionFile: string;
  note?: string;
  /** Loads the learner's file (or the solution) and returns the checks to run against it. */
  checksFor(solution: boolean): Promise<Check[]>;
}

export function defineExercise<Impl>(exercise: Exercise<Impl>): RunnableExercise {
  const { load, checks, ...info } = exercise;
  return { ...info, checksFor: async (solution) => checks(await load(solution)) };
}

export type CheckStatus = 'pass' | 'fail' | 'not-implemented' | 'error';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  /** Feedback lines: what went wrong, expected vs got, the hint; or information on a pass. */
  lines: string[];
  seconds: number;
}

const NOT_IMPLEMENTED = 'not implemented yet';

/** The function a stub's "not implemented yet: NAME" error names, or null for any other error. */
export function notImplementedName(err: unknown): string | null {
  if (!(err instanceof Error) || !err.message.startsWith(NOT_IMPLEMENTED)) return null;
  const name = err.message.slice(NOT_IMPLEMENTED.length).replace(/^[:\s]+/, '');
  return name.length > 0 ? name : 'a function';
}

/** The first line of a stack trace that lies in the exercises (the learner's code), as path:line. */
function learnerLocation(err: Error): string | null {
  for (const line of (err.stack ?? '').split('\n').slice(1)) {
    const match = /\(?((?:file:\/\/)?[^\s()]*\/exercises\/[^\s()]*?):(\d+):\d+\)?$/.exec(line.trim());
    if (match === null || match[1].includes('/exercises/harness.')) continue;
    const path = match[1].startsWith('file://') ? fileURLToPath(match[1]) : match[1];
    return `${relative(PROJECT_ROOT, path)}:${match[2]}`;
  }
  return null;
}

/** Runs one check and turns what happened into feedback. */
export async function runCheck(check: Check, file: string): Promise<CheckResult> {
  const started = performance.now();
  const seconds = (): number => (performance.now() - started) / 1000;
  try {
    const info = await check.run();
    return { name: check.name, status: 'pass', lines: typeof info === 'string' ? [info] : [], seconds: seconds() };
  } catch (err) {
    const missing = notImplementedName(err);
    if (missing !== null) {
      return {
        name: check.name, status: 'not-implemented', seconds: seconds(),
        lines: [`${missing} is not implemented yet: write its body in ${file}`, `hint: ${check.hint}`],
      };
    }
    if (err instanceof CheckFailure) {
      const lines = [err.message];
      if (err.expected !== null) lines.push(`expected: ${err.expected}`);
      if (err.got !== null) lines.push(`got:      ${err.got}`);
      lines.push(`hint: ${err.hint ?? check.hint}`);
      return { name: check.name, status: 'fail', lines, seconds: seconds() };
    }
    const error = err instanceof Error ? err : new Error(String(err));
    const where = learnerLocation(error);
    return {
      name: check.name, status: 'error', seconds: seconds(),
      lines: [`${error.name}: ${error.message}${where === null ? '' : ` (at ${where})`}`, `hint: ${check.hint}`],
    };
  }
}

/**
 * Runs every check of an exercise against the learner's file (or the solution), in order, reporting
 * each result as it comes. A file that cannot even be loaded gives one failed result.
 */
export async function runExercise(
  exercise: RunnableExercise, solution: boolean, onResult?: (result: CheckResult, index: number) => void,
): Promise<CheckResult[]> {
  const file = solution ? exercise.solutionFile : exercise.file;
  let checks: Check[];
  try {
    checks = await exercise.checksFor(solution);
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    const result: CheckResult = {
      name: `load ${file}`, status: 'error', seconds: 0,
      lines: [`${error.name}: ${error.message}`, 'hint: the file must load without running anything; did npm run build report an error?'],
    };
    onResult?.(result, 0);
    return [result];
  }
  const results: CheckResult[] = [];
  const missingSeen = new Set<string>();
  for (const check of checks) {
    const result = await runCheck(check, file);
    if (result.status === 'not-implemented') {
      // say where to write a missing function once; later checks that need it just name it
      const first = result.lines[0];
      if (missingSeen.has(first)) result.lines = [first.replace(/: write its body in .*$/, '')];
      missingSeen.add(first);
    }
    onResult?.(result, results.length);
    results.push(result);
  }
  return results;
}

const MARKS: Record<CheckStatus, string> = { 'pass': '✓', 'fail': '✗', 'not-implemented': '✗', 'error': '✗' };

/** One result as the runner prints it: a mark, the check's number and name, then the feedback lines. */
export function formatResult(result: CheckResult, index: number): string {
  const time = result.seconds >= 2 ? ` (${result.seconds.toFixed(0)} s)` : '';
  const head = `  ${MARKS[result.status]} ${index + 1}. ${result.name}${time}`;
  return [head, ...result.lines.map((line) => `       ${line}`)].join('\n');
}

/** The closing lines: how many pass, and what to do next. */
export function formatSummary(exercise: RunnableExercise, results: CheckResult[], solution: boolean): string {
  const passed = results.filter((r) => r.status === 'pass').length;
  const readme = `exercises/${exercise.slug}/README.md`;
  if (passed === results.length) {
    if (solution) return `All ${results.length} checks pass against the solution.`;
    const next = exercise.number < 5 ? `, then go on to exercise ${exercise.number + 1}` : '';
    return `All ${results.length} checks pass. Well done! Compare with ${exercise.solutionFile}${next}.`;
  }
  const first = results.findIndex((r) => r.status !== 'pass');
  return `${passed} of ${results.length} checks pass. Next: check ${first + 1}, "${results[first].name}".\n`
    + `The task, the formulas and hints for every part are in ${readme}.`;
}

// ---- expectations: each throws a CheckFailure saying what was checked, expected vs got ----

/** A number for messages: short, without float32 noise. */
export function fmt(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return '0';
  const abs = Math.abs(x);
  return abs >= 1e-4 && abs < 1e6 ? String(Number(x.toPrecision(6))) : x.toExponential(4);
}

/** The first `count` values of an array, for messages. */
export function preview(values: ArrayLike<number>, count = 6): string {
  const shown = Array.from({ length: Math.min(count, values.length) }, (_, k) => fmt(values[k]));
  return `[${shown.join(', ')}${values.length > count ? ', …' : ''}]`;
}

function close(got: number, expected: number, tolerance: number): boolean {
  return Math.abs(got - expected) <= tolerance * Math.max(1, Math.abs(expected));
}

/** |got − expected| ≤ tolerance · max(1, |expected|). */
export function expectClose(what: string, got: number, expected: number, tolerance = 1e-5, hint?: string): void {
  if (typeof got !== 'number' || !close(got, expected, tolerance)) {
    fail(`${what} is wrong`, { expected: fmt(expected), got: typeof got === 'number' ? fmt(got) : String(got), hint });
  }
}

/** Every element within tolerance; reports the first element that is not. */
export function expectArrayClose(
  what: string, got: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-5, hint?: string,
): void {
  if (got.length < expected.length) {
    fail(`${what}: too few values`, { expected: `${expected.length} values`, got: `${got.length}`, hint });
  }
  for (let k = 0; k < expected.length; k++) {
    if (!close(got[k], expected[k], tolerance)) {
      fail(`${what}: element ${k} is wrong`, {
        expected: `${fmt(expected[k])}   (the first values: ${preview(expected)})`,
        got: `${fmt(got[k])}   (the first values: ${preview(got)})`,
        hint,
      });
    }
  }
}

export function expectEqual<T>(what: string, got: T, expected: T, hint?: string): void {
  if (!Object.is(got, expected)) fail(`${what} is wrong`, { expected: String(expected), got: String(got), hint });
}

/** Fails with the coordinate where an analytic gradient is furthest from the finite difference. */
export function expectGradientOk(what: string, result: GradientCheckResult, hint?: string): void {
  if (result.failures === 0 && result.checked > 0) return;
  const worst = result.worst;
  fail(`${what} does not match finite differences (${result.failures} of ${result.checked} coordinates off)`, {
    expected: worst === null ? 'a gradient' : `coordinate ${worst.index}: ${fmt(worst.numeric)} (finite difference)`,
    got: worst === null ? 'nothing checked' : `${fmt(worst.analytic)} (your backward)`,
    hint,
  });
}

/** Uniform values in [−scale, scale) from a seeded generator. */
export function randomArray(n: number, rng: Rng, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let k = 0; k < n; k++) a[k] = (2 * nextFloat(rng) - 1) * scale;
  return a;
}

/** Σ out ⊙ weights: a scalar loss whose gradient with respect to `out` is `weights`. */
export function dot(out: ArrayLike<number>, weights: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < weights.length; k++) s += out[k] * weights[k];
  return s;
}
